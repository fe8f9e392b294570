import Glibc

/// Logs go to stderr only: stdout carries protocol messages and nothing else.
struct Logger: Sendable {
    enum Level: Int, Comparable, Sendable, CaseIterable {
        case error, warn, info, debug

        init?(name: String) {
            guard let level = Self.allCases.first(where: { "\($0)" == name.lowercased() }) else { return nil }
            self = level
        }

        static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    let level: Level

    func log(_ level: Level, _ message: @autoclosure () -> String) {
        guard level <= self.level else { return }
        let line = "sandbox-rpc[\(getpid())] \(level): \(message())\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    func error(_ message: @autoclosure () -> String) { log(.error, message()) }
    func warn(_ message: @autoclosure () -> String) { log(.warn, message()) }
    func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
}
