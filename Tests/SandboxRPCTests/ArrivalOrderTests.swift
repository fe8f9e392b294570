@testable import SandboxRPC
import Synchronization
import Testing

@Suite struct ArrivalOrderTests {
    /// Appends in the order the tasks actually ran their turn.
    final class Log: Sendable {
        let entries = Mutex<[String]>([])
        func add(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }
    }

    @Test func aLaneRunsInArrivalOrderAndOtherLanesDoNotWait() async throws {
        let order = ArrivalOrder()
        let log = Log()
        let first = order.enter(lane: "a")
        let second = order.enter(lane: "a")
        let elsewhere = order.enter(lane: "b")
        let waiting = Task {
            try await second.turn()
            log.add("second")
            second.release()
        }
        try await elsewhere.turn()  // lane b does not wait for lane a
        log.add("elsewhere")
        try await first.turn()
        try await Task.sleep(for: .milliseconds(20))
        log.add("first")
        first.release()
        try await waiting.value
        #expect(log.all == ["elsewhere", "first", "second"])
    }

    @Test func releaseIsIdempotentAndHasTakenEffectReleasesTheCurrentTicket() async throws {
        let order = ArrivalOrder()
        let first = order.enter(lane: "a")
        let second = order.enter(lane: "a")
        try await first.turn()
        ArrivalOrder.$current.withValue(first) { ArrivalOrder.hasTakenEffect() }
        first.release()
        try await second.turn()  // would hang if the first ticket still held the lane
        second.release()
        let third = order.enter(lane: "a")
        try await third.turn()
        third.release()
    }

    @Test func aCancelledWaiterGivesUpItsPlaceWithoutTakingEffect() async throws {
        let order = ArrivalOrder()
        let first = order.enter(lane: "a")
        let cancelled = order.enter(lane: "a")
        let last = order.enter(lane: "a")
        try await first.turn()
        let waiter = Task { try await cancelled.turn() }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        first.release()
        try await last.turn()  // neither the cancelled ticket nor the released one holds it back
        last.release()
    }

    @Test func aThousandRequestsOnOneLaneRunInOrderAcrossCompactions() async throws {
        let order = ArrivalOrder()
        let log = Log()
        let tickets = (0..<1000).map { _ in order.enter(lane: "busy") }
        let cancelled = order.enter(lane: "busy")
        let last = order.enter(lane: "busy")
        let waiter = Task { try await cancelled.turn() }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }  // 1000 are still ahead of it
        await withThrowingTaskGroup(of: Void.self) { group in
            for (index, ticket) in tickets.enumerated().reversed() {  // started in reverse: order comes from the lane
                group.addTask {
                    try await ticket.turn()
                    log.add(String(index))
                    ticket.release()
                }
            }
        }
        try await last.turn()
        last.release()
        #expect(log.all == (0..<1000).map(String.init))
    }
}
