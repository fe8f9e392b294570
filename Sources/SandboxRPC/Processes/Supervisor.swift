import CSandboxShims
import Glibc
import Protocol
import Synchronization

/// Owns every local process: spawning through each sandbox's keeper, the process table, pipes,
/// output retention and streaming, timeouts, group kills and reaping. An actor whose executor is
/// the reactor thread, so its state has one owner and its I/O never blocks Swift's pool.
actor Supervisor: ReactorDelegate {
    nonisolated let reactor: Reactor
    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }

    let outbox: Outbox
    let logger: Logger
    static let rememberedExits = 1024

    /// The processes of one sandbox and the keeper that started them.
    final class SandboxState {
        let id: String
        let keeper: KeeperHandle
        let encoder: OutputNotificationEncoder
        var processes: [Int: ManagedProcess] = [:]
        var exitedOrder: [Int] = []
        var pendingSpawns: [UInt32: PendingSpawn] = [:]
        var killedAllWaiters: [CheckedContinuation<Void, Never>] = []
        var killing = false
        /// The keeper died: nothing more can start here, and there is nobody to ask to kill.
        var keeperGone = false

        init(id: String, keeper: KeeperHandle) {
            self.id = id
            self.keeper = keeper
            self.encoder = OutputNotificationEncoder(sandboxId: id)
        }
    }

    struct PendingSpawn {
        let options: ProcessOptions
        /// Our ends and the child's: those are closed once the child is known to have its copies.
        let stdio: Stdio
        let arm: Bool
        let continuation: CheckedContinuation<Int, any Error>
    }

    enum FDOwner {
        case keeper(sandboxId: String)
        case output(sandboxId: String, pid: Int, stream: OutputStream)
        case stdin(sandboxId: String, pid: Int)
    }

    enum TimerAction {
        case processTimeout(sandboxId: String, pid: Int)
        case waitTimeout(sandboxId: String, pid: Int, waiter: Int)
    }

    var sandboxes: [String: SandboxState] = [:]
    var owners: [Int32: FDOwner] = [:]
    var timers = TimerQueue<TimerAction>()
    var nextToken: UInt32 = 1
    /// Set while the outbox is congested: output pipes are out of epoll until it drains.
    var paused = false
    var deferredFinalizations: [(sandboxId: String, pid: Int)] = []
    /// Told when a sandbox's keeper died (the registry then forgets the sandbox).
    var onKeeperLost: (@Sendable (String) -> Void)?

    func setKeeperLostHandler(_ handler: @escaping @Sendable (String) -> Void) { onKeeperLost = handler }
    /// Foreground runs waiting for their result, by waiter: how a cancellation finds its process.
    var runWaiters: [Int: (sandboxId: String, pid: Int)] = [:]
    let readBuffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 256 * 1024)
    /// Where output notifications are encoded before they are copied into the outbox.
    var scratch = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 256 * 1024 * UTF8Sanitizer.maxExpansion + 4096)
    let devNull: Int32
    var pipeReserve = OutputPipeReserve()
    private static let waiterIDs = Atomic<Int>(1)

    init(reactor: Reactor, outbox: Outbox, logger: Logger) throws(SystemError) {
        self.reactor = reactor
        self.outbox = outbox
        self.logger = logger
        self.devNull = try syscall("open(/dev/null)") { open("/dev/null", O_RDONLY | O_CLOEXEC) }
    }

    /// Wires the reactor to this supervisor and the outbox's drain signal to `resumeReading`.
    nonisolated func start() {
        reactor.start(delegate: self)
        outbox.setDrainedHandler { [self] in
            Task { await self.resumeReading() }
        }
    }

    // MARK: Sandboxes

    func adopt(sandboxId: String, keeper: KeeperHandle) throws(RPCError) {
        guard sandboxes[sandboxId] == nil else {
            throw .internalError(reason: "sandbox \(sandboxId) is still being killed")
        }
        do {
            try reactor.add(fd: keeper.socket, events: UInt32(SR_EPOLL_IN), token: UInt64(keeper.socket))
        } catch {
            throw .internalError(reason: "\(error)")
        }
        owners[keeper.socket] = .keeper(sandboxId: sandboxId)
        sandboxes[sandboxId] = SandboxState(id: sandboxId, keeper: keeper)
        pipeReserve.refill()
    }

    func state(_ sandboxId: String) throws(RPCError) -> SandboxState {
        guard let state = sandboxes[sandboxId], !state.killing, !state.keeperGone else {
            throw .sandboxKilled(sandboxId: sandboxId)
        }
        return state
    }

    func process(_ sandboxId: String, _ pid: Int) throws(RPCError) -> ManagedProcess {
        guard pid > 0 else { throw .invalidParams(field: "pid", reason: "must be a positive integer") }
        guard let process = try state(sandboxId).processes[pid] else { throw .processNotFound(pid: pid) }
        return process
    }

    func runningCount(sandboxId: String) -> Int {
        sandboxes[sandboxId]?.processes.values.reduce(0) { $0 + ($1.isRunning ? 1 : 0) } ?? 0
    }

    /// Kills every process of the sandbox and its descendants, reports their exits, and forgets it.
    func killSandbox(_ sandboxId: String) async {
        guard let state = sandboxes[sandboxId], !state.killing else { return }
        state.killing = true
        for process in state.processes.values where process.isRunning {
            process.ending = .sandboxKilled
        }
        if !state.keeperGone {
            do throws(SystemError) {
                try send(to: state) { () throws(SystemError) in try state.keeper.requestKillAll() }
            } catch {
                logger.error("cannot ask the keeper of sandbox \(sandboxId) to kill: \(error)")
                if !state.keeperGone { keeperLost(state) }  // unreachable: as good as gone
            }
            if !state.keeperGone { await withCheckedContinuation { state.killedAllWaiters.append($0) } }
        }
        for process in state.processes.values where !process.isFinished {
            if process.exitStatus == nil {
                process.exitStatus = 9  // killed by SIGKILL, reaped by the keeper
            }
            process.armed = true
            finalize(process, draining: true)
        }
        for process in state.processes.values {
            closeChannels(process)
        }
        reactor.remove(fd: state.keeper.socket)
        owners[state.keeper.socket] = nil
        state.keeper.close()
        sandboxes[sandboxId] = nil
    }

    // MARK: Spawning

    /// Sends to the sandbox's keeper with `attempt`, which reports false while the socket is
    /// full. The keeper may be blocked sending us events meanwhile: its events are read whenever
    /// the socket is full, so that neither waits on the other for ever.
    private func send(to state: SandboxState, _ attempt: () throws(SystemError) -> Bool) throws(SystemError) {
        while try !attempt() {
            if sr_poll_one(state.keeper.socket, Int16(POLLIN | POLLOUT), 1000) & Int32(POLLIN) != 0 {
                keeperReadable(state.id)
            }
            if state.keeperGone { throw SystemError(call: "sendmsg(keeper)", errno: EPIPE) }
        }
    }

    /// Runs `spawn` on the reactor thread. A child's parent-death signal fires when the *thread*
    /// that started it ends, and pool threads come and go; this one lives as long as the bridge.
    func spawnOnReactorThread<T: Sendable>(_ spawn: @Sendable () throws(SystemError) -> T) throws(SystemError) -> T {
        try spawn()
    }

    /// Starts a process in the sandbox; `arm: false` leaves its pipes unread until `arm` is called.
    func start(sandboxId: String, request: SpawnRequest, options: ProcessOptions, arm: Bool) async throws -> Int {
        let state = try state(sandboxId)
        let stdio = try options.isPty ? Stdio.terminal(size: options.terminalSize) : Stdio.pipes(withStdin: options.withStdin, devNull: devNull, reserve: &pipeReserve)
        let token = nextToken
        nextToken &+= 1
        do throws(SystemError) {
            try send(to: state) { () throws(SystemError) in
                try state.keeper.spawn(token: token, request: request, stdio: stdio.childEnds)
            }
        } catch {
            stdio.closeAll()
            if error.errno == EMSGSIZE {
                throw RPCError.limitExceeded(reason: "the command and its environment are too large to start (at most 1 MiB)")
            }
            if state.keeperGone { throw RPCError.sandboxKilled(sandboxId: sandboxId) }
            throw RPCError.internalError(reason: "cannot reach the sandbox supervisor: \(error)")
        }
        ArrivalOrder.hasTakenEffect()  // the keeper has the request; the pid comes back in order
        return try await withCheckedThrowingContinuation { continuation in
            state.pendingSpawns[token] = PendingSpawn(options: options, stdio: stdio, arm: arm, continuation: continuation)
        }
    }

    func resize(sandboxId: String, pid: Int, cols: Int, rows: Int) throws(RPCError) {
        let process = try process(sandboxId, pid)
        guard process.options.isPty else { throw .unsupported(reason: "process \(pid) has no terminal") }
        guard process.isRunning, process.stdout.isOpen else { throw .processNotRunning(pid: pid) }
        let rc = sr_set_window_size(process.stdout.fd, UInt16(rows), UInt16(cols))
        if rc != 0 { throw .internalError(reason: "resize: \(String(cString: strerror(rc)))") }
    }

    private func spawned(_ state: SandboxState, token: UInt32, pid: Int) {
        guard let pending = state.pendingSpawns.removeValue(forKey: token) else { return }
        // Closed now rather than when the request went out, which is the hurried moment; until
        // here our copies keep the pipes from ending, and no exit can be reported before this.
        pending.stdio.closeChildEnds()
        let process = ManagedProcess(
            pid: pid, sandboxId: state.id, options: pending.options,
            stdoutFD: pending.stdio.stdout, stderrFD: pending.stdio.stderr, stdinFD: pending.stdio.stdin)
        if let previous = state.processes[pid] {
            closeChannels(previous)  // a remembered exit whose pid came round again
            state.exitedOrder.removeAll { $0 == pid }
        }
        state.processes[pid] = process
        owners[process.stdout.fd] = .output(sandboxId: state.id, pid: pid, stream: .stdout)
        if process.stderr.isOpen { owners[process.stderr.fd] = .output(sandboxId: state.id, pid: pid, stream: .stderr) }
        if let stdin = process.stdin { owners[stdin.fd] = .stdin(sandboxId: state.id, pid: pid) }
        if process.options.timeout > 0 {
            process.timeoutTimer = timers.schedule(
                after: Clock.nanos(fromSeconds: process.options.timeout),
                .processTimeout(sandboxId: state.id, pid: pid))
        }
        if pending.arm { arm(process) }
        pending.continuation.resume(returning: pid)
        pipeReserve.refill()  // while the process loads, for the next start
    }

    private func spawnFailed(_ state: SandboxState, token: UInt32, errno error: Int32) {
        guard let pending = state.pendingSpawns.removeValue(forKey: token) else { return }
        pending.stdio.closeAll()
        pending.continuation.resume(
            throwing: error == ESRCH
                ? RPCError.sandboxKilled(sandboxId: state.id)
                : RPCError(errno: error, action: "start a process"))
    }

    // MARK: Waiting

    /// The process's result once it has finished; `killOnCancel` kills it if the request is cancelled.
    nonisolated func result(sandboxId: String, pid: Int, timeout: Double?, killOnCancel: Bool) async throws -> CommandResult {
        let waiter = Self.waiterIDs.add(1, ordering: .relaxed).newValue
        return try await withTaskCancellationHandler {
            try await self.registerWaiter(sandboxId: sandboxId, pid: pid, waiter: waiter, timeout: timeout, killOnCancel: killOnCancel)
        } onCancel: {
            Task { await self.cancelWaiter(sandboxId: sandboxId, pid: pid, waiter: waiter, kill: killOnCancel) }
        }
    }

    /// Starts a foreground run and waits for its result in one visit to the reactor thread
    /// (no hop back to the pool between the spawn and the wait); cancelling kills it.
    nonisolated func run(sandboxId: String, request: SpawnRequest, options: ProcessOptions) async throws -> CommandResult {
        let waiter = Self.waiterIDs.add(1, ordering: .relaxed).newValue
        return try await withTaskCancellationHandler {
            try await self.startAndWait(sandboxId: sandboxId, request: request, options: options, waiter: waiter)
        } onCancel: {
            Task { await self.cancelRun(waiter: waiter) }
        }
    }

    private func startAndWait(sandboxId: String, request: SpawnRequest, options: ProcessOptions, waiter: Int) async throws -> CommandResult {
        let pid = try await start(sandboxId: sandboxId, request: request, options: options, arm: true)
        runWaiters[waiter] = (sandboxId, pid)
        defer { runWaiters[waiter] = nil }
        return try await registerWaiter(sandboxId: sandboxId, pid: pid, waiter: waiter, timeout: nil, killOnCancel: true)
    }

    /// A cancelled foreground run: if it is not waiting yet, `registerWaiter` sees the cancellation.
    private func cancelRun(waiter: Int) {
        guard let (sandboxId, pid) = runWaiters[waiter] else { return }
        cancelWaiter(sandboxId: sandboxId, pid: pid, waiter: waiter, kill: true)
    }

    private func registerWaiter(sandboxId: String, pid: Int, waiter: Int, timeout: Double?, killOnCancel: Bool) async throws -> CommandResult {
        ArrivalOrder.hasTakenEffect()
        let process = try process(sandboxId, pid)
        if process.isFinished { return try process.outcome() }
        if Task.isCancelled {
            if killOnCancel { signalGroup(process, SIGKILL) }
            throw RPCError.requestCancelled
        }
        return try await withCheckedThrowingContinuation { continuation in
            process.waiters[waiter] = continuation
            if let timeout, timeout > 0 {
                _ = timers.schedule(after: Clock.nanos(fromSeconds: timeout), .waitTimeout(sandboxId: sandboxId, pid: pid, waiter: waiter))
            }
        }
    }

    private func cancelWaiter(sandboxId: String, pid: Int, waiter: Int, kill: Bool) {
        guard let process = sandboxes[sandboxId]?.processes[pid],
              let continuation = process.waiters.removeValue(forKey: waiter) else { return }
        if kill && process.isRunning {
            // Answered when the exit has been reported, after the run's last notification.
            process.cancelledWaiters[waiter] = continuation
            signalGroup(process, SIGKILL)
        } else {
            continuation.resume(throwing: RPCError.requestCancelled)
        }
    }

    // MARK: Signals

    private func signalGroup(_ process: ManagedProcess, _ signal: Int32) {
        guard process.isRunning else { return }
        _ = Glibc.kill(-pid_t(process.pid), signal)
        _ = Glibc.kill(pid_t(process.pid), signal)
    }

    /// Signals the process group; with SIGKILL, returns only once the process has been reaped.
    func kill(sandboxId: String, pid: Int, signal: SignalName) async throws -> Bool {
        let process = try process(sandboxId, pid)
        guard process.isRunning else { return false }
        signalGroup(process, signal.number)
        ArrivalOrder.hasTakenEffect()
        if signal == .kill {
            await withCheckedContinuation { process.reapWaiters.append($0) }
        }
        return true
    }

    // MARK: Streaming control

    func list(sandboxId: String) throws(RPCError) -> [CommandsList.ProcessInfo] {
        try state(sandboxId).processes.values.filter(\.isRunning).sorted { $0.pid < $1.pid }.map(\.info)
    }

    /// Starts reading the process's pipes (and streaming, when it is on).
    func arm(sandboxId: String, pid: Int, streaming: Bool? = nil) {
        guard let process = sandboxes[sandboxId]?.processes[pid] else { return }
        if let streaming { process.streaming = streaming }
        if process.isFinished {
            if process.streaming { sendExitNotification(process) }
            return
        }
        arm(process)
    }

    func arm(_ process: ManagedProcess) {
        process.armed = true
        register(process, .stdout)
        register(process, .stderr)
        if process.exitStatus != nil { tryFinalize(process) }
    }

    /// What was kept so far; the caller arms the process again once this has been answered.
    func connect(sandboxId: String, pid: Int) throws(RPCError) -> CommandsConnect.Result {
        let process = try process(sandboxId, pid)
        process.armed = false
        unregister(process, .stdout)
        unregister(process, .stderr)
        var texts: [String] = []
        for stream in [OutputStream.stdout, .stderr] {
            var bytes = process[stream].retention.bytes
            process[stream].carry = []
            if process.options.encoding == .utf8 && !process.isFinished {
                let keep = UTF8Sanitizer.completePrefixLength(bytes)
                process[stream].carry = Array(bytes[keep...])
                bytes.removeSubrange(keep...)
            }
            texts.append(process.text(bytes))
        }
        return CommandsConnect.Result(pid: pid, stdout: texts[0], stderr: texts[1])
    }

    func disconnect(sandboxId: String, pid: Int) throws(RPCError) {
        try process(sandboxId, pid).streaming = false
    }

    // MARK: Stdin

    func writeStdin(sandboxId: String, pid: Int, bytes: [UInt8], terminalOnly: Bool = false) async throws {
        let process = try process(sandboxId, pid)
        if terminalOnly && !process.options.isPty { throw RPCError.unsupported(reason: "process \(pid) has no terminal") }
        guard process.isRunning else { throw RPCError.processNotRunning(pid: pid) }
        guard let stdin = process.stdin, !stdin.closeRequested else { throw RPCError.stdinClosed(pid: pid) }
        if bytes.isEmpty { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.stdin!.pending.append(.init(bytes: bytes, done: continuation))
            flushStdin(process)
            ArrivalOrder.hasTakenEffect()  // queued behind earlier chunks; a full pipe waits here
        }
    }

    func closeStdin(sandboxId: String, pid: Int) throws(RPCError) {
        let process = try process(sandboxId, pid)
        guard process.stdin != nil else {
            if process.options.withStdin { return }  // already closed: closing is idempotent
            throw .stdinClosed(pid: pid)
        }
        process.stdin!.closeRequested = true
        flushStdin(process)
    }

    func flushStdin(_ process: ManagedProcess) {
        guard var stdin = process.stdin else { return }
        while !stdin.pending.isEmpty {
            let n = stdin.pending[0].bytes.withUnsafeBytes { bytes in
                write(stdin.fd, bytes.baseAddress! + stdin.pending[0].offset, bytes.count - stdin.pending[0].offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { break }
                let error: RPCError = process.isRunning ? .stdinClosed(pid: process.pid) : .processNotRunning(pid: process.pid)
                stdin.pending.forEach { $0.done.resume(throwing: error) }
                stdin.pending = []
                stdin.closeRequested = true
                break
            }
            stdin.pending[0].offset += n
            if stdin.pending[0].offset == stdin.pending[0].bytes.count {
                stdin.pending.removeFirst().done.resume()
            }
        }
        if stdin.pending.isEmpty && stdin.closeRequested {
            if stdin.registered { reactor.remove(fd: stdin.fd) }
            owners[stdin.fd] = nil
            closeDescriptor(stdin.fd)
            process.stdin = nil
            return
        }
        let wantsWritable = !stdin.pending.isEmpty
        if wantsWritable && !stdin.registered {
            try? reactor.add(fd: stdin.fd, events: UInt32(SR_EPOLL_OUT), token: UInt64(stdin.fd))
            stdin.registered = true
        } else if !wantsWritable && stdin.registered {
            reactor.remove(fd: stdin.fd)
            stdin.registered = false
        }
        process.stdin = stdin
    }

    // MARK: ReactorDelegate (called on the reactor thread)

    nonisolated func reactorNextTimeout() -> Int32 {
        assumeIsolated { $0.timers.millisecondsUntilNext() }
    }

    nonisolated func reactorHandle(token: UInt64, events: UInt32) {
        assumeIsolated { $0.handle(fd: Int32(truncatingIfNeeded: token), events: events) }
    }

    nonisolated func reactorFireTimers() {
        assumeIsolated { $0.fireTimers() }
    }

    private func handle(fd: Int32, events: UInt32) {
        switch owners[fd] {
        case .keeper(let sandboxId):
            keeperReadable(sandboxId)
        case .output(let sandboxId, let pid, let stream):
            guard let process = sandboxes[sandboxId]?.processes[pid] else {
                reactor.remove(fd: fd); owners[fd] = nil; closeDescriptor(fd); return
            }
            guard !paused else { return }  // level-triggered: read again once the outbox drained
            _ = readOnce(process, stream)  // even on a bare hang-up: only a read tells that nothing is left
            if outbox.isCongested { pauseReading() }
        case .stdin(let sandboxId, let pid):
            if let process = sandboxes[sandboxId]?.processes[pid] { flushStdin(process) }
        case nil:
            reactor.remove(fd: fd)
        }
    }

    func keeperReadable(_ sandboxId: String) {
        guard let state = sandboxes[sandboxId] else { return }
        while true {
            let event: KeeperHandle.Event?
            do {
                event = try state.keeper.receive()
            } catch {
                keeperLost(state)
                return
            }
            guard let event else { return }
            switch event {
            case .spawned(let token, let pid): spawned(state, token: token, pid: pid)
            case .spawnFailed(let token, let error): spawnFailed(state, token: token, errno: error)
            case .exited(let pid, let status): exited(state, pid: pid, status: status)
            case .killedAll:
                let waiters = state.killedAllWaiters
                state.killedAllWaiters = []
                waiters.forEach { $0.resume() }
            }
        }
    }

    /// The keeper died under us: its direct children died with it (PDEATHSIG); report them.
    private func keeperLost(_ state: SandboxState) {
        logger.error("the keeper of sandbox \(state.id) exited")
        state.keeperGone = true
        reactor.remove(fd: state.keeper.socket)
        owners[state.keeper.socket] = nil
        for (token, _) in state.pendingSpawns { spawnFailed(state, token: token, errno: ESRCH) }
        for process in state.processes.values where process.isRunning {
            process.ending = process.ending ?? .supervisorLost
            exited(state, pid: process.pid, status: 9)
        }
        let waiters = state.killedAllWaiters
        state.killedAllWaiters = []
        waiters.forEach { $0.resume() }
        if !state.killing { onKeeperLost?(state.id) }
    }

    private func exited(_ state: SandboxState, pid: Int, status: Int32) {
        guard let process = state.processes[pid], process.isRunning else { return }  // an orphan
        process.exitStatus = status
        if let timer = process.timeoutTimer { timers.cancel(timer) }
        let reapWaiters = process.reapWaiters
        process.reapWaiters = []
        reapWaiters.forEach { $0.resume() }
        tryFinalize(process)
    }

    private func fireTimers() {
        for action in timers.popDue() {
            switch action {
            case .processTimeout(let sandboxId, let pid):
                guard let process = sandboxes[sandboxId]?.processes[pid], process.isRunning else { continue }
                process.ending = .timeout
                signalGroup(process, SIGKILL)
            case .waitTimeout(let sandboxId, let pid, let waiter):
                guard let process = sandboxes[sandboxId]?.processes[pid],
                      let continuation = process.waiters.removeValue(forKey: waiter) else { continue }
                continuation.resume(throwing: RPCError.timeout(process.partialResult(message: "wait timed out; the process keeps running")))
            }
        }
    }
}
