import CSandboxShims
import Glibc

/// The bridge's end of a sandbox's keeper: the small process (this binary, `__keeper`) that
/// starts the sandbox's commands, reaps them and kills every descendant when told to or when
/// this socket closes, which the kernel does even when the bridge is SIGKILLed.
struct KeeperHandle: Sendable, Hashable {
    let socket: Int32
    let pid: pid_t

    static func launch() throws(SystemError) -> KeeperHandle {
        var fds: [Int32] = [-1, -1]
        try syscall("socketpair") { sr_socketpair_seqpacket(&fds) }
        var pid: pid_t = 0
        let rc = sr_spawn_keeper("/proc/self/exe", fds[1], &pid)
        closeDescriptor(fds[1])
        guard rc == 0 else {
            closeDescriptor(fds[0])
            throw SystemError(call: "posix_spawn(keeper)", errno: rc)
        }
        return KeeperHandle(socket: fds[0], pid: pid)
    }

    /// What the keeper can tell the bridge.
    enum Event {
        case spawned(token: UInt32, pid: Int)
        case spawnFailed(token: UInt32, errno: Int32)
        case exited(pid: Int, status: Int32)
        case killedAll
    }

    /// The next event, `nil` when none is waiting; throws when the keeper is gone.
    func receive() throws(SystemError) -> Event? {
        while true {
            var event = sr_event()
            let n = recv(socket, &event, MemoryLayout<sr_event>.size, Int32(MSG_DONTWAIT))
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { return nil }
                throw SystemError(call: "recv(keeper)", errno: errno)
            }
            if n == 0 { throw SystemError(call: "recv(keeper)", errno: ECONNRESET) }
            switch Int(event.op) {
            case SR_OP_SPAWNED: return .spawned(token: event.token, pid: Int(event.pid))
            case SR_OP_SPAWN_FAILED: return .spawnFailed(token: event.token, errno: event.status)
            case SR_OP_EXITED: return .exited(pid: Int(event.pid), status: event.status)
            case SR_OP_KILLED_ALL: return .killedAll
            default: continue
            }
        }
    }

    /// Asks the keeper to kill every descendant; false when the socket is full (try again once
    /// the keeper has been heard).
    func requestKillAll() throws(SystemError) -> Bool {
        var header = sr_spawn_header()
        header.op = UInt32(SR_OP_KILL_ALL)
        let rc = withUnsafeBytes(of: &header) { sr_send_with_fds(socket, $0.baseAddress, $0.count, nil, 0) }
        if rc == EAGAIN { return false }
        if rc != 0 { throw SystemError(call: "sendmsg(keeper)", errno: rc) }
        return true
    }

    /// Asks the keeper to start a process with the given stdio descriptors; false when the
    /// socket is full (try again once the keeper has been heard).
    func spawn(token: UInt32, request: SpawnRequest, stdio: [Int32]) throws(SystemError) -> Bool {
        var header = sr_spawn_header()
        header.op = UInt32(SR_OP_SPAWN)
        header.token = token
        if let account = request.account {
            header.uid = account.uid
            header.gid = account.gid
            header.flags |= UInt32(SR_SPAWN_SET_USER)
        }
        if request.controllingTerminal { header.flags |= UInt32(SR_SPAWN_CONTROLLING_TTY) }
        header.limits = request.limits
        header.argc = UInt32(request.argv.count)
        header.envc = UInt32(request.environment.count)
        var message = withUnsafeBytes(of: &header) { Array($0) }
        for string in [request.cwd] + request.argv + request.environment {
            message.append(contentsOf: string.utf8)
            message.append(0)
        }
        guard message.count <= Self.maxMessageBytes else { throw SystemError(call: "spawn", errno: EMSGSIZE) }
        let rc = message.withUnsafeBytes { bytes in
            stdio.withUnsafeBufferPointer { fds in
                sr_send_with_fds(socket, bytes.baseAddress, bytes.count, fds.baseAddress, Int32(fds.count))
            }
        }
        if rc == EAGAIN { return false }
        if rc != 0 { throw SystemError(call: "sendmsg(keeper)", errno: rc) }
        return true
    }

    func close() { closeDescriptor(socket) }

    /// The keeper's receive buffer (MAX_MESSAGE in keeper.c).
    static let maxMessageBytes = 1 << 20
}

/// Everything the keeper needs to start one process.
struct SpawnRequest: Sendable {
    var argv: [String]
    var environment: [String]  // "KEY=value"
    var cwd: String
    var account: UserAccount?  // switch to it before exec; nil: stay who the keeper is
    var controllingTerminal = false
    var limits = sr_rlimits()
}
