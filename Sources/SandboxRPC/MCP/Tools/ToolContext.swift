import Protocol
import Synchronization

/// What a tool call works with.
struct ToolContext: Sendable {
    let sandboxes: MCPSandboxes
    let settings: MCPSettings
    /// Set when the call asked for progress notifications.
    let progress: ProgressReporter?
    let logger: Logger
}

/// The sandboxes the tools use: the session's implicit one, made on first use with the
/// command line's options, and those made by `create_sandbox`; and how far the model has read
/// each process's output.
actor MCPSandboxes {
    private struct CursorKey: Hashable {
        let sandboxId: String
        let pid: Int
    }

    private struct Cursor {
        let startedAt: Double
        var offsets: OutputOffsets
    }

    let registry: SandboxRegistry
    let defaults: SandboxCreate.Params
    private var defaultID: Task<String, any Error>?
    private var cursors: [CursorKey: Cursor] = [:]

    init(registry: SandboxRegistry, defaults: SandboxCreate.Params) {
        self.registry = registry
        self.defaults = defaults
    }

    /// The sandbox with this id, or without one the session's own.
    func sandbox(_ id: String?) async throws -> any Sandbox {
        if let id { return try await registry.sandbox(id) }
        while let pending = defaultID {
            if let id = try? await pending.value, let sandbox = try? await registry.sandbox(id) { return sandbox }
            if defaultID == pending { break }  // failed or killed: make another, unless a concurrent call did
        }
        let task = Task { [registry, defaults] in try await registry.create(defaults).sandboxId }
        defaultID = task
        return try await registry.sandbox(try await task.value)
    }

    /// A new sandbox with the session's options but a home of its own, and `envs` beside the
    /// session's.
    func create(envs: [String: String]?) async throws -> SandboxCreate.Result {
        var params = defaults
        params.cwd = nil
        if let envs { params.envs = (defaults.envs ?? [:]).merging(envs) { $1 } }
        return try await registry.create(params)
    }

    func kill(_ id: String) async -> Bool {
        cursors = cursors.filter { $0.key.sandboxId != id }
        return (try? await registry.kill(id)) ?? false
    }

    /// Where the model's last `read_output` of this process ended, and when the process it read
    /// had started (a pid may come round again).
    func cursor(sandboxId: String, pid: Int) -> (offsets: OutputOffsets, startedAt: Double)? {
        cursors[CursorKey(sandboxId: sandboxId, pid: pid)].map { ($0.offsets, $0.startedAt) }
    }

    func setCursor(sandboxId: String, pid: Int, startedAt: Double, to offsets: OutputOffsets) {
        cursors[CursorKey(sandboxId: sandboxId, pid: pid)] = Cursor(startedAt: startedAt, offsets: offsets)
    }
}

/// Sends `notifications/progress` for one call, and nothing once the call has answered.
final class ProgressReporter: Sendable {
    private struct State {
        var finished = false
        var last = -Double.infinity
    }

    private let token: JSONValue
    private let outbox: Outbox
    private let state = Mutex(State())

    init(token: JSONValue, outbox: Outbox) {
        self.token = token
        self.outbox = outbox
    }

    /// `progress` must grow from one report to the next; a report that does not is skipped.
    func report(progress: Double, total: Double? = nil, message: String?) {
        let notification = MCP.Progress(progressToken: token, progress: progress, total: total, message: message)
        guard let params = try? JSONValueEncoder().encode(notification) else { return }
        let line = OutgoingMessage.notification(method: MCP.Progress.method, params: params)
        state.withLock { state in
            guard !state.finished, progress > state.last else { return }
            state.last = progress
            outbox.send(line: line)  // under the lock, so nothing is sent after `finish`
        }
    }

    /// The call is answering: no progress after its response.
    func finish() {
        state.withLock { $0.finished = true }
    }
}
