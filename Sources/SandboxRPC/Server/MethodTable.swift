import Protocol
import Synchronization

/// What a handler can ask of the request it serves.
final class RequestContext: Sendable {
    private let actions = Mutex<[@Sendable () async -> Void]>([])

    /// Runs `action` once the response has been queued for stdout (or dropped, for a
    /// notification): used to start streaming only after the client has the pid.
    func afterResponse(_ action: @escaping @Sendable () async -> Void) {
        actions.withLock { $0.append(action) }
    }

    func takeAfterResponseActions() -> [@Sendable () async -> Void] {
        actions.withLock { actions in
            defer { actions = [] }
            return actions
        }
    }
}

/// The one table from method name to typed handler. A method is registered once, with the
/// types of its params and result; decoding and encoding happen here, not in handlers.
struct MethodTable: Sendable {
    typealias Handler = @Sendable (JSONValue?, RequestContext) async throws -> JSONValue

    /// Where a method's task runs.
    enum Placement {
        /// Swift's cooperative pool: for handlers that may block (the disk, other threads).
        case pool
        /// The reactor thread, beside the processes the handler drives, so that starting a
        /// process and answering when it exits take no thread hop. Only for handlers that do
        /// little work of their own; what may block on the way (making a sandbox, looking up a
        /// user or a cwd, serializing a large result) hops to the pool.
        case reactor
    }

    private var handlers: [String: Handler] = [:]
    /// Methods whose params are `SandboxScoped`: they take effect in arrival order per sandbox.
    private var sandboxScoped: Set<String> = []
    private var onReactor: Set<String> = []

    mutating func register<M: RPCMethod>(
        _ method: M.Type, on placement: Placement = .pool,
        _ body: @escaping @Sendable (M.Params, RequestContext) async throws -> M.Result
    ) {
        if M.Params.self is any SandboxScoped.Type { sandboxScoped.insert(M.name) }
        if placement == .reactor { onReactor.insert(M.name) }
        handlers[M.name] = { raw, context in
            let params = try Self.decode(M.Params.self, from: raw)
            let result = try await body(params, context)
            return try JSONValueEncoder().encode(result)
        }
    }

    func handler(for method: String) -> Handler? { handlers[method] }

    func placement(of method: String) -> Placement { onReactor.contains(method) ? .reactor : .pool }

    /// The lane of `ArrivalOrder` a request belongs to: its sandbox, read from the raw params
    /// without decoding them (a malformed `sandboxId` fails later, when they are decoded).
    func lane(for method: String, params: JSONValue?) -> String? {
        guard sandboxScoped.contains(method) else { return nil }
        if case .object(let object)? = params, case .string(let id)? = object["sandboxId"] { return id }
        return SandboxRegistry.defaultID
    }

    var methodNames: [String] { handlers.keys.sorted() }

    static func decode<P: Decodable>(_ type: P.Type, from raw: JSONValue?) throws(RPCError) -> P {
        let value = raw ?? .object(JSONObject())
        guard case .object = value else {
            throw .invalidParams(field: "params", reason: "must be an object (positional params are not supported)")
        }
        do {
            return try JSONValueDecoder().decode(type, from: value)
        } catch let error as DecodingError {
            throw RPCError(error)
        } catch let error as RPCError {
            throw error
        } catch {
            throw .invalidParams(field: "params", reason: "\(error)")
        }
    }
}
