import Protocol
import Testing

@Suite struct FramingTests {
    func frames(_ chunks: [String], max: Int = 100) -> [Frame] {
        var framer = LineFramer(maxLineBytes: max)
        var out: [Frame] = []
        for chunk in chunks { framer.append(Array(chunk.utf8)) { out.append($0) } }
        framer.finish { out.append($0) }
        return out
    }

    @Test func splitsLinesAcrossChunks() {
        #expect(frames(["ab", "c\nde", "f\n"]) == [.line(Array("abc".utf8)), .line(Array("def".utf8))])
    }

    @Test func acceptsCRLFAndSkipsBlankLines() {
        #expect(frames(["a\r\n\n  \t\r\n\r\nb\n"]) == [.line(Array("a".utf8)), .line(Array("b".utf8))])
    }

    @Test func deliversAFinalLineWithoutNewline() {
        #expect(frames(["x\ny"]) == [.line(Array("x".utf8)), .line(Array("y".utf8))])
    }

    @Test func reportsTooLongLinesOnceAndKeepsGoing() {
        let long = String(repeating: "z", count: 250)
        #expect(frames([long.prefix(120) + "", long.dropFirst(120) + "\nok\n"], max: 100)
            == [.tooLong(byteCount: 250), .line(Array("ok".utf8))])
        #expect(frames([String(repeating: "q", count: 100) + "\n"], max: 100) == [.line(Array(repeating: UInt8(ascii: "q"), count: 100))])
        #expect(frames([String(repeating: "q", count: 101) + "\n"], max: 100) == [.tooLong(byteCount: 101)])
    }
}

@Suite struct FramingWhitespaceTests {
    @Test func aLongWhitespaceLineIsBlankNotTooLong() {
        var framer = LineFramer(maxLineBytes: 10)
        var out: [Frame] = []
        framer.append(Array((String(repeating: " ", count: 30) + "\n" + String(repeating: "x", count: 30) + "\n").utf8)) { out.append($0) }
        #expect(out == [.tooLong(byteCount: 30)])
    }
}
