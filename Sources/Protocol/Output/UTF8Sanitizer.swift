/// Escapes raw process output into the inside of a JSON string, replacing invalid UTF-8 with
/// U+FFFD ("maximal subpart" substitution, as Python and Swift decoders do) and holding back an
/// incomplete character at the end of a chunk so that it is never split across notifications.
public enum UTF8Sanitizer {
    static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// Appends the escaped text of `bytes` and returns how many bytes were consumed; the rest
    /// (at most 3 bytes, the start of a character) must be prepended to the next chunk. With
    /// `final`, everything is consumed and an incomplete tail becomes U+FFFD.
    @discardableResult
    public static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, final: Bool, into out: inout [UInt8]) -> Int {
        let count = bytes.count
        var i = 0
        var runStart = 0

        @inline(__always) func flushRun(upTo end: Int, _ out: inout [UInt8]) {
            if runStart < end { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<end])) }
        }

        while i < count {
            let lead = bytes[i]
            if lead < 0x80 {
                if lead >= 0x20 && lead != 0x22 && lead != 0x5C { i += 1; continue }
                flushRun(upTo: i, &out)
                JSONEscaping.appendEscape(for: lead, into: &out)
                i += 1
                runStart = i
                continue
            }
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: length = 0
            }
            var valid = length > 0 ? 1 : 0  // bytes of the sequence seen valid so far
            while valid > 0 && valid < length {
                if i + valid >= count {
                    if !final {
                        flushRun(upTo: i, &out)
                        return i
                    }
                    break
                }
                let byte = bytes[i + valid]
                let ok = valid == 1 ? (byte >= low && byte <= high) : (byte >= 0x80 && byte <= 0xBF)
                if !ok { break }
                valid += 1
            }
            if length > 0 && valid == length {
                i += length
                continue
            }
            flushRun(upTo: i, &out)
            out.append(contentsOf: replacement)
            i += max(valid, 1)
            runStart = i
        }
        flushRun(upTo: count, &out)
        return count
    }
}
