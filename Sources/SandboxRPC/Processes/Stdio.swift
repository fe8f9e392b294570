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

    static func pipes(withStdin: Bool, devNull: Int32) throws(RPCError) -> Stdio {
        var opened: [Int32] = []
        func pipe() throws(RPCError) -> (read: Int32, write: Int32) {
            var fds: [Int32] = [-1, -1]
            guard sr_pipe_cloexec(&fds) == 0 else {
                let error = sr_errno()
                opened.forEach(closeDescriptor)
                throw RPCError(errno: error, action: "pipe")
            }
            opened += fds
            return (fds[0], fds[1])
        }
        let out = try pipe()
        let err = try pipe()
        let input = withStdin ? try pipe() : nil
        // Fresh pipe ends have no other status flags. Pipes keep the default size (64 KiB) until
        // a read finds one full (`OutputChannel.grow`): most commands print little.
        for fd in [out.read, err.read] { _ = sr_set_status_flags(fd, O_NONBLOCK) }
        if let input { _ = sr_set_status_flags(input.write, O_NONBLOCK) }
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
