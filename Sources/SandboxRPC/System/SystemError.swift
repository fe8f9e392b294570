import Glibc

/// A failed system call: which call, and its errno.
struct SystemError: Error, CustomStringConvertible {
    let call: String
    let errno: Int32

    var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

/// Runs a system call, retrying on EINTR; a negative return becomes a `SystemError`.
@discardableResult
func syscall<T: BinaryInteger>(_ name: String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let error = Glibc.errno
        if error != EINTR { throw SystemError(call: name, errno: error) }
    }
}

/// Closes a descriptor we own, ignoring EINTR (the descriptor is released either way on Linux).
func closeDescriptor(_ fd: Int32) {
    if fd >= 0 { _ = Glibc.close(fd) }
}
