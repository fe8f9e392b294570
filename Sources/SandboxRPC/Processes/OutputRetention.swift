/// What is kept of one output stream: up to `limit` bytes, the first ceil(limit/2) and the last
/// floor(limit/2), with a count of the bytes dropped in between. Storage grows only as output
/// arrives, so a quiet process costs nothing.
struct OutputRetention {
    let limit: Int
    private var head: [UInt8] = []
    private var tail: [UInt8] = []  // a ring once it holds `tailLimit` bytes
    private var tailStart = 0
    private(set) var dropped = 0
    private(set) var total = 0

    init(limit: Int) { self.limit = max(0, limit) }

    private var headLimit: Int { limit / 2 + limit % 2 }  // ceil(limit/2), also for Int.max
    private var tailLimit: Int { limit / 2 }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        total += bytes.count
        var rest = bytes[...]
        let toHead = min(headLimit - head.count, rest.count)
        if toHead > 0 {
            Self.reserve(&head, adding: toHead, limit: headLimit)
            head.append(contentsOf: rest.prefix(toHead))
            rest = rest.dropFirst(toHead)
        }
        let capacity = tailLimit
        while !rest.isEmpty {
            if capacity == 0 {
                dropped += rest.count
                return
            }
            if tail.count < capacity {
                let k = min(capacity - tail.count, rest.count)
                Self.reserve(&tail, adding: k, limit: capacity)
                tail.append(contentsOf: rest.prefix(k))
                rest = rest.dropFirst(k)
                continue
            }
            if rest.count >= capacity {
                dropped += rest.count
                tail.withUnsafeMutableBufferPointer { ring in
                    _ = ring.initialize(from: rest.suffix(capacity))
                }
                tailStart = 0
                return
            }
            let k = min(capacity - tailStart, rest.count)
            tail.withUnsafeMutableBufferPointer { ring in
                _ = UnsafeMutableBufferPointer(rebasing: ring[tailStart..<tailStart + k]).initialize(from: rest.prefix(k))
            }
            dropped += k
            tailStart = (tailStart + k) % capacity
            rest = rest.dropFirst(k)
        }
    }

    /// Grows like an array would, but never past `limit`: a full retention holds exactly `limit` bytes.
    private static func reserve(_ buffer: inout [UInt8], adding count: Int, limit: Int) {
        let needed = buffer.count + count
        guard needed > buffer.capacity else { return }
        buffer.reserveCapacity(min(limit, max(needed, buffer.capacity * 2)))
    }

    /// Everything kept, in order: the head, then the tail.
    var bytes: [UInt8] {
        var out = head
        out.reserveCapacity(head.count + tail.count)
        out.append(contentsOf: tail[tailStart...])
        out.append(contentsOf: tail[..<tailStart])
        return out
    }
}

extension OutputRetention {
    /// What is kept of the stream from byte offset `since` on, at most `budget` bytes of it: all
    /// of it when it fits, else its first and its last part. A part never spans the dropped
    /// middle, so each is contiguous in the stream and `omitted` counts the bytes between them.
    func window(from since: Int, budget: Int) -> OutputWindow {
        let since = min(max(0, since), total)
        let budget = max(0, budget)
        let kept = head.count + tail.count
        let tailOffset = total - tail.count  // stream offset of the first tail byte
        let gap = head.count  // kept index where the dropped middle sits, when `dropped > 0`
        var first = 0..<0
        var last = kept..<kept
        if since >= head.count && since < tailOffset {
            // Starts inside the dropped middle: nothing before the omission.
            last = max(gap, kept - budget)..<kept
        } else {
            let start = since <= head.count ? since : gap + (since - tailOffset)
            let selected = kept - start
            let gapInside = dropped > 0 && start < gap
            if selected <= budget {
                if gapInside {
                    first = start..<gap
                    last = gap..<kept
                } else {
                    first = start..<kept
                }
            } else if gapInside {
                var firstCount = min(gap - start, (budget + 1) / 2)
                let lastCount = min(kept - gap, budget - firstCount)
                firstCount = min(gap - start, budget - lastCount)
                first = start..<start + firstCount
                last = kept - lastCount..<kept
            } else {
                first = start..<start + (budget + 1) / 2
                last = kept - budget / 2..<kept
            }
        }
        let firstBytes = keptBytes(first)
        let lastBytes = keptBytes(last)
        return OutputWindow(
            start: since, first: firstBytes, omitted: total - since - firstBytes.count - lastBytes.count,
            last: lastBytes, end: total)
    }

    /// Bytes by their index in what is kept (the head, then the tail in order).
    private func keptBytes(_ range: Range<Int>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        let inHead = range.clamped(to: 0..<head.count)
        out.append(contentsOf: head[inHead])
        for index in range.clamped(to: head.count..<head.count + tail.count) {
            out.append(tail[(tailStart + index - head.count) % tail.count])
        }
        return out
    }
}
