import Protocol

/// `run_command`: runs a command to its end and returns its output.
enum RunCommand: MCPTool {
    struct Arguments: Decodable, Sendable {
        var command: String
        var cwd: String?
        var env: [String: String]?
        var timeout: Double?
        var sandboxId: String?
    }

    struct Output: Encodable, Sendable {
        var pid: Int
        var exitCode: Int
        var signal: String?
        var timedOut: Bool
        var stdout: String
        var stderr: String
        var truncated: OutputOffsets
        var durationSeconds: Double
    }

    static let name = "run_command"
    static let title = "Run a command"
    static let description = """
        Run a shell command (bash -c) in the sandbox and wait for it to finish. Returns its exit \
        code, stdout and stderr; long output is shortened to its start and end, with the number of \
        omitted bytes stated. Commands start in the sandbox's home directory with a clean, \
        non-interactive environment and no stdin. For servers, watchers or interactive programs, \
        use start_command instead.
        """
    static let inputSchema = Schema.object(
        [
            "command": Schema.string("The command line, run with bash -c."),
            "cwd": Schema.string("Working directory; relative paths start at the sandbox's home. Default: the home."),
            "env": Schema.map(of: Schema.string("Value."), "Environment variables to set for this command."),
            "timeout": Schema.number(
                "Seconds before the command is killed; 0 for no limit. Default: the server's (300 unless configured).",
                minimum: 0),
            "sandboxId": Schema.sandboxId,
        ],
        required: ["command"])
    static let outputSchema = Schema.object(
        [
            "pid": Schema.pid,
            "exitCode": Schema.integer("Exit code; 128+n when killed by signal n."),
            "signal": Schema.string("The signal that killed the command, such as SIGKILL; absent when it exited."),
            "timedOut": Schema.boolean("Whether the command was killed because its timeout passed."),
            "stdout": Schema.string("Standard output (start and end only when long)."),
            "stderr": Schema.string("Standard error (start and end only when long)."),
            "truncated": Schema.omittedBytes,
            "durationSeconds": Schema.number("How long the command ran.", minimum: 0),
        ],
        required: ["pid", "exitCode", "timedOut", "stdout", "stderr", "truncated", "durationSeconds"])
    static let annotations = MCP.ToolAnnotations(destructive: true, openWorld: true)

    static func call(_ arguments: Arguments, _ context: ToolContext) async throws -> ToolResult<Output> {
        let timeout = arguments.timeout ?? context.settings.commandTimeout
        let startedAt = Clock.monotonicNanos()
        let process = try await CommandLauncher.start(
            command: arguments.command, cwd: arguments.cwd, env: arguments.env, timeout: timeout, stdin: false,
            sandboxId: arguments.sandboxId, context: context)
        let ticker = context.progress.map { reporter in
            Task { await CommandLauncher.reportProgress(of: process, to: reporter, since: startedAt) }
        }
        defer { ticker?.cancel() }

        var timedOut = false
        do {
            _ = try await process.sandbox.wait(pid: process.pid, timeout: nil)
        } catch RPCError.timeout {
            timedOut = true
        } catch {
            if Task.isCancelled {
                _ = try? await process.sandbox.kill(pid: process.pid, signal: .kill)
                throw CancellationError()
            }
            throw error
        }
        let snapshot = try await process.sandbox.snapshot(
            pid: process.pid, since: .zero, budget: context.settings.outputBytes)
        let stdout = OutputText.render(snapshot.stdout, complete: true)
        let stderr = OutputText.render(snapshot.stderr, complete: true)
        let exitCode = snapshot.exitCode ?? -1
        let duration = Double(Clock.monotonicNanos() - startedAt) / 1e9
        let output = Output(
            pid: process.pid, exitCode: exitCode, signal: snapshot.signal?.description, timedOut: timedOut,
            stdout: stdout.text, stderr: stderr.text,
            truncated: OutputOffsets(stdout: stdout.omitted, stderr: stderr.omitted),
            durationSeconds: (duration * 1000).rounded() / 1000)
        var status = "exit code \(exitCode)"
        if let signal = snapshot.signal { status += " (killed by \(signal))" }
        if timedOut { status = "timed out after \(CommandLauncher.seconds(timeout)) s and was killed; \(status)" }
        let text = CommandLauncher.describe(stdout: stdout.text, stderr: stderr.text, status: status)
        return ToolResult(output: output, text: text, isError: timedOut)
    }
}

/// `start_command`: starts a command in the background and returns its pid at once.
enum StartCommand: MCPTool {
    struct Arguments: Decodable, Sendable {
        var command: String
        var cwd: String?
        var env: [String: String]?
        var timeout: Double?
        var stdin: Bool?
        var sandboxId: String?
    }

    struct Output: Encodable, Sendable {
        var pid: Int
    }

