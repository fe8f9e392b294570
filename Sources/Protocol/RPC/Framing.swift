/// What the line framer found in the input.
public enum Frame: Sendable, Equatable {
    /// One complete message line, without its `\n` (and without a `\r` before it).
    case line([UInt8])
    /// A line longer than the limit; its bytes were skipped, not buffered.
    case tooLong(byteCount: Int)
}

/// Splits a byte stream into newline-delimited frames (NDJSON). Blank and whitespace-only lines
/// are dropped; a line over `maxLineBytes` is reported once and skipped without being held in
/// memory, so a hostile client cannot make the server buffer without bound.
public struct LineFramer: Sendable {
    public let maxLineBytes: Int
    private var pending: [UInt8] = []
    private var skippedBytes: Int? = nil  // non-nil while skipping the rest of a too-long line
    private var skippedOnlyWhitespace = true

    public init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    /// Bytes of the line not yet complete (held in memory; 0 while skipping a too-long one).
    public var pendingByteCount: Int { pending.count }

    public mutating func append(_ bytes: UnsafeRawBufferPointer, emit: (Frame) -> Void) {
        var start = 0
        let count = bytes.count
        while start < count {
            guard let newline = bytes[start..<count].firstIndex(of: 0x0A) else {
                accumulate(UnsafeRawBufferPointer(rebasing: bytes[start..<count]))
                return
            }
            accumulate(UnsafeRawBufferPointer(rebasing: bytes[start..<newline]))
            finishLine(emit: emit)
            start = newline + 1
        }
    }

    public mutating func append(_ bytes: [UInt8], emit: (Frame) -> Void) {
        bytes.withUnsafeBytes { append($0, emit: emit) }
    }

    /// Delivers a last line that had no newline before the end of input.
    public mutating func finish(emit: (Frame) -> Void) {
        if !pending.isEmpty || skippedBytes != nil { finishLine(emit: emit) }
    }

    private mutating func accumulate(_ bytes: UnsafeRawBufferPointer) {
        if let skipped = skippedBytes {
            skippedBytes = skipped + bytes.count
            skippedOnlyWhitespace = skippedOnlyWhitespace && bytes.allSatisfy(Self.isWhitespace)
            return
        }
        if pending.count + bytes.count > maxLineBytes + 1 {  // +1: a `\r` may end the line
            skippedBytes = pending.count + bytes.count
            skippedOnlyWhitespace = pending.allSatisfy(Self.isWhitespace) && bytes.allSatisfy(Self.isWhitespace)
            pending = []
            return
        }
        pending.append(contentsOf: bytes)
    }

    private mutating func finishLine(emit: (Frame) -> Void) {
        if let skipped = skippedBytes {
            skippedBytes = nil
            if !skippedOnlyWhitespace { emit(.tooLong(byteCount: skipped)) }  // a blank line is no message
            return
        }
        var line = pending
        pending = []
        if line.last == 0x0D { line.removeLast() }
        if line.allSatisfy(Self.isWhitespace) { return }
        if line.count > maxLineBytes {
            emit(.tooLong(byteCount: line.count))
            return
        }
        emit(.line(line))
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0B || byte == 0x0C
    }
}
