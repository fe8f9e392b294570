import Protocol
import Testing

@Suite struct UTF8SanitizerTests {
    func escape(_ bytes: [UInt8], final: Bool) -> (String, Int) {
        var out: [UInt8] = []
        let consumed = bytes.withUnsafeBufferPointer { UTF8Sanitizer.appendEscaped($0, final: final, into: &out) }
        return (String(decoding: out, as: UTF8.self), consumed)
    }

    @Test func holdsBackASplitCharacter() {
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        #expect(escape([0x61] + euro.prefix(2), final: false) == ("a", 1))
        #expect(escape(euro, final: false) == ("€", 3))
    }

    @Test func replacesAnIncompleteTailAtTheEnd() {
        let (text, consumed) = escape(Array(repeating: 0x61, count: 8191) + [0xE2], final: true)
        #expect(text == String(repeating: "a", count: 8191) + "\u{FFFD}")
        #expect(consumed == 8192)
    }

    @Test func replacesInvalidBytesLikeSwiftsDecoder() {
        let samples: [[UInt8]] = [
            [0xFF], [0x80, 0x41], [0xC0, 0xAF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0xE2, 0x28, 0xA1], [0xF0, 0x9F, 0x98], [0x41, 0xF0, 0x9F, 0x98, 0x80, 0x42],
        ]
        for sample in samples {
            let expected = String(decoding: sample, as: UTF8.self)
            #expect(escape(sample, final: true).0 == JSONEscapedText(expected), "\(sample)")
        }
    }

    @Test func escapesControlsQuotesAndBackslashes() {
        #expect(escape(Array("a\"b\\c\n\u{01}".utf8), final: true).0 == #"a\"b\\c\n\u0001"#)
    }

    func JSONEscapedText(_ s: String) -> String {
        let json = JSONWriter.string(.string(s))
        return String(json.dropFirst().dropLast())
    }
}

@Suite struct OutputNotificationEncoderTests {
    @Test func encodesTheWholeLine() {
        let encoder = OutputNotificationEncoder(sandboxId: "sbx\"1")
        var out: [UInt8] = []
        let consumed = Array("hi\n".utf8).withUnsafeBufferPointer {
            encoder.append(pid: 42, stream: .stderr, bytes: $0, encoding: .utf8, final: false, timestamp: 1.5, into: &out)
        }
        #expect(consumed == 3)
        #expect(String(decoding: out, as: UTF8.self)
            == #"{"jsonrpc":"2.0","method":"commands.output","params":{"sandboxId":"sbx\"1","pid":42,"stream":"stderr","data":"hi\n","timestamp":1.5}}"# + "\n")
    }

    @Test func writesNothingForAnIncompleteCharacterAlone() {
        var out: [UInt8] = []
        let consumed = [UInt8]([0xE2]).withUnsafeBufferPointer {
            OutputNotificationEncoder(sandboxId: "s").append(pid: 1, stream: .stdout, bytes: $0, encoding: .utf8, final: false, timestamp: 0, into: &out)
        }
        #expect(consumed == 0)
        #expect(out.isEmpty)
    }

    @Test func base64KeepsExactBytes() throws {
        var out: [UInt8] = []
        [UInt8]([0xFF, 0x00, 0xE2]).withUnsafeBufferPointer {
            _ = OutputNotificationEncoder(sandboxId: "s").append(pid: 1, stream: .stdout, bytes: $0, encoding: .base64, final: false, timestamp: 2, into: &out)
        }
        let value = try JSONParser.parse(out.dropLast())
        #expect(value["params"]?["data"] == .string("/wDi"))
    }
}

@Suite struct UTF8SanitizerFuzzTests {
    /// The word-at-a-time fast path must agree with the reference (Swift's own decoding, then
    /// ordinary JSON escaping) on every input, whole or split at any point.
    @Test func agreesWithTheReferenceOnRandomInput() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = Array("abc \"\\\n\t".utf8) + [0x00, 0x08, 0x0C, 0x0D, 0x1F, 0x7E, 0x7F, 0x80, 0xBF, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80, 0xFF, 0xED, 0xA0]
        for _ in 0..<2000 {
            let count = Int(rng.next() % 40)
            let bytes = (0..<count).map { _ in
                rng.next() % 3 == 0 ? alphabet[Int(rng.next() % UInt64(alphabet.count))] : UInt8(ascii: "x")
            }
            let expected = String(JSONWriter.string(.string(String(decoding: bytes, as: UTF8.self))).dropFirst().dropLast())
            var whole: [UInt8] = []
            _ = bytes.withUnsafeBufferPointer { UTF8Sanitizer.appendEscaped($0, final: true, into: &whole) }
            #expect(String(decoding: whole, as: UTF8.self) == expected, "\(bytes)")

            // Split anywhere: the carry makes the result identical when no character is invalid.
            if String(validating: bytes, as: UTF8.self) != nil, count > 0 {
                let cut = Int(rng.next() % UInt64(count))
                var out: [UInt8] = []
                var carry: [UInt8] = []
                for (index, part) in [Array(bytes[..<cut]), Array(bytes[cut...])].enumerated() {
                    let chunk = carry + part
                    let consumed = chunk.withUnsafeBufferPointer { UTF8Sanitizer.appendEscaped($0, final: index == 1, into: &out) }
                    carry = Array(chunk[consumed...])
                }
                #expect(String(decoding: out, as: UTF8.self) == expected, "\(bytes) cut at \(cut)")
            }
        }
    }
}

@Suite struct CompletePrefixTests {
    @Test func leavesOutOnlyAnIncompleteLastCharacter() {
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        #expect(UTF8Sanitizer.completePrefixLength([0x61] + euro) == 4)
        #expect(UTF8Sanitizer.completePrefixLength([0x61] + euro.prefix(2)) == 1)
        #expect(UTF8Sanitizer.completePrefixLength([0x61, 0xF0, 0x9F, 0x98]) == 1)
        #expect(UTF8Sanitizer.completePrefixLength([0x61, 0x80]) == 2, "a stray continuation byte is not held back")
        #expect(UTF8Sanitizer.completePrefixLength(([0x62] + euro)[1...]) == 3, "on a slice, a count")
        #expect(UTF8Sanitizer.completePrefixLength([UInt8]()) == 0)
    }
}
