/// An HTTP/1.1 response as the Docker Engine sends it.
struct HTTPResponse: Sendable, Equatable {
    var status: Int
    /// Header names lower-cased; a repeated header keeps its last value.
    var headers: [String: String]
    var body: [UInt8]
}

struct HTTPParseError: Error, CustomStringConvertible {
    let description: String
}

/// Parses one HTTP/1.1 response from bytes as they arrive: the head, then a body delimited by
/// `Content-Length`, by chunked transfer coding, or by the end of the connection. A `101
/// Switching Protocols` response ends with its head; what follows belongs to the new protocol.
struct HTTPResponseParser {
    private enum Body {
        case none
        case length(Int)
        case chunked
        case untilClose
    }

    private var buffer: [UInt8] = []
    private var head: (status: Int, headers: [String: String])?
    private var body = Body.none
    private var decoded: [UInt8] = []

    /// Adds bytes; returns the response once it is complete.
    mutating func feed(_ bytes: some Collection<UInt8>) throws(HTTPParseError) -> HTTPResponse? {
        buffer.append(contentsOf: bytes)
        if head == nil {
            guard let end = Self.find([13, 10, 13, 10], in: buffer[...]) else {
                if buffer.count > 64 * 1024 { throw HTTPParseError(description: "response head over 64 KiB") }
                return nil
            }
            let parsed = try Self.parseHead(buffer[..<end])
            buffer.removeSubrange(..<(end + 4))
            head = parsed
            body = try Self.bodyKind(status: parsed.status, headers: parsed.headers)
        }
        return try advanceBody()
    }

    /// The connection ended: a body delimited by the close is complete, anything else is cut short.
    mutating func finish() throws(HTTPParseError) -> HTTPResponse {
        guard let head, case .untilClose = body else {
            throw HTTPParseError(description: "the connection closed in the middle of the response")
        }
        return HTTPResponse(status: head.status, headers: head.headers, body: buffer)
    }

    private mutating func advanceBody() throws(HTTPParseError) -> HTTPResponse? {
        guard let head else { return nil }
        switch body {
        case .none:
            return HTTPResponse(status: head.status, headers: head.headers, body: [])
        case .length(let count):
            guard buffer.count >= count else { return nil }
            return HTTPResponse(status: head.status, headers: head.headers, body: Array(buffer[..<count]))
        case .untilClose:
            return nil
        case .chunked:
            while true {
                guard let lineEnd = Self.find([13, 10], in: buffer[...]) else { return nil }
                let sizeText = String(decoding: buffer[..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingSpaces, radix: 16), size >= 0, size <= 1 << 40 else {
                    throw HTTPParseError(description: "bad chunk size \"\(sizeText)\"")
                }
                if size == 0 {
                    // Trailers, if any, then an empty line.
                    let rest = buffer[(lineEnd + 2)...]
                    guard rest.starts(with: [13, 10]) || Self.find([13, 10, 13, 10], in: rest) != nil else { return nil }
                    return HTTPResponse(status: head.status, headers: head.headers, body: decoded)
                }
                let start = lineEnd + 2
                guard buffer.count >= start + size + 2 else { return nil }
                guard buffer[start + size] == 13, buffer[start + size + 1] == 10 else {
                    throw HTTPParseError(description: "a chunk not followed by CRLF")
                }
                decoded.append(contentsOf: buffer[start..<(start + size)])
                buffer.removeSubrange(..<(start + size + 2))
            }
        }
    }

    private static func parseHead(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> (status: Int, headers: [String: String]) {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines.first?.split(separator: " ", maxSplits: 2) ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw HTTPParseError(description: "bad status line \"\(lines.first ?? "")\"")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw HTTPParseError(description: "bad header line \"\(line)\"") }
            headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...]).trimmingSpaces
        }
        return (status, headers)
    }

    private static func bodyKind(status: Int, headers: [String: String]) throws(HTTPParseError) -> Body {
        if status == 101 || status == 204 || status == 304 || (100..<200).contains(status) { return .none }
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true { return .chunked }
        if let length = headers["content-length"] {
            guard let count = Int(length), count >= 0 else { throw HTTPParseError(description: "bad Content-Length \"\(length)\"") }
            return count == 0 ? .none : .length(count)
        }
        return .untilClose
    }

    /// The index of the first occurrence of `needle` in `haystack`.
    private static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = haystack.startIndex
        while index <= haystack.endIndex - needle.count {
            if haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
