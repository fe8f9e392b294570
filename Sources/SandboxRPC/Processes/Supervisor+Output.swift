import CSandboxShims
import Glibc
import Protocol

/// Reading pipes, streaming output, backpressure and reporting exits.
extension Supervisor {
    enum ReadOutcome { case data, wouldBlock, closed }

    func register(_ process: ManagedProcess, _ stream: OutputStream) {
        let channel = process[stream]
        guard !paused, process.armed, channel.isOpen, !channel.registered else { return }
        do {
            try reactor.add(fd: channel.fd, events: UInt32(SR_EPOLL_IN), token: UInt64(channel.fd))
            process[stream].registered = true
        } catch {
            logger.error("cannot watch the \(stream) of process \(process.pid): \(error)")
        }
    }

    func unregister(_ process: ManagedProcess, _ stream: OutputStream) {
        guard process[stream].registered else { return }
        reactor.remove(fd: process[stream].fd)
        process[stream].registered = false
    }

    /// Reads once from a pipe into the process's retention and, when streaming, the outbox.
    func readOnce(_ process: ManagedProcess, _ stream: OutputStream) -> ReadOutcome {
        let fd = process[stream].fd
        guard fd >= 0 else { return .closed }
        let n = read(fd, readBuffer.baseAddress, readBuffer.count)
        if n > 0 {
            process[stream].grow(afterReading: n)
            consume(process, stream, UnsafeBufferPointer(rebasing: readBuffer[0..<n]))
            return .data
        }
        if n < 0 && errno == EAGAIN { return .wouldBlock }
        if n < 0 && errno == EINTR { return .data }
        closeChannel(process, stream)
        return .closed
    }

    private func consume(_ process: ManagedProcess, _ stream: OutputStream, _ bytes: UnsafeBufferPointer<UInt8>) {
        if process.isFinished { return }  // a descendant still writing after the exit: discarded
        process[stream].retention.append(bytes)
        if process.streaming { emit(process, stream, bytes, final: false) }
    }

