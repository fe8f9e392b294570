import CSandboxShims
import Glibc
import Protocol

/// Makes bwrap sandboxes: a workspace owned by a host user of its own, bwrap started as that
/// user with `sandbox-rpc agent` inside, and an `AgentSandbox` talking to the agent.
enum BubblewrapSandbox {
    static func make(
        id: String, params: SandboxCreate.Params, settings: LocalSandboxSettings, supervisor: Supervisor,
        outbox: Outbox, logger: Logger, onAgentExit: @escaping @Sendable () -> Void
    ) async throws -> any Sandbox {
        if params.cwd != nil {
            throw RPCError.unsupported(reason: "cwd cannot be given for a bwrap sandbox: its home is its own workspace, /home/user")
        }
        try CommandEnvironment.validate(params.envs, field: "envs")
        let user = Bubblewrap.allocateHostUser()
        let workspace = settings.root + "/" + id
        let etc = workspace + ".etc"
        // Memory and pids bound the sandbox as a whole (cgroups) where the machine allows; what
        // is left is enforced per command by the agent (rlimits).
        let resources = SandboxResources.make(sandboxId: id, limits: params.limits, processesPerUser: geteuid() == 0)
        let cleanup: @Sendable () -> Void = {
            _ = sr_remove_tree(workspace)
            _ = sr_remove_tree(etc)
            resources.release()
        }
        do {
            try Bubblewrap.prepare(workspace: workspace, etc: etc, user: user)
        } catch {
            cleanup()
            throw error
        }

        var agentArguments = [Bubblewrap.agentPath, "agent", "--home", Bubblewrap.sandboxHome, "--log-level", "\(logger.level)"]
        for (key, value) in (params.envs ?? [:]).sorted(by: { $0.key < $1.key }) { agentArguments += ["--env", "\(key)=\(value)"] }
        if let max = params.limits?.maxOutputBytes { agentArguments += ["--max-output-bytes", String(max)] }
        if resources.rlimits.cpu_seconds > 0 { agentArguments += ["--cpu-seconds", String(resources.rlimits.cpu_seconds)] }
        if resources.rlimits.address_space > 0 { agentArguments += ["--memory-bytes", String(resources.rlimits.address_space)] }
        // RLIMIT_NPROC counts the sandbox's own host user: set on bwrap, it covers everything inside.
        let launchLimits = sr_rlimits(cpu_seconds: 0, address_space: 0, processes: resources.rlimits.processes)
        let network = params.network ?? false
        let argv = Bubblewrap.arguments(workspace: workspace, etc: etc, network: network, command: agentArguments)

        var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1]
        guard sr_pipe_cloexec(&input) == 0 else { cleanup(); throw RPCError.limitExceeded(reason: "out of file descriptors") }
        guard sr_pipe_cloexec(&output) == 0 else {
            input.forEach(closeDescriptor); cleanup()
            throw RPCError.limitExceeded(reason: "out of file descriptors")
        }
        let pid: pid_t
        do {
            let stdio = [input[0], output[1], 2]
            let cgroups = resources.cgroupProcs
            pid = try await supervisor.spawnOnReactorThread { () throws(SystemError) in
                try Bubblewrap.spawn(argv, user: user, stdio: stdio, limits: launchLimits, cgroups: cgroups)
            }
        } catch {
            (input + output).forEach(closeDescriptor)
            cleanup()
            throw RPCError.internalError(reason: "cannot start bwrap: \(error)")
        }
        closeDescriptor(input[0])
        closeDescriptor(output[1])
        let agent = LaunchedAgent(pid: pid, sandboxId: id, network: network)
        let connection = AgentConnection(
            input: input[1], output: output[0], sandboxId: id, outbox: outbox, logger: logger, onClosed: onAgentExit)
        let sandbox = AgentSandbox(
            id: id, isolation: .bwrap, home: Bubblewrap.sandboxHome, metadata: params.metadata ?? [:], agent: agent,
            connection: connection, enforcement: resources.enforcement, cleanup: cleanup)
        try await sandbox.waitUntilServing(
            limits: params.limits, otherwise: .internalError(reason: "the sandbox's agent did not start (see the bridge's stderr)"))
        return sandbox
    }
}
