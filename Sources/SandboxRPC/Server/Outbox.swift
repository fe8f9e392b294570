import CSandboxShims
import Dispatch
import Glibc
import Synchronization

/// The bounded queue of encoded lines between everything that speaks and the one stdout writer.
/// Past `highWater` bytes it reports congestion, and the supervisor stops reading child pipes
/// (so the children block on their own writes) until the writer has brought it below `lowWater`.
///
/// With a `directFD`, a message sent while nothing is queued or being written goes straight to
/// that descriptor from the sender's thread, as much of it as the descriptor takes without
/// waiting (`DirectWrite`); only the rest is queued, ahead of anything sent meanwhile. An answer
/// then costs no wake-up of the writer thread. Streamed output is always queued: the writer
/// coalesces the chunks of many processes into few large writes, where writing each chunk on
/// the reactor would cost a system call apiece (twice as slow with a thousand chatty commands).
final class Outbox: Sendable {
    /// How a sender writes to `directFD` without waiting for room.
    private enum DirectWrite {
        /// `pwritev2` with `RWF_NOWAIT`: any amount, of which the descriptor takes what fits.
        case noWait
        /// For descriptors that refuse `RWF_NOWAIT` (pipes before Linux 6.4, named FIFOs): a
        /// line of at most `PIPE_BUF` bytes, written whole once `poll` reports room.
        case whenRoom
    }

    private struct State {
        var pending: [UInt8] = []
        var spare: [UInt8] = []
        var writerWaiting = false
        var writing = false
        /// A sender is writing to `directFD`; the writer thread waits for it.
        var writingDirectly = false
        var directWrite = DirectWrite.noWait
        var congested = false
        var closed = false
        /// The reader of stdout is gone: nothing more is written.
        var abandoned = false
        var onDrained: (@Sendable () -> Void)?
        var congestionWaiters = 0
    }

    let highWater: Int
    let lowWater: Int
    private let state = Mutex(State())
    private let wakeWriter = DispatchSemaphore(value: 0)
    private let uncongested = DispatchSemaphore(value: 0)
    private let directFD: Int32?

    /// `directFD` is used only when it is a pipe or a socket, which a write can fill without
    /// waiting for room; a terminal or a file is left to the writer thread.
    init(highWater: Int = 2 << 20, lowWater: Int = 512 << 10, directFD: Int32? = nil) {
        self.highWater = highWater
        self.lowWater = lowWater
        self.directFD = directFD.flatMap { sr_is_pipe_or_socket($0) != 0 ? $0 : nil }
    }

    /// Called (from the writer thread) when a congested outbox has drained below `lowWater`.
    func setDrainedHandler(_ handler: @escaping @Sendable () -> Void) {
        state.withLock { $0.onDrained = handler }
    }

    var isCongested: Bool { state.withLock { $0.congested } }

    /// Sends one message line; `line` must not contain its newline.
    func send(line: [UInt8]) {
        if line.withUnsafeBytes(writeDirectly) { return }
        enqueue { pending in
            pending.append(contentsOf: line)
            pending.append(0x0A)
        }
    }

    /// Queues bytes that are already whole lines (each ending in a newline), for the writer.
    func send(lines: UnsafeRawBufferPointer) {
        enqueue { $0.append(contentsOf: lines) }
    }

    /// Writes `line` and its newline to `directFD` if nothing is queued or being written, as far
    /// as the descriptor takes them without waiting; the rest is queued ahead of anything sent
    /// meanwhile. False: nothing written or queued (the caller queues).
    private func writeDirectly(_ line: UnsafeRawBufferPointer) -> Bool {
        guard let fd = directFD else { return false }
        let total = line.count + 1
        let mode = state.withLock { state -> DirectWrite? in
            guard !state.closed, !state.writing, !state.writingDirectly, state.pending.isEmpty,
                  state.directWrite == .noWait || total <= Int(PIPE_BUF) else { return nil }
            state.writingDirectly = true
            return state.directWrite
        }
        guard var mode else { return false }
        var result = Self.write(line, to: fd, mode)
        if mode == .noWait && (result == -Int(EOPNOTSUPP) || result == -Int(EINVAL)) {
            mode = .whenRoom  // a descriptor that refuses RWF_NOWAIT, now and from now on
            result = total <= Int(PIPE_BUF) ? Self.write(line, to: fd, mode) : 0
        }
        let written = max(0, result)
        let wake = state.withLock { state -> Bool in
            state.writingDirectly = false
            state.directWrite = mode
            if written < total && !state.abandoned {
                // The rest was sent before anything queued meanwhile, and before a `close`.
                let rest = UnsafeRawBufferPointer(rebasing: line[min(written, line.count)...])
                state.pending.insert(contentsOf: rest, at: 0)
                state.pending.insert(0x0A, at: rest.count)
                if state.pending.count > highWater { state.congested = true }
            }
            guard !state.pending.isEmpty || state.closed, state.writerWaiting else { return false }
            state.writerWaiting = false
            return true
        }
        if wake { wakeWriter.signal() }
        return true
    }

