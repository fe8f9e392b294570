import Glibc
import Protocol

/// Wires the parts together: stdin → LineReader → Dispatcher → handlers → sandboxes →
/// Supervisor, and everything that speaks → Outbox → StdoutWriter.
struct Server {
    let options: Options
    var frontEnd: FrontEnd = .sandboxProtocol

    func run() throws {
        let logger = Logger(level: options.logLevel)
        let root = try Self.makeRoot(options.root)
        var docker: DockerBackend?
        if options.agentHome == nil {
            // Whether bwrap and docker work here is tried once, now, off the request path.
            let scratch = root.path
            startThread(name: "bwrap-probe") { _ = Bubblewrap.works(scratch: scratch) }
            if let engine = DockerEngine.fromEnvironment() {
                let backend = DockerBackend(
                    engine: engine, defaultImage: options.dockerImage,
                    agentBinary: options.dockerAgent.map(Self.absolutePath) ?? Bubblewrap.selfExecutable(), swarm: options.dockerSwarm,
                    logger: logger)
                startThread(name: "docker-probe") { if backend.isAvailable() { backend.removeLeftovers() } }
                docker = backend
            }
        }
        let outbox = Outbox(directFD: 1)
        let reactor = try Reactor()
        let supervisor = try Supervisor(reactor: reactor, outbox: outbox, logger: logger)

        let settings = LocalSandboxSettings(
            root: root.path,
            inheritedEnvironment: options.inheritEnv ? CommandEnvironment.bridgeEnvironment() : nil,
            shell: access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh")
        let registry = SandboxRegistry(
            supervisor: supervisor, settings: settings, defaultIsolation: options.isolation, outbox: outbox,
            logger: logger, agentHome: options.agentHome, defaultSandbox: options.defaultSandbox, docker: docker)
        Task { await supervisor.setKeeperLostHandler { id in Task { await registry.sandboxLost(id) } } }
        let stopsContainer = options.stopsContainer
        let lifecycle = Lifecycle(outbox: outbox, logger: logger) {
            await registry.killAll()
            root.remove()
        } lastly: {
            // After the flush: the container's end takes this process with it.
            if stopsContainer { DockerSandbox.stopIdleProcesses() }
        }
        let dispatcher = Dispatcher(
            methods: frontEnd.makeMethods(.init(registry: registry, lifecycle: lifecycle, outbox: outbox, logger: logger)),
            outbox: outbox, logger: logger, maxLineBytes: options.maxMessageBytes,
            answersCancelledRequests: frontEnd.answersCancelledRequests, reactor: reactor)

        StdoutWriter.start(outbox: outbox) {
            Task { await lifecycle.terminate(reason: "stdout closed", flush: false) }
        }
        lifecycle.watchSignals()

        let grace = options.eofGrace
        let reader = LineReader(fd: 0, maxLineBytes: options.maxMessageBytes)
        reader.start(reactor: reactor, deliver: dispatcher.receive) {
            Task { await lifecycle.inputEnded(dispatcher: dispatcher, grace: grace) }
        }
        supervisor.start()
        while true { pause() }
    }

    /// `path` resolved (the engine binds only absolute paths); as given when it does not exist.
    static func absolutePath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The directory under which sandbox homes are made; removed at exit when we made it.
    static func makeRoot(_ requested: String?) throws(SystemError) -> Workspace {
        if let requested {
            if mkdir(requested, 0o755) != 0 && errno != EEXIST { throw SystemError(call: "mkdir(\(requested))", errno: errno) }
            return Workspace(path: requested, owned: false)
        }
        var base = "/tmp"
        if let runtime = getenv("XDG_RUNTIME_DIR"), access(runtime, W_OK) == 0 { base = String(cString: runtime) }
        var generator = SystemRandomNumberGenerator()
        let path = "\(base)/sandbox-rpc-\(getpid())-\(String(generator.next() % 1_000_000, radix: 36))"
        try syscall("mkdir(\(path))") { mkdir(path, 0o755) }
        return Workspace(path: path, owned: true)
    }
}
