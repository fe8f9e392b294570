import Protocol

extension Supervisor {
    /// The process's state and up to `budget` bytes of each stream from `since` on, without
    /// touching its streaming or its pipes.
    func snapshot(sandboxId: String, pid: Int, since: OutputOffsets, budget: Int) throws(RPCError) -> ProcessSnapshot {
        let process = try process(sandboxId, pid)
        let finished = process.isFinished
        let (code, signal) = process.exitCodeAndSignal
        return ProcessSnapshot(
            pid: pid, cmd: process.options.cmd, startedAt: process.startedAt, running: !finished,
            exitCode: finished ? code : nil, signal: finished ? signal : nil,
            ending: finished ? process.ending?.rawValue : nil,
            stdout: process.stdout.retention.window(from: since.stdout, budget: budget),
            stderr: process.stderr.retention.window(from: since.stderr, budget: budget))
    }
}
