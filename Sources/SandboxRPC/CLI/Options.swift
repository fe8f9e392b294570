import Glibc
import Protocol

/// Command-line options of `sandbox-rpc`.
struct Options: Sendable {
    var maxMessageBytes = 64 << 20
    var eofGrace = 3.0
    var inheritEnv = false
    var root: String?
    var isolation: Isolation = .auto
    /// Set in agent mode: serve one implicit sandbox whose home is this directory.
    var agentHome: String?
    /// Agent mode in a docker sandbox: on exit, stop the container's idle main process too.
    var stopsContainer = false
    /// Environment variables and output limit of the implicit "default" sandbox.
    var defaultEnvs: [String: String] = [:]
    var defaultMaxOutputBytes: Int?
    var defaultCPUSeconds: Double?
    var defaultMemoryBytes: Int?
    var logLevel: Logger.Level = .warn
    var dockerImage = DockerBackend.imageEnvironmentDefault
    /// The static binary bind-mounted into containers; nil: this executable.
    var dockerAgent: String?
    var dockerSwarm = false

    /// The options of the implicit "default" sandbox.
    var defaultSandbox: SandboxCreate.Params {
        var params = SandboxCreate.Params()
        if !defaultEnvs.isEmpty { params.envs = defaultEnvs }
        if defaultMaxOutputBytes != nil || defaultCPUSeconds != nil || defaultMemoryBytes != nil {
            var limits = SandboxLimits()
            limits.maxOutputBytes = defaultMaxOutputBytes
            limits.cpuSeconds = defaultCPUSeconds
            limits.memoryBytes = defaultMemoryBytes
            params.limits = limits
        }
        return params
    }

    static let usage = """
        usage: sandbox-rpc [options]
               sandbox-rpc agent [--home DIR] [--stop-container-on-exit] [options]
               sandbox-rpc mcp [options]      (see docs/mcp.md)
               sandbox-rpc mcp [options]   (an MCP server instead; see sandbox-rpc mcp --help)

        Serves line-delimited JSON-RPC 2.0 on stdin/stdout: run commands in sandboxes and stream
        their output as notifications. Logs go to stderr. See the README and schema/ for the protocol.

        options:
          --max-message-bytes N   longest accepted request line in bytes (default 67108864)
          --eof-grace SECONDS     at end of input, time given to requests in flight (default 3)
          --inherit-env           pass the bridge's own environment to commands (default: a clean one)
          --root DIR              where sandbox homes are made (default: $XDG_RUNTIME_DIR or /tmp)
          --env NAME=VALUE        an environment variable of the implicit "default" sandbox (repeatable)
          --max-output-bytes N    output kept per stream of the "default" sandbox's commands
          --cpu-seconds N         CPU time per command of the "default" sandbox
          --memory-bytes N        memory of the "default" sandbox (its commands)
          --isolation KIND        default isolation: auto, none, bwrap, docker (default auto: bwrap where it works)
          --docker-image IMAGE    image of docker sandboxes that name none (default sandbox-rpc-base:latest)
          --docker-agent PATH     statically linked sandbox-rpc to run inside containers (default: this one)
          --docker-swarm          make docker sandboxes as one-replica Swarm services
          --log-level LEVEL       error, warn, info, debug (default warn)
          --version               print the version and exit
          --help                  print this help and exit

        exit status: 0 after shutdown, end of input or SIGTERM/SIGINT; 2 for bad options;
        1 when the bridge cannot start.
        """

    enum ParseOutcome {
        case run(Options)
        case exit(message: String, status: Int32)
    }

    static func parse(_ arguments: [String]) -> ParseOutcome {
        var options = Options()
        var arguments = arguments
        if arguments.first == "agent" {
            // `sandbox-rpc agent [--home DIR]`: the supervisor inside an isolated sandbox.
            arguments.removeFirst()
            options.agentHome = Workspace.currentDirectory()
            options.isolation = .none
        }
        var cursor = ArgumentCursor(arguments)
        func bad(_ message: String) -> ParseOutcome { .exit(message: "sandbox-rpc: \(message)\n\(usage)\n", status: 2) }
        func next() -> String? { cursor.value() }
        while let argument = cursor.nextOption() {
            switch argument {
            case "--help", "-h": return .exit(message: usage + "\n", status: 0)
            case "--version": return .exit(message: "sandbox-rpc \(Version.current)\n", status: 0)
            case "--inherit-env": options.inheritEnv = true
            case "--max-message-bytes":
                guard let text = next(), let n = Int(text), n > 0 else { return bad("--max-message-bytes needs a positive number of bytes") }
                options.maxMessageBytes = n
            case "--eof-grace":
                guard let text = next(), let n = Double(text), n >= 0 else { return bad("--eof-grace needs a number of seconds >= 0") }
                options.eofGrace = n
            case "--stop-container-on-exit" where options.agentHome != nil: options.stopsContainer = true
            case "--home" where options.agentHome != nil:
                guard let text = next(), !text.isEmpty else { return bad("--home needs a directory") }
                options.agentHome = text
            case "--env":
                guard let text = next(), let eq = text.firstIndex(of: "="), eq != text.startIndex else {
                    return bad("--env needs NAME=VALUE")
                }
                options.defaultEnvs[String(text[..<eq])] = String(text[text.index(after: eq)...])
            case "--max-output-bytes":
                guard let text = next(), let n = Int(text), n >= 0 else { return bad("--max-output-bytes needs a number of bytes >= 0") }
                options.defaultMaxOutputBytes = n
            case "--cpu-seconds":
                guard let text = next(), let n = Double(text), n > 0 else { return bad("--cpu-seconds needs a number of seconds > 0") }
                options.defaultCPUSeconds = n
            case "--memory-bytes":
                guard let text = next(), let n = Int(text), n > 0 else { return bad("--memory-bytes needs a number of bytes > 0") }
                options.defaultMemoryBytes = n
            case "--root":
                guard let text = next(), !text.isEmpty else { return bad("--root needs a directory") }
                options.root = text
            case "--isolation":
                guard let text = next(), let isolation = Isolation(rawValue: text) else {
                    return bad("--isolation needs one of: auto, none, bwrap, docker")
                }
                options.isolation = isolation
            case "--docker-image":
                guard let text = next(), !text.isEmpty else { return bad("--docker-image needs an image name") }
                options.dockerImage = text
            case "--docker-agent":
                guard let text = next(), !text.isEmpty else { return bad("--docker-agent needs the path of a static sandbox-rpc") }
                options.dockerAgent = text
            case "--docker-swarm": options.dockerSwarm = true
            case "--log-level":
                guard let text = next(), let level = Logger.Level(name: text) else {
                    return bad("--log-level needs one of: error, warn, info, debug")
                }
                options.logLevel = level
            default:
                return bad("unknown option \(argument)")
            }
        }
        return .run(options)
    }
}
