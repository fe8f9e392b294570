import CSandboxShims
import Glibc
import Protocol
@testable import SandboxRPC
import Synchronization
import Testing

@Suite struct KeeperWakeupTests {
    final class Log: Sendable {
        let entries = Mutex<[String]>([])
        func add(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }
    }

    /// A socket pair standing in for the bridge's and a keeper's ends.
    private func socketPair() throws -> (bridge: Int32, keeper: Int32) {
        var fds: [Int32] = [-1, -1]
        try #require(sr_socketpair_seqpacket(&fds) == 0)
        return (fds[0], fds[1])
    }

    /// What is waiting on `fd`, without blocking.
    private func pending(_ fd: Int32) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        return n > 0 ? Array(buffer[..<n]) : []
    }

    private var wakeMessage: [UInt8] {
        var op = UInt32(SR_OP_WAKE)
        return withUnsafeBytes(of: &op) { Array($0) }
    }

    @Test func aWakeIsOneMessageToThatSandboxsKeeperAtMostOncePerInterval() async throws {
        let (bridge, keeper) = try socketPair()
        let (otherBridge, otherKeeper) = try socketPair()
        defer { [bridge, keeper, otherBridge, otherKeeper].forEach { _ = Glibc.close($0) } }
        let wakeups = KeeperWakeups()
        wakeups.add(KeeperHandle(socket: bridge, pid: 0), sandboxId: "a")
        wakeups.add(KeeperHandle(socket: otherBridge, pid: 0), sandboxId: "b")

        wakeups.wakeKeeper(of: "a")
        wakeups.wakeKeeper(of: "a")  // within the interval: the first one does
        wakeups.wakeKeeper(of: "unknown")

        #expect(pending(keeper) == wakeMessage)
        #expect(pending(keeper).isEmpty)
        #expect(pending(otherKeeper).isEmpty)

        try await Task.sleep(nanoseconds: 2 * KeeperWakeups.interval)
        wakeups.wakeKeeper(of: "a")
        #expect(pending(keeper) == wakeMessage)
    }

    /// Retiring closes the socket; its number may then be reused by anything, such as another
    /// sandbox's keeper socket, and a wake-up must never be sent there.
    @Test func retiringClosesTheSocketAndNoWakeReachesItsNumberAfterwards() throws {
        let (bridge, keeper) = try socketPair()
        let (reuser, reuserPeer) = try socketPair()
        defer { [keeper, reuser, reuserPeer, bridge].forEach { _ = Glibc.close($0) } }
        let wakeups = KeeperWakeups()
        wakeups.add(KeeperHandle(socket: bridge, pid: 0), sandboxId: "a")

        wakeups.retire(sandboxId: "a")

        #expect(fcntl(bridge, F_GETFD) == -1)
        try #require(dup2(reuser, bridge) == bridge)  // the old number now reaches another socket
        wakeups.wakeKeeper(of: "a")
        #expect(pending(reuserPeer).isEmpty)
    }

    /// A kill request on a full socket says so (the supervisor then reads the keeper's events
    /// and tries again) instead of being dropped, which left `sandbox.kill` waiting for ever.
    @Test func aKillRequestOnAFullSocketReportsItWasNotSent() throws {
        let (bridge, keeper) = try socketPair()
        defer { [bridge, keeper].forEach { _ = Glibc.close($0) } }
        var size: Int32 = 4096
        _ = setsockopt(bridge, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var filler = wakeMessage
        var queued = 0
        while send(bridge, &filler, filler.count, Int32(MSG_DONTWAIT)) > 0 { queued += 1 }
        try #require(queued > 0)
        let handle = KeeperHandle(socket: bridge, pid: 0)

        #expect(try handle.requestKillAll() == false)

        while !pending(keeper).isEmpty {}
        #expect(try handle.requestKillAll() == true)
        var kill = [UInt8](repeating: 0, count: 64)
        let n = recv(keeper, &kill, kill.count, Int32(MSG_DONTWAIT))
        #expect(n == MemoryLayout<sr_spawn_header>.size && kill[0] == UInt8(SR_OP_KILL_ALL))
    }

    @Test func arrivalHooksRunAsTheRequestIsReceivedBeforeItsHandler() async throws {
        let log = Log()
        var table = MethodTable()
        table.register(CommandsRun.self, arrival: { log.add("arrived \($0)") }) { params, _ in
            log.add("run \(params.sandboxId ?? "-")")
            return .started(pid: 1)
        }
        table.register(CommandsKill.self) { _, _ in
            log.add("kill")
            return Killed(killed: false)
        }
        let dispatcher = Dispatcher(methods: table, outbox: Outbox(), logger: Logger(level: .error), maxLineBytes: 1 << 20)

        dispatcher.receive(.line(Array(#"{"jsonrpc":"2.0","id":1,"method":"commands.run","params":{"sandboxId":"s1","cmd":"true"}}"#.utf8)))
        #expect(log.all.first == "arrived s1")  // on receipt, before the handler's task can run
        dispatcher.receive(.line(Array(#"[{"jsonrpc":"2.0","id":2,"method":"commands.run","params":{"cmd":"true"}},{"jsonrpc":"2.0","id":3,"method":"commands.kill","params":{"pid":7}}]"#.utf8)))
        // A sandboxId that is not a string: the lane (and the hook) is the default sandbox's,
        // and the request then fails to decode.
        dispatcher.receive(.line(Array(#"{"jsonrpc":"2.0","id":4,"method":"commands.run","params":{"sandboxId":5,"cmd":"true"}}"#.utf8)))

        for _ in 0..<200 where log.all.count < 6 { try await Task.sleep(for: .milliseconds(5)) }
        let entries = log.all
        #expect(entries.sorted() == ["arrived default", "arrived default", "arrived s1", "kill", "run -", "run s1"])
        let arrivedS1 = try #require(entries.firstIndex(of: "arrived s1"))
        let ranS1 = try #require(entries.firstIndex(of: "run s1"))
        let arrivedDefault = try #require(entries.firstIndex(of: "arrived default"))
        let ranDefault = try #require(entries.firstIndex(of: "run -"))
        #expect(arrivedS1 < ranS1)
        #expect(arrivedDefault < ranDefault)
    }
}
