import Protocol
import Synchronization

/// Turns framed lines into handler calls and responses: JSON-RPC 2.0 rules for single messages,
/// batches and notifications, the in-flight table for cancellation, and the error mapping.
final class Dispatcher: Sendable {
    private struct InFlight {
        struct Entry {
            let id: RequestID
            var task: Task<Void, Never>?
            var cancelRequested = false
        }
        var entries: [Int: Entry] = [:]
        var nextSerial = 1
    }

    private let methods: MethodTable
    private let outbox: Outbox
    private let logger: Logger
    private let inFlight = Mutex(InFlight())
    private let arrivalOrder = ArrivalOrder()
    private let maxLineBytes: Int
    private let answersCancelledRequests: Bool
    /// Where tasks of methods placed `.reactor` run; nil: every task on the pool.
    private let reactor: Reactor?

    init(
        methods: MethodTable, outbox: Outbox, logger: Logger, maxLineBytes: Int, answersCancelledRequests: Bool = true,
        reactor: Reactor? = nil
    ) {
        self.methods = methods
        self.reactor = reactor
        self.maxLineBytes = maxLineBytes
        self.answersCancelledRequests = answersCancelledRequests
        self.outbox = outbox
        self.logger = logger
    }

    /// Handles one frame from stdin, on the thread that reads it (in arrival order); never blocks.
    func receive(_ frame: Frame) {
        switch frame {
        case .tooLong:
            outbox.send(line: OutgoingMessage.error(id: nil, .lineTooLong(limit: maxLineBytes)))
        case .line(let bytes):
            let value: JSONValue
            do {
                value = try JSONParser.parse(bytes)
            } catch {
                outbox.send(line: OutgoingMessage.error(id: nil, .parseError(reason: error.description)))
                return
            }
            if case .array(let elements) = value {
                receiveBatch(elements)
            } else {
                receiveSingle(IncomingMessage(value))
            }
        }
    }

    private func receiveSingle(_ message: IncomingMessage) {
        switch message {
        case .invalid(let id, let reason):
            outbox.send(line: OutgoingMessage.error(id: id, .invalidRequest(reason: reason)))
        case .response:
            logger.debug("ignoring a response from the client")
        case .notification(let method, let params):
            receiveNotification(method: method, params: params)
        case .request(let id, let method, let params):
            start(id: id, method: method, params: params) { [outbox] response, context in
                if let response { outbox.send(line: response) }
                for action in context.takeAfterResponseActions() { await action() }
            }
        }
    }

    private func receiveBatch(_ elements: [JSONValue]) {
        guard !elements.isEmpty else {
            outbox.send(line: OutgoingMessage.error(id: nil, .invalidRequest(reason: "an empty batch")))
            return
        }
        let messages = elements.map(IncomingMessage.init)
        let collector = BatchCollector(expected: messages.count { if case .request = $0 { true } else if case .invalid = $0 { true } else { false } })
        for message in messages {
            switch message {
            case .invalid(let id, let reason):
                collector.add(OutgoingMessage.error(id: id, .invalidRequest(reason: reason)), context: nil, outbox: outbox)
            case .response:
                break
            case .notification(let method, let params):
                receiveNotification(method: method, params: params)
            case .request(let id, let method, let params):
                start(id: id, method: method, params: params) { [outbox] response, context in
                    let response = response ?? OutgoingMessage.error(id: id, .requestCancelled)
                    await collector.addAsync(response, context: context, outbox: outbox)
                }
            }
        }
    }

    private func receiveNotification(method: String, params: JSONValue?) {
        switch method {
        case "$/cancelRequest", "notifications/cancelled":
            guard let request = try? MethodTable.decode(CancelParams.self, from: params), let target = request.target else {
                logger.warn("\(method) without a valid id")
                return
            }
            cancel(target)
        default:
            guard let handler = methods.handler(for: method) else {
                logger.debug("ignoring unknown notification \(method)")
                return
            }
            let ticket = ticket(method: method, params: params)
            Task {
                let context = RequestContext()
                do { _ = try await perform(handler, params, context, ticket) } catch {
                    self.logger.debug("notification \(method) failed: \(error)")
                }
                for action in context.takeAfterResponseActions() { await action() }
            }
        }
    }

