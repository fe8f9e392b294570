import Protocol

/// `read_output`: what a background process wrote since the last read, and whether it still runs.
enum ReadOutput: MCPTool {
    struct Arguments: Decodable, Sendable {
        var pid: Int
        var since: OutputOffsets?
        var wait: Double?
        var sandboxId: String?
    }

    struct Output: Encodable, Sendable {
        var pid: Int
        var running: Bool
        var exitCode: Int?
        var signal: String?
        var error: String?
        var stdout: String
        var stderr: String
        var next: OutputOffsets
        var truncated: OutputOffsets
    }

    static let name = "read_output"
    static let title = "Read a process's output"
    static let description = """
        Read what a process from start_command wrote since your last read_output of it (or from \
        the byte offsets in `since`; {"stdout": 0, "stderr": 0} for everything kept), and whether \
        it still runs or how it exited. With `wait`, first wait up to that many seconds for the \
        process to exit. Long output is shortened to its start and end, with the number of \
        omitted bytes stated.
        """
    static let inputSchema = Schema.object(
        [
            "pid": Schema.pid,
            "since": Schema.perStream(
                "Byte offset into",
                description: "Read from these byte offsets (a previous result's `next`). Default: where your last read ended."),
            "wait": Schema.number("Seconds to wait for the process to exit before reading. Default: 0.", minimum: 0),
            "sandboxId": Schema.sandboxId,
        ],
        required: ["pid"])
    static let outputSchema = Schema.object(
        [
            "pid": Schema.pid,
            "running": Schema.boolean("Whether the process still runs (false once it exited and its output was read)."),
            "exitCode": Schema.integer("Exit code once it has exited; 128+n when killed by signal n."),
            "signal": Schema.string("The signal that killed it, such as SIGTERM."),
            "error": Schema.string("Why it was killed other than by a signal you sent: Timeout or SandboxKilled."),
            "stdout": Schema.string("New standard output (start and end only when long)."),
            "stderr": Schema.string("New standard error (start and end only when long)."),
            "next": Schema.perStream(
                "Byte offset into", description: "Where this read ended: pass as `since` to read on from here."),
            "truncated": Schema.omittedBytes,
        ],
        required: ["pid", "running", "stdout", "stderr", "next", "truncated"])
    static let annotations = MCP.ToolAnnotations(readOnly: true, openWorld: false)

    static func call(_ arguments: Arguments, _ context: ToolContext) async throws -> ToolResult<Output> {
        let pid = arguments.pid
        if let since = arguments.since {
            guard since.stdout >= 0 else { throw ToolError.invalidArgument("since.stdout", reason: "must be >= 0") }
            guard since.stderr >= 0 else { throw ToolError.invalidArgument("since.stderr", reason: "must be >= 0") }
        }
        if let wait = arguments.wait, !(wait >= 0 && wait.isFinite) {
            throw ToolError.invalidArgument("wait", reason: "must be a number of seconds >= 0")
        }
        let sandbox = try await context.sandboxes.sandbox(arguments.sandboxId)
        if let wait = arguments.wait, wait > 0 {
            do {
                _ = try await sandbox.wait(pid: pid, timeout: wait)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                if case RPCError.processNotFound = error { throw error }
                // Still running after `wait`, or it ended by a timeout or a kill: read on.
            }
        }
        let budget = context.settings.outputBytes
        let cursor = await context.sandboxes.cursor(sandboxId: sandbox.id, pid: pid)
        let since = arguments.since ?? cursor?.offsets ?? .zero
        var snapshot = try await sandbox.snapshot(pid: pid, since: since, budget: budget)
        if arguments.since == nil, let cursor, cursor.startedAt != snapshot.startedAt {
            snapshot = try await sandbox.snapshot(pid: pid, since: .zero, budget: budget)  // another process now
        }
        let stdout = OutputText.render(snapshot.stdout, complete: !snapshot.running)
        let stderr = OutputText.render(snapshot.stderr, complete: !snapshot.running)
        let next = OutputOffsets(stdout: stdout.next, stderr: stderr.next)
        await context.sandboxes.setCursor(sandboxId: sandbox.id, pid: pid, startedAt: snapshot.startedAt, to: next)

        let output = Output(
            pid: pid, running: snapshot.running, exitCode: snapshot.exitCode, signal: snapshot.signal?.description,
            error: snapshot.ending, stdout: stdout.text, stderr: stderr.text, next: next,
            truncated: OutputOffsets(stdout: stdout.omitted, stderr: stderr.omitted))
        var status: String
        if snapshot.running {
            status = "process \(pid) is still running"
        } else {
            status = "process \(pid) exited with code \(snapshot.exitCode ?? -1)"
            if let signal = snapshot.signal { status += " (killed by \(signal))" }
            if snapshot.ending == "Timeout" { status += " after its timeout" }
            if snapshot.ending == "SandboxKilled" { status += " when its sandbox was killed" }
        }
        var text = CommandLauncher.describe(stdout: stdout.text, stderr: stderr.text, status: status)
        if stdout.text.isEmpty && stderr.text.isEmpty { text = "--- no new output; \(status) ---" }
        return ToolResult(output: output, text: text)
    }
}

/// `send_input`: writes to a background process's stdin, and closes it.
enum SendInput: MCPTool {
    struct Arguments: Decodable, Sendable {
        var pid: Int
        var data: String
        var close: Bool?
        var sandboxId: String?
    }

    struct Output: Encodable, Sendable {
        var pid: Int
        var bytes: Int
        var closed: Bool
    }

