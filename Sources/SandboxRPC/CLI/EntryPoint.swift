import CSandboxShims
import Glibc
import Protocol

@main
enum EntryPoint {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "__keeper" { sr_keeper_main(3) }
        if arguments.first == "__idle" { while true { pause() } }  // a docker sandbox's main process
        sr_open_standard_descriptors()
        let server: Server
        if arguments.first == "mcp" {
            switch MCPOptions.parse(Array(arguments.dropFirst())) {
            case .exit(let message, let status): leave(message, status: status)
            case .run(let options, let settings): server = Server(options: options, frontEnd: .mcp(settings))
            }
        } else {
            switch Options.parse(arguments) {
            case .exit(let message, let status): leave(message, status: status)
            case .run(let options): server = Server(options: options)
            }
        }
        sr_tune_malloc()
        sr_prepare_process_signals()
        do {
            try server.run()
        } catch {
            Logger(level: .error).error("cannot start: \(error)")
            exit(1)
        }
    }

    private static func leave(_ message: String, status: Int32) -> Never {
        let fd: Int32 = status == 0 ? 1 : 2
        var bytes = Array(message.utf8)
        _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
        exit(status)
    }
}
