import CSandboxShims
import Glibc
import Protocol

/// The descriptors of a process being started: the ends the child gets as 0, 1, 2 and the
/// ends the supervisor keeps (non-blocking). Pipes for commands, a terminal for PTYs.
struct Stdio {
    /// What the child gets as stdin, stdout, stderr.
    let childEnds: [Int32]
    let stdout: Int32
    let stderr: Int32
    let stdin: Int32?
    /// Child ends we opened (and must close once the keeper has its copies).
    private let ownedChildEnds: [Int32]

    /// Pipes for stdout and stderr (from `reserve`), and for stdin when asked; else /dev/null.
    static func pipes(withStdin: Bool, devNull: Int32, reserve: inout OutputPipeReserve) throws(RPCError) -> Stdio {
        let out = try reserve.take()
        let err: (read: Int32, write: Int32)
        do { err = try reserve.take() } catch {
            [out.read, out.write].forEach(closeDescriptor)
            throw error
        }
        var input: (read: Int32, write: Int32)?
        if withStdin {
            do { input = try makePipe(nonBlocking: .write) } catch {
                [out.read, out.write, err.read, err.write].forEach(closeDescriptor)
                throw error
            }
        }
        return Stdio(
            childEnds: [input?.read ?? devNull, out.write, err.write], stdout: out.read, stderr: err.read,
            stdin: input?.write, ownedChildEnds: [out.write, err.write] + (input.map { [$0.read] } ?? []))
    }

    /// A pseudo-terminal: the child's 0, 1 and 2 are its slave (and its controlling terminal);
    /// we read and write the master.
    static func terminal(size: (cols: Int, rows: Int)) throws(RPCError) -> Stdio {
        var master: Int32 = -1, slave: Int32 = -1
        let rc = sr_open_pty(&master, &slave, UInt16(clamping: size.rows), UInt16(clamping: size.cols))
        guard rc == 0 else { throw RPCError(errno: rc, action: "open a terminal") }
        let writer = dup(master)
        guard writer >= 0 else {
            let error = sr_errno()
            closeDescriptor(master); closeDescriptor(slave)
            throw RPCError(errno: error, action: "dup")
        }
        _ = sr_set_cloexec(writer)
        _ = sr_set_nonblocking(master)
        return Stdio(childEnds: [slave, slave, slave], stdout: master, stderr: -1, stdin: writer, ownedChildEnds: [slave])
    }

    func closeChildEnds() { ownedChildEnds.forEach(closeDescriptor) }

    func closeAll() {
        closeChildEnds()
        [stdout, stderr].forEach(closeDescriptor)
        if let stdin { closeDescriptor(stdin) }
    }
}

/// Output pipes made ahead of need, so that starting a process makes none on its way: the
/// supervisor tops the reserve up after a start, while the process loads. A pipe starts at the
/// default size (64 KiB) and grows when a read finds it full (`OutputChannel.grow`).
struct OutputPipeReserve {
    /// Two processes' stdout and stderr; each pipe held costs two descriptors.
    static let capacity = 4
    private var spare: [(read: Int32, write: Int32)] = []

    /// A pipe of the reserve, or a new one when it is empty.
    mutating func take() throws(RPCError) -> (read: Int32, write: Int32) {
        if let pipe = spare.popLast() { return pipe }
        return try makePipe(nonBlocking: .read)
    }

    /// Makes pipes until the reserve is full, or descriptors run out (then a start makes its own,
    /// and fails with a clear error if it cannot).
    mutating func refill() {
        while spare.count < Self.capacity, let pipe = try? makePipe(nonBlocking: .read) { spare.append(pipe) }
    }
}

private enum PipeEnd { case read, write }

/// A pipe whose ends are both close-on-exec, and whose end `ours` (the supervisor's) is
/// non-blocking; the child's end stays blocking.
private func makePipe(nonBlocking ours: PipeEnd) throws(RPCError) -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    guard sr_pipe_cloexec(&fds) == 0 else { throw RPCError(errno: sr_errno(), action: "pipe") }
    _ = sr_set_status_flags(ours == .read ? fds[0] : fds[1], O_NONBLOCK)  // fresh: no other status flags
    return (fds[0], fds[1])
}
