import Synchronization

/// Requests on the same sandbox take effect in the order they arrived, although they are
/// handled concurrently: `sendStdin` chunks sent back to back reach the process in order, a
/// request sent after `sandbox.kill` never lands on the killed sandbox, a `files.read` sees
/// the `files.write` before it.
///
/// Each sandbox is a lane. A request takes a ticket in its lane when it is read (on the reader
/// thread, so in arrival order) and starts once every earlier ticket of the lane has been
/// released. A ticket is released when its request finishes, or earlier, when the operation
/// has taken effect and is only waiting on the outside world (a process to exit, a full stdin
/// pipe, a reaped child, an agent's answer): see `ArrivalOrder.hasTakenEffect()`.
final class ArrivalOrder: Sendable {
    private struct Waiting {
        let serial: UInt64
        var continuation: CheckedContinuation<Bool, Never>?
    }

    /// The tickets of one sandbox not yet released, in arrival order, from `head` on.
    /// Releasing the first is O(1), so thousands of pipelined requests stay linear.
    private struct Lane {
        private var entries: [Waiting] = []
        private var head = 0

        var isEmpty: Bool { head == entries.count }

        mutating func append(_ serial: UInt64) { entries.append(Waiting(serial: serial)) }

        /// The position of `serial` from the front (0: its turn): the first is the one being
        /// released, else it is searched from the back, where a ticket that just arrived is.
        func position(of serial: UInt64) -> Int? {
            if !isEmpty && entries[head].serial == serial { return 0 }
            return entries[head...].lastIndex(where: { $0.serial == serial }).map { $0 - head }
        }

        mutating func setContinuation(at position: Int, _ continuation: CheckedContinuation<Bool, Never>) {
            entries[head + position].continuation = continuation
        }

        /// Removes the entry; returns its continuation and, when it was the first, the next
        /// entry's (taken: it is resumed exactly once).
        mutating func remove(at position: Int) -> (removed: CheckedContinuation<Bool, Never>?, next: CheckedContinuation<Bool, Never>?) {
            let removed = entries[head + position].continuation
            guard position == 0 else {
                entries.remove(at: head + position)
                return (removed, nil)
            }
            head += 1
            if head > 64 && head * 2 > entries.count {
                entries.removeFirst(head)
                head = 0
            }
            guard !isEmpty else { return (removed, nil) }
            defer { entries[head].continuation = nil }
            return (removed, entries[head].continuation)
        }
    }

    private struct State {
        var lanes: [String: Lane] = [:]
        var nextSerial: UInt64 = 0
    }

    final class Ticket: Sendable {
        fileprivate let lane: String
        fileprivate let serial: UInt64
        private let order: ArrivalOrder

        fileprivate init(lane: String, serial: UInt64, order: ArrivalOrder) {
            self.lane = lane
            self.serial = serial
            self.order = order
        }

        /// Returns once every earlier request of the lane has taken effect; throws if the
        /// request is cancelled before that (it then never takes effect).
        func turn() async throws(CancellationError) {
            if order.isFirst(self) { return }  // nothing earlier in the lane: no suspension
            let admitted = await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in order.wait(self, continuation) }
            } onCancel: {
                order.withdraw(self)
            }
            if !admitted { throw CancellationError() }
        }

        /// Lets the next request of the lane start. Idempotent.
        func release() { order.release(self) }
    }

    /// The ticket of the request this task serves, if it is ordered.
    @TaskLocal static var current: Ticket?

    /// Says that the current request's operation has taken effect: later requests on its
    /// sandbox may start although this one has not finished.
    static func hasTakenEffect() { current?.release() }

    private let state = Mutex(State())

    func enter(lane: String) -> Ticket {
        let serial = state.withLock { state in
            state.nextSerial += 1
            state.lanes[lane, default: Lane()].append(state.nextSerial)
            return state.nextSerial
        }
        return Ticket(lane: lane, serial: serial, order: self)
    }

    private func isFirst(_ ticket: Ticket) -> Bool {
        state.withLock { $0.lanes[ticket.lane]?.position(of: ticket.serial) == 0 }
    }

    private func wait(_ ticket: Ticket, _ continuation: CheckedContinuation<Bool, Never>) {
        let resumeNow: Bool? = state.withLock { state in
            guard let position = state.lanes[ticket.lane]?.position(of: ticket.serial) else {
                return false  // withdrawn by a cancellation that came first
            }
            if position == 0 { return true }
            state.lanes[ticket.lane]!.setContinuation(at: position, continuation)
            return nil
        }
        if let resumeNow { continuation.resume(returning: resumeNow) }
    }

    /// A cancelled request gives up its place; if it was waiting, it is resumed as not admitted.
    private func withdraw(_ ticket: Ticket) {
        let (waiting, next) = remove(ticket, unlessFirst: true)
        waiting?.resume(returning: false)
        next?.resume(returning: true)
    }

    private func release(_ ticket: Ticket) {
        let (waiting, next) = remove(ticket, unlessFirst: false)
        waiting?.resume(returning: false)  // released before its turn: it never takes effect
        next?.resume(returning: true)
    }

    /// Removes the ticket's entry; returns its waiting continuation and, when the head of the
    /// lane changed, the new head's. `unlessFirst`: the head is running, leave it to `release`.
    private func remove(_ ticket: Ticket, unlessFirst: Bool) -> (waiting: CheckedContinuation<Bool, Never>?, next: CheckedContinuation<Bool, Never>?) {
        state.withLock { state in
            guard let position = state.lanes[ticket.lane]?.position(of: ticket.serial),
                  !(position == 0 && unlessFirst) else { return (nil, nil) }
            let result = state.lanes[ticket.lane]!.remove(at: position)  // in place: no copy of the lane
            if state.lanes[ticket.lane]!.isEmpty { state.lanes[ticket.lane] = nil }
            return (result.removed, result.next)
        }
    }
}
