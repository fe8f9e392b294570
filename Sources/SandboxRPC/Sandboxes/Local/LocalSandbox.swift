import Glibc
import Protocol

/// Configuration shared by every local sandbox.
struct LocalSandboxSettings: Sendable {
    var root: String
    /// The bridge's environment when `--inherit-env` was given.
    var inheritedEnvironment: [String: String]?
    var defaultMaxOutputBytes = 16 << 20
    var shell: String
}

/// Processes on this machine (isolation "none"): a workspace directory and a keeper process,
/// with the shared in-process supervisor doing the work.
final class LocalSandbox: Sandbox {
    let id: String
    let isolation: Isolation = .none
    let metadata: [String: String]
    let startedAt: Double
    private let workspace: Workspace
    private let envs: [String: String]
    private let limits: SandboxLimits?
    private let keeper: KeeperHandle
    private let supervisor: Supervisor
    private let settings: LocalSandboxSettings
    private let bridgeUser = UserAccount.current()

    var home: String { workspace.path }
    var files: any FileSystem { LocalFileSystem(home: workspace.path) }

    init(id: String, params: SandboxCreate.Params, supervisor: Supervisor, settings: LocalSandboxSettings) async throws(RPCError) {
        try CommandEnvironment.validate(params.envs, field: "envs")
        self.id = id
        self.metadata = params.metadata ?? [:]
        self.envs = params.envs ?? [:]
        self.limits = params.limits
        self.startedAt = Clock.epochSeconds()
        self.supervisor = supervisor
        self.settings = settings
        let workspace = if let cwd = params.cwd {
            try Workspace.existing(cwd)
        } else {
            try Workspace.make(root: settings.root, name: id)
        }
        self.workspace = workspace
        do {
            keeper = try KeeperHandle.launch()
        } catch {
            workspace.remove()
            throw error.errno == EMFILE || error.errno == EAGAIN
                ? .limitExceeded(reason: "cannot start the sandbox supervisor: \(error)")
                : .internalError(reason: "cannot start the sandbox supervisor: \(error)")
        }
        do {
            try await supervisor.adopt(sandboxId: id, keeper: keeper)
        } catch {
            keeper.close()
            workspace.remove()
            throw error
        }
    }

    func run(_ params: CommandsRun.Params, context: RequestContext) async throws -> CommandsRun.Result {
        let (request, options) = try prepare(params)
        let background = params.background ?? false
        let pid = try await supervisor.start(sandboxId: id, request: request, options: options, arm: !background)
        if background {
            context.afterResponse { [supervisor, id] in await supervisor.arm(sandboxId: id, pid: pid) }
            return .started(pid: pid)
        }
        return .finished(try await supervisor.result(sandboxId: id, pid: pid, timeout: nil, killOnCancel: true))
    }

    private func prepare(_ params: CommandsRun.Params) throws(RPCError) -> (SpawnRequest, ProcessOptions) {
        if params.cmd.utf8.contains(0) { throw .invalidParams(field: "cmd", reason: "must not contain NUL bytes") }
        try CommandEnvironment.validate(params.envs, field: "envs")
        let background = params.background ?? false
        let timeout = params.timeout ?? (background ? 0 : 60)
        guard timeout >= 0, timeout.isFinite else { throw .invalidParams(field: "timeout", reason: "must be a number of seconds >= 0") }
        let maxOutput = params.maxOutputBytes ?? limits?.maxOutputBytes ?? settings.defaultMaxOutputBytes
        guard maxOutput >= 0 else { throw .invalidParams(field: "maxOutputBytes", reason: "must be >= 0") }
        let cwd = workspace.resolve(params.cwd)
        try Workspace.requireDirectory(cwd)
        let account = try account(for: params.user)
        let environment = CommandEnvironment.build(
            home: home, user: account?.name ?? bridgeUser.name, inherited: settings.inheritedEnvironment,
            sandboxEnvs: envs, commandEnvs: params.envs ?? [:])
        let request = SpawnRequest(argv: [settings.shell, "-c", params.cmd], environment: environment, cwd: cwd, account: account)
        let options = ProcessOptions(
            cmd: params.cmd, tag: params.tag, envs: params.envs ?? [:], cwd: cwd,
            encoding: params.encoding ?? .utf8, maxOutputBytes: maxOutput, stream: params.stream ?? background,
            withStdin: params.stdin ?? false, timeout: timeout)
        return (request, options)
    }

    /// The account to switch to, or nil to run as the bridge's own user.
    private func account(for user: String?) throws(RPCError) -> UserAccount? {
        guard let user, user != bridgeUser.name else { return nil }
        guard geteuid() == 0 else {
            throw .permissionDenied(reason: "running as user \"\(user)\" needs the bridge to run as root (it runs as \"\(bridgeUser.name)\")")
        }
        guard let account = UserAccount.named(user) else {
            throw .permissionDenied(reason: "no such user \"\(user)\" on this machine")
        }
        return account
    }

    func list() async throws -> [CommandsList.ProcessInfo] { try await supervisor.list(sandboxId: id) }

    func kill(pid: Int, signal: SignalName) async throws -> Bool {
        try await supervisor.kill(sandboxId: id, pid: pid, signal: signal)
    }

    func sendStdin(pid: Int, data: [UInt8]) async throws {
        try await supervisor.writeStdin(sandboxId: id, pid: pid, bytes: data)
    }

    func closeStdin(pid: Int) async throws { try await supervisor.closeStdin(sandboxId: id, pid: pid) }

    func connect(pid: Int, context: RequestContext) async throws -> CommandsConnect.Result {
        let snapshot = try await supervisor.connect(sandboxId: id, pid: pid)
        context.afterResponse { [supervisor, id] in await supervisor.arm(sandboxId: id, pid: pid, streaming: true) }
        return snapshot
    }

    func disconnect(pid: Int) async throws { try await supervisor.disconnect(sandboxId: id, pid: pid) }

    func wait(pid: Int, timeout: Double?) async throws -> CommandResult {
        try await supervisor.result(sandboxId: id, pid: pid, timeout: timeout, killOnCancel: false)
    }

    func snapshot(pid: Int, since: OutputOffsets, budget: Int) async throws -> ProcessSnapshot {
        try await supervisor.snapshot(sandboxId: id, pid: pid, since: since, budget: budget)
    }

    func processCount() async -> Int { await supervisor.runningCount(sandboxId: id) }

    func getHost(port: Int) async throws -> String { "127.0.0.1:\(port)" }

    func terminate() async {
        await supervisor.killSandbox(id)
        workspace.remove()
    }
}
