import CSandboxShims
import Glibc
import Protocol
import Synchronization

/// Reads the requests from stdin and hands each framed line to `deliver`, in order.
///
/// On the reactor thread when stdin is a pipe or a socket: a request then reaches the handler
/// that runs it without a hop between threads. A line that grows past `longLine` (a large
/// `files.write`) is read and parsed on a thread of its own while the reactor stops watching
/// stdin, so that it does not hold up the processes' output; the reactor takes over again at the
/// next line boundary. Any other stdin (a regular file, a terminal) is read on a thread of its own
/// throughout, with blocking reads.
final class LineReader: Sendable {
    private struct State: ~Copyable {
        var framer: LineFramer
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        deinit { buffer.deallocate() }
    }

    private let fd: Int32
    /// Used by one thread at a time (the reactor's or a reading thread); the lock hands it over.
    private let state: Mutex<State>
    static let longLine = 256 * 1024

    init(fd: Int32 = 0, maxLineBytes: Int) {
        self.fd = fd
        self.state = Mutex(State(framer: LineFramer(maxLineBytes: maxLineBytes)))
    }

    /// Starts reading; `deliver` gets every frame, then `ended` is called once, at end of input.
    func start(reactor: Reactor, deliver: @escaping @Sendable (Frame) -> Void, ended: @escaping @Sendable () -> Void) {
        guard sr_is_pipe_or_socket(fd) != 0 else {
            startThread(name: "stdin-reader") { [self] in readUntilEnd(deliver: deliver, ended: ended) }
            return
        }
        do {
            try reactor.watch(fd: fd, events: UInt32(SR_EPOLL_IN)) { [self] _ in
                // One read per readiness: it does not block, and level-triggered epoll reports
                // whatever is left.
                switch readOnce(blocking: false, deliver: deliver) {
                case .ended:
                    reactor.unwatch(fd: fd)
                    ended()
                case .inLongLine:
                    reactor.pause(fd: fd)
                    startThread(name: "stdin-long-line") { [self] in
                        if readUntilEnd(deliver: deliver, ended: ended, untilShortLine: true) {
                            reactor.resume(fd: fd)
                        }
                    }
                case .read:
                    break
                }
            }
        } catch {
            startThread(name: "stdin-reader") { [self] in readUntilEnd(deliver: deliver, ended: ended) }
        }
    }

    /// Reads with blocking reads until the end of input (then calls `ended` and returns false),
    /// or, with `untilShortLine`, until the line being read is no longer a long one (and returns
    /// true: the reactor can go on from there).
    @discardableResult
    private func readUntilEnd(deliver: @Sendable (Frame) -> Void, ended: () -> Void, untilShortLine: Bool = false) -> Bool {
        while true {
            switch readOnce(blocking: true, deliver: deliver) {
            case .ended:
                ended()
                return false
            case .read where untilShortLine:
                return true
            case .read, .inLongLine:
                continue
            }
        }
    }

    private enum Outcome { case read, inLongLine, ended }

    /// Reads once and frames what came; at the end of input, frames what is left. `blocking`:
    /// on a reading thread, which may wait for input; the reactor never does.
    private func readOnce(blocking: Bool, deliver: @Sendable (Frame) -> Void) -> Outcome {
        state.withLock { state in
            while true {
                let n = read(fd, state.buffer.baseAddress, state.buffer.count)
                if n > 0 {
                    state.framer.append(UnsafeRawBufferPointer(rebasing: state.buffer[0..<n]), emit: deliver)
                    return state.framer.pendingByteCount > Self.longLine ? .inLongLine : .read
                }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && errno == EAGAIN {  // a non-blocking stdin, inherited
                    guard blocking else { return .read }
                    _ = sr_poll_one(fd, Int16(POLLIN), -1)
                    continue
                }
                state.framer.finish(emit: deliver)
                return .ended
            }
        }
    }
}