    /// Encodes one `commands.output` (or `pty.output`) line, holding back a split character for the next one.
    func emit(_ process: ManagedProcess, _ stream: OutputStream, _ bytes: UnsafeBufferPointer<UInt8>, final: Bool) {
        guard let encoder = sandboxes[process.sandboxId]?.encoder else { return }
        let timestamp = Clock.epochSeconds()
        func encode(_ chunk: UnsafeBufferPointer<UInt8>) {
            let needed = encoder.capacity(forChunk: chunk.count)
            if scratch.count < needed {
                scratch.deallocate()
                scratch = .allocate(capacity: needed)
            }
            let written: Int, consumed: Int
            if process.options.isPty {
                // Terminal bytes go out base64, but still in whole characters.
                consumed = final ? chunk.count : UTF8Sanitizer.completePrefixLength(chunk)
                written = encoder.encodePty(pid: process.pid, bytes: UnsafeBufferPointer(rebasing: chunk[0..<consumed]), into: scratch)
            } else {
                (written, consumed) = encoder.encode(
                    pid: process.pid, stream: stream, bytes: chunk, encoding: process.options.encoding,
                    final: final, timestamp: timestamp, into: scratch)
            }
            process[stream].carry = consumed < chunk.count ? Array(chunk[consumed...]) : []
            if written > 0 { outbox.send(lines: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: scratch[0..<written]))) }
        }
        if process[stream].carry.isEmpty {
            encode(bytes)
        } else {
            var joined = process[stream].carry
            joined.append(contentsOf: bytes)
            joined.withUnsafeBufferPointer { encode($0) }
        }
    }

    func closeChannel(_ process: ManagedProcess, _ stream: OutputStream) {
        let fd = process[stream].fd
        guard fd >= 0 else { return }
        unregister(process, stream)
        owners[fd] = nil
        closeDescriptor(fd)
        process[stream].fd = -1
    }

    func closeChannels(_ process: ManagedProcess) {
        closeChannel(process, .stdout)
        closeChannel(process, .stderr)
        if let stdin = process.stdin {
            stdin.pending.forEach { $0.done.resume(throwing: RPCError.processNotRunning(pid: process.pid)) }
            if stdin.registered { reactor.remove(fd: stdin.fd) }
            owners[stdin.fd] = nil
            closeDescriptor(stdin.fd)
            process.stdin = nil
        }
    }

    // MARK: Backpressure

    /// The client is not reading: stop reading every pipe, so the children block on their writes.
    func pauseReading() {
        guard !paused else { return }
        paused = true
        for state in sandboxes.values {
            for process in state.processes.values {
                unregister(process, .stdout)
                unregister(process, .stderr)
            }
        }
    }

    func resumeReading() {
        guard paused, !outbox.isCongested else { return }
        paused = false
        for state in sandboxes.values {
            for process in state.processes.values where process.armed {
                register(process, .stdout)
                register(process, .stderr)
            }
        }
        let deferred = deferredFinalizations
        deferredFinalizations = []
        for (index, (sandboxId, pid)) in deferred.enumerated() {
            if outbox.isCongested {  // the rest waits for the next drain
                pauseReading()
                deferredFinalizations += deferred[index...]
                return
            }
            if let process = sandboxes[sandboxId]?.processes[pid] { tryFinalize(process) }
        }
    }

    // MARK: Exits

    /// Reports the exit once the process has been reaped and its output read (and, while the
    /// outbox is congested, once it has drained).
    func tryFinalize(_ process: ManagedProcess) {
        guard process.exitStatus != nil, !process.isFinished, process.armed else { return }
        if paused {
            deferredFinalizations.append((process.sandboxId, process.pid))
            return
        }
        finalize(process, draining: true)
    }

    /// Reads what the exited process left in its pipes (bounded: a descendant holding them open
    /// may keep writing, and must not hold the result back), then reports the exit.
    func finalize(_ process: ManagedProcess, draining: Bool) {
        guard !process.isFinished else { return }
        if draining {
            for stream in [OutputStream.stdout, .stderr] {
                var budget = 8
                while budget > 0, readOnce(process, stream) == .data { budget -= 1 }
            }
        }
        if process.streaming {
            for stream in [OutputStream.stdout, .stderr] where !process[stream].carry.isEmpty {
                emit(process, stream, UnsafeBufferPointer(start: nil, count: 0), final: true)
            }
        }
        process.isFinished = true
        if process.streaming { sendExitNotification(process) }
        if let stdin = process.stdin {
            stdin.pending.forEach { $0.done.resume(throwing: RPCError.processNotRunning(pid: process.pid)) }
            process.stdin!.pending = []
            process.stdin!.closeRequested = true
            flushStdin(process)
        }
        let waiters = process.waiters, cancelled = process.cancelledWaiters
        process.waiters = [:]
        process.cancelledWaiters = [:]
        cancelled.values.forEach { $0.resume(throwing: RPCError.requestCancelled) }
        if !waiters.isEmpty {
            do {
                let result = try process.outcome()
                waiters.values.forEach { $0.resume(returning: result) }
            } catch {
                waiters.values.forEach { $0.resume(throwing: error) }
            }
        }
        remember(process)
    }

    private func remember(_ process: ManagedProcess) {
        guard let state = sandboxes[process.sandboxId] else { return }
        state.exitedOrder.append(process.pid)
        while state.exitedOrder.count > Self.rememberedExits {
            let pid = state.exitedOrder.removeFirst()
            if let old = state.processes.removeValue(forKey: pid) { closeChannels(old) }
        }
    }

    func sendExitNotification(_ process: ManagedProcess) {
        let (code, signal) = process.exitCodeAndSignal
        let exit = CommandExit(
            sandboxId: process.sandboxId, pid: process.pid, exitCode: code, signal: signal,
            error: process.ending?.rawValue)
        guard let params = try? JSONValueEncoder().encode(exit) else { return }
        outbox.send(line: OutgoingMessage.notification(method: CommandExit.method, params: params))
    }
}
