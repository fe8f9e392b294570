import CSandboxShims
import Glibc
import Synchronization

/// What the reactor thread drives: I/O readiness and timers. Runs on the reactor thread only.
protocol ReactorDelegate: AnyObject, Sendable {
    /// Milliseconds until the next timer is due (-1: none).
    func reactorNextTimeout() -> Int32
    func reactorHandle(token: UInt64, events: UInt32)
    func reactorFireTimers()
}

/// One OS thread with an epoll loop. It is the serial executor of the supervisor actor, so the
/// supervisor's state is touched only here and blocking calls never reach Swift's pool, and a
/// task executor for requests that only drive processes: such a request starts a process and
/// is answered when it exits without leaving this thread.
final class Reactor: SerialExecutor, TaskExecutor, @unchecked Sendable {
    // @unchecked: `epoll` and `wakeFD` never change after init, `jobs` and `threadID` are
    // synchronized, and `delegate` is written once in `start` before the thread exists.
    private let epoll: Int32
    private let wakeFD: Int32
    private let jobs = Mutex<[UnownedJob]>([])
    private let threadID = Atomic<UInt>(0)
    private nonisolated(unsafe) var delegate: (any ReactorDelegate)?
    /// Descriptors watched for others than the delegate (stdin), by token. Added before the
    /// thread starts, removed on it.
    private nonisolated(unsafe) var sources: [UInt64: (UInt32) -> Void] = [:]

    static let wakeToken: UInt64 = .max
    /// Tokens of `sources` have this bit; the delegate's tokens are descriptors, below it.
    private static let sourceBit: UInt64 = 1 << 32
    static let jobsPerTurn = 256

    init() throws(SystemError) {
        epoll = try syscall("epoll_create1") { sr_epoll_create() }
        wakeFD = try syscall("eventfd") { sr_eventfd() }
        try syscall("epoll_ctl") { sr_epoll_ctl(epoll, Int32(SR_EPOLL_ADD), wakeFD, UInt32(SR_EPOLL_IN), Self.wakeToken) }
    }

    func start(delegate: any ReactorDelegate) {
        self.delegate = delegate
        startThread(name: "reactor") { [self] in
            threadID.store(UInt(pthread_self()), ordering: .releasing)
            loop()
        }
    }

    var isOnReactorThread: Bool { threadID.load(ordering: .acquiring) == UInt(pthread_self()) }

    // MARK: SerialExecutor, TaskExecutor

