import CSandboxShims
import Protocol

/// How a process is to be run and reported, after the sandbox applied its defaults.
struct ProcessOptions: Sendable {
    var cmd: String
    var tag: String?
    var envs: [String: String]
    var cwd: String
    var encoding: OutputEncoding
    var maxOutputBytes: Int
    var stream: Bool
    var withStdin: Bool
    /// Seconds; 0 means none.
    var timeout: Double
    var isPty = false
    var terminalSize = (cols: 80, rows: 24)
}

/// Why a process ended other than by itself.
enum ProcessEnding: String {
    case timeout = "Timeout"
    case sandboxKilled = "SandboxKilled"
    case supervisorLost = "the sandbox's supervisor exited"
}

/// One output pipe of a process, read by the supervisor.
struct OutputChannel {
    var fd: Int32
    var retention: OutputRetention
    /// The start of a character split by the last read, held back until it is complete.
    var carry: [UInt8] = []
    var registered = false
    var grown = false

    var isOpen: Bool { fd >= 0 }

    /// A pipe starts at the default 64 KiB; one that a single read found full belongs to a fast
    /// writer, and gets room for 1 MiB, so that it writes (and we read) in larger pieces.
    mutating func grow(afterReading count: Int) {
        guard !grown, count >= Self.defaultPipeCapacity else { return }
        grown = true
        _ = sr_set_pipe_size(fd, Int32(Self.grownPipeCapacity))
    }

    static let defaultPipeCapacity = 64 << 10
    static let grownPipeCapacity = 1 << 20
}

/// The write end of a process's stdin, when it was started with `stdin: true`.
struct StdinChannel {
    struct PendingWrite {
        var bytes: [UInt8]
        var offset = 0
        let done: CheckedContinuation<Void, any Error>
    }

    var fd: Int32
    var pending: [PendingWrite] = []
    var closeRequested = false
    var registered = false
}

/// A process of the supervisor's table. Confined to the supervisor actor.
final class ManagedProcess {
    let pid: Int
    let sandboxId: String
    let options: ProcessOptions
    let startedAt: Double
    var streaming: Bool
    /// Whether its pipes are being read. A background run is armed only once its `{pid}`
    /// response is out, a connect once its snapshot is out, so notifications come after them.
    var armed = false
    var stdout: OutputChannel
    var stderr: OutputChannel
    var stdin: StdinChannel?
    var exitStatus: Int32?
    var ending: ProcessEnding?
    /// Set once the exit has been reported; the result is made only when someone asks for it.
    var isFinished = false
    var waiters: [Int: CheckedContinuation<CommandResult, any Error>] = [:]
    /// Waiters of a cancelled foreground run: answered once its exit has been reported, so
    /// that its notifications still come before its response.
    var cancelledWaiters: [Int: CheckedContinuation<CommandResult, any Error>] = [:]
    var reapWaiters: [CheckedContinuation<Void, Never>] = []
    var timeoutTimer: Int?

    init(pid: Int, sandboxId: String, options: ProcessOptions, stdoutFD: Int32, stderrFD: Int32, stdinFD: Int32?) {
        self.pid = pid
        self.sandboxId = sandboxId
        self.options = options
        self.startedAt = Clock.epochSeconds()
        self.streaming = options.stream
        self.stdout = OutputChannel(fd: stdoutFD, retention: OutputRetention(limit: options.maxOutputBytes))
        self.stderr = OutputChannel(fd: stderrFD, retention: OutputRetention(limit: options.maxOutputBytes))
        self.stdin = stdinFD.map { StdinChannel(fd: $0) }
    }

    var isRunning: Bool { exitStatus == nil }

    subscript(stream: OutputStream) -> OutputChannel {
        get { stream == .stdout ? stdout : stderr }
        // In place, so that appending to a retention buffer never copies it.
        _modify {
            if stream == .stdout { yield &stdout } else { yield &stderr }
        }
    }

    /// Exit code and signal from a wait status: 128+n and the signal's name when killed.
    var exitCodeAndSignal: (code: Int, signal: SignalName?) {
        guard let status = exitStatus else { return (-1, nil) }
        let low = status & 0x7F
        if low == 0 { return (Int((status >> 8) & 0xFF), nil) }
        return (128 + Int(low), SignalName(number: low))
    }

    func text(_ bytes: [UInt8]) -> String {
        switch options.encoding {
        case .utf8: String(decoding: bytes, as: UTF8.self)
        case .base64: Base64.encode(bytes)
        }
    }

    func makeResult() -> CommandResult {
        let (code, signal) = exitCodeAndSignal
        let dropped = (stdout.retention.dropped, stderr.retention.dropped)
        return CommandResult(
            pid: pid, stdout: text(stdout.retention.bytes), stderr: text(stderr.retention.bytes),
            exitCode: code, signal: signal,
            truncated: dropped == (0, 0) ? nil : .init(stdout: dropped.0, stderr: dropped.1))
    }

    /// The Timeout error's data: what the process had produced when its time ran out.
    func partialResult(message: String) -> RPCError.PartialResult {
        let (code, signal) = exitCodeAndSignal
        return RPCError.PartialResult(
            pid: pid, stdout: text(stdout.retention.bytes), stderr: text(stderr.retention.bytes),
            exitCode: exitStatus == nil ? nil : code, signal: signal?.description, message: message)
    }

    /// What a run or wait on this finished process answers.
    func outcome() throws(RPCError) -> CommandResult {
        guard isFinished else { throw .internalError(reason: "process \(pid) has not finished") }
        switch ending {
        case .timeout:
            throw .timeout(partialResult(message: "command timed out after \(options.timeout) seconds"))
        case .sandboxKilled:
            throw .sandboxKilled(sandboxId: sandboxId, pid: pid)
        case .supervisorLost, nil:
            return makeResult()
        }
    }

    var info: CommandsList.ProcessInfo {
        CommandsList.ProcessInfo(
            pid: pid, cmd: options.cmd, tag: options.tag, envs: options.envs, cwd: options.cwd,
            isPty: options.isPty, startedAt: startedAt)
    }
}
