import Protocol
import Synchronization

extension FrontEnd {
    /// `sandbox-rpc mcp`: the MCP method table over the same core, and no answer to a request
    /// the client cancelled, as MCP asks.
    static func mcp(_ settings: MCPSettings) -> FrontEnd {
        FrontEnd(makeMethods: { core in MCPMethods.table(core: core, settings: settings) }, answersCancelledRequests: false)
    }
}

/// Every MCP method this server answers: the lifecycle of both eras (the `initialize` handshake
/// and the 2026-07-28 per-request envelope with its `server/discover` probe) and the tools.
enum MCPMethods {
    static let serverInfo = MCP.Implementation(name: "sandbox-rpc", title: "Sandbox RPC", version: Version.current)

    static let tools: ToolBox = {
        var tools = ToolBox()
        tools.register(RunCommand.self)
        tools.register(StartCommand.self)
        tools.register(ReadOutput.self)
        tools.register(SendInput.self)
        tools.register(KillProcess.self)
        tools.register(ListProcesses.self)
        tools.register(ReadFile.self)
        tools.register(WriteFile.self)
        tools.register(ListFiles.self)
        tools.register(CreateSandbox.self)
        tools.register(KillSandbox.self)
        return tools
    }()

    static func table(core: FrontEnd.Core, settings: MCPSettings) -> MethodTable {
        let session = MCPSession()
        let sandboxes = MCPSandboxes(registry: core.registry, defaults: settings.sandbox)
        let instructions = instructions(settings: settings, isolation: core.registry.availableIsolations)
        var table = MethodTable()

        table.register(MCP.Initialize.self) { params, _ in
            let revision = MCP.Revision.negotiate(params.protocolVersion)
            session.agree(on: revision)
            return MCP.Initialize.Result(
                protocolVersion: revision, capabilities: .toolsOnly, serverInfo: serverInfo, instructions: instructions)
        }
        table.register(MCP.Initialized.self) { _, _ in Empty() }
        table.register(MCP.Discover.self) { params, _ in
            _ = try MCP.Era(params.meta)
            return try MCP.Discover.Result(
                supportedVersions: MCP.Revision.modern, capabilities: .toolsOnly, instructions: instructions,
                serverInfo: serverInfo)
        }
        table.register(MCP.Ping.self) { params, _ in
            MCP.Ping.Result(resultType: try MCP.Era(params.meta).isModern ? "complete" : nil)
        }
        table.register(MCP.ToolsList.self) { params, _ in
            let era = try MCP.Era(params.meta)
            let revision = session.revision(for: era)
            var result = MCP.ToolsList.Result(tools: tools.definitions.map { tool in
                var tool = tool
                if !MCP.Revision.hasStructuredOutput(revision) {
                    tool.outputSchema = nil
                    tool.title = nil
                }
                if !MCP.Revision.hasToolAnnotations(revision) { tool.annotations = nil }
                return tool
            })
            if era.isModern {
                result.resultType = "complete"
                result.ttlMs = 0
                result.cacheScope = .private
            }
            return result
        }
        table.register(MCP.ToolsCall.self) { params, _ in
            let era = try MCP.Era(params.meta)
            let revision = session.revision(for: era)
            let progress = params.meta?.progressToken.map { ProgressReporter(token: $0, outbox: core.outbox) }
            defer { progress?.finish() }  // before the response is queued: no progress after it
            let context = ToolContext(sandboxes: sandboxes, settings: settings, progress: progress, logger: core.logger)
            var result = try await tools.call(params.name, arguments: params.arguments, context: context)
            if !MCP.Revision.hasStructuredOutput(revision) { result.structuredContent = nil }
            if era.isModern { result.resultType = "complete" }
            return result
        }
        return table
    }

    /// What the host may put in the model's system prompt about these tools.
    static func instructions(settings: MCPSettings, isolation: [Isolation]) -> String {
        let home = settings.sandbox.cwd.map { "the directory \($0)" } ?? "a fresh directory"
        let timeout = settings.commandTimeout > 0 ? "\(CommandLauncher.seconds(settings.commandTimeout)) s" : "none"
        return """
            These tools work in a sandbox on the user's machine whose home is \(home); relative paths \
            and commands start there. run_command runs a bash command to its end (default timeout: \
            \(timeout)); use start_command with read_output, send_input and kill_process for servers, \
            watchers and interactive programs. Commands get a clean, non-interactive environment. \
            Long output is shortened to its start and end, stating how many bytes were left out.
            """
    }
}

/// What one MCP connection agreed on: the handshake revision, once `initialize` has run.
final class MCPSession: Sendable {
    private let agreed = Mutex<String?>(nil)

    func agree(on revision: String) {
        agreed.withLock { $0 = revision }
    }

    /// The revision a request is answered in: its own in the 2026-07-28 era, else the agreed one
    /// (the newest handshake revision for a client that skipped `initialize`).
    func revision(for era: MCP.Era) -> String {
        if case .modern(let revision) = era { return revision }
        return agreed.withLock { $0 } ?? MCP.Revision.latestHandshake
    }
}
