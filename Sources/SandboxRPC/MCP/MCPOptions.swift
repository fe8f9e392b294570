import Glibc
import Protocol

/// How `sandbox-rpc mcp` sets up the sandbox its tools use and what they show the model.
struct MCPSettings: Sendable {
    /// Options of the implicit sandbox, and of those made by `create_sandbox` (but their homes).
    var sandbox: SandboxCreate.Params = {
        var params = SandboxCreate.Params()
        params.network = false  // unless --allow-network
        return params
    }()
    /// `run_command`'s timeout when the call gives none, in seconds; 0: none.
    var commandTimeout = 300.0
    /// Bytes of each output stream a tool result shows: the start and the end of longer output.
    var outputBytes = 16 << 10
    /// Bytes `read_file` returns when the call gives no `length`.
    var fileBytes = 256 << 10
    /// Entries `list_files` returns at most.
    var maxEntries = 1000
}

/// Command-line options of `sandbox-rpc mcp`: its own, then those of the bridge.
enum MCPOptions {
    static let usage = """
        usage: sandbox-rpc mcp [options]

        Serves the Model Context Protocol on stdin/stdout (MCP's stdio transport): tools that run
        commands and edit files in a sandbox, for any MCP host. Logs go to stderr. See docs/mcp.md.

        sandbox:
          --isolation KIND        auto, none (default auto: the strongest available here)
          --cwd DIR               use DIR as the sandbox's home (default: a fresh temporary directory)
          --allow-network         let commands reach the network where the isolation could stop them
          --env NAME=VALUE        set an environment variable for every command (repeatable)
          --memory-bytes N        memory limit of the sandbox, where the isolation enforces one
          --pids N                process limit of the sandbox, where the isolation enforces one
          --cpu-seconds S         CPU time limit of the sandbox, where the isolation enforces one
          --max-output-bytes N    output kept per process and stream (default 16777216)
          --inherit-env           pass this server's own environment to commands (default: a clean one)
          --root DIR              where sandbox homes are made (default: $XDG_RUNTIME_DIR or /tmp)

        tools:
          --timeout SECONDS       run_command's timeout when the call gives none (default 300; 0: none)
          --tool-output-bytes N   bytes of each stream a tool result shows, start and end (default 16384)

        server:
          --eof-grace SECONDS     at end of input, time given to calls in flight (default 3)
          --max-message-bytes N   longest accepted message line in bytes (default 67108864)
          --log-level LEVEL       error, warn, info, debug (default warn)
          --version               print the version and exit
          --help                  print this help and exit
        """

    enum ParseOutcome {
        case run(Options, MCPSettings)
        case exit(message: String, status: Int32)
    }

    static func parse(_ arguments: [String]) -> ParseOutcome {
        var settings = MCPSettings()
        var limits = SandboxLimits()
        var rest: [String] = []
        var cursor = ArgumentCursor(arguments)
        func bad(_ message: String) -> ParseOutcome { .exit(message: "sandbox-rpc mcp: \(message)\n\(usage)\n", status: 2) }
        func next() -> String? { cursor.value() }
        while let argument = cursor.nextOption() {
            func count(_ name: String, allowZero: Bool = true) -> Int? {
                guard let text = next(), let n = Int(text), allowZero ? n >= 0 : n > 0 else { return nil }
                return n
            }
            func seconds() -> Double? {
                guard let text = next(), let n = Double(text), n >= 0, n.isFinite else { return nil }
                return n
            }
            switch argument {
            case "--help", "-h": return .exit(message: usage + "\n", status: 0)
            case "--cwd":
                guard let dir = next(), !dir.isEmpty else { return bad("--cwd needs a directory") }
                var info = stat()
                guard stat(dir, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                    return bad("--cwd \(dir): not an existing directory")
                }
                settings.sandbox.cwd = dir
            case "--allow-network": settings.sandbox.network = true
            case "--env":
                guard let pair = next(), let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                    return bad("--env needs NAME=VALUE")
                }
                settings.sandbox.envs = (settings.sandbox.envs ?? [:]).merging(
                    [String(pair[..<eq]): String(pair[pair.index(after: eq)...])]) { $1 }
            case "--memory-bytes":
                guard let n = count(argument) else { return bad("--memory-bytes needs a number of bytes") }
                limits.memoryBytes = n
            case "--pids":
                guard let n = count(argument) else { return bad("--pids needs a number of processes") }
                limits.pids = n
            case "--cpu-seconds":
                guard let n = seconds() else { return bad("--cpu-seconds needs a number of seconds >= 0") }
                limits.cpuSeconds = n
            case "--max-output-bytes":
                guard let n = count(argument) else { return bad("--max-output-bytes needs a number of bytes") }
                limits.maxOutputBytes = n
            case "--timeout":
                guard let n = seconds() else { return bad("--timeout needs a number of seconds >= 0") }
                settings.commandTimeout = n
            case "--tool-output-bytes":
                guard let n = count(argument, allowZero: false) else { return bad("--tool-output-bytes needs a positive number of bytes") }
                settings.outputBytes = n
            default:
                // The bridge's own options (--isolation, --root, --log-level, …), value included.
                rest += cursor.passThrough()
            }
        }
        if limits != SandboxLimits() { settings.sandbox.limits = limits }
        switch Options.parse(rest) {
        case .run(var options):
            // A host directory as the workspace means the host's view of files: no isolation,
            // unless one is asked for (a bwrap sandbox has a workspace of its own).
            if settings.sandbox.cwd != nil && !rest.contains(where: { $0.hasPrefix("--isolation") }) {
                options.isolation = .none
            }
            return .run(options, settings)
        case .exit(let message, let status):
            // Keep the bridge's complaint, but show this command's usage with it.
            guard status != 0 else { return .exit(message: message, status: status) }
            let complaint = message.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? message
            return .exit(message: "\(complaint)\n\(usage)\n", status: status)
        }
    }
}
