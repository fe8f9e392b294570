import Protocol

/// The operations of PROTOCOL.md on one sandbox. The local backend implements them with the
/// in-process supervisor; isolated backends will forward them to `sandbox-rpc agent`.
protocol Sandbox: AnyObject, Sendable {
    var id: String { get }
    var isolation: Isolation { get }
    var home: String { get }
    var metadata: [String: String] { get }
    var startedAt: Double { get }
    /// For each limit the sandbox was created with, how it is enforced ("cgroup", "rlimit", …).
    var limitEnforcement: [String: String] { get }

    func run(_ params: CommandsRun.Params, context: RequestContext) async throws -> CommandsRun.Result
    func list() async throws -> [CommandsList.ProcessInfo]
    func kill(pid: Int, signal: SignalName) async throws -> Bool
    func sendStdin(pid: Int, data: [UInt8]) async throws
    func closeStdin(pid: Int) async throws
    /// Input for a PTY process (Unsupported for one without a terminal).
    func sendPtyInput(pid: Int, data: [UInt8]) async throws
    func connect(pid: Int, context: RequestContext) async throws -> CommandsConnect.Result
    func disconnect(pid: Int) async throws
    func wait(pid: Int, timeout: Double?) async throws -> CommandResult
    /// The process's state and what it wrote from `since` on (up to `budget` bytes of each
    /// stream), changing nothing: for front ends that poll (MCP's `read_output`).
    func snapshot(pid: Int, since: OutputOffsets, budget: Int) async throws -> ProcessSnapshot
    func createPty(_ params: PtyCreate.Params, context: RequestContext) async throws -> Int
    func resizePty(pid: Int, cols: Int, rows: Int) async throws
    func processCount() async -> Int
    func getHost(port: Int) async throws -> String
    var files: any FileSystem { get }
    /// Kills every process in the sandbox and releases what it holds (its workspace, unless the
    /// user supplied it).
    func terminate() async
}
