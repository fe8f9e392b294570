import CSandboxShims
import Glibc
@testable import SandboxRPC
import Testing

@Suite struct KeeperHandleTests {
    /// A kill request on a full socket says so (the supervisor then reads the keeper's events
    /// and tries again) instead of being dropped, which left `sandbox.kill` waiting for ever.
    @Test func aKillRequestOnAFullSocketReportsItWasNotSent() throws {
        var fds: [Int32] = [-1, -1]
        try #require(sr_socketpair_seqpacket(&fds) == 0)
        let (bridge, keeper) = (fds[0], fds[1])
        defer { fds.forEach { _ = Glibc.close($0) } }
        var size: Int32 = 4096
        _ = setsockopt(bridge, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var filler = sr_event()  // what a keeper would ignore; it only fills the socket
        var queued = 0
        while send(bridge, &filler, MemoryLayout<sr_event>.size, Int32(MSG_DONTWAIT)) > 0 { queued += 1 }
        try #require(queued > 0)
        let handle = KeeperHandle(socket: bridge, pid: 0)

        #expect(try handle.requestKillAll() == false)

        var buffer = [UInt8](repeating: 0, count: 64)
        while recv(keeper, &buffer, buffer.count, Int32(MSG_DONTWAIT)) > 0 {}
        #expect(try handle.requestKillAll() == true)
        let n = recv(keeper, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        #expect(n == MemoryLayout<sr_spawn_header>.size && buffer[0] == UInt8(SR_OP_KILL_ALL))
    }
}
