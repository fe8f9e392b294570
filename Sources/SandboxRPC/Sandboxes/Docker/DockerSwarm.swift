import Glibc
import Protocol

/// Sandboxes placed by Swarm (`--docker-swarm`): each a one-replica service whose task
/// container the agent is exec'd into. The image is referenced by its ID, so no registry is
/// contacted; limits become the service's resource limits.
///
/// Multi-node: Swarm may place the task on any node; the bridge then talks to that node's
/// engine for the exec (`DOCKER_HOST` of each node, reachable from the bridge). Today the
/// bridge drives one engine, so it pins tasks to the node it talks to (`node.id`), which is
/// what a single-node swarm and the tests need.
///
/// Network: a service cannot join the `none` network, so its task gets the engine's default
/// for services; with the daemon started as the README says (`--bridge=none`) that is
/// loopback only, which the tests check.
enum DockerSwarm {
    static func place(
        id: String, image: String, params: SandboxCreate.Params, network: Bool, backend: DockerBackend
    ) async throws -> DockerSandbox.Placement {
        if network {
            throw RPCError.unsupported(reason: "network: true is not supported for Swarm sandboxes yet (use a plain docker sandbox)")
        }
        let engine = backend.engine
        guard let imageID = try await engine.call("GET", "/images/\(image)/json")?["Id"]?.stringValue else {
            throw DockerError.malformed("image inspect without an Id")
        }
        guard let nodeID = try await engine.call("GET", "/info")?["Swarm"]?["NodeID"]?.stringValue, !nodeID.isEmpty else {
            throw RPCError.unsupported(reason: "--docker-swarm: the engine is not part of a swarm (docker swarm init)")
        }
        let created = try await engine.call("POST", "/services/create", body: serviceSpec(
            id: id, imageID: imageID, nodeID: nodeID, params: params, backend: backend))
        guard let serviceID = created?["ID"]?.stringValue else { throw DockerError.malformed("service create without an ID") }
        do {
            let containerID = try await runningTask(of: serviceID, engine: engine)
            try await requireNoNetwork(containerID, engine: engine)
            return DockerSandbox.Placement(containerID: containerID, serviceID: serviceID)
        } catch {
            _ = try? await engine.call("DELETE", "/services/\(serviceID)")
            throw error
        }
    }

    static func serviceSpec(id: String, imageID: String, nodeID: String, params: SandboxCreate.Params, backend: DockerBackend) -> JSONValue {
        let labels: JSONValue = .object([DockerBackend.bridgeLabel: .string(DockerBackend.instance), DockerBackend.sandboxLabel: .string(id)])
        var limits: JSONObject = [:]
        if let memory = params.limits?.memoryBytes, memory > 0 { limits["MemoryBytes"] = .number(JSONNumber(memory)) }
        if let pids = params.limits?.pids, pids > 0 { limits["Pids"] = .number(JSONNumber(pids)) }
        return [
            "Labels": labels,
            "Mode": ["Replicated": ["Replicas": 1]],
            "TaskTemplate": [
                "ContainerSpec": [
                    "Image": .string(imageID),
                    "Command": [.string(DockerSandbox.agentPath)],
                    "Args": ["__idle"],
                    "User": .string(DockerSandbox.user),
                    "Dir": .string(DockerSandbox.home),
                    "Hostname": "sandbox",
                    "Env": [.string("HOME=" + DockerSandbox.home), .string("PATH=" + CommandEnvironment.path), "LANG=C.UTF-8"],
                    "Init": true,
                    "CapabilityDrop": ["ALL"],
                    "Labels": labels,
                    "Mounts": [
                        ["Type": "bind", "Source": .string(backend.agentBinary), "Target": .string(DockerSandbox.agentPath), "ReadOnly": true],
                        // A service's tmpfs cannot be given an owner: the home is world-writable.
                        ["Type": "tmpfs", "Target": .string(DockerSandbox.home), "TmpfsOptions": ["Mode": 0o1777]],
                        ["Type": "tmpfs", "Target": "/tmp", "TmpfsOptions": ["Mode": 0o1777]],
                    ],
                ],
                "Resources": ["Limits": .object(limits)],
                "RestartPolicy": ["Condition": "none"],
                "Placement": ["Constraints": [.string("node.id == \(nodeID)")]],
            ],
        ]
    }

    /// A service cannot be put on the `none` network: where the engine gives its tasks one
    /// (an engine with a default bridge), the sandbox is refused rather than made with a network.
    private static func requireNoNetwork(_ containerID: String, engine: DockerEngine) async throws {
        guard case .object(let networks)? = try await engine.call("GET", "/containers/\(containerID)/json")?["NetworkSettings"]?["Networks"]
        else { return }
        let addressed = networks.filter { !($0.value["IPAddress"]?.stringValue ?? "").isEmpty }
        guard addressed.isEmpty else {
            throw RPCError.unsupported(reason: "this engine gives Swarm tasks a network (\(networks.keys.sorted().joined(separator: ", "))), "
                + "so a Swarm sandbox without network cannot be made: start the engine with --bridge=none")
        }
    }

    /// Waits until the service's task runs; returns its container.
    private static func runningTask(of serviceID: String, engine: DockerEngine) async throws -> String {
        let query = "filters=" + DockerBackend.percentEncoded("{\"service\":[\"\(serviceID)\"]}")
        let deadline = Clock.monotonicNanos() + 60_000_000_000
        while Clock.monotonicNanos() < deadline {
            if case .array(let tasks)? = try await engine.call("GET", "/tasks?" + query) {
                for task in tasks {
                    let status = task["Status"]
                    switch status?["State"]?.stringValue {
                    case "running":
                        if let container = status?["ContainerStatus"]?["ContainerID"]?.stringValue { return container }
                    case "failed", "rejected", "shutdown", "complete", "orphaned":
                        let reason = status?["Err"]?.stringValue ?? status?["Message"]?.stringValue ?? "unknown"
                        throw DockerError.engine(status: 500, message: "the service's task did not start: \(reason)")
                    default:
                        break
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw DockerError.engine(status: 504, message: "the service's task did not start within 60 s")
    }
}
