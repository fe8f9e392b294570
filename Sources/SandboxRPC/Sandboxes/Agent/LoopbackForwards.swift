import CSandboxShims
import Glibc
import Protocol
import Synchronization

/// Loopback listeners on the host, each forwarding to a port inside a sandbox's own network
/// namespace: how a client reaches a server in a sandbox that has no network of its own.
final class LoopbackForwards: Sendable {
    private struct State {
        /// Sandbox port → (listening socket, host port).
        var forwards: [Int: (fd: Int32, port: Int)] = [:]
        /// The sandbox has ended: no new forward into it.
        var stopped = false
    }

    private let state = Mutex(State())
    private let sandboxId: String

    init(sandboxId: String) { self.sandboxId = sandboxId }

    /// The host address forwarding to `port`; `insider` names a process in the namespace.
    func host(forPort port: Int, insider: () -> pid_t?) throws(RPCError) -> String {
        try state.withLock { (state) throws(RPCError) -> String in
            guard !state.stopped else { throw .sandboxKilled(sandboxId: sandboxId) }
            if let forward = state.forwards[port] { return "127.0.0.1:\(forward.port)" }
            guard let inside = insider() else { throw .sandboxKilled(sandboxId: sandboxId) }
            let namespace = open("/proc/\(inside)/ns/net", O_RDONLY | O_CLOEXEC)
            guard namespace >= 0 else { throw .internalError(reason: "cannot open the sandbox's network namespace") }
            defer { closeDescriptor(namespace) }
            var fd: Int32 = -1, hostPort: Int32 = 0
            let rc = sr_forward_start(namespace, Int32(port), &fd, &hostPort)
            if rc == EPERM {
                throw .unsupported(reason: "cannot forward port \(port) into the sandbox's network namespace without privileges "
                    + "(the bridge is not root); give the sandbox network: true")
            }
            guard rc == 0 else { throw .internalError(reason: "cannot forward port \(port): \(String(cString: strerror(rc)))") }
            state.forwards[port] = (fd, Int(hostPort))
            return "127.0.0.1:\(hostPort)"
        }
    }

    func stopAll() {
        state.withLock { state in
            state.stopped = true
            for forward in state.forwards.values { sr_forward_stop(forward.fd) }
            state.forwards = [:]
        }
    }
}
