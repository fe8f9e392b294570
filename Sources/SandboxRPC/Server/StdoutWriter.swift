import CSandboxShims
import Glibc

/// The only writer of stdout: one thread, coalescing whatever the outbox holds into large writes.
enum StdoutWriter {
    static func start(outbox: Outbox, fd: Int32 = 1, onBrokenPipe: @escaping @Sendable () -> Void) {
        startThread(name: "stdout-writer") {
            var recycled: [UInt8] = []
            while var chunk = outbox.take(recycling: &recycled) {
                let ok = chunk.withUnsafeBytes { writeAll(fd: fd, $0) }
                recycled = chunk
                chunk = []
                outbox.didWrite()
                if !ok {
                    outbox.abandon()
                    onBrokenPipe()
                    return
                }
            }
        }
    }

    private static func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {  // a non-blocking stdout: wait until the client reads
                    _ = sr_poll_one(fd, Int16(POLLOUT), -1)
                    continue
                }
                return false  // EPIPE: the client is gone
            }
            offset += n
        }
        return true
    }
}
