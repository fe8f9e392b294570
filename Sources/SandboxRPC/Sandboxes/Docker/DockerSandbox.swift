import Glibc
import Protocol
import Synchronization

/// Makes Docker sandboxes: a container per sandbox (or the one task of a Swarm service), this
/// bridge's static binary bind-mounted into it, and one long-lived `exec` of
/// `sandbox-rpc agent` whose stdin/stdout carry this same protocol. No exec per command.
enum DockerSandbox {
    static let agentPath = "/run/sandbox-rpc/sandbox-rpc"
    static let home = "/home/user"
    static let user = "1000:1000"

    static func make(
        id: String, params: SandboxCreate.Params, backend: DockerBackend, outbox: Outbox, logger: Logger,
        onAgentExit: @escaping @Sendable () -> Void
    ) async throws -> any Sandbox {
        if params.cwd != nil {
            throw RPCError.unsupported(reason: "cwd cannot be given for a docker sandbox: its home is /home/user in the container")
        }
        try CommandEnvironment.validate(params.envs, field: "envs")
        let image = params.image ?? backend.defaultImage
        do {
            let network = params.network ?? false
            if network { try await ensureNetwork(backend.engine) }
            let placed = try await place(id: id, image: image, params: params, network: network, backend: backend)
            return try await connect(
                id: id, params: params, container: DockerContainer(engine: backend.engine, placement: placed, sandboxId: id, network: network),
                backend: backend, outbox: outbox, logger: logger, onAgentExit: onAgentExit)
        } catch {
            throw map(error, image: image, imageGiven: params.image != nil)
        }
    }

    /// Starts the agent in the container and returns the sandbox it serves; removes the
    /// container when that fails.
    private static func connect(
        id: String, params: SandboxCreate.Params, container: DockerContainer, backend: DockerBackend, outbox: Outbox,
        logger: Logger, onAgentExit: @escaping @Sendable () -> Void
    ) async throws -> any Sandbox {
        do {
            let exec = try await backend.engine.call("POST", "/containers/\(container.placement.containerID)/exec", body: [
                "AttachStdin": true, "AttachStdout": true, "AttachStderr": true, "Tty": false,
                "User": .string(user), "WorkingDir": .string(home),
                "Cmd": .array(agentArguments(params: params, logger: logger).map(JSONValue.string)),
            ])
            guard let execID = exec?["Id"]?.stringValue else { throw DockerError.malformed("exec create without an Id") }
            let stream = try await backend.engine.upgrade("/exec/\(execID)/start", body: ["Detach": false, "Tty": false])
            let writeEnd = dup(stream)
            guard writeEnd >= 0 else {
                closeDescriptor(stream)
                throw RPCError.limitExceeded(reason: "out of file descriptors")
            }
            let connection = AgentConnection(
                input: writeEnd, output: stream, framing: .dockerMultiplexed, sandboxId: id, outbox: outbox, logger: logger
            ) {
                container.agentExited()
                onAgentExit()
            }
            let sandbox = AgentSandbox(
                id: id, isolation: .docker, home: home, metadata: params.metadata ?? [:], agent: container,
                connection: connection, enforcement: enforcement(params.limits), cleanup: {})
            try await sandbox.waitUntilServing(
                limits: params.limits,
                otherwise: .unsupported(reason: "the sandbox's agent did not start in the container (see the bridge's stderr)"))
            return sandbox
        } catch {
            await container.kill()
            throw error
        }
    }

    /// Where the sandbox's processes run: a container started here, or a Swarm service's task.
    struct Placement: Sendable {
        var containerID: String
        var serviceID: String?
    }

    private static func place(
        id: String, image: String, params: SandboxCreate.Params, network: Bool, backend: DockerBackend
    ) async throws -> Placement {
        if backend.swarm {
            return try await DockerSwarm.place(id: id, image: image, params: params, network: network, backend: backend)
        }
        let engine = backend.engine
        // Unnamed: names are per engine, and every bridge has a sandbox called "default".
        let created = try await engine.call("POST", "/containers/create", body: containerSpec(
            id: id, image: image, params: params, network: network, backend: backend))
        guard let containerID = created?["Id"]?.stringValue else { throw DockerError.malformed("container create without an Id") }
        do {
            _ = try await engine.call("POST", "/containers/\(containerID)/start")
            return Placement(containerID: containerID)
        } catch {
            _ = try? await engine.call("DELETE", "/containers/\(containerID)?force=1&v=1")
            throw error
        }
    }

