/// The hand-written encoder for `commands.output`, the one message on the hot path: it escapes
/// process output straight into the line buffer instead of building a `JSONValue`.
public struct OutputNotificationEncoder: Sendable {
    private let prefix: [UInt8]  // {"jsonrpc":"2.0","method":"commands.output","params":{"sandboxId":"…","pid":
    private let ptyPrefix: [UInt8]  // the same for "pty.output"

    public init(sandboxId: String) {
        func prefix(_ method: String) -> [UInt8] {
            var prefix: [UInt8] = Array(#"{"jsonrpc":"2.0","method":""#.utf8)
            prefix.append(contentsOf: method.utf8)
            prefix.append(contentsOf: #"","params":{"sandboxId":"#.utf8)
            JSONWriter.writeString(sandboxId, into: &prefix)
            prefix.append(contentsOf: #","pid":"#.utf8)
            return prefix
        }
        self.prefix = prefix("commands.output")
        self.ptyPrefix = prefix("pty.output")
    }

    /// Appends one `pty.output` line: the terminal's bytes, base64.
    public func appendPty(pid: Int, bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        out.append(contentsOf: ptyPrefix)
        out.append(contentsOf: String(pid).utf8)
        out.append(contentsOf: #","data":""#.utf8)
        Base64.append(bytes, into: &out)
        out.append(contentsOf: "\"}}\n".utf8)
    }

    /// Appends one notification line (with its `\n`) for `bytes` and returns how many bytes it
    /// consumed: with `utf8`, an incomplete last character is left for the next call unless
    /// `final`. Nothing is appended when there is nothing to say.
    @discardableResult
    public func append(
        pid: Int, stream: OutputStream, bytes: UnsafeBufferPointer<UInt8>, encoding: OutputEncoding,
        final: Bool, timestamp: Double, into out: inout [UInt8]
    ) -> Int {
        let mark = out.count
        out.append(contentsOf: prefix)
        out.append(contentsOf: String(pid).utf8)
        out.append(contentsOf: stream == .stdout ? #","stream":"stdout","data":""#.utf8 : #","stream":"stderr","data":""#.utf8)
        let dataStart = out.count
        let consumed: Int
        switch encoding {
        case .utf8:
            consumed = UTF8Sanitizer.appendEscaped(bytes, final: final, into: &out)
        case .base64:
            Base64.append(bytes, into: &out)
            consumed = bytes.count
        }
        if out.count == dataStart {
            out.removeSubrange(mark...)
            return consumed
        }
        out.append(contentsOf: #"","timestamp":"#.utf8)
        out.append(contentsOf: String(timestamp).utf8)
        out.append(contentsOf: "}}\n".utf8)
        return consumed
    }
}
