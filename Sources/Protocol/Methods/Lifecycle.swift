public enum Initialize: RPCMethod {
    public static let name = "initialize"

    public struct Params: Codable, Sendable {
        public struct ClientInfo: Codable, Sendable {
            public var name: String?
            public var version: String?
        }
        public var clientInfo: ClientInfo?
        public var protocolVersion: Int?
    }

    public struct Result: Codable, Sendable {
        public struct ServerInfo: Codable, Sendable {
            public var name: String
            public var version: String
            public init(name: String, version: String) {
                self.name = name
                self.version = version
            }
        }
        public struct Capabilities: Codable, Sendable {
            public var isolation: [String]
            public var pty: Bool
            public var files: Bool
            public init(isolation: [String], pty: Bool, files: Bool) {
                self.isolation = isolation
                self.pty = pty
                self.files = files
            }
        }
        public var serverInfo: ServerInfo
        public var protocolVersion: Int
        public var capabilities: Capabilities

        public init(serverInfo: ServerInfo, protocolVersion: Int, capabilities: Capabilities) {
            self.serverInfo = serverInfo
            self.protocolVersion = protocolVersion
            self.capabilities = capabilities
        }
    }
}

public enum Ping: RPCMethod {
    public static let name = "ping"
    public typealias Params = Empty
    public typealias Result = Empty
}

public enum Shutdown: RPCMethod {
    public static let name = "shutdown"
    public typealias Params = Empty
    public typealias Result = Empty
}

/// `$/cancelRequest {id}` and its MCP spelling `notifications/cancelled {requestId}`.
public struct CancelParams: Codable, Sendable {
    public var id: RequestID?
    public var requestId: RequestID?

    public var target: RequestID? { id ?? requestId }
}