    /// The container: `--init`, no network (or ours), every capability dropped, no new
    /// privileges, a non-root user, limits from `limits`, the agent binary read-only.
    static func containerSpec(id: String, image: String, params: SandboxCreate.Params, network: Bool, backend: DockerBackend) -> JSONValue {
        var host: JSONObject = [
            "Init": true,
            "AutoRemove": true,  // once the agent has stopped it (see stopIdleProcesses)
            "NetworkMode": .string(network ? DockerBackend.networkName : "none"),
            "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges"],
            "Mounts": [["Type": "bind", "Source": .string(backend.agentBinary), "Target": .string(agentPath), "ReadOnly": true]],
            "Tmpfs": [home: "uid=1000,gid=1000,mode=0755", "/tmp": "mode=1777"],
        ]
        if let memory = params.limits?.memoryBytes, memory > 0 {
            host["Memory"] = .number(JSONNumber(memory))
            host["MemorySwap"] = .number(JSONNumber(memory))
        }
        if let pids = params.limits?.pids, pids > 0 { host["PidsLimit"] = .number(JSONNumber(pids)) }
        return [
            "Image": .string(image),
            "Cmd": [.string(agentPath), "__idle"],
            "Entrypoint": .array([]),
            "User": .string(user),
            "WorkingDir": .string(home),
            "Hostname": "sandbox",
            "Env": [.string("HOME=" + home), .string("PATH=" + CommandEnvironment.path), "LANG=C.UTF-8"],
            "Labels": .object([DockerBackend.bridgeLabel: .string(DockerBackend.instance), DockerBackend.sandboxLabel: .string(id)]),
            "HostConfig": .object(host),
        ]
    }

    static func agentArguments(params: SandboxCreate.Params, logger: Logger) -> [String] {
        var arguments = [agentPath, "agent", "--home", home, "--stop-container-on-exit", "--log-level", "\(logger.level)"]
        for (key, value) in (params.envs ?? [:]).sorted(by: { $0.key < $1.key }) { arguments += ["--env", "\(key)=\(value)"] }
        if let max = params.limits?.maxOutputBytes { arguments += ["--max-output-bytes", String(max)] }
        if let cpu = params.limits?.cpuSeconds, cpu > 0 { arguments += ["--cpu-seconds", String(cpu)] }
        return arguments
    }

    /// In the agent, as it exits: ends the container's main process (`__idle`, run by this same
    /// binary, the child of the container's init), so that the container stops and the engine
    /// removes it (`AutoRemove`). That is how a container does not outlive a bridge killed with
    /// SIGKILL: its exec stream closes, the agent sees the end of its input, kills its commands,
    /// and then this. (A Swarm task stops too; its service waits for the next bridge's sweep.)
    static func stopIdleProcesses() {
        let me = Bubblewrap.selfExecutable()
        guard let proc = opendir("/proc") else { return }
        defer { closedir(proc) }
        while let entry = readdir(proc) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = pid_t(name), pid != getpid(),
                  let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline"),
                  cmdline.split(separator: "\0").dropFirst().first == "__idle",
                  processParent(pid) == 1,  // the container's init's child: ours, not a neighbour's
                  symbolicLinkTarget("/proc/\(pid)/exe") == me else { continue }
            _ = kill(pid, SIGKILL)
        }
    }

    static func enforcement(_ limits: SandboxLimits?) -> [String: String] {
        var enforcement: [String: String] = [:]
        if limits?.memoryBytes != nil { enforcement["memoryBytes"] = "cgroup" }
        if limits?.pids != nil { enforcement["pids"] = "cgroup" }
        if limits?.cpuSeconds != nil { enforcement["cpuSeconds"] = "rlimit" }
        return enforcement
    }

    /// The bridge network of sandboxes with `network: true` (made once; reachable from the host).
    private static func ensureNetwork(_ engine: DockerEngine) async throws {
        let path = "/networks/\(DockerBackend.networkName)"
        if let existing = try? await engine.call("GET", path) {
            guard existing["Options"]?["com.docker.network.bridge.enable_icc"]?.stringValue != "false" else { return }
            // Made by an older bridge with traffic between sandboxes on: replace it, or refuse.
            do {
                _ = try await engine.call("DELETE", path)
            } catch {
                throw RPCError.unsupported(reason: "the docker network \(DockerBackend.networkName) lets containers reach one another "
                    + "and is in use; remove it (docker network rm \(DockerBackend.networkName)) for sandboxes with network")
            }
        }
        // Sandboxes on it reach out and are reached from the host, not one another.
        let body: JSONValue = [
            "Name": .string(DockerBackend.networkName), "Driver": "bridge", "CheckDuplicate": true,
            "Options": ["com.docker.network.bridge.enable_icc": "false"],
        ]
        do {
            _ = try await engine.call("POST", "/networks/create", body: body)
        } catch {
            // Made meanwhile by another sandbox, or a real failure: the next lookup tells.
            _ = try await engine.call("GET", path)
        }
    }

    /// Engine failures as the client should see them: a missing image is the client's to fix;
    /// anything else the engine refuses, or answers in a way we cannot read (an engine
    /// restarting mid-answer), makes the sandbox unavailable here: never a bridge bug.
    private static func map(_ error: any Error, image: String, imageGiven: Bool) -> any Error {
        guard let error = error as? DockerError else { return error }
        switch error {
        case .engine(404, let message) where message.lowercased().contains("no such image"):
            let reason = "no such image \"\(image)\" in the Docker Engine"
            return imageGiven
                ? RPCError.invalidParams(field: "image", reason: reason)
                : RPCError.unsupported(reason: reason + " (scripts/docker-image builds the default one)")
        case .engine, .unreachable, .malformed:
            return RPCError.unsupported(reason: "docker: \(error)")
        }
    }
}

