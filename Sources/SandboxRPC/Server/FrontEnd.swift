/// What the server speaks on stdin/stdout: the sandbox protocol of PROTOCOL.md, or MCP
/// (`sandbox-rpc mcp`). Both run on the same reader, dispatcher, outbox, lifecycle and sandboxes;
/// a front end supplies its method table and the JSON-RPC habits where the two differ.
struct FrontEnd: Sendable {
    /// The shared core a front end's methods work on.
    struct Core: Sendable {
        let registry: SandboxRegistry
        let lifecycle: Lifecycle
        let outbox: Outbox
        let logger: Logger
    }

    var makeMethods: @Sendable (Core) -> MethodTable
    /// Whether a request the client cancelled is still answered (with -32800): the sandbox
    /// protocol answers it, MCP asks for no answer.
    var answersCancelledRequests = true

    static let sandboxProtocol = FrontEnd { core in
        ServerMethods.table(registry: core.registry, lifecycle: core.lifecycle)
    }
}
