import CSandboxShims
import Glibc
import Protocol

/// Reads stdin on the calling thread (blocking `read(2)`, never on the cooperative pool) and
/// hands each framed line to `deliver`; returns at end of input.
struct LineReader {
    let fd: Int32
    var framer: LineFramer

    init(fd: Int32 = 0, maxLineBytes: Int) {
        self.fd = fd
        self.framer = LineFramer(maxLineBytes: maxLineBytes)
    }

    mutating func run(deliver: (Frame) -> Void) {
        let capacity = 64 * 1024
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, capacity)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {  // a non-blocking stdin, inherited: wait for it instead
                    _ = sr_poll_one(fd, Int16(POLLIN), -1)
                    continue
                }
                break
            }
            if n == 0 { break }
            framer.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), emit: deliver)
        }
        framer.finish(emit: deliver)
    }
}