    /// Runs a request in its own task, registered in the in-flight table until it has answered.
    /// `respond` gets nil for a request the client cancelled when such requests go unanswered.
    private func start(
        id: RequestID, method: String, params: JSONValue?,
        respond: @escaping @Sendable ([UInt8]?, RequestContext) async -> Void
    ) {
        let serial = inFlight.withLock { state in
            let serial = state.nextSerial
            state.nextSerial += 1
            state.entries[serial] = .init(id: id)
            return serial
        }
        let ticket = ticket(method: method, params: params)
        let task = Task(executorPreference: executor(for: method)) { [self] in
            let context = RequestContext()
            let response: [UInt8]?
            do {
                guard let handler = methods.handler(for: method) else { throw RPCError.methodNotFound(method: method) }
                let result = try await perform(handler, params, context, ticket)
                response = await Self.response(id: id, result)
            } catch {
                let error = Self.rpcError(error, method: method, logger: logger)
                let unanswered = error == .requestCancelled && Task.isCancelled && !answersCancelledRequests
                response = unanswered ? nil : OutgoingMessage.error(id: id, error)
            }
            await respond(response, context)
            finish(serial)
        }
        let cancelNow = inFlight.withLock { state -> Bool in
            guard state.entries[serial] != nil else { return false }
            state.entries[serial]!.task = task
            return state.entries[serial]!.cancelRequested
        }
        if cancelNow { task.cancel() }
    }

    /// The line of a result. One that carries much text (a run's output) is serialized on the
    /// pool: on the reactor thread it would hold up every process's output meanwhile.
    private static func response(id: RequestID, _ result: JSONValue) async -> [UInt8] {
        guard case .object(let fields) = result,
              fields.contains(where: { if case .string(let text) = $0.value { text.utf8.count > 64 << 10 } else { false } })
        else { return OutgoingMessage.result(id: id, result) }
        return await withTaskExecutorPreference(globalConcurrentExecutor) { OutgoingMessage.result(id: id, result) }
    }

    /// The reactor's task executor for methods placed there, else nil: the global executor.
    private func executor(for method: String) -> (any TaskExecutor)? {
        methods.placement(of: method) == .reactor ? reactor?.taskExecutor : nil
    }

    /// A place in the arrival order of the request's sandbox, taken on the reader thread.
    private func ticket(method: String, params: JSONValue?) -> ArrivalOrder.Ticket? {
        methods.lane(for: method, params: params).map { arrivalOrder.enter(lane: $0) }
    }

    /// Runs the handler once the request's turn has come; its ticket is released at the latest
    /// when the handler returns.
    private func perform(
        _ handler: MethodTable.Handler, _ params: JSONValue?, _ context: RequestContext, _ ticket: ArrivalOrder.Ticket?
    ) async throws -> JSONValue {
        guard let ticket else { return try await handler(params, context) }
        defer { ticket.release() }
        try await ticket.turn()
        return try await ArrivalOrder.$current.withValue(ticket) { try await handler(params, context) }
    }

    private func finish(_ serial: Int) {
        inFlight.withLock { _ = $0.entries.removeValue(forKey: serial) }
    }

    func cancel(_ id: RequestID) {
        let tasks = inFlight.withLock { state -> [Task<Void, Never>] in
            var tasks: [Task<Void, Never>] = []
            for (serial, entry) in state.entries where entry.id == id {
                if let task = entry.task { tasks.append(task) } else { state.entries[serial]!.cancelRequested = true }
            }
            return tasks
        }
        tasks.forEach { $0.cancel() }
    }

    var inFlightCount: Int { inFlight.withLock { $0.entries.count } }

    /// The one place where failures become wire errors.
    static func rpcError(_ error: any Error, method: String, logger: Logger) -> RPCError {
        switch error {
        case let error as RPCError: return error
        case is CancellationError: return .requestCancelled
        case let error as DecodingError: return RPCError(error)
        default:
            logger.error("\(method) failed unexpectedly: \(error)")
            return .internalError(reason: "\(error)")
        }
    }
}

/// Gathers the responses of one batch and sends them as one array when the last has arrived.
private final class BatchCollector: Sendable {
    private struct State {
        var responses: [[UInt8]] = []
        var contexts: [RequestContext] = []
        var remaining: Int
    }

    private let state: Mutex<State>

    init(expected: Int) { state = Mutex(State(remaining: expected)) }

    func add(_ response: [UInt8], context: RequestContext?, outbox: Outbox) {
        let complete = state.withLock { state -> (responses: [[UInt8]], contexts: [RequestContext])? in
            state.responses.append(response)
            if let context { state.contexts.append(context) }
            state.remaining -= 1
            return state.remaining == 0 ? (state.responses, state.contexts) : nil
        }
        guard let complete else { return }
        outbox.send(line: OutgoingMessage.batch(complete.responses))
        let actions = complete.contexts.flatMap { $0.takeAfterResponseActions() }
        if !actions.isEmpty {
            Task { for action in actions { await action() } }
        }
    }

    func addAsync(_ response: [UInt8], context: RequestContext, outbox: Outbox) async {
        add(response, context: context, outbox: outbox)
    }
}
