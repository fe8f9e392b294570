/// Standard base64 (RFC 4648, with padding), for `encoding: "base64"` data.
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    /// Writes the base64 of `bytes` to `destination` (room for `(count + 2) / 3 * 4` bytes needed);
    /// returns the bytes written.
    public static func encode(_ bytes: UnsafeBufferPointer<UInt8>, into destination: UnsafeMutablePointer<UInt8>) -> Int {
        alphabet.withUnsafeBufferPointer { table in
            var i = 0, w = 0
            let count = bytes.count
            while i + 3 <= count {
                let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                destination[w] = table[Int(n >> 18 & 63)]
                destination[w + 1] = table[Int(n >> 12 & 63)]
                destination[w + 2] = table[Int(n >> 6 & 63)]
                destination[w + 3] = table[Int(n & 63)]
                i += 3
                w += 4
            }
            let rest = count - i
            if rest > 0 {
                let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
                destination[w] = table[Int(n >> 18 & 63)]
                destination[w + 1] = table[Int(n >> 12 & 63)]
                destination[w + 2] = rest == 2 ? table[Int(n >> 6 & 63)] : UInt8(ascii: "=")
                destination[w + 3] = UInt8(ascii: "=")
                w += 4
            }
            return w
        }
    }

    public static func append(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + (bytes.count + 2) / 3 * 4)
        var i = 0
        let count = bytes.count
        while i + 3 <= count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = count - i
        if rest > 0 {
            let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(rest == 2 ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        bytes.withUnsafeBufferPointer { append($0, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base64 text, ignoring whitespace; nil when it is not base64.
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count / 4 * 3)
        var quad: UInt32 = 0
        var filled = 0
        var padding = 0
        for c in text.utf8 {
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { continue }
            if c == UInt8(ascii: "=") { padding += 1; continue }
            guard padding == 0 else { return nil }
            let v = reverse[Int(c)]
            guard v != 0xFF else { return nil }
            quad = quad << 6 | UInt32(v)
            filled += 1
            if filled == 4 {
                out.append(UInt8(quad >> 16 & 0xFF))
                out.append(UInt8(quad >> 8 & 0xFF))
                out.append(UInt8(quad & 0xFF))
                quad = 0
                filled = 0
            }
        }
        switch filled {
        case 0: break
        case 2: out.append(UInt8(quad >> 4 & 0xFF))
        case 3:
            out.append(UInt8(quad >> 10 & 0xFF))
            out.append(UInt8(quad >> 2 & 0xFF))
        default: return nil
        }
        return out
    }
}
