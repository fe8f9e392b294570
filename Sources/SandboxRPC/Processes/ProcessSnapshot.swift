import Protocol

/// Part of one output stream, by byte offsets into everything the process wrote on it: `first`
/// starts at `start`, then `omitted` bytes are left out (dropped by retention or over the
/// budget), then `last` runs up to `end`, the stream's length so far.
struct OutputWindow: Sendable, Equatable {
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
struct ProcessSnapshot: Sendable {
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
