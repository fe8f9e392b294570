/// Escapes raw process output into the inside of a JSON string, replacing invalid UTF-8 with
/// U+FFFD ("maximal subpart" substitution, as Python and Swift decoders do) and holding back an
/// incomplete character at the end of a chunk so that it is never split across notifications.
public enum UTF8Sanitizer {
    /// The most bytes `escape` writes per input byte (a control character becomes `\u00XX`).
    public static let maxExpansion = 6

    /// Escapes `source` into `destination`, which must have room for `source.count * maxExpansion`
    /// bytes. Returns the bytes written and consumed; what was not consumed (at most 3 bytes, the
    /// start of a character) must be prepended to the next chunk. With `final`, everything is
    /// consumed and an incomplete tail becomes U+FFFD.
    public static func escape(
        _ source: UnsafeBufferPointer<UInt8>, final: Bool, into destination: UnsafeMutablePointer<UInt8>
    ) -> (written: Int, consumed: Int) {
        guard let src = source.baseAddress else { return (0, 0) }
        let count = source.count
        let dst = destination
        var i = 0
        var w = 0
        while i < count {
            // Eight plain ASCII bytes at a time: no control, quote, backslash or high bit.
            if i + 8 <= count {
                let word = UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)
                if !needsEscaping(word) {
                    UnsafeMutableRawPointer(dst + w).storeBytes(of: word, as: UInt64.self)
                    i += 8
                    w += 8
                    continue
                }
            }
            let lead = src[i]
            if lead < 0x80 {
                if lead >= 0x20 && lead != 0x22 && lead != 0x5C {
                    dst[w] = lead
                    w += 1
                } else {
                    w += writeEscape(lead, to: dst + w)
                }
                i += 1
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
                    if !final { return (w, i) }
                    break
                }
                let byte = src[i + valid]
                let ok = valid == 1 ? (byte >= low && byte <= high) : (byte >= 0x80 && byte <= 0xBF)
                if !ok { break }
                valid += 1
            }
            if length > 0 && valid == length {
                for k in 0..<length { dst[w + k] = src[i + k] }
                w += length
                i += length
                continue
            }
            dst[w] = 0xEF
            dst[w + 1] = 0xBF
            dst[w + 2] = 0xBD
            w += 3
            i += max(valid, 1)
        }
        return (w, count)
    }

    /// The same, appending to an array; returns the bytes consumed.
    @discardableResult
    public static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, final: Bool, into out: inout [UInt8]) -> Int {
        var consumed = 0
        let escaped = [UInt8](unsafeUninitializedCapacity: bytes.count * maxExpansion) { buffer, initialized in
            (initialized, consumed) = escape(bytes, final: final, into: buffer.baseAddress!)
        }
        out.append(contentsOf: escaped)
        return consumed
    }

    /// Whether any of the eight bytes is below 0x20, a quote, a backslash or non-ASCII (may
    /// answer true for a word that is fine: the byte-wise path then handles it).
    @inline(__always)
    static func needsEscaping(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let control = (word &- ones &* 0x20) & ~word & highs
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let hasQuote = (quote &- ones) & ~quote & highs
        let hasBackslash = (backslash &- ones) & ~backslash & highs
        return (control | hasQuote | hasBackslash | (word & highs)) != 0
    }

    @inline(__always)
    static func writeEscape(_ byte: UInt8, to dst: UnsafeMutablePointer<UInt8>) -> Int {
        dst[0] = 0x5C
        switch byte {
        case 0x22: dst[1] = 0x22
        case 0x5C: dst[1] = 0x5C
        case 0x0A: dst[1] = UInt8(ascii: "n")
        case 0x0D: dst[1] = UInt8(ascii: "r")
        case 0x09: dst[1] = UInt8(ascii: "t")
        case 0x08: dst[1] = UInt8(ascii: "b")
        case 0x0C: dst[1] = UInt8(ascii: "f")
        default:
            let hex: StaticString = "0123456789abcdef"
            dst[1] = UInt8(ascii: "u")
            dst[2] = 0x30
            dst[3] = 0x30
            dst[4] = hex.utf8Start[Int(byte >> 4)]
            dst[5] = hex.utf8Start[Int(byte & 0xF)]
            return 6
        }
        return 2
    }
}
