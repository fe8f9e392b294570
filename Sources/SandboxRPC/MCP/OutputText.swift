import Protocol

/// An output window as text for the model: invalid UTF-8 as U+FFFD, no character cut in half at
/// a cut, and the cut itself stated as a count of omitted bytes.
struct RenderedOutput: Sendable, Equatable {
    var text: String
    /// Bytes between the shown start and the shown end (dropped by retention or over budget).
    var omitted: Int
    /// Where the next read of this stream should start: the end, less an incomplete character
    /// held back while the process may still complete it.
    var next: Int
}

enum OutputText {
    static func render(_ window: OutputWindow, complete: Bool) -> RenderedOutput {
        var first = window.first[...]
        var last = window.last[...]
        var omitted = window.omitted
        var next = window.end
        if omitted > 0 {
            let keep = UTF8Sanitizer.completePrefixLength(first)
            omitted += first.count - keep
            first = first.prefix(keep)
            let continuation = last.prefix(3).prefix { $0 & 0xC0 == 0x80 }.count
            omitted += continuation
            last = last.dropFirst(continuation)
        }
        if !complete {
            if omitted > 0 {
                let keep = UTF8Sanitizer.completePrefixLength(last)
                next -= last.count - keep
                last = last.prefix(keep)
            } else {
                let keep = UTF8Sanitizer.completePrefixLength(first)
                next -= first.count - keep
                first = first.prefix(keep)
            }
        }
        var text = String(decoding: first, as: UTF8.self)
        if omitted > 0 {
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            text += "[… \(omitted) bytes omitted …]\n"
            text += String(decoding: last, as: UTF8.self)
        }
        return RenderedOutput(text: text, omitted: omitted, next: next)
    }

    /// The last non-blank line of some output, shortened, for progress messages.
    static func lastLine(_ text: String, limit: Int = 120) -> String? {
        guard let line = text.split(whereSeparator: \.isNewline).last(where: { !$0.allSatisfy(\.isWhitespace) }) else {
            return nil
        }
        return line.count <= limit ? String(line) : String(line.suffix(limit))
    }
}
