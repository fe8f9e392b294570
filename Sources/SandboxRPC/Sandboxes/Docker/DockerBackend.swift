import CSandboxShims
import Glibc
import Protocol
import Synchronization

/// What the bridge needs to make Docker sandboxes, and whether it can here.
final class DockerBackend: Sendable {
    let engine: DockerEngine
    /// The image of sandboxes that do not name one.
    let defaultImage: String
    /// A statically linked `sandbox-rpc`, bind-mounted into every container as its agent.
    let agentBinary: String
    /// Sandboxes as one-replica Swarm services rather than plain containers.
    let swarm: Bool
    let logger: Logger
    /// Whether sandboxes can be made here, once tried.
    private let availability = Mutex<Bool?>(nil)

    init(engine: DockerEngine, defaultImage: String, agentBinary: String, swarm: Bool, logger: Logger) {
        self.engine = engine
        self.defaultImage = defaultImage
        self.agentBinary = agentBinary
        self.swarm = swarm
        self.logger = logger
    }

    static let imageEnvironmentDefault = "sandbox-rpc-base:latest"
    /// Containers and services carry this label; its value names the bridge that made them.
    static let bridgeLabel = "sandbox-rpc.bridge"
    static let sandboxLabel = "sandbox-rpc.sandbox"
    static let networkName = "sandbox-rpc"

    /// This bridge, as its containers' label names it: boot, PID namespace, pid and start time,
    /// so that a later bridge can tell whether it still runs (pids are reused, across boots
    /// too) and knows when it cannot tell (a bridge in another PID namespace or on another host).
    static let instance = "\(namespace)/\(getpid())/\(processStartTime(getpid()) ?? 0)"

    /// Boot and PID namespace: where a pid means the same process as here.
    private static let namespace: String = {
        let boot = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id")) ?? "unknown"
        let pidNamespace = symbolicLinkTarget("/proc/self/ns/pid") ?? "unknown"
        return boot.filter { !$0.isWhitespace } + "/" + pidNamespace.filter { $0.isNumber }
    }()

    /// Whether sandboxes can be made: an engine answers and the agent binary can run in any
    /// image. Tried once, the first time (the server does that at start, off the request path).
    func isAvailable() -> Bool {
        availability.withLock { cached in
            if let cached { return cached }
            let result = runProbe()
            cached = result
            return result
        }
    }

    private func runProbe() -> Bool {
        guard engine.answersPing() else {
            logger.info("docker: no engine answers on \(engine.socketPath)")
            return false
        }
        guard access(agentBinary, X_OK) == 0 else {
            logger.warn("docker: the agent binary \(agentBinary) is missing or not executable (--docker-agent)")
            return false
        }
        guard ExecutableFile.isStaticallyLinked(agentBinary) else {
            logger.warn("docker: \(agentBinary) is dynamically linked and cannot run in a container's image; "
                + "build a static one with scripts/build-release and pass it with --docker-agent")
            return false
        }
        return true
    }

    /// Removes the containers and services of bridges that are gone (killed with SIGKILL, or
    /// the machine rebooted): nothing they started outlives them by more than one start. A
    /// bridge this one cannot see (another PID namespace or host) keeps its running containers.
    func removeLeftovers() {
        let filter = "{\"label\":[\"\(Self.bridgeLabel)\"]}"
        let query = "filters=" + Self.percentEncoded(filter)
        if case .array(let containers)? = try? engine.send("GET", "/containers/json?all=1&" + query) {
            for container in containers {
                guard let id = container["Id"]?.stringValue, let owner = container["Labels"]?[Self.bridgeLabel]?.stringValue
                else { continue }
                let stopped = ["exited", "dead"].contains(container["State"]?.stringValue ?? "")
                guard stopped || Self.isGone(instance: owner) else { continue }
                logger.info("docker: removing container \(id.prefix(12)) of a bridge that is gone (\(owner))")
                _ = try? engine.send("DELETE", "/containers/\(id)?force=1&v=1")
            }
        }
        if swarm, case .array(let services)? = try? engine.send("GET", "/services?" + query) {
            for service in services {
                guard let id = service["ID"]?.stringValue,
                      let owner = service["Spec"]?["Labels"]?[Self.bridgeLabel]?.stringValue,
                      Self.isGone(instance: owner) else { continue }
                _ = try? engine.send("DELETE", "/services/\(id)")
            }
        }
    }

    /// The bridge named by `instance` shares our boot and PID namespace and no longer runs.
    static func isGone(instance: String) -> Bool {
        let parts = instance.split(separator: "/")
        guard parts.count == 4, let pid = pid_t(parts[2]), let start = UInt64(parts[3]),
              "\(parts[0])/\(parts[1])" == namespace else { return false }
        return processStartTime(pid) != start
    }

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x2E {
                out.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += (hex.count == 1 ? "%0" : "%") + hex
            }
        }
        return out
    }
}
