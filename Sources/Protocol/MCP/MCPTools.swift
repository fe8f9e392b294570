extension MCP {
    /// Hints about a tool's effects, for hosts deciding what to confirm with the user.
    public struct ToolAnnotations: Codable, Sendable {
        public var readOnlyHint: Bool?
        public var destructiveHint: Bool?
        public var idempotentHint: Bool?
        public var openWorldHint: Bool?

        public init(readOnly: Bool = false, destructive: Bool? = nil, idempotent: Bool? = nil, openWorld: Bool? = nil) {
            self.readOnlyHint = readOnly
            self.destructiveHint = readOnly ? nil : destructive
            self.idempotentHint = idempotent
            self.openWorldHint = openWorld
        }
    }

    public struct Tool: Codable, Sendable {
        public var name: String
        public var title: String?
        public var description: String
        public var inputSchema: JSONValue
        public var outputSchema: JSONValue?
        public var annotations: ToolAnnotations?

        public init(
            name: String, title: String?, description: String, inputSchema: JSONValue, outputSchema: JSONValue?,
            annotations: ToolAnnotations?
        ) {
            self.name = name
            self.title = title
            self.description = description
            self.inputSchema = inputSchema
            self.outputSchema = outputSchema
            self.annotations = annotations
        }
    }

    public enum ToolsList: RPCMethod {
        public static let name = "tools/list"

        public struct Params: Codable, Sendable {
            public var cursor: String?
            public var meta: RequestMeta?
            enum CodingKeys: String, CodingKey {
                case cursor
                case meta = "_meta"
            }
        }

        public struct Result: Codable, Sendable {
            public var tools: [Tool]
            public var nextCursor: String?
            /// 2026-07-28 only: "complete", and how long the list may be cached.
            public var resultType: String?
            public var ttlMs: Int?
            public var cacheScope: CacheScope?

            public init(tools: [Tool]) { self.tools = tools }
        }
    }

    /// A block of a tool result. Only text is produced here.
    public struct Content: Codable, Sendable, Equatable {
        public var type: String
        public var text: String

        public static func text(_ text: String) -> Content { Content(type: "text", text: text) }
    }

    public enum ToolsCall: RPCMethod {
        public static let name = "tools/call"

        public struct Params: Codable, Sendable {
            public var name: String
            public var arguments: JSONValue?
            public var meta: RequestMeta?
            enum CodingKeys: String, CodingKey {
                case name, arguments
                case meta = "_meta"
            }
        }

        public typealias Result = CallToolResult
    }

    /// What a tool call produced. A tool's own failure (a bad argument, a missing file) is a
    /// result with `isError`, so the model sees it and can correct itself; JSON-RPC errors are
    /// for protocol faults only.
    public struct CallToolResult: Codable, Sendable {
        public var content: [Content]
        public var structuredContent: JSONValue?
        public var isError: Bool
        /// "complete" for a 2026-07-28 request, absent before.
        public var resultType: String?

        public init(content: [Content], structuredContent: JSONValue?, isError: Bool) {
            self.content = content
            self.structuredContent = structuredContent
            self.isError = isError
        }
    }
}
