import Protocol

/// Part of one output stream, by byte offsets into everything the process wrote on it: `first`
/// starts at `start`, then `omitted` bytes are left out (dropped by retention or over the
/// budget), then `last` runs up to `end`, the stream's length so far.
struct OutputWindow: Sendable, Equatable, Codable {
    var start: Int
    var first: [UInt8]
    var omitted: Int
    var last: [UInt8]
    var end: Int
}

/// Byte offsets into a process's two output streams.
struct OutputOffsets: Sendable, Equatable, Codable {
    var stdout: Int
    var stderr: Int

    static let zero = OutputOffsets(stdout: 0, stderr: 0)
}

/// A look at a process that changes nothing (unlike `commands.connect`, which takes over its
/// streaming): for front ends that poll, such as the MCP tools.
struct ProcessSnapshot: Sendable, Codable {
    var pid: Int
    var cmd: String
    var startedAt: Double
    /// False once the process has exited and all its output has been read.
    var running: Bool
    var exitCode: Int?
    var signal: SignalName?
    /// Why it ended other than by itself: "Timeout", "SandboxKilled", …
    var ending: String?
    var stdout: OutputWindow
    var stderr: OutputWindow
}

extension OutputWindow {
    private enum CodingKeys: String, CodingKey { case start, first, omitted, last, end }

    // The bytes travel base64 (between the bridge and an agent), not as arrays of numbers.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        start = try container.decode(Int.self, forKey: .start)
        omitted = try container.decode(Int.self, forKey: .omitted)
        end = try container.decode(Int.self, forKey: .end)
        first = Base64.decode(try container.decode(String.self, forKey: .first)) ?? []
        last = Base64.decode(try container.decode(String.self, forKey: .last)) ?? []
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(start, forKey: .start)
        try container.encode(Base64.encode(first), forKey: .first)
        try container.encode(omitted, forKey: .omitted)
        try container.encode(Base64.encode(last), forKey: .last)
        try container.encode(end, forKey: .end)
    }
}

/// `commands.snapshot`: how a bridge reads a process's state from an agent (see `Sandbox.snapshot`).
enum CommandsSnapshot: RPCMethod {
    static let name = "commands.snapshot"

    struct Params: Codable, Sendable, SandboxScoped {
        var sandboxId: String?
        var pid: Int
        var since: OutputOffsets?
        var budget: Int?
    }

    typealias Result = ProcessSnapshot
}
