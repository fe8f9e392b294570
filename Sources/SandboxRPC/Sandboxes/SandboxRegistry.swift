import Glibc
import Protocol

/// The sandboxes of this bridge by id, the implicit "default" one, and sandbox lifetimes.
actor SandboxRegistry {
    static let defaultID = "default"

    private let supervisor: Supervisor
    private let settings: LocalSandboxSettings
    private let defaultIsolation: Isolation
    private let outbox: Outbox
    private let logger: Logger
    /// In agent mode: the home of the one implicit sandbox, and no isolation of our own.
    private let agentHome: String?
    /// Options of the implicit "default" sandbox.
    private let defaultSandbox: SandboxCreate.Params
    /// Docker sandboxes, when the bridge may make them (not in agent mode).
    private let docker: DockerBackend?
    private var sandboxes: [String: any Sandbox] = [:]
    private var creating: [String: Task<any Sandbox, any Error>] = [:]
    private var lifetimes: [String: Task<Void, Never>] = [:]
    /// Sandboxes being killed: a new sandbox of the same id (the implicit "default") waits for
    /// the old one to be gone, so that it does not share its home or its supervisor state.
    private var terminating: [String: Task<Void, Never>] = [:]
    private var closed = false

    init(
        supervisor: Supervisor, settings: LocalSandboxSettings, defaultIsolation: Isolation, outbox: Outbox,
        logger: Logger, agentHome: String? = nil, defaultSandbox: SandboxCreate.Params = .init(), docker: DockerBackend? = nil
    ) {
        self.docker = docker
        var defaultSandbox = defaultSandbox
        defaultSandbox.cwd = agentHome
        self.defaultSandbox = defaultSandbox
        self.supervisor = supervisor
        self.settings = settings
        self.defaultIsolation = defaultIsolation
        self.outbox = outbox
        self.logger = logger
        self.agentHome = agentHome
    }

    /// The isolations this bridge can provide here (bwrap and docker are tried once, the first time).
    nonisolated var availableIsolations: [Isolation] {
        guard agentHome == nil else { return [.none] }
        var isolations: [Isolation] = [.none]
        if Bubblewrap.works(scratch: settings.root) { isolations.append(.bwrap) }
        if docker?.isAvailable() == true { isolations.append(.docker) }
        return isolations
    }

    /// The sandbox with this id; without one, the default sandbox, created on first use.
    func sandbox(_ id: String?) async throws -> any Sandbox {
        try InputChecks.sandboxId(id)
        let id = id ?? Self.defaultID
        if let sandbox = sandboxes[id] { return sandbox }
        if let pending = creating[id] { return try await pending.value }
        if let ending = terminating[id] {
            await ending.value
            return try await sandbox(id)
        }
        guard id == Self.defaultID else { throw RPCError.sandboxNotFound(sandboxId: id) }
        return try await create(id: id, params: defaultSandbox)
    }

    func create(_ params: SandboxCreate.Params) async throws -> SandboxCreate.Result {
        try InputChecks.noNUL(params.cwd, field: "cwd")
        if let timeout = params.timeout, !(timeout >= 0 && timeout.isFinite) {
            throw RPCError.invalidParams(field: "timeout", reason: "must be a number of seconds >= 0")
        }
        try Self.validate(params.limits)
        let sandbox = try await create(id: Self.newID(), params: params)
        if let timeout = params.timeout, timeout > 0 { try setTimeout(sandbox.id, seconds: timeout) }
        let enforcement = sandbox.limitEnforcement
        return SandboxCreate.Result(
            sandboxId: sandbox.id, isolation: sandbox.isolation, home: sandbox.home,
            limits: enforcement.isEmpty ? nil : enforcement)
    }

    private func create(id: String, params: SandboxCreate.Params) async throws -> any Sandbox {
        guard !closed else { throw RPCError.unsupported(reason: "the bridge is shutting down") }
        // Detached, so on the pool and not isolated to this actor: the isolation probes and the
        // start of a sandbox may wait, and the caller may be a request on the reactor thread.
        let task = Task.detached { [self, supervisor, settings, outbox, logger, docker] () async throws -> any Sandbox in
            let isolation = try resolve(params.isolation ?? defaultIsolation)
            if params.image != nil && isolation != .docker {
                throw RPCError.invalidParams(field: "image", reason: "only docker sandboxes run an image (this one's isolation is \"\(isolation.rawValue)\")")
            }
            // A sandbox takes effect when it exists, not when its agent has had its first
            // request: requests queued behind this one on its lane wait for it.
            return try await ArrivalOrder.$current.withValue(nil) {
                switch isolation {
                case .bwrap:
                    try await BubblewrapSandbox.make(
                        id: id, params: params, settings: settings, supervisor: supervisor, outbox: outbox, logger: logger
                    ) {
                        [weak self] in Task { await self?.sandboxLost(id) }
                    }
                case .docker:
                    try await DockerSandbox.make(id: id, params: params, backend: docker!, outbox: outbox, logger: logger) {
                        [weak self] in Task { await self?.sandboxLost(id) }
                    }
                default:
                    try await LocalSandbox(id: id, params: params, supervisor: supervisor, settings: settings)
                }
            }
        }
        creating[id] = task
        defer { creating[id] = nil }
        let sandbox = try await task.value
        sandboxes[id] = sandbox
        return sandbox
    }

    private static func validate(_ limits: SandboxLimits?) throws(RPCError) {
        guard let limits else { return }
        let counts: [(String, Int?)] = [("memoryBytes", limits.memoryBytes), ("pids", limits.pids), ("maxOutputBytes", limits.maxOutputBytes)]
        for (field, value) in counts where (value ?? 0) < 0 {
            throw .invalidParams(field: "limits.\(field)", reason: "must be >= 0")
        }
        if let cpu = limits.cpuSeconds, !(cpu >= 0 && cpu.isFinite) {
            throw .invalidParams(field: "limits.cpuSeconds", reason: "must be a number of seconds >= 0")
        }
    }

    private nonisolated func resolve(_ isolation: Isolation) throws(RPCError) -> Isolation {
        let available = availableIsolations
        switch isolation {
        case .auto: return available.contains(.bwrap) ? .bwrap : .none
        case .none: return .none
        case .bwrap, .docker:
            guard available.contains(isolation) else {
                let names = available.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                throw .unsupported(reason: "isolation \"\(isolation.rawValue)\" is not available on this machine (available: \(names))")
            }
            return isolation
        }
    }

    /// The supervisor of a sandbox (its agent or its keeper) died under us: the sandbox is gone,
    /// the client is told, and a later request for "default" makes a new one.
    func sandboxLost(_ id: String) async {
        guard let sandbox = sandboxes.removeValue(forKey: id) else { return }
        lifetimes.removeValue(forKey: id)?.cancel()
        logger.warn("the supervisor of sandbox \(id) exited")
        await terminate(sandbox)
        let exit = SandboxExit(sandboxId: id, reason: "killed")
        if let params = try? JSONValueEncoder().encode(exit) {
            outbox.send(line: OutgoingMessage.notification(method: SandboxExit.method, params: params))
        }
    }

    /// Kills the sandbox; false when there is no such (live) sandbox.
    func kill(_ id: String?) async throws -> Bool {
        try InputChecks.sandboxId(id)
        let id = id ?? Self.defaultID
        guard let sandbox = sandboxes.removeValue(forKey: id) else { return false }
        lifetimes.removeValue(forKey: id)?.cancel()
        await terminate(sandbox)
        return true
    }

    func list() async -> [SandboxList.SandboxInfo] {
        var infos: [SandboxList.SandboxInfo] = []
        for sandbox in sandboxes.values.sorted(by: { $0.startedAt < $1.startedAt }) {
            infos.append(.init(
                sandboxId: sandbox.id, isolation: sandbox.isolation, metadata: sandbox.metadata,
                startedAt: sandbox.startedAt, processCount: await sandbox.processCount()))
        }
        return infos
    }

    /// From now, the sandbox lives `seconds` more (0: for ever); then it is killed and
    /// `sandbox.exit {reason: "timeout"}` is pushed.
    func setTimeout(_ id: String?, seconds: Double) throws(RPCError) {
        try InputChecks.sandboxId(id)
        let id = id ?? Self.defaultID
        guard sandboxes[id] != nil else { throw .sandboxNotFound(sandboxId: id) }
        guard seconds >= 0, seconds.isFinite else { throw .invalidParams(field: "timeout", reason: "must be a number of seconds >= 0") }
        lifetimes.removeValue(forKey: id)?.cancel()
        guard seconds > 0 else { return }
        lifetimes[id] = Task.detached { [weak self] in  // a lifetime is no request's
            try? await Task.sleep(for: .nanoseconds(Int64(Clock.nanos(fromSeconds: seconds))))
            guard !Task.isCancelled else { return }
            await self?.expire(id)
        }
    }

    private func expire(_ id: String) async {
        lifetimes[id] = nil
        guard (try? await kill(id)) == true else { return }
        let exit = SandboxExit(sandboxId: id, reason: "timeout")
        if let params = try? JSONValueEncoder().encode(exit) {
            outbox.send(line: OutgoingMessage.notification(method: SandboxExit.method, params: params))
        }
    }

    /// Ends a sandbox that is already out of `sandboxes`; until it is gone, requests for its id
    /// wait (`terminating` is cleared by the same task, before any waiter resumes).
    private func terminate(_ sandbox: any Sandbox) async {
        let id = sandbox.id
        let ending = Task {
            // Not on the killing request's ticket: requests behind it wait for the sandbox to
            // be gone, not for its agent to be asked to shut down.
            await ArrivalOrder.$current.withValue(nil) { await sandbox.terminate() }
            terminating[id] = nil
        }
        terminating[id] = ending
        await ending.value
    }

    /// Kills every sandbox and refuses new ones: the bridge is exiting.
    func killAll() async {
        closed = true
        for task in creating.values { _ = try? await task.value }
        let all = Array(sandboxes.keys)
        await withTaskGroup(of: Void.self) { group in
            for id in all { group.addTask { _ = try? await self.kill(id) } }
        }
    }

    private static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return "sbx_" + String((0..<16).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
    }
}
