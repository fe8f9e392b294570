/// What a finished command produced. A non-zero exit is a result, not an error.
public struct CommandResult: Codable, Sendable, Equatable {
    public struct Truncated: Codable, Sendable, Equatable {
        public var stdout: Int
        public var stderr: Int
        public init(stdout: Int, stderr: Int) {
            self.stdout = stdout
            self.stderr = stderr
        }
    }

    public var pid: Int
    public var stdout: String
    public var stderr: String
    public var exitCode: Int
    public var signal: SignalName?
    public var truncated: Truncated?

    public init(pid: Int, stdout: String, stderr: String, exitCode: Int, signal: SignalName? = nil, truncated: Truncated? = nil) {
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self.exitCode = exitCode
        self.signal = signal
        self.truncated = truncated
    }
}

extension CommandResult: JSONValueRepresentable {
    public var json: JSONValue {
        var entries: [(key: String, value: JSONValue)] = [
            ("pid", .number(pid)), ("stdout", .string(stdout)), ("stderr", .string(stderr)), ("exitCode", .number(exitCode)),
        ]
        if let signal { entries.append(("signal", .string(signal.description))) }
        if let truncated { entries.append(("truncated", ["stdout": .number(truncated.stdout), "stderr": .number(truncated.stderr)])) }
        return .object(JSONObject(entries))
    }
}

public enum CommandsRun: RPCMethod {
    public static let name = "commands.run"

    public struct Params: Codable, Sendable, SandboxScoped {
        public var sandboxId: String?
        public var cmd: String
        public var background: Bool?
        public var envs: [String: String]?
        public var user: String?
        public var cwd: String?
        public var stdin: Bool?
        public var timeout: Double?
        public var stream: Bool?
        public var tag: String?
        public var encoding: OutputEncoding?
        public var maxOutputBytes: Int?

        public init(cmd: String) { self.cmd = cmd }
    }

    /// A foreground run answers with the whole result, a background run with its pid at once.
    public enum Result: Codable, Sendable {
        case finished(CommandResult)
        case started(pid: Int)

        private enum CodingKeys: String, CodingKey { case pid, exitCode }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if container.contains(.exitCode) {
                self = .finished(try CommandResult(from: decoder))
            } else {
                self = .started(pid: try container.decode(Int.self, forKey: .pid))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .finished(let result): try result.encode(to: encoder)
            case .started(let pid):
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(pid, forKey: .pid)
            }
        }
    }
}

/// Params of the methods that act on one process.
public struct ProcessTarget: Codable, Sendable, SandboxScoped {
    public var sandboxId: String?
    public var pid: Int

    public init(sandboxId: String? = nil, pid: Int) {
        self.sandboxId = sandboxId
        self.pid = pid
    }
}

public enum CommandsList: RPCMethod {
    public static let name = "commands.list"
    public typealias Params = SandboxTarget

    public struct ProcessInfo: Codable, Sendable, Equatable {
        public var pid: Int
        public var cmd: String
        public var tag: String?
        public var envs: [String: String]
        public var cwd: String
        public var isPty: Bool
        public var startedAt: Double

        public init(pid: Int, cmd: String, tag: String?, envs: [String: String], cwd: String, isPty: Bool, startedAt: Double) {
            self.pid = pid
            self.cmd = cmd
            self.tag = tag
            self.envs = envs
            self.cwd = cwd
            self.isPty = isPty
            self.startedAt = startedAt
        }
    }

    public struct Result: Codable, Sendable {
        public var processes: [ProcessInfo]
        public init(processes: [ProcessInfo]) { self.processes = processes }
    }
}

public enum CommandsKill: RPCMethod {
    public static let name = "commands.kill"

    public struct Params: Codable, Sendable, SandboxScoped {
        public var sandboxId: String?
        public var pid: Int
        public var signal: SignalName?

        public init(sandboxId: String? = nil, pid: Int, signal: SignalName?) {
            self.sandboxId = sandboxId
            self.pid = pid
            self.signal = signal
        }
    }

    public typealias Result = Killed
}

public enum CommandsSendStdin: RPCMethod {
    public static let name = "commands.sendStdin"

    public struct Params: Codable, Sendable, SandboxScoped {
        public var sandboxId: String?
        public var pid: Int
        public var data: String
        public var encoding: OutputEncoding?

        public init(sandboxId: String? = nil, pid: Int, data: String, encoding: OutputEncoding?) {
            self.sandboxId = sandboxId
            self.pid = pid
            self.data = data
            self.encoding = encoding
        }
    }

    public typealias Result = Empty
}

public enum CommandsCloseStdin: RPCMethod {
    public static let name = "commands.closeStdin"
    public typealias Params = ProcessTarget
    public typealias Result = Empty
}

public enum CommandsConnect: RPCMethod {
    public static let name = "commands.connect"
    public typealias Params = ProcessTarget

    public struct Result: Codable, Sendable {
        public var pid: Int
        public var stdout: String
        public var stderr: String
        public init(pid: Int, stdout: String, stderr: String) {
            self.pid = pid
            self.stdout = stdout
            self.stderr = stderr
        }
    }
}

public enum CommandsDisconnect: RPCMethod {
    public static let name = "commands.disconnect"
    public typealias Params = ProcessTarget
    public typealias Result = Empty
}

public enum CommandsWait: RPCMethod {
    public static let name = "commands.wait"

    public struct Params: Codable, Sendable, SandboxScoped {
        public var sandboxId: String?
        public var pid: Int
        public var timeout: Double?

        public init(sandboxId: String? = nil, pid: Int, timeout: Double?) {
            self.sandboxId = sandboxId
            self.pid = pid
            self.timeout = timeout
        }
    }

    public typealias Result = CommandResult
}

/// Pushed once per process when it has exited and its output was delivered.
public struct CommandExit: RPCNotification {
    public static let method = "commands.exit"
    public var sandboxId: String
    public var pid: Int
    public var exitCode: Int
    public var signal: SignalName?
    public var error: String?

    public init(sandboxId: String, pid: Int, exitCode: Int, signal: SignalName?, error: String?) {
        self.sandboxId = sandboxId
        self.pid = pid
        self.exitCode = exitCode
        self.signal = signal
        self.error = error
    }
}

public enum OutputStream: String, WireEnum {
    case stdout
    case stderr
}

extension CommandsRun.Result: JSONValueRepresentable {
    public var json: JSONValue {
        switch self {
        case .finished(let result): result.json
        case .started(let pid): ["pid": .number(pid)]
        }
    }
}