    /// `line` and its newline: bytes written, 0 when there was no room, or -errno.
    private static func write(_ line: UnsafeRawBufferPointer, to fd: Int32, _ mode: DirectWrite) -> Int {
        var newline = UInt8(0x0A)
        return switch mode {
        case .noWait: sr_write_nowait(fd, line.baseAddress, line.count, &newline, 1)
        case .whenRoom: sr_write_if_room(fd, line.baseAddress, line.count, &newline, 1)
        }
    }

    /// Returns whether the outbox is congested after queuing.
    @discardableResult
    private func enqueue(_ append: (inout [UInt8]) -> Void) -> Bool {
        let (wake, congested) = state.withLock { state -> (Bool, Bool) in
            if state.closed { return (false, false) }
            append(&state.pending)
            if state.pending.count > highWater { state.congested = true }
            let wake = state.writerWaiting
            state.writerWaiting = false
            return (wake, state.congested)
        }
        if wake { wakeWriter.signal() }
        return congested
    }

    /// Blocks until there is something to write and takes all of it; `nil` once closed and empty.
    /// `recycled` is the previous chunk, handed back so its storage is reused.
    func take(recycling recycled: inout [UInt8]) -> [UInt8]? {
        while true {
            let chunk: [UInt8]? = state.withLock { state in
                if !state.pending.isEmpty && !state.writingDirectly {
                    recycled.removeAll(keepingCapacity: true)
                    let chunk = state.pending
                    state.pending = state.spare.isEmpty ? recycled : state.spare
                    state.spare = []
                    state.writing = true
                    return chunk
                }
                state.writing = false
                if state.closed && state.pending.isEmpty && !state.writingDirectly { return [] }
                state.writerWaiting = true
                return nil
            }
            if let chunk { return chunk.isEmpty ? nil : chunk }
            wakeWriter.wait()
        }
    }

    /// The writer reports a chunk written; this is where congestion ends.
    func didWrite() {
        let (handler, waiters) = state.withLock { state -> ((@Sendable () -> Void)?, Int) in
            guard state.congested, state.pending.count < lowWater else { return (nil, 0) }
            state.congested = false
            defer { state.congestionWaiters = 0 }
            return (state.onDrained, state.congestionWaiters)
        }
        handler?()
        for _ in 0..<waiters { uncongested.signal() }
    }

    /// Blocks the calling thread (a reader of its own, never the cooperative pool) while the
    /// outbox is congested: how relays of agents' output apply backpressure.
    func waitUntilUncongested() {
        let wait = state.withLock { state -> Bool in
            guard state.congested, !state.closed else { return false }
            state.congestionWaiters += 1
            return true
        }
        if wait { uncongested.wait() }
    }

    /// Whether everything queued has been written.
    var isIdle: Bool { state.withLock { $0.pending.isEmpty && !$0.writing && !$0.writingDirectly } }

    /// The reader of stdout is gone: drop what is queued and accept nothing more, so that nobody
    /// waits for a flush that cannot happen.
    func abandon() {
        state.withLock { state in
            state.closed = true
            state.abandoned = true
            state.pending = []
            state.writing = false
        }
    }

    /// Stops accepting messages; the writer finishes what is queued and stops.
    func close() {
        let wake = state.withLock { state -> Bool in
            state.closed = true
            let wake = state.writerWaiting
            state.writerWaiting = false
            return wake
        }
        if wake { wakeWriter.signal() }
    }
}
