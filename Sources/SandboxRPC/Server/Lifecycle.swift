import CSandboxShims
import Glibc
import Synchronization

/// How the bridge ends: `shutdown`, end of input (after a grace period for requests in
/// flight), SIGTERM/SIGINT/SIGHUP, or a client that stopped reading (EPIPE). Every way kills
/// every sandbox, flushes stdout and exits 0.
final class Lifecycle: Sendable {
    private let terminating = Atomic<Bool>(false)
    /// Set by whichever of the exit paths (done, or the watchdog) gets there first.
    private let exiting = Atomic<Bool>(false)
    private let outbox: Outbox
    private let logger: Logger
    private let cleanup: @Sendable () async -> Void
    /// The very last step, once stdout is flushed (an agent stopping its container).
    private let lastly: @Sendable () -> Void

    init(outbox: Outbox, logger: Logger, cleanup: @escaping @Sendable () async -> Void, lastly: @escaping @Sendable () -> Void = {}) {
        self.outbox = outbox
        self.logger = logger
        self.cleanup = cleanup
        self.lastly = lastly
    }

    /// Kills everything and exits 0. Only the first call does anything.
    func terminate(reason: String, flush: Bool = true) async {
        guard !terminating.exchange(true, ordering: .acquiringAndReleasing) else { return }
        logger.info("exiting: \(reason)")
        let done = Atomic<Bool>(false)
        // Whatever happens, leave within a few seconds: the keepers kill what is left anyway
        // once our end of their sockets closes.
        startThread(name: "exit-watchdog") { [self] in
            var waited = 0
            while !done.load(ordering: .acquiring) && waited < 5000 {
                usleep(10_000)
                waited += 10
            }
            if !done.load(ordering: .acquiring) { leave() }
        }
        await cleanup()
        if flush {
            outbox.close()
            var waited = 0
            while !outbox.isIdle && waited < 2000 {
                try? await Task.sleep(for: .milliseconds(1))
                waited += 1
            }
        }
        done.store(true, ordering: .releasing)
        leave()
    }

    /// Runs `lastly` and exits, on one thread only: the other waits here for the process to end.
    private func leave() -> Never {
        if !exiting.exchange(true, ordering: .acquiringAndReleasing) {
            lastly()
            exit(0)
        }
        while true { pause() }
    }

    /// Stdin reached its end: give requests in flight `grace` seconds to answer, then exit.
    func inputEnded(dispatcher: Dispatcher, grace: Double) async {
        let deadline = Clock.monotonicNanos() + Clock.nanos(fromSeconds: grace)
        while dispatcher.inFlightCount > 0 && Clock.monotonicNanos() < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        await terminate(reason: "end of input")
    }

    /// Turns SIGINT, SIGTERM and SIGHUP (blocked in every thread) into `terminate`.
    func watchSignals() {
        startThread(name: "signals") { [self] in
            let signal = sr_wait_termination_signal()
            Task { await self.terminate(reason: "signal \(signal)") }
        }
    }
}
