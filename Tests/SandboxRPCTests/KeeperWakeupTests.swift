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

    @Test func aWakeIsOneMessageToThatSandboxsKeeperOnly() throws {
        let (bridge, keeper) = try socketPair()
        let (otherBridge, otherKeeper) = try socketPair()
        defer { [bridge, keeper, otherBridge, otherKeeper].forEach { _ = Glibc.close($0) } }
        let wakeups = KeeperWakeups()
        wakeups.add(KeeperHandle(socket: bridge, pid: 0), sandboxId: "a")
        wakeups.add(KeeperHandle(socket: otherBridge, pid: 0), sandboxId: "b")

        wakeups.wake(sandboxId: "a")
        wakeups.wake(sandboxId: "unknown")

        var op = UInt32(SR_OP_WAKE)
        #expect(pending(keeper) == withUnsafeBytes(of: &op) { Array($0) })
        #expect(pending(keeper).isEmpty)
        #expect(pending(otherKeeper).isEmpty)
    }

    /// Once removed, a sandbox's descriptor number may be reused by anything, such as another
    /// sandbox's keeper socket: a wake-up must never be sent there.
    @Test func noWakeReachesADescriptorNumberAfterItsRemoval() throws {
        let (bridge, keeper) = try socketPair()
        let (reuser, reuserPeer) = try socketPair()
        defer { [keeper, reuser, reuserPeer, bridge].forEach { _ = Glibc.close($0) } }
        let wakeups = KeeperWakeups()
        wakeups.add(KeeperHandle(socket: bridge, pid: 0), sandboxId: "a")
        wakeups.remove(sandboxId: "a")
        try #require(dup2(reuser, bridge) == bridge)  // the old number now reaches another socket

        wakeups.wake(sandboxId: "a")

        #expect(pending(reuserPeer).isEmpty)
        #expect(pending(keeper).isEmpty)
    }

    @Test func arrivalHooksRunAsTheRequestIsReceivedBeforeItsHandler() async throws {
        let log = Log()
        var table = MethodTable()
        table.register(CommandsRun.self) { params, _ in
            log.add("run \(params.sandboxId ?? "-")")
            return .started(pid: 1)
        }
        table.register(CommandsKill.self) { _, _ in
            log.add("kill")
            return Killed(killed: false)
        }
        table.onArrival(of: CommandsRun.self) { log.add("arrived \($0)") }
        let dispatcher = Dispatcher(methods: table, outbox: Outbox(), logger: Logger(level: .error), maxLineBytes: 1 << 20)

        dispatcher.receive(.line(Array(#"{"jsonrpc":"2.0","id":1,"method":"commands.run","params":{"sandboxId":"s1","cmd":"true"}}"#.utf8)))
        #expect(log.all.first == "arrived s1")  // on receipt, before the handler's task can run
        dispatcher.receive(.line(Array(#"[{"jsonrpc":"2.0","id":2,"method":"commands.run","params":{"cmd":"true"}},{"jsonrpc":"2.0","id":3,"method":"commands.kill","params":{"pid":7}}]"#.utf8)))

        for _ in 0..<200 where log.all.count < 5 { try await Task.sleep(for: .milliseconds(5)) }
        let entries = log.all
        #expect(entries.sorted() == ["arrived default", "arrived s1", "kill", "run -", "run s1"])
        #expect(entries.firstIndex(of: "arrived s1")! < entries.firstIndex(of: "run s1")!)
        #expect(entries.firstIndex(of: "arrived default")! < entries.firstIndex(of: "run -")!)
    }
}
