/// The Model Context Protocol as `sandbox-rpc mcp` speaks it: lifecycle and tools, over the same
/// JSON-RPC 2.0 machinery as the sandbox protocol. Only wire types live here.
public enum MCP {}

extension MCP {
    /// Protocol revisions. A handshake revision is agreed once, by `initialize`; a modern one
    /// (2026-07-28, stateless) is stamped on every request's `_meta` and probed with
    /// `server/discover`.
    public enum Revision {
        public static let handshake = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
        public static let modern = ["2026-07-28"]
        public static let latestHandshake = "2025-11-25"

        /// The revision to answer `initialize` with: the client's when this server speaks it,
        /// else the newest, which the client may then refuse.
        public static func negotiate(_ requested: String?) -> String {
            guard let requested, handshake.contains(requested) else { return latestHandshake }
            return requested
        }

        /// Whether tools may declare `outputSchema` and `title`, and results carry
        /// `structuredContent` (from 2025-06-18 on).
        public static func hasStructuredOutput(_ revision: String) -> Bool {
            order(revision) >= order("2025-06-18")
        }

        /// Whether tools may carry `annotations` (from 2025-03-26 on).
        public static func hasToolAnnotations(_ revision: String) -> Bool {
            order(revision) >= order("2025-03-26")
        }

        /// Revisions are an enumerated set, not dates to compare: an unknown one counts as
        /// the newest handshake revision, which is what it was answered with.
        private static func order(_ revision: String) -> Int {
            let all = handshake + modern
            return all.firstIndex(of: revision) ?? all.firstIndex(of: latestHandshake)!
        }
    }

    /// Which era a request belongs to, read from its `_meta`.
    public enum Era: Sendable, Equatable {
        /// No per-request envelope: the revision agreed by `initialize` applies.
        case handshake
        /// The 2026-07-28 envelope, carrying its revision.
        case modern(String)

        public var isModern: Bool { if case .modern = self { true } else { false } }

        /// The era of a request, checking the modern envelope as the 2026-07-28 revision asks:
        /// the version must be one this server speaks (else -32022 naming those it does) and
        /// the client's capabilities must be declared (else invalid params).
        public init(_ meta: RequestMeta?) throws(RPCError) {
            guard let version = meta?.protocolVersion else {
                self = .handshake
                return
            }
            guard case .string(let requested) = version else {
                throw .invalidParams(field: "_meta.\(RequestMeta.CodingKeys.protocolVersion.rawValue)", reason: "must be a string")
            }
            guard Revision.modern.contains(requested) else {
                throw .unsupportedProtocolVersion(requested: requested, supported: Revision.modern)
            }
            guard meta?.clientCapabilities != nil else {
                throw .invalidParams(
                    field: "_meta.\(RequestMeta.CodingKeys.clientCapabilities.rawValue)",
                    reason: "is required with protocol \(requested)")
            }
            self = .modern(requested)
        }
    }

    /// A request's `_meta`: the progress token, and from 2026-07-28 on the per-request envelope.
    public struct RequestMeta: Codable, Sendable {
        public var progressToken: JSONValue?
        public var protocolVersion: JSONValue?
        public var clientCapabilities: JSONValue?
        public var clientInfo: JSONValue?

        public enum CodingKeys: String, CodingKey {
            case progressToken
            case protocolVersion = "io.modelcontextprotocol/protocolVersion"
            case clientCapabilities = "io.modelcontextprotocol/clientCapabilities"
            case clientInfo = "io.modelcontextprotocol/clientInfo"
        }

        public init() {}
    }

    /// The `_meta` key under which a 2026-07-28 result names the server.
    public static let serverInfoMetaKey = "io.modelcontextprotocol/serverInfo"
}
