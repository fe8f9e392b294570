import CSandboxShims
import Glibc
import Protocol

enum DockerError: Error, CustomStringConvertible {
    /// No engine answers on the socket.
    case unreachable(String)
    /// The engine answered with an error status and message.
    case engine(status: Int, message: String)
    /// The engine's answer could not be understood.
    case malformed(String)

    var description: String {
        switch self {
        case .unreachable(let reason): "the Docker Engine is unreachable: \(reason)"
        case .engine(let status, let message): "the Docker Engine answered \(status): \(message)"
        case .malformed(let reason): "unexpected answer from the Docker Engine: \(reason)"
        }
    }
}

/// The Docker Engine API on its unix socket: a small HTTP/1.1 client, one connection per call
/// (as the docker CLI does), its blocking I/O on a thread of its own per call: a wedged engine
/// then stalls only the calls waiting on it, never the pool or other sandboxes' work. Chosen over running the
/// `docker` CLI: an exec through the API starts about 1.4× sooner, and a sandbox then holds one
/// socket rather than a `docker exec -i` process of ~24 MiB (bench/README.md, "Docker").
struct DockerEngine: Sendable {
    let socketPath: String

    /// API 1.41 is Docker 20.10, the oldest engine this speaks to.
    static let apiPrefix = "/v1.41"

    /// `DOCKER_HOST` when it names a unix socket, else the standard socket; nil for a TCP host.
    static func fromEnvironment() -> DockerEngine? {
        guard let host = getenv("DOCKER_HOST").map({ String(cString: $0) }), !host.isEmpty else {
            return DockerEngine(socketPath: "/var/run/docker.sock")
        }
        guard host.hasPrefix("unix://") else { return nil }
        return DockerEngine(socketPath: String(host.dropFirst("unix://".count)))
    }

    /// Whether an engine answers `GET /_ping` (blocking; for the start-up probe).
    func answersPing() -> Bool {
        guard let response = try? exchange("GET", "/_ping", body: nil, timeoutSeconds: 2) else { return false }
        return response.status == 200
    }

    /// Calls the API; returns the decoded JSON body (nil when empty) of a 2xx answer.
    func call(_ method: String, _ path: String, body: JSONValue? = nil, timeoutSeconds: Int = 120) async throws(DockerError) -> JSONValue? {
        try await Self.offThread { () throws(DockerError) in try send(method, path, body: body, timeoutSeconds: timeoutSeconds) }
    }

    /// `call`, blocking the calling thread.
    func send(_ method: String, _ path: String, body: JSONValue? = nil, timeoutSeconds: Int = 120) throws(DockerError) -> JSONValue? {
        let response = try exchange(method, path, body: body, timeoutSeconds: timeoutSeconds)
        guard (200..<300).contains(response.status) else {
            let message = (try? JSONParser.parse(response.body))?["message"]?.stringValue
            throw .engine(status: response.status, message: message ?? String(decoding: response.body.prefix(500), as: UTF8.self))
        }
        guard !response.body.isEmpty else { return nil }
        do { return try JSONParser.parse(response.body) } catch { throw .malformed("\(method) \(path): \(error)") }
    }

    /// Calls an endpoint that switches to a raw stream (exec start, attach) and returns the
    /// connected socket, positioned right after the `101 Switching Protocols` head.
    func upgrade(_ path: String, body: JSONValue) async throws(DockerError) -> Int32 {
        try await Self.offThread { () throws(DockerError) in try openStream(path, body: body) }
    }

    private static func offThread<T: Sendable>(_ work: @escaping @Sendable () throws(DockerError) -> T) async throws(DockerError) -> T {
        let result: Result<T, DockerError> = await withCheckedContinuation { continuation in
            startThread(name: "docker-engine") { continuation.resume(returning: Result { () throws(DockerError) in try work() }) }
        }
        return try result.get()
    }

    // MARK: Blocking I/O

    private func connect(timeoutSeconds: Int) throws(DockerError) -> Int32 {
        let fd = sr_connect_unix(socketPath)
        guard fd >= 0 else { throw .unreachable("\(socketPath): \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    private func request(_ method: String, _ path: String, body: JSONValue?, upgrade: Bool) -> [UInt8] {
        let payload = body.map(JSONWriter.bytes) ?? []
        var head = "\(method) \(Self.apiPrefix)\(path) HTTP/1.1\r\nHost: docker\r\n"
        if body != nil { head += "Content-Type: application/json\r\n" }
        head += "Content-Length: \(payload.count)\r\n"
        head += upgrade ? "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" : "Connection: close\r\n\r\n"
        return Array(head.utf8) + payload
    }

    private func write(_ bytes: [UInt8], to fd: Int32) throws(DockerError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .unreachable("send: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    private func exchange(_ method: String, _ path: String, body: JSONValue?, timeoutSeconds: Int) throws(DockerError) -> HTTPResponse {
        let fd = try connect(timeoutSeconds: timeoutSeconds)
        defer { closeDescriptor(fd) }
        try write(request(method, path, body: body, upgrade: false), to: fd)
        var parser = HTTPResponseParser()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw .unreachable("\(method) \(path): \(String(cString: strerror(errno)))") }
            do {
                if n == 0 { return try parser.finish() }
                if let response = try parser.feed(buffer[..<n]) { return response }
            } catch {
                throw .malformed("\(method) \(path): \(error)")
            }
        }
    }

    private func openStream(_ path: String, body: JSONValue) throws(DockerError) -> Int32 {
        let fd = try connect(timeoutSeconds: 30)
        do {
            try write(request("POST", path, body: body, upgrade: true), to: fd)
            // Byte by byte up to the end of the head: what follows is the stream's, not ours.
            var parser = HTTPResponseParser()
            var byte: UInt8 = 0
            while true {
                let n = read(fd, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                guard n == 1 else { throw DockerError.unreachable("POST \(path): the connection closed") }
                guard let response = try parser.feed(CollectionOfOne(byte)) else { continue }
                guard response.status == 101 else {
                    throw DockerError.engine(status: response.status, message: "POST \(path) did not switch to a stream")
                }
                break
            }
        } catch let error as DockerError {
            closeDescriptor(fd)
            throw error
        } catch {
            closeDescriptor(fd)
            throw .malformed("POST \(path): \(error)")
        }
        var forever = timeval(tv_sec: 0, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &forever, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &forever, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }
}
