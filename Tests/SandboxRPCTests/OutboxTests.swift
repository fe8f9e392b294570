import CSandboxShims
import Glibc
@testable import SandboxRPC
import Testing

@Suite struct OutboxTests {
    /// A pipe whose read end is non-blocking, so that a test can see what is in it right now.
    struct Pipe {
        let read: Int32
        let write: Int32

        init(read: Int32, write: Int32) {
            self.read = read
            self.write = write
        }

        init() {
            var fds: [Int32] = [-1, -1]
            precondition(sr_pipe_cloexec(&fds) == 0)
            read = fds[0]
            write = fds[1]
            _ = sr_set_status_flags(read, O_NONBLOCK)
        }

        /// What the pipe holds now.
        func drain() -> [UInt8] {
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = Glibc.read(read, &buffer, buffer.count)
                if n <= 0 { return out }
                out += buffer[0..<n]
            }
        }

        /// What the pipe receives until `count` bytes have come (or 10 s have passed).
        func receive(_ count: Int) -> [UInt8] {
            var out: [UInt8] = []
            for _ in 0..<1000 where out.count < count {
                out += drain()
                if out.count < count { usleep(10_000) }
            }
            return out
        }

        func close() {
            closeDescriptor(read)
            closeDescriptor(write)
        }
    }

    static func line(_ i: Int) -> [UInt8] { Array(#"{"jsonrpc":"2.0","id":\#(i),"result":{}}"#.utf8) }

    @Test func aShortLineGoesStraightToAPipeWithoutTheWriterThread() {
        let pipe = Pipe()
        defer { pipe.close() }
        let outbox = Outbox(directFD: pipe.write)  // no writer thread started
        outbox.send(line: Self.line(1))
        #expect(pipe.drain() == Self.line(1) + [UInt8(0x0A)])
        #expect(outbox.isIdle)
    }

    @Test func whatAFullPipeCannotTakeIsQueuedAndWrittenInOrder() {
        let pipe = Pipe()
        defer { pipe.close() }
        let outbox = Outbox(directFD: pipe.write)
        // 64 KiB of pipe hold about 1,600 of these lines: the rest waits in the queue.
        let count = 3000
        for i in 0..<count { outbox.send(line: Self.line(i)) }
        #expect(!outbox.isIdle)
        let expected: [UInt8] = (0..<count).flatMap { Self.line($0) + [UInt8(0x0A)] }
        StdoutWriter.start(outbox: outbox, fd: pipe.write) {}
        #expect(pipe.receive(expected.count) == expected)
        outbox.close()
    }

    /// Whether this kernel writes pipes with RWF_NOWAIT (Linux 6.4 and later).
    static let pipesTakeNoWaitWrites: Bool = {
        let pipe = Pipe()
        defer { pipe.close() }
        var byte = UInt8(ascii: "x")
        return sr_write_nowait(pipe.write, &byte, 1, nil, 0) == 1
    }()

    @Test func aLineLargerThanThePipeGoesOutAsFarAsItFitsAndTheRestThroughTheWriter() {
        let pipe = Pipe()
        defer { pipe.close() }
        let outbox = Outbox(directFD: pipe.write)
        let large = Array(#"{"jsonrpc":"2.0","id":1,"result":{"stdout":""#.utf8)
            + Array(repeating: UInt8(ascii: "a"), count: 200_000) + Array(#""}}"#.utf8)
        outbox.send(line: large)
        outbox.send(line: Self.line(2))
        let expected = large + [UInt8(0x0A)] + Self.line(2) + [UInt8(0x0A)]
        let direct = pipe.drain()  // no writer thread yet: what the pipe took at once
        if Self.pipesTakeNoWaitWrites {
            #expect(direct.count > 0 && direct.count < large.count)
        } else {
            #expect(direct.isEmpty, "without RWF_NOWAIT only a line of at most PIPE_BUF goes directly")
        }
        #expect(direct == Array(large.prefix(direct.count)))
        #expect(!outbox.isIdle)
        StdoutWriter.start(outbox: outbox, fd: pipe.write) {}
        #expect(direct + pipe.receive(expected.count - direct.count) == expected)
        outbox.close()
    }

    @Test func streamedOutputIsQueuedForTheWriterEvenWhenThePipeHasRoom() {
        let pipe = Pipe()
        defer { pipe.close() }
        let outbox = Outbox(directFD: pipe.write)
        let chunks: [[UInt8]] = (0..<3).map { Self.line($0) + [UInt8(0x0A)] }
        for chunk in chunks { chunk.withUnsafeBytes { outbox.send(lines: $0) } }
        #expect(pipe.drain().isEmpty, "written by the reactor, not coalesced by the writer")
        StdoutWriter.start(outbox: outbox, fd: pipe.write) {}
        let expected = chunks.flatMap { $0 }
        #expect(pipe.receive(expected.count) == expected)
        outbox.close()
    }

    @Test func aFIFOThatRefusesNoWaitWritesStillTakesAShortLineDirectly() throws {
        var template = Array("/tmp/outbox-fifo-XXXXXX".utf8CString)
        try #require(mkdtemp(&template) != nil)
        let directory = String(cString: template)
        let path = directory + "/fifo"
        defer { unlink(path); rmdir(directory) }
        try #require(mkfifo(path, 0o600) == 0)
        let reader = open(path, O_RDONLY | O_NONBLOCK)
        let writer = open(path, O_WRONLY)
        try #require(reader >= 0 && writer >= 0)
        defer { closeDescriptor(reader); closeDescriptor(writer) }
        let pipe = Pipe(read: reader, write: writer)
        let outbox = Outbox(directFD: writer)
        outbox.send(line: Self.line(1))  // RWF_NOWAIT refused: written once poll reports room
        #expect(pipe.drain() == Self.line(1) + [UInt8(0x0A)])
        let long = Array(repeating: UInt8(ascii: "a"), count: 10_000)  // past PIPE_BUF: queued
        outbox.send(line: long)
        #expect(pipe.drain().isEmpty)
        StdoutWriter.start(outbox: outbox, fd: writer) {}
        #expect(pipe.receive(long.count + 1) == long + [UInt8(0x0A)])
        outbox.close()
    }

    @Test func directAndQueuedLinesReachANonBlockingSocketWholeAndInOrder() throws {
        var fds: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { fds.forEach(closeDescriptor) }
        var smallest: Int32 = 1  // the kernel makes it its minimum, about 4.5 KiB
        setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &smallest, socklen_t(MemoryLayout<Int32>.size))
        _ = sr_set_status_flags(fds[0], O_NONBLOCK)
        _ = sr_set_status_flags(fds[1], O_NONBLOCK)
        let outbox = Outbox(directFD: fds[0])
        // The first line goes straight into the empty buffer, the rest is queued; the writer
        // thread meets EAGAIN on this socket and waits for room.
        let lines = (0..<50).map { i in
            Array(#"{"jsonrpc":"2.0","id":\#(i),"result":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: i == 0 ? 4000 : (i * 997) % 4000) + Array(#""}"#.utf8)
        }
        for line in lines { outbox.send(line: line) }
        let expected = lines.flatMap { $0 + [UInt8(0x0A)] }
        StdoutWriter.start(outbox: outbox, fd: fds[0]) {}
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        for _ in 0..<2000 where received.count < expected.count {
            let n = recv(fds[1], &buffer, buffer.count, 0)
            if n > 0 { received += buffer[0..<n] } else { usleep(5_000) }
        }
        #expect(received.count == expected.count)
        #expect(received == expected)
        outbox.close()
    }

    @Test func aRegularFileIsWrittenOnlyByTheWriterThread() throws {
        var template = Array("/tmp/outbox-test-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
        defer { closeDescriptor(fd) }
        let outbox = Outbox(directFD: fd)  // a file: no direct writes (only pipes and sockets)
        outbox.send(line: Self.line(7))
        #expect(lseek(fd, 0, SEEK_END) == 0, "nothing written before the writer runs")
        StdoutWriter.start(outbox: outbox, fd: fd) {}
        let expected = Self.line(7) + [UInt8(0x0A)]
        for _ in 0..<1000 where lseek(fd, 0, SEEK_END) < expected.count { usleep(10_000) }
        var written = [UInt8](repeating: 0, count: expected.count)
        #expect(pread(fd, &written, written.count, 0) == expected.count)
        #expect(written == expected)
        outbox.close()
    }
}
