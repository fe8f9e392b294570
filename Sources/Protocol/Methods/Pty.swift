public enum PtyCreate: RPCMethod {
    public static let name = "pty.create"

    public struct Params: Codable, Sendable, SandboxScoped {
        public var sandboxId: String?
        /// The command; an interactive login shell when absent.
        public var cmd: String?
        public var cols: Int
        public var rows: Int
        public var envs: [String: String]?
        public var cwd: String?
        public var user: String?
        public var timeout: Double?
        public var tag: String?
    }

    public struct Result: Codable, Sendable {
        public var pid: Int
        public init(pid: Int) { self.pid = pid }
    }
}

public enum PtySendInput: RPCMethod {
    public static let name = "pty.sendInput"

    public struct Params: Codable, Sendable, SandboxScoped {
        public var sandboxId: String?
        public var pid: Int
        /// Base64.
        public var data: String

        public init(sandboxId: String? = nil, pid: Int, data: String) {
            self.sandboxId = sandboxId
            self.pid = pid
            self.data = data
        }
    }

    public typealias Result = Empty
}

public enum PtyResize: RPCMethod {
    public static let name = "pty.resize"

    public struct Params: Codable, Sendable, SandboxScoped {
        public var sandboxId: String?
        public var pid: Int
        public var cols: Int
        public var rows: Int

        public init(sandboxId: String? = nil, pid: Int, cols: Int, rows: Int) {
            self.sandboxId = sandboxId
            self.pid = pid
            self.cols = cols
            self.rows = rows
        }
    }

    public typealias Result = Empty
}
