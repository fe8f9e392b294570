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
/// supervisor's state is touched only here and blocking calls never reach Swift's pool; and
/// through `taskExecutor`, the task executor of requests that only drive processes: such a
/// request starts a process and is answered when it exits without leaving this thread.
final class Reactor: SerialExecutor, @unchecked Sendable {
    // @unchecked: `delegate` is written once in `start`, before the thread exists, and
    // `sources` is changed before that or on the thread.
    private let epoll: Int32
    private let queue: JobQueue
    private nonisolated(unsafe) var delegate: (any ReactorDelegate)?
    /// Descriptors watched for others than the delegate (stdin), by token. Added before the
    /// thread starts, removed on it.
    private nonisolated(unsafe) var sources: [UInt64: (UInt32) -> Void] = [:]
    /// This thread as the task executor of requests placed on the reactor.
    let taskExecutor: ReactorTaskExecutor

    static let wakeToken: UInt64 = .max
    /// Tokens of `sources` have this bit; the delegate's tokens are descriptors, below it.
    private static let sourceBit: UInt64 = 1 << 32
    static let jobsPerTurn = 256

    init() throws(SystemError) {
        epoll = try syscall("epoll_create1") { sr_epoll_create() }
        queue = try JobQueue()
        taskExecutor = ReactorTaskExecutor(queue: queue)
        try syscall("epoll_ctl") { sr_epoll_ctl(epoll, Int32(SR_EPOLL_ADD), queue.wakeFD, UInt32(SR_EPOLL_IN), Self.wakeToken) }
    }

    func start(delegate: any ReactorDelegate) {
        self.delegate = delegate
        startThread(name: "reactor") { [self] in
            queue.bindToCurrentThread()
            loop()
        }
    }

    private var isOnReactorThread: Bool { queue.isOnThread }

    // MARK: SerialExecutor

    func enqueue(_ job: consuming ExecutorJob) { queue.push(UnownedJob(job), isolated: true) }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    /// By thread, so it also holds in a `taskExecutor` job, which the runtime counts as not
    /// isolated: sound, since this thread is the supervisor's only one and runs one job at a time.
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

    private func loop() {
        let capacity = 256
        var tokens = [UInt64](repeating: 0, count: capacity)
        var events = [UInt32](repeating: 0, count: capacity)
        let serialExecutor = asUnownedSerialExecutor()
        let unownedTaskExecutor = taskExecutor.asUnownedTaskExecutor()
        while true {
            let timeout = queue.isEmpty ? delegate!.reactorNextTimeout() : 0
            let count = sr_epoll_wait(epoll, &tokens, &events, Int32(capacity), timeout)
            if count > 0 {
                for i in 0..<Int(count) {
                    if tokens[i] == Self.wakeToken {
                        queue.clearWake()
                    } else if tokens[i] & Self.sourceBit != 0 {
                        sources[tokens[i]]?(events[i])
                    } else {
                        delegate!.reactorHandle(token: tokens[i], events: events[i])
                    }
                }
            }
            delegate!.reactorFireTimers()
            // Jobs until none is left (a request hops between the supervisor and its own code
            // here, each hop a job), but at most `jobsPerTurn`, so that a burst of requests does
            // not starve I/O.
            var ran = 0
            while ran < Self.jobsPerTurn {
                let batch = queue.takeAll()
                if batch.isEmpty { break }
                for entry in batch {
                    if entry.isolated {
                        entry.job.runSynchronously(isolatedTo: serialExecutor, taskExecutor: unownedTaskExecutor)
                    } else {
                        entry.job.runSynchronously(on: unownedTaskExecutor)
                    }
                }
                ran += batch.count
            }
        }
    }
}

/// The reactor thread as a task executor. Its jobs run there outside the supervisor's
/// isolation: a task calls nonisolated async functions without being queued again; it is
/// queued to enter or leave an actor, or to go on after waiting (a continuation).
final class ReactorTaskExecutor: TaskExecutor {
    private let queue: JobQueue

    fileprivate init(queue: JobQueue) { self.queue = queue }

    func enqueue(_ job: consuming ExecutorJob) { queue.push(UnownedJob(job), isolated: false) }
}

/// The jobs waiting for the reactor thread, and the eventfd that wakes it for a job enqueued
/// elsewhere (the thread's own jobs run before it waits again).
private final class JobQueue: Sendable {
    struct Entry {
        let job: UnownedJob
        /// Enqueued on the serial executor: runs isolated to the supervisor actor. Running the
        /// task executor's jobs that way too would make every call of a nonisolated async
        /// function leave that isolation, a job each time.
        let isolated: Bool
    }

    private let entries = Mutex<[Entry]>([])
    private let threadID = Atomic<UInt>(0)
    let wakeFD: Int32

    init() throws(SystemError) {
        wakeFD = try syscall("eventfd") { sr_eventfd() }
    }

    func bindToCurrentThread() { threadID.store(UInt(pthread_self()), ordering: .releasing) }

    var isOnThread: Bool { threadID.load(ordering: .acquiring) == UInt(pthread_self()) }

    var isEmpty: Bool { entries.withLock { $0.isEmpty } }

    func push(_ job: UnownedJob, isolated: Bool) {
        let first = entries.withLock { entries in
            entries.append(Entry(job: job, isolated: isolated))
            return entries.count == 1
        }
        if first && !isOnThread {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    func takeAll() -> [Entry] {
        entries.withLock { entries in
            defer { entries.removeAll(keepingCapacity: true) }
            return entries
        }
    }

    func clearWake() {
        var value: UInt64 = 0
        _ = read(wakeFD, &value, 8)
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