    static let name = "send_input"
    static let title = "Send input to a process"
    static let description = """
        Write text to the stdin of a process started with start_command {stdin: true}. Include the \
        newline a line-reading program waits for. With close: true, close its stdin afterwards \
        (end of input).
        """
    static let inputSchema = Schema.object(
        [
            "pid": Schema.pid,
            "data": Schema.string("The text to write, as it is (add \"\\n\" to end a line); may be empty."),
            "close": Schema.boolean("Close stdin after writing.", default: false),
            "sandboxId": Schema.sandboxId,
        ],
        required: ["pid", "data"])
    static let outputSchema = Schema.object(
        [
            "pid": Schema.pid,
            "bytes": Schema.integer("Bytes written.", minimum: 0),
            "closed": Schema.boolean("Whether stdin is now closed."),
        ],
        required: ["pid", "bytes", "closed"])
    static let annotations = MCP.ToolAnnotations(destructive: true, openWorld: false)

    static func call(_ arguments: Arguments, _ context: ToolContext) async throws -> ToolResult<Output> {
        let pid = arguments.pid
        let bytes = Array(arguments.data.utf8)
        let close = arguments.close ?? false
        let sandbox = try await context.sandboxes.sandbox(arguments.sandboxId)
        do {
            if !bytes.isEmpty { try await sandbox.sendStdin(pid: pid, data: bytes) }
            if close { try await sandbox.closeStdin(pid: pid) }
        } catch RPCError.stdinClosed {
            throw ToolError.failed(
                "process \(pid) has no open stdin: start it with start_command {\"stdin\": true}, and do not close it before the last write")
        } catch RPCError.processNotRunning {
            throw ToolError.failed("process \(pid) has exited; read what it wrote with read_output")
        }
        var text = "wrote \(bytes.count) bytes to the stdin of process \(pid)"
        if close { text += " and closed it" }
        return ToolResult(output: Output(pid: pid, bytes: bytes.count, closed: close), text: text)
    }
}

/// `kill_process`: signals a process's whole group.
enum KillProcess: MCPTool {
    struct Arguments: Decodable, Sendable {
        var pid: Int
        var signal: SignalName?
        var sandboxId: String?
    }

    struct Output: Encodable, Sendable {
        var pid: Int
        var killed: Bool
    }

    static let name = "kill_process"
    static let title = "Kill a process"
    static let description = """
        Send a signal to a process and everything it started (its process group). Default SIGKILL; \
        use SIGTERM or SIGINT to let it clean up. killed is false when it had already exited.
        """
    static let inputSchema = Schema.object(
        [
            "pid": Schema.pid,
            "signal": Schema.string("A signal name such as SIGTERM, SIGINT or SIGKILL.", default: "SIGKILL"),
            "sandboxId": Schema.sandboxId,
        ],
        required: ["pid"])
    static let outputSchema = Schema.object(
        ["pid": Schema.pid, "killed": Schema.boolean("Whether the signal was sent; false when the process had already exited.")],
        required: ["pid", "killed"])
    static let annotations = MCP.ToolAnnotations(destructive: true, idempotent: true, openWorld: false)

    static func call(_ arguments: Arguments, _ context: ToolContext) async throws -> ToolResult<Output> {
        let signal = arguments.signal ?? .kill
        let sandbox = try await context.sandboxes.sandbox(arguments.sandboxId)
        let killed = try await sandbox.kill(pid: arguments.pid, signal: signal)
        let text = killed
            ? "sent \(signal) to process \(arguments.pid)" + (signal == .kill ? "; it has exited" : "")
            : "process \(arguments.pid) had already exited"
        return ToolResult(output: Output(pid: arguments.pid, killed: killed), text: text)
    }
}

/// `list_processes`: the sandbox's running processes.
enum ListProcesses: MCPTool {
    struct Arguments: Decodable, Sendable {
        var sandboxId: String?
    }

    struct Process: Encodable, Sendable {
        var pid: Int
        var command: String
        var cwd: String
        var runningSeconds: Double
    }

    struct Output: Encodable, Sendable {
        var processes: [Process]
    }

    static let name = "list_processes"
    static let title = "List running processes"
    static let description = "List the processes started in the sandbox that still run, with their pids and commands."
    static let inputSchema = Schema.object(["sandboxId": Schema.sandboxId])
    static let outputSchema = Schema.object(
        [
            "processes": Schema.array(
                of: Schema.object(
                    [
                        "pid": Schema.pid,
                        "command": Schema.string("Its command line."),
                        "cwd": Schema.string("Its working directory."),
                        "runningSeconds": Schema.number("How long it has run.", minimum: 0),
                    ],
                    required: ["pid", "command", "cwd", "runningSeconds"]),
                "The running processes, oldest pid first."),
        ],
        required: ["processes"])
    static let annotations = MCP.ToolAnnotations(readOnly: true, openWorld: false)

    static func call(_ arguments: Arguments, _ context: ToolContext) async throws -> ToolResult<Output> {
        let sandbox = try await context.sandboxes.sandbox(arguments.sandboxId)
        let now = Clock.epochSeconds()
        let processes = try await sandbox.list().map {
            Process(
                pid: $0.pid, command: $0.cmd, cwd: $0.cwd, runningSeconds: max(0, ((now - $0.startedAt) * 10).rounded() / 10))
        }
        let text = processes.isEmpty
            ? "no processes are running"
            : processes.map {
                "pid \($0.pid), running \(CommandLauncher.seconds($0.runningSeconds)) s in \($0.cwd): \($0.command)"
            }.joined(separator: "\n")
        return ToolResult(output: Output(processes: processes), text: text)
    }
}
