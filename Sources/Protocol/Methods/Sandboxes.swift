public enum Isolation: String, WireEnum {
    case auto
    case none
    case bwrap
    case docker
}

public struct SandboxLimits: Codable, Sendable, Equatable {
    public var memoryBytes: Int?
    public var pids: Int?
    public var cpuSeconds: Double?
    public var maxOutputBytes: Int?

    public init() {}
}

public enum SandboxCreate: RPCMethod {
    public static let name = "sandbox.create"

    public struct Params: Codable, Sendable {
        public var isolation: Isolation?
        public var cwd: String?
        public var envs: [String: String]?
        public var timeout: Double?
        public var metadata: [String: String]?
        public var network: Bool?
        public var limits: SandboxLimits?
        /// The container image of a docker sandbox (default: the bridge's `--docker-image`).
        public var image: String?

        public init() {}
    }

    public struct Result: Codable, Sendable {
        public var sandboxId: String
        public var isolation: Isolation
        public var home: String
        /// For each limit asked for, how it is enforced: "cgroup" (the sandbox as a whole),
        /// "rlimit" (each process), "retention" (maxOutputBytes) or "none".
        public var limits: [String: String]?

        public init(sandboxId: String, isolation: Isolation, home: String, limits: [String: String]? = nil) {
            self.sandboxId = sandboxId
            self.isolation = isolation
            self.home = home
            self.limits = limits
        }
    }
}

/// Params of the methods that act on one sandbox and nothing else.
public struct SandboxTarget: Codable, Sendable, SandboxScoped {
    public var sandboxId: String?

    public init(sandboxId: String? = nil) { self.sandboxId = sandboxId }
}

public struct Killed: Codable, Sendable, Equatable {
    public var killed: Bool
    public init(killed: Bool) { self.killed = killed }
}

public enum SandboxKill: RPCMethod {
    public static let name = "sandbox.kill"
    public typealias Params = SandboxTarget
    public typealias Result = Killed
}

public enum SandboxList: RPCMethod {
    public static let name = "sandbox.list"
    public typealias Params = Empty

    public struct SandboxInfo: Codable, Sendable {
        public var sandboxId: String
        public var isolation: Isolation
        public var metadata: [String: String]
        public var startedAt: Double
        public var processCount: Int

        public init(sandboxId: String, isolation: Isolation, metadata: [String: String], startedAt: Double, processCount: Int) {
            self.sandboxId = sandboxId
            self.isolation = isolation
            self.metadata = metadata
            self.startedAt = startedAt
            self.processCount = processCount
        }
    }

    public struct Result: Codable, Sendable {
        public var sandboxes: [SandboxInfo]
        public init(sandboxes: [SandboxInfo]) { self.sandboxes = sandboxes }
    }
}

public enum SandboxSetTimeout: RPCMethod {
    public static let name = "sandbox.setTimeout"

    public struct Params: Codable, Sendable, SandboxScoped {
        public var sandboxId: String?
        public var timeout: Double
    }

    public typealias Result = Empty
}

public enum SandboxGetHost: RPCMethod {
    public static let name = "sandbox.getHost"

    public struct Params: Codable, Sendable, SandboxScoped {
        public var sandboxId: String?
        public var port: Int
    }

    public struct Result: Codable, Sendable {
        public var host: String
        public init(host: String) { self.host = host }
    }
}

/// Pushed when a sandbox ends by itself (its timeout passed).
public struct SandboxExit: RPCNotification {
    public static let method = "sandbox.exit"
    public var sandboxId: String
    public var reason: String

    public init(sandboxId: String, reason: String) {
        self.sandboxId = sandboxId
        self.reason = reason
    }
}
