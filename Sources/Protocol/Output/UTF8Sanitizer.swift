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
        return asciiEscapes.withUnsafeBufferPointer { escapes in
            let count = source.count
            let dst = destination
            var i = 0
            var w = 0
            while i < count {
                var end = count
                if i + 8 <= count {
                    // Eight plain ASCII bytes at a time: no control, quote, backslash or high bit.
                    let word = UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)
                    if !needsEscaping(word) {
                        UnsafeMutableRawPointer(dst + w).storeBytes(of: word, as: UInt64.self)
                        i += 8
                        w += 8
                        continue
                    }
                    end = i + 8
                }
                while i < end {
                    let byte = src[i]
                    let escape = escapes[Int(byte)]
                    if escape != 0 {
                        // Two bytes stored, one or two kept: no branch on which (the room for
                        // `maxExpansion` bytes per byte covers the spare one).
                        UnsafeMutableRawPointer(dst + w).storeBytes(of: UInt16(truncatingIfNeeded: escape).littleEndian, as: UInt16.self)
                        w += Int(escape >> 16)
                        i += 1
                    } else if byte < 0x80 {
                        w += writeUnicodeEscape(byte, to: dst + w)
                        i += 1
                    } else {
                        switch copySequence(src + i, available: count - i, final: final, to: dst + w) {
                        case .incomplete: return (w, i)
                        case .copied(let length):
                            w += length
                            i += length
                        case .replaced(let length):
                            dst[w] = 0xEF
                            dst[w + 1] = 0xBF
                            dst[w + 2] = 0xBD
                            w += 3
                            i += length
                        }
                    }
                }
            }
            return (w, count)
        }
    }

    /// For each byte, what it becomes inside a JSON string when that is one or two bytes: those
    /// bytes (the first in the low 8 bits) and their count (bits 16 and up). 0 for the other
    /// control characters (`\u00XX`) and for non-ASCII bytes (validated as UTF-8).
    private static let asciiEscapes: [UInt32] = (0...255).map { (byte: Int) -> UInt32 in
        let shortEscape: UInt8? = switch byte {
        case 0x22: 0x22
        case 0x5C: 0x5C
        case 0x0A: UInt8(ascii: "n")
        case 0x0D: UInt8(ascii: "r")
        case 0x09: UInt8(ascii: "t")
        case 0x08: UInt8(ascii: "b")
        case 0x0C: UInt8(ascii: "f")
        default: nil
        }
        if let shortEscape { return 0x5C | UInt32(shortEscape) << 8 | 2 << 16 }
        return (0x20..<0x80).contains(byte) ? UInt32(byte) | 1 << 16 : 0
    }

    private enum Sequence {
        case copied(Int)
        case replaced(Int)  // this many bytes become one U+FFFD
        case incomplete  // the chunk ends inside the character
    }

    /// Validates the multi-byte sequence at `src` and copies it when it is whole and valid.
    @inline(__always)
    private static func copySequence(
        _ src: UnsafePointer<UInt8>, available: Int, final: Bool, to dst: UnsafeMutablePointer<UInt8>
    ) -> Sequence {
        let lead = src[0]
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
        default: return .replaced(1)
        }
        var valid = 1  // bytes of the sequence seen valid so far
        while valid < length {
            if valid >= available { return final ? .replaced(valid) : .incomplete }
            let byte = src[valid]
            let ok = valid == 1 ? (byte >= low && byte <= high) : (byte >= 0x80 && byte <= 0xBF)
            if !ok { return .replaced(valid) }
            valid += 1
        }
        for k in 0..<length { dst[k] = src[k] }
        return .copied(length)
    }

    /// How many bytes of `bytes` remain once an incomplete character at its end is left out:
    /// where to cut output so that no character is split.
    public static func completePrefixLength<Bytes: BidirectionalCollection<UInt8>>(_ bytes: Bytes) -> Int {
        var index = bytes.endIndex
        var seen = 0
        while index > bytes.startIndex && seen < 4 {
            bytes.formIndex(before: &index)
            seen += 1
            let byte = bytes[index]
            if byte & 0xC0 == 0x80 { continue }  // a continuation byte: look further back
            if byte < 0xC0 { return bytes.count }  // ASCII or a stray byte: nothing incomplete
            let needed = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
            return seen < needed ? bytes.distance(from: bytes.startIndex, to: index) : bytes.count
        }
        return bytes.count
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
    static func writeUnicodeEscape(_ byte: UInt8, to dst: UnsafeMutablePointer<UInt8>) -> Int {
        let hex: StaticString = "0123456789abcdef"
        dst[0] = 0x5C
        dst[1] = UInt8(ascii: "u")
        dst[2] = 0x30
        dst[3] = 0x30
        dst[4] = hex.utf8Start[Int(byte >> 4)]
        dst[5] = hex.utf8Start[Int(byte & 0xF)]
        return 6
    }
}
