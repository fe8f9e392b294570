@testable import SandboxRPC
import Testing

@Suite struct OutputRetentionTests {
    func retain(_ limit: Int, _ chunks: [[UInt8]]) -> OutputRetention {
        var retention = OutputRetention(limit: limit)
        for chunk in chunks { chunk.withUnsafeBufferPointer { retention.append($0) } }
        return retention
    }

    @Test func keepsEverythingUnderTheLimit() {
        let r = retain(10, [Array("abc".utf8), Array("defg".utf8)])
        #expect(r.bytes == Array("abcdefg".utf8))
        #expect(r.dropped == 0)
    }

    @Test func keepsHeadAndTailAndCountsTheMiddle() {
        let input = Array("0123456789abcdefghij".utf8)  // 20 bytes, limit 7: head 4, tail 3
        let whole = retain(7, [input])
        #expect(whole.bytes == Array("0123hij".utf8))
        #expect(whole.dropped == 13)
        let byteByByte = retain(7, input.map { [$0] })
        #expect(byteByByte.bytes == Array("0123hij".utf8))
        #expect(byteByByte.dropped == 13)
        let uneven = retain(7, [Array(input[0..<5]), Array(input[5..<6]), Array(input[6..<18]), Array(input[18...])])
        #expect(uneven.bytes == Array("0123hij".utf8))
        #expect(uneven.dropped == 13)
        #expect(uneven.total == 20)
    }

    @Test func zeroKeepsNothing() {
        let r = retain(0, [Array("abc".utf8)])
        #expect(r.bytes.isEmpty)
        #expect(r.dropped == 3)
    }
}

@Suite struct TimerQueueTests {
    @Test func firesDueTimersInDeadlineOrderAndSkipsCancelled() throws {
        var timers = TimerQueue<String>()
        _ = timers.schedule(after: 0, "first")
        let cancelled = timers.schedule(after: 0, "cancelled")
        _ = timers.schedule(after: 60_000_000_000, "later")
        timers.cancel(cancelled)
        #expect(timers.popDue() == ["first"])
        #expect(timers.millisecondsUntilNext() > 59_000)
    }
}

@Suite struct CommandEnvironmentTests {
    @Test func startsCleanAndLayersEnvs() {
        let env = CommandEnvironment.build(
            home: "/h", user: "u", inherited: nil, sandboxEnvs: ["A": "sandbox", "B": "sandbox"], commandEnvs: ["B": "command"])
        #expect(env.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"))
        #expect(env.contains("HOME=/h"))
        #expect(env.contains("LANG=C.UTF-8"))
        #expect(env.contains("TERM=dumb"))
        #expect(env.contains("A=sandbox"))
        #expect(env.contains("B=command"))
        #expect(env.contains("PYTHONUNBUFFERED=1"))
        #expect(env.count == 14)
    }
}