/// A sandbox's container (or Swarm service), as the agent's host.
final class DockerContainer: AgentHost {
    private let engine: DockerEngine
    let placement: DockerSandbox.Placement
    private let sandboxId: String
    private let network: Bool
    private let exited = Atomic(false)
    private let forwards: LoopbackForwards

    init(engine: DockerEngine, placement: DockerSandbox.Placement, sandboxId: String, network: Bool) {
        self.engine = engine
        self.sandboxId = sandboxId
        self.forwards = LoopbackForwards(sandboxId: sandboxId)
        self.placement = placement
        self.network = network
    }

    /// The exec stream ended: the agent is gone.
    func agentExited() { exited.store(true, ordering: .releasing) }

    var hasExited: Bool { exited.load(ordering: .acquiring) }

    /// Removes the container (or service), and with it every process left inside; returns once
    /// the engine no longer lists it (it may already be on its way out by itself: AutoRemove).
    func kill() async {
        forwards.stopAll()
        if let service = placement.serviceID {
            _ = try? await engine.call("DELETE", "/services/\(service)")
        }
        do {
            _ = try await engine.call("DELETE", "/containers/\(placement.containerID)?force=1&v=1")
            return  // a forced removal answers once it is done
        } catch DockerError.engine(status: 409, _) {
            // Already being removed (AutoRemove, once the agent stopped it): wait for that, briefly.
        } catch {
            return  // gone already (404), or the engine is: nothing more to do here
        }
        let deadline = Clock.monotonicNanos() + 2_000_000_000
        while Clock.monotonicNanos() < deadline {
            guard let info = try? await engine.call("GET", "/containers/\(placement.containerID)/json", timeoutSeconds: 2),
                  info["State"]?["Status"]?.stringValue != "dead" else { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// With a network, the container's own address on the sandboxes' bridge network; without,
    /// a loopback forward into its network namespace (found by its first process's pid).
    func host(forPort port: Int) async throws -> String {
        guard !hasExited else { throw RPCError.sandboxKilled(sandboxId: sandboxId) }
        let info: JSONValue?
        do {
            info = try await engine.call("GET", "/containers/\(placement.containerID)/json")
        } catch DockerError.engine(status: 404, _) {
            throw RPCError.sandboxKilled(sandboxId: sandboxId)
        } catch {
            throw RPCError.unsupported(reason: "docker: \(error)")
        }
        if network, let address = info?["NetworkSettings"]?["Networks"]?[DockerBackend.networkName]?["IPAddress"]?.stringValue,
           !address.isEmpty {
            return "\(address):\(port)"
        }
        guard case .number(let number)? = info?["State"]?["Pid"], let pid = number.intValue, pid > 0 else {
            throw RPCError.unsupported(reason: "the sandbox's container does not run on this host; give it network: true")
        }
        return try forwards.host(forPort: port) { pid_t(pid) }
    }
}
