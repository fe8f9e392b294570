@testable import SandboxRPC
import Testing

@Suite struct HTTPResponseParserTests {
    /// Feeds `text` in pieces of `step` bytes; returns the response and how many bytes it took.
    func parse(_ text: String, step: Int) throws -> (HTTPResponse?, fedBytes: Int) {
        var parser = HTTPResponseParser()
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + step, bytes.count)
            if let response = try parser.feed(bytes[offset..<end]) { return (response, end) }
            offset = end
        }
        return (nil, offset)
    }

    @Test(arguments: [1, 3, 1000])
    func contentLengthBody(step: Int) throws {
        let (response, _) = try parse("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"Id\":1}\n", step: step)
        #expect(response == HTTPResponse(status: 201, headers: ["content-type": "application/json", "content-length": "9"], body: Array("{\"Id\":1}\n".utf8)))
    }

    @Test(arguments: [1, 2, 7, 1000])
    func chunkedBodyWithExtensionsAndTrailers(step: Int) throws {
        let wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: yes\r\n\r\n"
        let (response, _) = try parse(wire, step: step)
        #expect(response?.status == 200)
        #expect(response.map { String(decoding: $0.body, as: UTF8.self) } == "Wikipedia in\r\n\r\nchunks.")
    }

    @Test func chunkedWithoutTrailersEndsAtTheEmptyLine() throws {
        let (response, _) = try parse("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", step: 1)
        #expect(response?.body == Array("abc".utf8))
    }

    @Test func switchingProtocolsEndsWithItsHead() throws {
        let wire = "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        let (response, fed) = try parse(wire + "\u{1}\0\0\0\0\0\0\u{2}hi", step: 1)
        #expect(response?.status == 101 && response?.body == [])
        #expect(fed == wire.utf8.count, "not one byte of the stream is taken as the response's")
    }

    @Test func bodyUntilCloseAndNoContent() throws {
        var parser = HTTPResponseParser()
        #expect(try parser.feed(Array("HTTP/1.0 200 OK\r\n\r\npartial".utf8)) == nil)
        #expect(try parser.feed(Array(" body".utf8)) == nil)
        #expect(try parser.finish().body == Array("partial body".utf8))
        let (noContent, _) = try parse("HTTP/1.1 204 No Content\r\n\r\n", step: 4)
        #expect(noContent?.status == 204 && noContent?.body == [])
    }

    @Test func malformedResponsesAreErrors() {
        var garbage = HTTPResponseParser()
        #expect(throws: HTTPParseError.self) { try garbage.feed(Array("SSH-2.0-OpenSSH\r\n\r\n".utf8)) }
        var badChunk = HTTPResponseParser()
        #expect(throws: HTTPParseError.self) { try badChunk.feed(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8)) }
        var cut = HTTPResponseParser()
        _ = try? cut.feed(Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8))
        #expect(throws: HTTPParseError.self) { try cut.finish() }
    }
}

@Suite struct DockerStreamDemuxerTests {
    func frame(_ stream: UInt8, _ payload: String) -> [UInt8] {
        let bytes = Array(payload.utf8)
        let n = bytes.count
        return [stream, 0, 0, 0, UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + bytes
    }

    @Test(arguments: [1, 5, 8, 9, 4096])
    func splitsStreamsWhereverFramesAreCut(step: Int) {
        let big = String(repeating: "x", count: 70_000)  // a length needing three header bytes
        let wire = frame(1, "{\"id\":1}\n") + frame(2, "warning\n") + frame(1, big) + frame(1, "") + frame(1, "tail\n")
        var demuxer = DockerStreamDemuxer()
        var stdout: [UInt8] = [], stderr: [UInt8] = []
        var offset = 0
        while offset < wire.count {
            let end = min(offset + step, wire.count)
            wire[offset..<end].withUnsafeBytes { chunk in
                demuxer.feed(chunk) { stream, payload in
                    if stream == .stdout { stdout += payload } else { stderr += payload }
                }
            }
            offset = end
        }
        #expect(String(decoding: stdout, as: UTF8.self) == "{\"id\":1}\n" + big + "tail\n")
        #expect(String(decoding: stderr, as: UTF8.self) == "warning\n")
    }
}