    static let name = "start_command"
    static let title = "Start a background command"
    static let description = """
        Start a shell command (bash -c) in the sandbox without waiting for it: a server, a watcher, \
        a long build, an interactive program. Returns its pid; follow it with read_output, write to \
        it with send_input (start it with stdin: true), stop it with kill_process. Its output is \
        kept while it runs and after it exits.
        """
    static let inputSchema = Schema.object(
        [
            "command": Schema.string("The command line, run with bash -c."),
            "cwd": Schema.string("Working directory; relative paths start at the sandbox's home. Default: the home."),
            "env": Schema.map(of: Schema.string("Value."), "Environment variables to set for this command."),
            "timeout": Schema.number("Seconds before the command is killed; 0 for no limit.", minimum: 0, default: 0),
            "stdin": Schema.boolean("Keep its stdin open for send_input. Without it, stdin is /dev/null.", default: false),
            "sandboxId": Schema.sandboxId,
        ],
        required: ["command"])
    static let outputSchema = Schema.object(["pid": Schema.pid], required: ["pid"])
    static let annotations = MCP.ToolAnnotations(destructive: true, openWorld: true)

    static func call(_ arguments: Arguments, _ context: ToolContext) async throws -> ToolResult<Output> {
        let stdin = arguments.stdin ?? false
        let process = try await CommandLauncher.start(
            command: arguments.command, cwd: arguments.cwd, env: arguments.env, timeout: arguments.timeout ?? 0,
            stdin: stdin, sandboxId: arguments.sandboxId, context: context)
        var text = "started process \(process.pid); follow it with read_output {\"pid\": \(process.pid)}"
        if stdin { text += ", write to its stdin with send_input" }
        return ToolResult(output: Output(pid: process.pid), text: text)
    }
}

/// Starting commands for the tools: in the background and unstreamed, whatever the tool then
/// does, so that output is only kept (and read back with snapshots), never pushed to the client.
enum CommandLauncher {
    struct Started: Sendable {
        let sandbox: any Sandbox
        let pid: Int
    }

    static func start(
        command: String, cwd: String?, env: [String: String]?, timeout: Double, stdin: Bool, sandboxId: String?,
        context: ToolContext
    ) async throws -> Started {
        guard !command.allSatisfy(\.isWhitespace) else { throw ToolError.invalidArgument("command", reason: "is empty") }
        guard timeout >= 0, timeout.isFinite else {
            throw ToolError.invalidArgument("timeout", reason: "must be a number of seconds >= 0")
        }
        let sandbox = try await context.sandboxes.sandbox(sandboxId)
        var params = CommandsRun.Params(cmd: command)
        params.background = true
        params.stream = false
        params.cwd = cwd
        params.envs = env
        params.timeout = timeout
        params.stdin = stdin
        let request = RequestContext()
        let result: CommandsRun.Result
        do {
            result = try await sandbox.run(params, context: request)
        } catch RPCError.fileNotFound(let path) where cwd != nil {
            throw ToolError.invalidArgument("cwd", reason: "no such directory: \(path)")
        } catch RPCError.notADirectory(let path) where cwd != nil {
            throw ToolError.invalidArgument("cwd", reason: "not a directory: \(path)")
        }
        // What a response would have triggered: reading the process's pipes.
        for action in request.takeAfterResponseActions() { await action() }
        guard case .started(let pid) = result else { throw RPCError.internalError(reason: "a background run finished at once") }
        return Started(sandbox: sandbox, pid: pid)
    }

    /// Every second while the command runs: how long it has run, how much it wrote, its last line.
    static func reportProgress(of process: Started, to reporter: ProgressReporter, since startedAt: UInt64) async {
        var seen = OutputOffsets.zero
        var lastLine: String?
        while true {
            do { try await Task.sleep(for: .seconds(1)) } catch { return }
            guard let snapshot = try? await process.sandbox.snapshot(pid: process.pid, since: seen, budget: 512),
                  snapshot.running else { return }
            let stdout = OutputText.render(snapshot.stdout, complete: false)
            let stderr = OutputText.render(snapshot.stderr, complete: false)
            lastLine = OutputText.lastLine(stdout.text) ?? OutputText.lastLine(stderr.text) ?? lastLine
            seen = OutputOffsets(stdout: stdout.next, stderr: stderr.next)
            let elapsed = (Double(Clock.monotonicNanos() - startedAt) / 1e8).rounded() / 10
            var message = "running for \(seconds(elapsed)) s, \(snapshot.stdout.end + snapshot.stderr.end) bytes of output"
            if let lastLine { message += ": \(lastLine)" }
            reporter.report(progress: elapsed, message: message)
        }
    }

    /// Output as the model reads it: stdout, then stderr under a rule, then the status.
    static func describe(stdout: String, stderr: String, status: String) -> String {
        var text = stdout
        if !stderr.isEmpty {
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            text += "--- stderr ---\n" + stderr
        }
        if text.isEmpty { return "--- no output; \(status) ---" }
        if !text.hasSuffix("\n") { text += "\n" }
        return text + "--- \(status) ---"
    }

    /// "5" rather than "5.0".
    static func seconds(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
