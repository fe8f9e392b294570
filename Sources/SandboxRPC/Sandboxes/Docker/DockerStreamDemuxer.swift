/// Splits the output of a non-TTY exec attach into its streams: the Engine frames it as an
/// 8-byte header (stream: 1 stdout, 2 stderr; three zero bytes; big-endian payload length)
/// followed by the payload. Frames may arrive split anywhere; payloads are passed on as they come.
struct DockerStreamDemuxer {
    enum Stream: UInt8 {
        case stdin = 0, stdout = 1, stderr = 2
    }

    private var header: [UInt8] = []
    private var stream = Stream.stdout
    private var remaining = 0

    /// Feeds bytes; `emit` gets each piece of payload with its stream, in order.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (Stream, UnsafeRawBufferPointer) -> Void) {
        var offset = 0
        while offset < bytes.count {
            if remaining > 0 {
                let take = min(remaining, bytes.count - offset)
                emit(stream, UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
                remaining -= take
                offset += take
                continue
            }
            let take = min(8 - header.count, bytes.count - offset)
            header.append(contentsOf: bytes[offset..<(offset + take)])
            offset += take
            guard header.count == 8 else { break }
            stream = Stream(rawValue: header[0]) ?? .stderr
            remaining = header[4...].reduce(0) { $0 << 8 | Int($1) }
            header.removeAll(keepingCapacity: true)
        }
    }
}
