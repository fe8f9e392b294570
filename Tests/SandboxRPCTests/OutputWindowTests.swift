@testable import SandboxRPC
import Testing

@Suite struct OutputWindowTests {
    func retain(_ limit: Int, _ text: String) -> OutputRetention {
        var retention = OutputRetention(limit: limit)
        Array(text.utf8).withUnsafeBufferPointer { retention.append($0) }
        return retention
    }

    func parts(_ window: OutputWindow) -> (String, Int, String) {
        (String(decoding: window.first, as: UTF8.self), window.omitted, String(decoding: window.last, as: UTF8.self))
    }

    @Test func everythingWhenItFits() {
        let r = retain(100, "0123456789")
        let w = r.window(from: 0, budget: 100)
        #expect(parts(w) == ("0123456789", 0, ""))
        #expect(w.start == 0 && w.end == 10)
        #expect(parts(r.window(from: 4, budget: 6)) == ("456789", 0, ""))
        #expect(parts(r.window(from: 10, budget: 6)) == ("", 0, ""))
        #expect(parts(r.window(from: 99, budget: 6)) == ("", 0, ""))  // clamped to the end
    }

    @Test func startAndEndOverBudget() {
        let r = retain(100, "0123456789")
        #expect(parts(r.window(from: 0, budget: 4)) == ("01", 6, "89"))
        #expect(parts(r.window(from: 3, budget: 5)) == ("345", 2, "89"))
        #expect(parts(r.window(from: 0, budget: 0)) == ("", 10, ""))
    }

    @Test func neverJoinsAcrossTheDroppedMiddle() {
        let r = retain(8, "abcdefghijklmnopqrst")  // keeps "abcd" and "qrst", drops 12
        #expect(parts(r.window(from: 0, budget: 100)) == ("abcd", 12, "qrst"))
        #expect(parts(r.window(from: 2, budget: 100)) == ("cd", 12, "qrst"))
        #expect(parts(r.window(from: 2, budget: 3)) == ("cd", 15, "t"))
        #expect(parts(r.window(from: 3, budget: 6)) == ("d", 12, "qrst"))  // the tail takes what the head leaves
        #expect(parts(r.window(from: 4, budget: 100)) == ("", 12, "qrst"))  // from inside the gap
        #expect(parts(r.window(from: 10, budget: 100)) == ("", 6, "qrst"))
        #expect(parts(r.window(from: 10, budget: 2)) == ("", 8, "st"))
        #expect(parts(r.window(from: 17, budget: 100)) == ("rst", 0, ""))
        #expect(r.window(from: 17, budget: 100).end == 20)
    }

    @Test func wrappedTailRingReadsInOrder() {
        var r = OutputRetention(limit: 6)  // head 3, tail ring of 3
        for chunk in ["ab", "cde", "fg", "h", "ijk", "l"] {
            Array(chunk.utf8).withUnsafeBufferPointer { r.append($0) }
        }
        #expect(r.bytes == Array("abcjkl".utf8))
        #expect(parts(r.window(from: 0, budget: 100)) == ("abc", 6, "jkl"))
        #expect(parts(r.window(from: 10, budget: 100)) == ("kl", 0, ""))
    }
}

@Suite struct OutputTextTests {
    func window(_ first: [UInt8], omitted: Int = 0, _ last: [UInt8] = [], start: Int = 0) -> OutputWindow {
        OutputWindow(start: start, first: first, omitted: omitted, last: last, end: start + first.count + omitted + last.count)
    }

    @Test func statesWhatWasLeftOut() {
        let rendered = OutputText.render(window(Array("head\n".utf8), omitted: 42, Array("tail\n".utf8)), complete: true)
        #expect(rendered.text == "head\n[… 42 bytes omitted …]\ntail\n")
        #expect(rendered.omitted == 42)
        #expect(rendered.next == 52)
    }

    @Test func cutsNoCharacterInHalf() {
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        // The cut splits a euro sign after the head and another before the tail.
        let rendered = OutputText.render(window([0x61] + euro.prefix(2), omitted: 10, euro.suffix(1) + [0x62]), complete: true)
        #expect(rendered.text == "a\n[… 13 bytes omitted …]\nb")
        #expect(rendered.omitted == 13)
    }

    @Test func holdsBackAnIncompleteCharacterWhileRunning() {
        let rendered = OutputText.render(window([0x61, 0xE2, 0x82]), complete: false)
        #expect(rendered.text == "a")
        #expect(rendered.next == 1)
        let done = OutputText.render(window([0x61, 0xE2, 0x82]), complete: true)
        #expect(done.text == "a\u{FFFD}")
        #expect(done.next == 3)
    }

    @Test func lastLineSkipsBlankLines() {
        #expect(OutputText.lastLine("one\ntwo\n\n  \n") == "two")
        #expect(OutputText.lastLine("\n") == nil)
    }
}
