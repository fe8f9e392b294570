import CSandboxShims
import Glibc
import Protocol

/// Reads the requests from stdin and hands each framed line to `deliver`. On the reactor
/// thread when epoll can watch stdin (a pipe, a socket, a terminal): a request then reaches
/// the handler that runs it without a hop between threads. Otherwise (a regular file) on a
/// thread of its own, with blocking reads.
final class LineReader: @unchecked Sendable {
    // @unchecked: the framer and buffer are used by one thread only, the reactor's or the
    // reading thread's, whichever `start` chose.
    private let fd: Int32
    private var framer: LineFramer
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)

    init(fd: Int32 = 0, maxLineBytes: Int) {
        self.fd = fd
        self.framer = LineFramer(maxLineBytes: maxLineBytes)
    }

    deinit { buffer.deallocate() }

    /// Starts reading; `deliver` gets every frame, then `ended` is called once, at end of input.
    func start(reactor: Reactor, deliver: @escaping @Sendable (Frame) -> Void, ended: @escaping @Sendable () -> Void) {
        do {
            try reactor.watch(fd: fd, events: UInt32(SR_EPOLL_IN)) { [self] _ in
                // One read per readiness: it never blocks, and level-triggered epoll reports
                // whatever is left.
                if !readOnce(blocking: false, deliver: deliver) {
                    reactor.unwatch(fd: fd)
                    framer.finish(emit: deliver)
                    ended()
                }
            }
        } catch {
            startThread(name: "stdin-reader") { [self] in
                while readOnce(blocking: true, deliver: deliver) {}
                framer.finish(emit: deliver)
                ended()
            }
        }
    }

    /// Reads once and frames what came; false at the end of input. `blocking`: on the reader
    /// thread, which may wait for input; the reactor never does.
    private func readOnce(blocking: Bool, deliver: (Frame) -> Void) -> Bool {
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n > 0 {
                framer.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), emit: deliver)
                return true
            }
            if n == 0 { return false }
            switch errno {
            case EINTR: continue
            case EAGAIN:  // a non-blocking stdin, inherited
                guard blocking else { return true }
                _ = sr_poll_one(fd, Int16(POLLIN), -1)
            default: return false
            }
        }
    }
}
