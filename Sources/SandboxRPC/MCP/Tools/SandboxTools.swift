import Protocol

/// `create_sandbox`: another sandbox, beside the session's own.
enum CreateSandbox: MCPTool {
    struct Arguments: Decodable, Sendable {
        var env: [String: String]?
    }

    struct Output: Encodable, Sendable {
        var sandboxId: String
        var isolation: Isolation
        var home: String
    }

    static let name = "create_sandbox"
    static let title = "Create a sandbox"
    static let description = """
        Create another sandbox, with its own home directory and processes, for work that must be \
        kept apart: pass its sandboxId to the other tools. Without it they use this session's \
        sandbox, which always exists. It is isolated as the session's is. Kill it with kill_sandbox \
        when done.
        """
    static let inputSchema = Schema.object(
        ["env": Schema.map(of: Schema.string("Value."), "Environment variables for all its commands.")])
    static let outputSchema = Schema.object(
        [
            "sandboxId": Schema.string("Its id, for the other tools' sandboxId."),
            "isolation": Schema.string("How it is isolated.", oneOf: Isolation.allCases.map(\.rawValue)),
            "home": Schema.string("Its home directory, where relative paths start."),
        ],
        required: ["sandboxId", "isolation", "home"])
    static let annotations = MCP.ToolAnnotations(destructive: false, openWorld: false)

    static func call(_ arguments: Arguments, _ context: ToolContext) async throws -> ToolResult<Output> {
        // Isolation, home and network are the host's choice (the command line), not the model's.
        let created = try await context.sandboxes.create(envs: arguments.env)
        return ToolResult(
            output: Output(sandboxId: created.sandboxId, isolation: created.isolation, home: created.home),
            text: "created sandbox \(created.sandboxId) (isolation \(created.isolation.rawValue), home \(created.home))")
    }
}

/// `kill_sandbox`: ends a sandbox and everything running in it.
enum KillSandbox: MCPTool {
    struct Arguments: Decodable, Sendable {
        var sandboxId: String
    }

    struct Output: Encodable, Sendable {
        var sandboxId: String
        var killed: Bool
    }

    static let name = "kill_sandbox"
    static let title = "Kill a sandbox"
    static let description = """
        Kill a sandbox made by create_sandbox: every process in it, and its home directory unless \
        it was given as cwd. killed is false for an unknown sandbox.
        """
    static let inputSchema = Schema.object(["sandboxId": Schema.string("The sandbox, from create_sandbox.")], required: ["sandboxId"])
    static let outputSchema = Schema.object(
        ["sandboxId": Schema.string("The sandbox."), "killed": Schema.boolean("Whether it existed and was killed.")],
        required: ["sandboxId", "killed"])
    static let annotations = MCP.ToolAnnotations(destructive: true, idempotent: true, openWorld: false)

    static func call(_ arguments: Arguments, _ context: ToolContext) async throws -> ToolResult<Output> {
        let killed = await context.sandboxes.kill(arguments.sandboxId)
        let text = killed ? "killed sandbox \(arguments.sandboxId)" : "no sandbox \(arguments.sandboxId) was running"
        return ToolResult(output: Output(sandboxId: arguments.sandboxId, killed: killed), text: text)
    }
}