    /// Jobs from other threads wake the loop; the loop's own run before it waits again.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let first = jobs.withLock { jobs in
            jobs.append(job)
            return jobs.count == 1
        }
        if first && !isOnReactorThread { wake() }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    func checkIsolated() {
        precondition(isOnReactorThread, "not on the reactor thread")
    }

    // MARK: Interest

    func add(fd: Int32, events: UInt32, token: UInt64) throws(SystemError) {
        try syscall("epoll_ctl(add)") { sr_epoll_ctl(epoll, Int32(SR_EPOLL_ADD), fd, events, token) }
    }

    func modify(fd: Int32, events: UInt32, token: UInt64) {
        _ = sr_epoll_ctl(epoll, Int32(SR_EPOLL_MOD), fd, events, token)
    }

    func remove(fd: Int32) {
        _ = sr_epoll_ctl(epoll, Int32(SR_EPOLL_DEL), fd, 0, 0)
    }

    /// Calls `handler` on the reactor thread whenever `fd` is ready for `events`. Only before
    /// `start`; fails (EPERM) for a descriptor epoll cannot watch, such as a regular file.
    func watch(fd: Int32, events: UInt32, _ handler: @escaping (UInt32) -> Void) throws(SystemError) {
        precondition(delegate == nil, "sources are added before the reactor starts")
        try add(fd: fd, events: events, token: Self.sourceToken(fd))
        sources[Self.sourceToken(fd)] = handler
    }

    /// Stops watching a source; on the reactor thread.
    func unwatch(fd: Int32) {
        remove(fd: fd)
        sources[Self.sourceToken(fd)] = nil
    }

    /// Stops reporting a source's readiness until `resume` (from any thread); its handler stays.
    func pause(fd: Int32) { remove(fd: fd) }

    func resume(fd: Int32) {
        _ = sr_epoll_ctl(epoll, Int32(SR_EPOLL_ADD), fd, UInt32(SR_EPOLL_IN), Self.sourceToken(fd))
    }

    private static func sourceToken(_ fd: Int32) -> UInt64 { sourceBit | UInt64(fd) }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    private func loop() {
        let capacity = 256
        var tokens = [UInt64](repeating: 0, count: capacity)
        var events = [UInt32](repeating: 0, count: capacity)
        // Every job runs as isolated to the supervisor's executor. That is sound because this
        // thread is its only one: whatever a job runs, nothing else runs meanwhile. A task that
        // prefers this executor then enters the supervisor actor without being queued again
        // (leaving it is a job: the runtime sees two executors).
        let serialExecutor = asUnownedSerialExecutor()
        let taskExecutor = asUnownedTaskExecutor()
        while true {
            let jobsWaiting = jobs.withLock { !$0.isEmpty }
            let timeout = jobsWaiting ? 0 : delegate!.reactorNextTimeout()
            let count = sr_epoll_wait(epoll, &tokens, &events, Int32(capacity), timeout)
            if count > 0 {
                for i in 0..<Int(count) {
                    if tokens[i] == Self.wakeToken {
                        var value: UInt64 = 0
                        _ = read(wakeFD, &value, 8)
                    } else if tokens[i] & Self.sourceBit != 0 {
                        sources[tokens[i]]?(events[i])
                    } else {
                        delegate!.reactorHandle(token: tokens[i], events: events[i])
                    }
                }
            }
            delegate!.reactorFireTimers()
            // Jobs until none is left (a request hops between actors here, each hop a job), but
            // at most `jobsPerTurn`, so that a burst of requests does not starve I/O.
            var ran = 0
            while ran < Self.jobsPerTurn {
                let batch = jobs.withLock { jobs -> [UnownedJob] in
                    defer { jobs.removeAll(keepingCapacity: true) }
                    return jobs
                }
                if batch.isEmpty { break }
                for job in batch { job.runSynchronously(isolatedTo: serialExecutor, taskExecutor: taskExecutor) }
                ran += batch.count
            }
        }
    }
}

/// Deadlines on the reactor: a binary heap of (deadline, id); cancelled ids are skipped lazily.
struct TimerQueue<Action> {
    private var heap: [(deadline: UInt64, id: Int)] = []
    private var actions: [Int: Action] = [:]
    private var nextID = 1

    mutating func schedule(after nanos: UInt64, _ action: Action) -> Int {
        let id = nextID
        nextID += 1
        actions[id] = action
        heap.append((Clock.monotonicNanos() &+ nanos, id))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if heap[parent].deadline <= heap[child].deadline { break }
            heap.swapAt(parent, child)
            child = parent
        }
        return id
    }

    mutating func cancel(_ id: Int) { actions[id] = nil }

    /// Milliseconds until the earliest live deadline, or -1.
    mutating func millisecondsUntilNext() -> Int32 {
        while let top = heap.first, actions[top.id] == nil { popTop() }
        guard let top = heap.first else { return -1 }
        let now = Clock.monotonicNanos()
        if top.deadline <= now { return 0 }
        return Int32(min((top.deadline - now + 999_999) / 1_000_000, 60_000))
    }

    /// Removes and returns the actions that are due.
    mutating func popDue() -> [Action] {
        let now = Clock.monotonicNanos()
        var due: [Action] = []
        while let top = heap.first, top.deadline <= now {
            popTop()
            if let action = actions.removeValue(forKey: top.id) { due.append(action) }
        }
        return due
    }

    private mutating func popTop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].deadline < heap[smallest].deadline { smallest = left }
            if right < heap.count && heap[right].deadline < heap[smallest].deadline { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
