extension MCP {
    public struct Implementation: Codable, Sendable {
        public var name: String
        public var title: String?
        public var version: String

        public init(name: String, title: String? = nil, version: String) {
            self.name = name
            self.title = title
            self.version = version
        }
    }

    public struct ServerCapabilities: Codable, Sendable {
        public struct Tools: Codable, Sendable {
            public var listChanged: Bool
        }
        public var tools: Tools

        /// Tools only, and a list that never changes.
        public static let toolsOnly = ServerCapabilities(tools: Tools(listChanged: false))
    }

    /// How long and how widely a 2026-07-28 client may cache a result.
    public enum CacheScope: String, WireEnum {
        case `private`
        case `public`
    }

    public enum Initialize: RPCMethod {
        public static let name = "initialize"

        public struct Params: Codable, Sendable {
            public var protocolVersion: String?
            public var capabilities: JSONValue?
            public var clientInfo: JSONValue?
        }

        public struct Result: Codable, Sendable {
            public var protocolVersion: String
            public var capabilities: ServerCapabilities
            public var serverInfo: Implementation
            public var instructions: String?

            public init(protocolVersion: String, capabilities: ServerCapabilities, serverInfo: Implementation, instructions: String?) {
                self.protocolVersion = protocolVersion
                self.capabilities = capabilities
                self.serverInfo = serverInfo
                self.instructions = instructions
            }
        }
    }

    /// Sent by the client once it has the `initialize` result.
    public enum Initialized: RPCMethod {
        public static let name = "notifications/initialized"
        public typealias Params = Empty
        public typealias Result = Empty
    }

    /// The 2026-07-28 probe: which revisions the server speaks, and what it offers.
    public enum Discover: RPCMethod {
        public static let name = "server/discover"

        public struct Params: Codable, Sendable {
            public var meta: RequestMeta?
            enum CodingKeys: String, CodingKey { case meta = "_meta" }
        }

        public struct Result: Codable, Sendable {
            public var supportedVersions: [String]
            public var capabilities: ServerCapabilities
            public var instructions: String?
            public var resultType = "complete"
            public var ttlMs = 0
            public var cacheScope = CacheScope.private
            public var meta: JSONValue?

            enum CodingKeys: String, CodingKey {
                case supportedVersions, capabilities, instructions, resultType, ttlMs, cacheScope
                case meta = "_meta"
            }

            public init(
                supportedVersions: [String], capabilities: ServerCapabilities, instructions: String?,
                serverInfo: Implementation
            ) throws {
                self.supportedVersions = supportedVersions
                self.capabilities = capabilities
                self.instructions = instructions
                self.meta = .object([MCP.serverInfoMetaKey: try JSONValueEncoder().encode(serverInfo)])
            }
        }
    }

    public enum Ping: RPCMethod {
        public static let name = "ping"

        public struct Params: Codable, Sendable {
            public var meta: RequestMeta?
            enum CodingKeys: String, CodingKey { case meta = "_meta" }
        }

        public struct Result: Codable, Sendable {
            /// "complete" for a 2026-07-28 request, absent before.
            public var resultType: String?
            public init(resultType: String?) { self.resultType = resultType }
        }
    }

    /// Pushed while a request that carried a `progressToken` runs.
    public struct Progress: RPCNotification {
        public static let method = "notifications/progress"
        public var progressToken: JSONValue
        public var progress: Double
        public var total: Double?
        public var message: String?

        public init(progressToken: JSONValue, progress: Double, total: Double? = nil, message: String? = nil) {
            self.progressToken = progressToken
            self.progress = progress
            self.total = total
            self.message = message
        }
    }
}
