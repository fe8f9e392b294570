/// The hand-written encoder for `commands.output` and `pty.output`, the messages on the hot path:
/// it escapes process output straight into the caller's buffer instead of building a `JSONValue`.
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

    /// Room `encode` needs for a chunk of `count` bytes.
    public func capacity(forChunk count: Int) -> Int {
        prefix.count + count * UTF8Sanitizer.maxExpansion + 160
    }

    /// Writes one `commands.output` line (with its `\n`) for `bytes` into `buffer`, which must
    /// have `capacity(forChunk:)` bytes. With `utf8`, an incomplete last character is left for
    /// the next call unless `final`. Nothing is written when there is nothing to say.
    public func encode(
        pid: Int, stream: OutputStream, bytes: UnsafeBufferPointer<UInt8>, encoding: OutputEncoding,
        final: Bool, timestamp: Double, into buffer: UnsafeMutableBufferPointer<UInt8>
    ) -> (written: Int, consumed: Int) {
        var writer = Writer(buffer)
        writer.append(prefix)
        writer.append(String(pid).utf8)
        writer.append(stream == .stdout ? #","stream":"stdout","data":""#.utf8 : #","stream":"stderr","data":""#.utf8)
        let dataStart = writer.count
        let consumed: Int
        switch encoding {
        case .utf8:
            let (written, used) = UTF8Sanitizer.escape(bytes, final: final, into: writer.cursor)
            writer.count += written
            consumed = used
        case .base64:
            writer.count += Base64.encode(bytes, into: writer.cursor)
            consumed = bytes.count
        }
        if writer.count == dataStart { return (0, consumed) }
        writer.append(#"","timestamp":"#.utf8)
        writer.append(String(timestamp).utf8)
        writer.append("}}\n".utf8)
        return (writer.count, consumed)
    }

    /// Writes one `pty.output` line: the terminal's bytes, base64.
    public func encodePty(pid: Int, bytes: UnsafeBufferPointer<UInt8>, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        guard !bytes.isEmpty else { return 0 }
        var writer = Writer(buffer)
        writer.append(ptyPrefix)
        writer.append(String(pid).utf8)
        writer.append(#","data":""#.utf8)
        writer.count += Base64.encode(bytes, into: writer.cursor)
        writer.append("\"}}\n".utf8)
        return writer.count
    }

    /// Array conveniences, for tests and cold paths.
    @discardableResult
    public func append(
        pid: Int, stream: OutputStream, bytes: UnsafeBufferPointer<UInt8>, encoding: OutputEncoding,
        final: Bool, timestamp: Double, into out: inout [UInt8]
    ) -> Int {
        var consumed = 0
        let line = [UInt8](unsafeUninitializedCapacity: capacity(forChunk: bytes.count)) { buffer, initialized in
            (initialized, consumed) = encode(
                pid: pid, stream: stream, bytes: bytes, encoding: encoding, final: final, timestamp: timestamp,
                into: buffer)
        }
        out.append(contentsOf: line)
        return consumed
    }

    private struct Writer {
        let base: UnsafeMutablePointer<UInt8>
        var count = 0

        init(_ buffer: UnsafeMutableBufferPointer<UInt8>) { base = buffer.baseAddress! }

        var cursor: UnsafeMutablePointer<UInt8> { base + count }

        mutating func append(_ bytes: some Collection<UInt8>) {
            for byte in bytes {
                base[count] = byte
                count += 1
            }
        }

        mutating func append(_ bytes: [UInt8]) {
            bytes.withUnsafeBufferPointer { source in
                (base + count).update(from: source.baseAddress!, count: source.count)
            }
            count += bytes.count
        }
    }
}
