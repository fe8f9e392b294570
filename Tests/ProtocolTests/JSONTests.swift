import Protocol
import Testing

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONParser.parse(Array(#"{"a":[1,-2.5e3,true,false,null],"b":"x\"\\\/\n\u00e9\ud83d\ude00"}"#.utf8))
        #expect(value == .object([
            "a": .array([.number(JSONNumber(literal: "1")), .number(JSONNumber(literal: "-2.5e3")), true, false, .null]),
            "b": .string("x\"\\/\né😀"),
        ]))
    }

    @Test func keepsNumberLiteralsExactly() throws {
        for literal in ["18446744073709551621", "1.0", "-0", "1e400", "0.10"] {
            let value = try JSONParser.parse(Array(literal.utf8))
            #expect(value == .number(JSONNumber(literal: literal)))
            #expect(JSONWriter.string(value) == literal)
        }
    }

    @Test(arguments: [
        ("{", "expected a string key", 1),
        ("[", "unexpected end of input", 1),
        ("[1,]", "unexpected character ']'", 3),
        ("{\"a\" 1}", "expected ':' after an object key", 5),
        ("01", "unexpected data after the JSON value", 1),
        ("\"a\u{01}\"", "unescaped control character in a string", 2),
        ("tru", "invalid literal", 0),
        ("1.", "expected a digit after '.'", 2),
        ("\"\\x\"", "invalid escape '\\x'", 2),
    ])
    func reportsWhatAndWhere(input: String, reason: String, offset: Int) {
        #expect(throws: JSONParseError(offset: offset, reason: reason)) { try JSONParser.parse(Array(input.utf8)) }
    }

    @Test func rejectsInvalidUTF8InStrings() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0x61, 0x62, 0xC3, 0x22], [0x22, 0x61, 0xED, 0xA0, 0x80, 0x22]] {
            #expect(throws: JSONParseError(offset: 1, reason: "invalid UTF-8 in a string")) { try JSONParser.parse(bytes) }
        }
    }

    @Test func takesUnescapedStringsAsTheyAre() throws {
        for text in ["", "plain ascii", "caf\u{E9}", "\u{1F600} at the start", "mixed \u{E9}\u{1F600} and ascii"] {
            #expect(try JSONParser.parse(Array("\"\(text)\"".utf8)) == .string(text))
        }
    }

    @Test func limitsNestingInsteadOfOverflowingTheStack() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError(offset: JSONParser.maxDepth, reason: "nesting deeper than 128 levels")) {
            try JSONParser.parse(Array(deep.utf8))
        }
        let ok = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(throws: Never.self) { try JSONParser.parse(Array(ok.utf8)) }
    }
}

@Suite struct JSONWriterTests {
    @Test func escapesExactly() {
        let value: JSONValue = .object(["k": .string("a\"b\\c\n\r\t\u{08}\u{0C}\u{01}é/")])
        #expect(JSONWriter.string(value) == #"{"k":"a\"b\\c\n\r\t\b\f\u0001é/"}"#)
    }

    @Test func keepsKeyOrder() {
        let value: JSONValue = ["z": 1, "a": 2, "m": [true, nil]]
        #expect(JSONWriter.string(value) == #"{"z":1,"a":2,"m":[true,null]}"#)
    }

    @Test func writesDoublesAsJSON() {
        #expect(JSONWriter.string(.number(3.0)) == "3")
        #expect(JSONWriter.string(.number(0.25)) == "0.25")
        #expect(JSONWriter.string(.number(Double.nan)) == "null")
    }
}

@Suite struct Base64Tests {
    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")])
    func encodesAndDecodesRFC4648Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func roundTripsEveryByte() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
    }

    @Test func refusesWhatIsNotBase64() {
        #expect(Base64.decode("a*bc") == nil)
        #expect(Base64.decode("abcde") == nil)
        #expect(Base64.decode("ab=c") == nil)
    }
}
