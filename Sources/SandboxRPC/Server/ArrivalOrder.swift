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

    private struct State {
        var lanes: [String: [Waiting]] = [:]
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
            state.lanes[lane, default: []].append(Waiting(serial: state.nextSerial))
            return state.nextSerial
        }
        return Ticket(lane: lane, serial: serial, order: self)
    }

    private func wait(_ ticket: Ticket, _ continuation: CheckedContinuation<Bool, Never>) {
        let resumeNow: Bool? = state.withLock { state in
            guard let queue = state.lanes[ticket.lane], let index = queue.firstIndex(where: { $0.serial == ticket.serial }) else {
                return false  // withdrawn by a cancellation that came first
            }
            if index == 0 { return true }
            state.lanes[ticket.lane]![index].continuation = continuation
            return nil
        }
        if let resumeNow { continuation.resume(returning: resumeNow) }
    }

    /// A cancelled request gives up its place; if it was waiting, it is resumed as not admitted.
    private func withdraw(_ ticket: Ticket) {
        let (withdrawn, next) = remove(ticket, unlessFirst: true)
        withdrawn?.resume(returning: false)
        next?.resume(returning: true)
    }

    private func release(_ ticket: Ticket) {
        let (_, next) = remove(ticket, unlessFirst: false)
        next?.resume(returning: true)
    }

    /// Removes the ticket's entry; returns its waiting continuation and, when the head of the
    /// lane changed, the new head's. `unlessFirst`: the head is running, leave it to `release`.
    private func remove(_ ticket: Ticket, unlessFirst: Bool) -> (withdrawn: CheckedContinuation<Bool, Never>?, next: CheckedContinuation<Bool, Never>?) {
        state.withLock { state in
            guard var queue = state.lanes[ticket.lane], let index = queue.firstIndex(where: { $0.serial == ticket.serial }) else {
                return (nil, nil)
            }
            if index == 0 && unlessFirst { return (nil, nil) }
            let removed = queue.remove(at: index)
            var next: CheckedContinuation<Bool, Never>?
            if index == 0, !queue.isEmpty {
                next = queue[0].continuation
                queue[0].continuation = nil
            }
            state.lanes[ticket.lane] = queue.isEmpty ? nil : queue
            return (removed.continuation, next)
        }
    }
}
