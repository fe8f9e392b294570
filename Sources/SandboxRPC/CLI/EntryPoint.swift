import CSandboxShims
import Glibc
import Protocol

@main
enum EntryPoint {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "__keeper" { sr_keeper_main(3) }
        switch Options.parse(arguments) {
        case .exit(let message, let status):
            let fd: Int32 = status == 0 ? 1 : 2
            var bytes = Array(message.utf8)
            _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
            exit(status)
        case .run(let options):
            sr_tune_malloc()
            sr_prepare_process_signals()
            do {
                try Server(options: options).run()
            } catch {
                Logger(level: .error).error("cannot start: \(error)")
                exit(1)
            }
        }
    }
}
