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
    let resources: SandboxResources
    private let supervisor: Supervisor
    private let settings: LocalSandboxSettings
    private let bridgeUser = UserAccount.current()
    /// The environment of a command that brings no envs of its own and runs as the bridge's
    /// user: most of them, built once.
    private let plainEnvironment: [String]

    var home: String { workspace.path }
    var limitEnforcement: [String: String] { resources.enforcement }
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
        self.plainEnvironment = CommandEnvironment.build(
            home: workspace.path, user: bridgeUser.name, inherited: settings.inheritedEnvironment,
            sandboxEnvs: params.envs ?? [:], commandEnvs: [:])
        let resources = SandboxResources.make(sandboxId: id, limits: params.limits, processesPerUser: false)
        self.resources = resources
        do {
            keeper = try KeeperHandle.launch()
            resources.adopt(pid: keeper.pid)
        } catch {
            resources.release()
            workspace.remove()
            throw RPCError(errno: error.errno, action: "start the sandbox supervisor")
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
        let (request, options) = try await prepare(params)
        let background = params.background ?? false
        guard background else {
            return .finished(try await supervisor.run(sandboxId: id, request: request, options: options))
        }
        let pid = try await supervisor.start(sandboxId: id, request: request, options: options, arm: false)
        context.afterResponse { [supervisor, id] in await supervisor.arm(sandboxId: id, pid: pid) }
        return .started(pid: pid)
    }

    func createPty(_ params: PtyCreate.Params, context: RequestContext) async throws -> Int {
        for (field, value) in [("cols", params.cols), ("rows", params.rows)] where !(1...65535).contains(value) {
            throw RPCError.invalidParams(field: field, reason: "must be from 1 to 65535")
        }
        let cmd = params.cmd ?? ""
        var (request, options) = try await prepare(
            cmd: cmd, envs: params.envs, user: params.user, cwd: params.cwd, timeout: params.timeout ?? 0,
            extraEnvs: ["TERM": "xterm-256color", "LC_ALL": "C.UTF-8"])
        request.argv = params.cmd == nil ? [settings.shell, "-i", "-l"] : [settings.shell, "-l", "-c", cmd]
        request.controllingTerminal = true
        options.tag = params.tag
        options.isPty = true
        options.stream = true
        options.withStdin = true
        options.terminalSize = (params.cols, params.rows)
        let pid = try await supervisor.start(sandboxId: id, request: request, options: options, arm: false)
        context.afterResponse { [supervisor, id] in await supervisor.arm(sandboxId: id, pid: pid) }
        return pid
    }

    func resizePty(pid: Int, cols: Int, rows: Int) async throws {
        for (field, value) in [("cols", cols), ("rows", rows)] where !(1...65535).contains(value) {
            throw RPCError.invalidParams(field: field, reason: "must be from 1 to 65535")
        }
        try await supervisor.resize(sandboxId: id, pid: pid, cols: cols, rows: rows)
    }

    private func prepare(_ params: CommandsRun.Params) async throws -> (SpawnRequest, ProcessOptions) {
        let background = params.background ?? false
        var (request, options) = try await prepare(
            cmd: params.cmd, envs: params.envs, user: params.user, cwd: params.cwd,
            timeout: params.timeout ?? (background ? 0 : 60))
        let maxOutput = params.maxOutputBytes ?? options.maxOutputBytes
        guard maxOutput >= 0 else { throw RPCError.invalidParams(field: "maxOutputBytes", reason: "must be >= 0") }
        request.argv = [settings.shell, "-c", params.cmd]
        options.tag = params.tag
        options.encoding = params.encoding ?? .utf8
        options.maxOutputBytes = maxOutput
        options.stream = params.stream ?? background
        options.withStdin = params.stdin ?? false
        return (request, options)
    }

    /// What every process of this sandbox starts with. Looking up a user (NSS may ask a directory
    /// server) or a cwd the client named (on any file system) may block: that is done on the pool,
    /// never on the reactor thread, where `commands.*` requests run.
    private func prepare(
        cmd: String, envs commandEnvs: [String: String]?, user: String?, cwd: String?, timeout: Double,
        extraEnvs: [String: String] = [:]
    ) async throws -> (SpawnRequest, ProcessOptions) {
        guard user != nil || cwd != nil else {
            return try resolve(cmd: cmd, envs: commandEnvs, user: user, cwd: cwd, timeout: timeout, extraEnvs: extraEnvs)
        }
        return try await withTaskExecutorPreference(globalConcurrentExecutor) {
            try resolve(cmd: cmd, envs: commandEnvs, user: user, cwd: cwd, timeout: timeout, extraEnvs: extraEnvs)
        }
    }

    /// Validated input, the cwd, the user and the environment of a process.
    private func resolve(
        cmd: String, envs commandEnvs: [String: String]?, user: String?, cwd: String?, timeout: Double,
        extraEnvs: [String: String]
    ) throws(RPCError) -> (SpawnRequest, ProcessOptions) {
        try InputChecks.noNUL(cmd, field: "cmd")
        try InputChecks.noNUL(cwd, field: "cwd")
        try InputChecks.userName(user)
        try CommandEnvironment.validate(commandEnvs, field: "envs")
        guard timeout >= 0, timeout.isFinite else { throw .invalidParams(field: "timeout", reason: "must be a number of seconds >= 0") }
        let directory = workspace.resolve(cwd)
        try Workspace.requireDirectory(directory)
        let account = try account(for: user)
        let plain = account == nil && (commandEnvs ?? [:]).isEmpty && extraEnvs.isEmpty
        let environment = plain ? plainEnvironment : CommandEnvironment.build(
            home: home, user: account?.name ?? bridgeUser.name, inherited: settings.inheritedEnvironment,
            sandboxEnvs: envs, commandEnvs: commandEnvs ?? [:], extra: extraEnvs)
        var request = SpawnRequest(argv: [], environment: environment, cwd: directory, account: account)
        request.limits = resources.rlimits
        let options = ProcessOptions(
            cmd: cmd, tag: nil, envs: commandEnvs ?? [:], cwd: directory, encoding: .utf8,
            maxOutputBytes: limits?.maxOutputBytes ?? settings.defaultMaxOutputBytes, stream: false,
            withStdin: false, timeout: timeout)
        return (request, options)
    }

    /// The account to switch to, or nil to run as the bridge's own user.
    private func account(for user: String?) throws(RPCError) -> UserAccount? {
        guard let user, user != bridgeUser.name else { return nil }
        guard geteuid() == 0 else {
            throw .permissionDenied(
                reason: "cannot run as user \"\(user)\": commands here run as \"\(bridgeUser.name)\" (switching users needs a supervisor running as root; a bwrap sandbox has the one user \"user\")")
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

    func sendPtyInput(pid: Int, data: [UInt8]) async throws {
        try await supervisor.writeStdin(sandboxId: id, pid: pid, bytes: data, terminalOnly: true)
    }

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
        resources.release()
    }
}
