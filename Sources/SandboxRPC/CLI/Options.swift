import Glibc
import Protocol

/// Command-line options of `sandbox-rpc`.
struct Options: Sendable {
    var maxMessageBytes = 64 << 20
    var eofGrace = 3.0
    var inheritEnv = false
    var root: String?
    var isolation: Isolation = .auto
    var logLevel: Logger.Level = .warn

    static let usage = """
        usage: sandbox-rpc [options]
               sandbox-rpc mcp [options]   (an MCP server instead; see sandbox-rpc mcp --help)

        Serves line-delimited JSON-RPC 2.0 on stdin/stdout: run commands in sandboxes and stream
        their output as notifications. Logs go to stderr. See the README and schema/ for the protocol.

        options:
          --max-message-bytes N   longest accepted request line in bytes (default 67108864)
          --eof-grace SECONDS     at end of input, time given to requests in flight (default 3)
          --inherit-env           pass the bridge's own environment to commands (default: a clean one)
          --root DIR              where sandbox homes are made (default: $XDG_RUNTIME_DIR or /tmp)
          --isolation KIND        default isolation: auto, none (default auto)
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
        var index = 0
        func value(_ name: String) -> String? {
            index += 1
            return index < arguments.count ? arguments[index] : nil
        }
        func bad(_ message: String) -> ParseOutcome { .exit(message: "sandbox-rpc: \(message)\n\(usage)\n", status: 2) }
        while index < arguments.count {
            var argument = arguments[index]
            var inline: String?
            if argument.hasPrefix("--"), let eq = argument.firstIndex(of: "=") {
                inline = String(argument[argument.index(after: eq)...])
                argument = String(argument[..<eq])
            }
            func next() -> String? { inline ?? value(argument) }
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
            case "--root":
                guard let text = next(), !text.isEmpty else { return bad("--root needs a directory") }
                options.root = text
            case "--isolation":
                guard let text = next(), let isolation = Isolation(rawValue: text) else {
                    return bad("--isolation needs one of: auto, none")
                }
                options.isolation = isolation
            case "--log-level":
                guard let text = next(), let level = Logger.Level(name: text) else {
                    return bad("--log-level needs one of: error, warn, info, debug")
                }
                options.logLevel = level
            default:
                return bad("unknown option \(argument)")
            }
            index += 1
        }
        return .run(options)
    }
}
