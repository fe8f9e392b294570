/// A method of the protocol: its wire name and the types of its params and result.
/// The server registers one handler per method type; nothing else switches on names.
public protocol RPCMethod: Sendable {
    associatedtype Params: Codable & Sendable
    associatedtype Result: Codable & Sendable
    static var name: String { get }
}

/// A notification the server sends.
public protocol RPCNotification: Codable, Sendable {
    static var method: String { get }
}

/// Params or a result with no fields: `{}`.
public struct Empty: Codable, Sendable, Equatable {
    public init() {}
}

/// A string enum on the wire whose decoding error lists the accepted values.
public protocol WireEnum: RawRepresentable<String>, CaseIterable, Codable, Sendable {}

extension WireEnum {
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: raw) else {
            let allowed = Self.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "must be one of \(allowed), got \"\(raw)\""))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public enum OutputEncoding: String, WireEnum {
    case utf8
    case base64
}

/// Signals by their wire name ("SIGTERM"; "TERM" is accepted too), with Linux numbers.
public struct SignalName: Codable, Sendable, Hashable, CustomStringConvertible {
    public let number: Int32

    static let table: [(String, Int32)] = [
        ("SIGHUP", 1), ("SIGINT", 2), ("SIGQUIT", 3), ("SIGILL", 4), ("SIGTRAP", 5), ("SIGABRT", 6),
        ("SIGBUS", 7), ("SIGFPE", 8), ("SIGKILL", 9), ("SIGUSR1", 10), ("SIGSEGV", 11), ("SIGUSR2", 12),
        ("SIGPIPE", 13), ("SIGALRM", 14), ("SIGTERM", 15), ("SIGSTKFLT", 16), ("SIGCHLD", 17), ("SIGCONT", 18),
        ("SIGSTOP", 19), ("SIGTSTP", 20), ("SIGTTIN", 21), ("SIGTTOU", 22), ("SIGURG", 23), ("SIGXCPU", 24),
        ("SIGXFSZ", 25), ("SIGVTALRM", 26), ("SIGPROF", 27), ("SIGWINCH", 28), ("SIGIO", 29), ("SIGPWR", 30),
        ("SIGSYS", 31),
    ]

    public static let kill = SignalName(number: 9)
    public static let term = SignalName(number: 15)

    public init(number: Int32) { self.number = number }

    public init?(name: String) {
        let upper = name.uppercased()
        let full = upper.hasPrefix("SIG") ? upper : "SIG" + upper
        guard let entry = Self.table.first(where: { $0.0 == full }) else { return nil }
        self.number = entry.1
    }

    /// "SIGKILL", or "SIG34" for a real-time signal.
    public var description: String { Self.table.first(where: { $0.1 == number })?.0 ?? "SIG\(number)" }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let signal = SignalName(name: raw) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "unknown signal \"\(raw)\"; expected a name such as \"SIGTERM\""))
        }
        self = signal
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Params of a method that acts on one sandbox (`sandboxId`, absent for "default").
public protocol SandboxScoped {
    var sandboxId: String? { get }
}
