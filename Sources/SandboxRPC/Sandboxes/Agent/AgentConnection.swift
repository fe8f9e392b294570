import Glibc
import Protocol
import Synchronization

/// The bridge's side of a `sandbox-rpc agent`: a JSON-RPC client over the agent's stdin/stdout.
/// Requests go out through their own writer thread; a reader thread routes responses to their
/// callers and relays the agent's notifications to the client with this sandbox's id.
final class AgentConnection: Sendable {
    private struct Pending {
        let continuation: CheckedContinuation<JSONValue, any Error>
        /// Hold back the notifications of the pid in the result until `openGate`.
        let gatesPid: Bool
    }

    private struct State {
        var nextID = 1
        var pending: [Int: Pending] = [:]
        /// Notifications of pids whose response the client does not have yet.
        var gates: [Int: [[UInt8]]] = [:]
        var closed = false
    }

    let sandboxId: String
    private let state = Mutex(State())
    private let requests: Outbox
    private let outbox: Outbox
    private let logger: Logger
    private let onClosed: @Sendable () -> Void

    /// How the agent's output reaches us.
    enum OutputFraming: Sendable {
        /// Its stdout as is (a pipe); its stderr goes straight to ours.
        case plain
        /// Its stdout and stderr multiplexed in the frames of a Docker exec stream.
        case dockerMultiplexed
    }

    private let framing: OutputFraming

    /// `input` and `output` are the agent's stdin and stdout (our ends); both are taken over.
    init(
        input: Int32, output: Int32, framing: OutputFraming = .plain, sandboxId: String, outbox: Outbox, logger: Logger,
        onClosed: @escaping @Sendable () -> Void
    ) {
        self.framing = framing
        self.sandboxId = sandboxId
        self.outbox = outbox
        self.logger = logger
        self.onClosed = onClosed
        self.requests = Outbox(highWater: .max, lowWater: 0, directFD: input)
        StdoutWriter.start(outbox: requests, fd: input) { [requests] in requests.close() }
        startThread(name: "agent-reader") { [self] in
            readLoop(output)
            closeDescriptor(output)
            closeDescriptor(input)
            close()
        }
    }

    /// Calls `method` in the agent (its one sandbox) and decodes its result.
    func call<M: RPCMethod>(_ method: M.Type, _ params: M.Params, gatesPid: Bool = false) async throws -> M.Result {
        var raw = try JSONValueEncoder().encode(params)
        if case .object(var object) = raw {
            object["sandboxId"] = nil
            raw = .object(object)
        }
        let value = try await call(M.name, params: raw, gatesPid: gatesPid)
        return try JSONValueDecoder().decode(M.Result.self, from: value)
    }

