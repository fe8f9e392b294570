import Glibc
import Protocol

/// A sandbox whose commands are run by a `sandbox-rpc agent` inside it (bwrap, `docker exec`;
/// `ssh` tomorrow): every operation is the same protocol call, forwarded.
final class AgentSandbox: Sandbox {
    let id: String
    let isolation: Isolation
    let home: String
    let metadata: [String: String]
    let startedAt: Double
    private let connection: AgentConnection
    private let agent: any AgentHost
    /// Releases what the sandbox holds on the host (its workspace), once the agent is gone.
    private let cleanup: @Sendable () -> Void
    let limitEnforcement: [String: String]

    init(
        id: String, isolation: Isolation, home: String, metadata: [String: String], agent: any AgentHost,
        connection: AgentConnection, enforcement: [String: String], cleanup: @escaping @Sendable () -> Void
    ) {
        self.limitEnforcement = enforcement
        self.cleanup = cleanup
        self.id = id
        self.isolation = isolation
        self.home = home
        self.metadata = metadata
        self.startedAt = Clock.epochSeconds()
        self.agent = agent
        self.connection = connection
    }

    var files: any FileSystem { AgentFileSystem(connection: connection) }

    /// Waits for the agent's first answer. When none comes, ends the sandbox and throws why it
    /// could not start: within its memory or pids limits (the likely cause is then the client's
    /// own), else `failure`.
    func waitUntilServing(limits: SandboxLimits?, otherwise failure: RPCError) async throws {
        do {
            _ = try await connection.call(Ping.self, Empty())
        } catch {
            await terminate()
            if limits?.memoryBytes != nil || limits?.pids != nil {
                throw RPCError.limitExceeded(reason: "the sandbox could not start within its limits (memoryBytes, pids)")
            }
            throw failure
        }
    }

    func run(_ params: CommandsRun.Params, context: RequestContext) async throws -> CommandsRun.Result {
        let background = params.background ?? false
        let result = try await connection.call(CommandsRun.self, params, gatesPid: background)
        if case .started(let pid) = result { context.afterResponse { [connection] in connection.openGate(pid: pid) } }
        return result
    }

    func list() async throws -> [CommandsList.ProcessInfo] {
        try await connection.call(CommandsList.self, SandboxTarget(sandboxId: nil)).processes
    }

    func kill(pid: Int, signal: SignalName) async throws -> Bool {
        try await connection.call(CommandsKill.self, .init(pid: pid, signal: signal)).killed
    }

    func sendStdin(pid: Int, data: [UInt8]) async throws {
        _ = try await connection.call(CommandsSendStdin.self, .init(pid: pid, data: Base64.encode(data), encoding: .base64))
    }

    func sendPtyInput(pid: Int, data: [UInt8]) async throws {
        _ = try await connection.call(PtySendInput.self, .init(pid: pid, data: Base64.encode(data)))
    }

    func closeStdin(pid: Int) async throws {
        _ = try await connection.call(CommandsCloseStdin.self, ProcessTarget(pid: pid))
    }

    func connect(pid: Int, context: RequestContext) async throws -> CommandsConnect.Result {
        let result = try await connection.call(CommandsConnect.self, ProcessTarget(pid: pid), gatesPid: true)
        context.afterResponse { [connection] in connection.openGate(pid: pid) }
        return result
    }

    func disconnect(pid: Int) async throws {
        _ = try await connection.call(CommandsDisconnect.self, ProcessTarget(pid: pid))
    }

    func wait(pid: Int, timeout: Double?) async throws -> CommandResult {
        try await connection.call(CommandsWait.self, .init(pid: pid, timeout: timeout))
    }

    func snapshot(pid: Int, since: OutputOffsets, budget: Int) async throws -> ProcessSnapshot {
        try await connection.call(CommandsSnapshot.self, .init(pid: pid, since: since, budget: budget))
    }

    func createPty(_ params: PtyCreate.Params, context: RequestContext) async throws -> Int {
        let pid = try await connection.call(PtyCreate.self, params, gatesPid: true).pid
        context.afterResponse { [connection] in connection.openGate(pid: pid) }
        return pid
    }

    func resizePty(pid: Int, cols: Int, rows: Int) async throws {
        _ = try await connection.call(PtyResize.self, .init(pid: pid, cols: cols, rows: rows))
    }

    func processCount() async -> Int { (try? await list().count) ?? 0 }

    func getHost(port: Int) async throws -> String {
        try await agent.host(forPort: port)
    }

    /// Asks the agent to kill everything (so that running processes report SandboxKilled), then
    /// ends the sandbox's PID namespace for certain.
    func terminate() async {
        let shutdown = Task { [connection] in _ = try? await connection.call(Shutdown.self, Empty()) }
        let deadline = Clock.monotonicNanos() + 3_000_000_000
        while !agent.hasExited && Clock.monotonicNanos() < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
        shutdown.cancel()
        await agent.kill()
        connection.close()
        cleanup()
    }
}

/// `files.*` in an agent's sandbox, forwarded with the bytes base64.
struct AgentFileSystem: FileSystem {
    let connection: AgentConnection

    func read(_ path: String, offset: Int, length: Int?) async throws -> (bytes: [UInt8], size: Int) {
        let result = try await connection.call(
            FilesRead.self, .init(path: path, encoding: .base64, offset: offset == 0 && length == nil ? nil : offset, length: length))
        let bytes = Base64.decode(result.content) ?? []
        return (bytes, result.size ?? bytes.count)
    }

    func write(_ path: String, _ bytes: [UInt8], append: Bool) async throws -> String {
        try await connection.call(
            FilesWrite.self, .init(path: path, content: Base64.encode(bytes), encoding: .base64, append: append)).path
    }

    func list(_ path: String, depth: Int) async throws -> [EntryInfo] {
        try await connection.call(FilesList.self, .init(path: path, depth: depth)).entries
    }

    func exists(_ path: String) async throws -> Bool {
        try await connection.call(FilesExists.self, PathTarget(path: path)).exists
    }

    func remove(_ path: String) async throws {
        _ = try await connection.call(FilesRemove.self, PathTarget(path: path))
    }

    func rename(from: String, to: String) async throws -> EntryInfo {
        try await connection.call(FilesRename.self, .init(from: from, to: to))
    }

    func makeDir(_ path: String) async throws -> Bool {
        try await connection.call(FilesMakeDir.self, PathTarget(path: path)).created
    }

    func info(_ path: String) async throws -> EntryInfo {
        try await connection.call(FilesInfo.self, PathTarget(path: path))
    }
}
