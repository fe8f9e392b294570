import Protocol

/// One MCP tool: its description for `tools/list`, its typed arguments and output, and its
/// implementation over the `Sandbox` protocol.
protocol MCPTool: SendableMetatype {
    associatedtype Arguments: Decodable & Sendable
    associatedtype Output: Encodable & Sendable

    static var name: String { get }
    static var title: String { get }
    static var description: String { get }
    static var inputSchema: JSONValue { get }
    static var outputSchema: JSONValue { get }
    static var annotations: MCP.ToolAnnotations { get }

    static func call(_ arguments: Arguments, _ context: ToolContext) async throws -> ToolResult<Output>
}

/// What a tool returns: its structured output (which conforms to its `outputSchema`) and the
/// same told as text for the model. `isError` marks a failure that still has an output, such
/// as a command that timed out.
struct ToolResult<Output: Encodable & Sendable>: Sendable {
    var output: Output
    var text: String
    var isError = false
}

/// A tool call that failed in a way the model can fix: the message names what was wrong.
enum ToolError: Error {
    case invalidArgument(String, reason: String)
    case failed(String)

    var message: String {
        switch self {
        case .invalidArgument(let name, let reason): "invalid argument `\(name)`: \(reason)"
        case .failed(let message): message
        }
    }
}

/// The tools of `sandbox-rpc mcp`, by name: argument checking and decoding, and the mapping of
/// every failure to a result with `isError` (a JSON-RPC error only when the call was cancelled).
struct ToolBox: Sendable {
    private struct Entry: Sendable {
        let definition: MCP.Tool
        let call: @Sendable (JSONValue, ToolContext) async throws -> MCP.CallToolResult
    }

    private var entries: [Entry] = []

    mutating func register<T: MCPTool>(_ tool: T.Type) {
        let definition = MCP.Tool(
            name: T.name, title: T.title, description: T.description, inputSchema: T.inputSchema,
            outputSchema: T.outputSchema, annotations: T.annotations)
        let allowed = Schema.propertyNames(of: T.inputSchema)
        entries.append(Entry(definition: definition) { raw, context in
            let arguments: T.Arguments
            do {
                try Self.checkNames(raw, allowed: allowed, tool: T.name)
                arguments = try JSONValueDecoder().decode(T.Arguments.self, from: raw)
            } catch let error as DecodingError {
                let (field, reason) = error.fieldAndReason
                return Self.failure(ToolError.invalidArgument(field.isEmpty ? "arguments" : field, reason: reason).message)
            } catch let error as ToolError {
                return Self.failure(error.message)
            }
            do {
                let result = try await T.call(arguments, context)
                return MCP.CallToolResult(
                    content: [.text(result.text)], structuredContent: try JSONValueEncoder().encode(result.output),
                    isError: result.isError)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                return Self.failure(Self.describe(error, tool: T.name, logger: context.logger))
            }
        })
    }

    var definitions: [MCP.Tool] { entries.map(\.definition) }

    /// Runs the named tool; throws only when the call was cancelled.
    func call(_ name: String, arguments: JSONValue?, context: ToolContext) async throws -> MCP.CallToolResult {
        guard let entry = entries.first(where: { $0.definition.name == name }) else {
            let known = entries.map(\.definition.name).joined(separator: ", ")
            return Self.failure("unknown tool `\(name)`; the tools are: \(known)")
        }
        return try await entry.call(arguments ?? .object(JSONObject()), context)
    }

    private static func checkNames(_ raw: JSONValue, allowed: [String], tool: String) throws(ToolError) {
        guard case .object(let object) = raw else {
            throw .failed("the arguments of `\(tool)` must be an object, got \(raw.typeName)")
        }
        for key in object.keys where !allowed.contains(key) {
            throw .invalidArgument(key, reason: "`\(tool)` has no such argument (it takes \(allowed.joined(separator: ", ")))")
        }
    }

    static func failure(_ message: String) -> MCP.CallToolResult {
        MCP.CallToolResult(content: [.text(message)], structuredContent: nil, isError: true)
    }

    /// A failure as the model should read it, naming the argument when one was wrong.
    private static func describe(_ error: any Error, tool: String, logger: Logger) -> String {
        switch error {
        case let error as ToolError:
            return error.message
        case RPCError.invalidParams(let field, let reason):
            return ToolError.invalidArgument(argumentName(field), reason: reason).message
        case let error as RPCError:
            if case .internalError = error { logger.error("\(tool) failed: \(error.message)") }
            return error.message
        default:
            logger.error("\(tool) failed unexpectedly: \(error)")
            return "internal error: \(error)"
        }
    }

    /// The sandbox protocol's names for what the tools call otherwise.
    private static func argumentName(_ field: String) -> String {
        let renamed = ["cmd": "command", "envs": "env"]
        let head = field.prefix { $0 != "." }
        guard let name = renamed[String(head)] else { return field }
        return name + field.dropFirst(head.count)
    }
}