    private func call(_ method: String, params: JSONValue, gatesPid: Bool) async throws -> JSONValue {
        let id = state.withLock { state -> Int? in
            guard !state.closed else { return nil }
            defer { state.nextID += 1 }
            return state.nextID
        }
        guard let id else { throw RPCError.sandboxKilled(sandboxId: sandboxId) }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let sent = state.withLock { state -> Bool in
                    guard !state.closed else { return false }
                    state.pending[id] = Pending(continuation: continuation, gatesPid: gatesPid)
                    return true
                }
                guard sent else {
                    continuation.resume(throwing: RPCError.sandboxKilled(sandboxId: sandboxId))
                    return
                }
                requests.send(line: JSONWriter.bytes(.object([
                    "jsonrpc": "2.0", "id": .number(id), "method": .string(method), "params": params,
                ])))
                ArrivalOrder.hasTakenEffect()  // the agent takes its requests in the order sent
                // Cancelled before the request went out: the handler below already ran, and
                // its cancel reached the agent first; say it again, after the request.
                if Task.isCancelled { cancelInAgent(id) }
            }
        } onCancel: {
            cancelInAgent(id)
        }
    }

    private func cancelInAgent(_ id: Int) {
        requests.send(line: JSONWriter.bytes(.object([
            "jsonrpc": "2.0", "method": "$/cancelRequest", "params": ["id": .number(id)],
        ])))
    }

    /// Lets the held notifications of `pid` go, in order, and stops holding them.
    func openGate(pid: Int) {
        state.withLock { state in
            for line in state.gates.removeValue(forKey: pid) ?? [] { outbox.send(line: line) }
        }
    }

    /// Fails every pending call: the agent is gone or being shut down.
    func close() {
        let (pending, first) = state.withLock { state -> ([Pending], Bool) in
            let first = !state.closed
            state.closed = true
            defer { state.pending = [:] }
            for (_, lines) in state.gates { lines.forEach(outbox.send(line:)) }
            state.gates = [:]
            return (Array(state.pending.values), first)
        }
        pending.forEach { $0.continuation.resume(throwing: RPCError.sandboxKilled(sandboxId: sandboxId)) }
        requests.close()
        if first { onClosed() }
    }

    // MARK: Reading

    private func readLoop(_ fd: Int32) {
        var framer = LineFramer(maxLineBytes: 1 << 30)
        var demuxer = framing == .dockerMultiplexed ? DockerStreamDemuxer() : nil
        let capacity = 256 * 1024
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            outbox.waitUntilUncongested()  // backpressure: the agent then stops reading its pipes
            let n = read(fd, buffer.baseAddress, capacity)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            var broken = false
            func frame(_ bytes: UnsafeRawBufferPointer) {
                framer.append(bytes) { frame in
                    switch frame {
                    case .line(let line): received(line)
                    case .tooLong: broken = true  // a message we cannot take: the calls waiting on it would hang
                    }
                }
            }
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            if demuxer != nil {
                demuxer!.feed(bytes) { stream, payload in
                    if stream == .stdout { frame(payload) } else { _ = write(2, payload.baseAddress, payload.count) }
                }
            } else {
                frame(bytes)
            }
            if broken {
                logger.error("agent of \(sandboxId) wrote a line over 1 GiB; closing it")
                return
            }
        }
    }

    private static let notificationMarker = Array(#","params":{"sandboxId":"default","pid":"#.utf8)

    private func received(_ line: [UInt8]) {
        // The agent's notifications start with a fixed prefix: swap its sandbox id for ours
        // without parsing the (possibly large) line.
        if line.starts(with: Array(#"{"jsonrpc":"2.0","method":""#.utf8)),
           let marker = Self.range(of: Self.notificationMarker, in: line, within: 80)
        {
            var relayed = Array(line[..<marker.lowerBound])
            relayed.append(contentsOf: #","params":{"sandboxId":"#.utf8)
            JSONWriter.writeString(sandboxId, into: &relayed)
            relayed.append(contentsOf: #","pid":"#.utf8)
            let pidStart = marker.upperBound
            var pid = 0, index = pidStart
            while index < line.count, line[index] >= 0x30, line[index] <= 0x39 {
                pid = pid * 10 + Int(line[index] - 0x30)
                index += 1
            }
            relayed.append(contentsOf: line[pidStart...])
            relay(relayed, pid: pid)
            return
        }
        guard let message = try? JSONParser.parse(line), case .object(let object) = message else {
            logger.warn("agent of \(sandboxId) wrote a line that is not a JSON object")
            return
        }
        if let method = object["method"]?.stringValue {
            logger.debug("agent of \(sandboxId): ignoring notification \(method)")
            return
        }
        guard case .number(let number) = object["id"] ?? .null, let id = number.intValue else { return }
        let pending = state.withLock { state -> Pending? in
            guard let pending = state.pending.removeValue(forKey: id) else { return nil }
            if pending.gatesPid, case .number(let pid)? = object["result"]?["pid"], let pid = pid.intValue {
                state.gates[pid] = state.gates[pid] ?? []
            }
            return pending
        }
        guard let pending else { return }
        if let result = object["result"] {
            pending.continuation.resume(returning: result)
        } else {
            pending.continuation.resume(throwing: forwardedError(object["error"] ?? .null))
        }
    }

    private func relay(_ line: [UInt8], pid: Int) {
        state.withLock { state in
            if state.gates[pid] != nil {
                state.gates[pid]!.append(line)
            } else {
                outbox.send(line: line)
            }
        }
    }

    private func forwardedError(_ error: JSONValue) -> RPCError {
        guard case .number(let code)? = error["code"], let code = code.intValue else {
            return .internalError(reason: "the agent answered with a malformed error")
        }
        var data: JSONObject = [:]
        if case .object(let object)? = error["data"] { data = object }
        if data["sandboxId"] != nil { data["sandboxId"] = .string(sandboxId) }
        var message = error["message"]?.stringValue ?? ""
        message = message.replacingDefaultSandbox(with: sandboxId)
        return .forwarded(code: code, message: message, data: data)
    }

    private static func range(of needle: [UInt8], in haystack: [UInt8], within limit: Int) -> Range<Int>? {
        let end = min(haystack.count, limit + needle.count)
        guard end >= needle.count else { return nil }
        for start in 0...(end - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<start + needle.count].elementsEqual(needle) { return start..<start + needle.count }
        }
        return nil
    }
}

extension String {
    /// "sandbox default was killed" → "sandbox sbx_… was killed".
    fileprivate func replacingDefaultSandbox(with id: String) -> String {
        guard let range = firstRange(of: "sandbox default") else { return self }
        var replaced = self
        replaced.replaceSubrange(range, with: "sandbox \(id)")
        return replaced
    }
}
