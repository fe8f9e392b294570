/// Every error the server can answer with. The mapping to wire codes, kinds and `data` lives
/// here and nowhere else; clients switch on `data.kind`.
public enum RPCError: Error, Sendable, Equatable {
    case parseError(reason: String)
    case invalidRequest(reason: String)
    case lineTooLong(limit: Int)
    case methodNotFound(method: String)
    case invalidParams(field: String, reason: String)
    case internalError(reason: String)
    case sandboxNotFound(sandboxId: String)
    case processNotFound(pid: Int)
    /// A run or wait whose time ran out; carries what the process had produced by then.
    case timeout(PartialResult)
    case permissionDenied(reason: String, path: String? = nil)
    case fileNotFound(path: String)
    case notADirectory(path: String)
    case alreadyExists(path: String)
    case processNotRunning(pid: Int)
    case stdinClosed(pid: Int)
    case limitExceeded(reason: String)
    case unsupported(reason: String)
    case sandboxKilled(sandboxId: String, pid: Int? = nil)
    case isADirectory(path: String)
    case requestCancelled
    /// An error answered by an agent (a supervisor inside an isolated sandbox), passed on as it came.
    case forwarded(code: Int, message: String, data: JSONObject)
    /// MCP only: a request stamped with a protocol revision this server does not speak.
    case unsupportedProtocolVersion(requested: String, supported: [String])

    public struct PartialResult: Sendable, Equatable {
        public var pid: Int
        public var stdout: String
        public var stderr: String
        public var exitCode: Int?
        public var signal: String?
        public var message: String

        public init(pid: Int, stdout: String, stderr: String, exitCode: Int?, signal: String?, message: String) {
            self.pid = pid
            self.stdout = stdout
            self.stderr = stderr
            self.exitCode = exitCode
            self.signal = signal
            self.message = message
        }
    }

    public var code: Int {
        switch self {
        case .parseError: -32700
        case .invalidRequest, .lineTooLong: -32600
        case .methodNotFound: -32601
        case .invalidParams: -32602
        case .internalError: -32603
        case .sandboxNotFound: -32001
        case .processNotFound: -32002
        case .timeout: -32003
        case .permissionDenied: -32004
        case .fileNotFound: -32005
        case .notADirectory: -32006
        case .alreadyExists: -32007
        case .processNotRunning: -32008
        case .stdinClosed: -32009
        case .limitExceeded: -32010
        case .unsupported: -32011
        case .sandboxKilled: -32012
        case .isADirectory: -32013
        case .requestCancelled: -32800
        case .unsupportedProtocolVersion: -32022
        case .forwarded(let code, _, _): code
        }
    }

    public var kind: String {
        switch self {
        case .parseError: "ParseError"
        case .invalidRequest: "InvalidRequest"
        case .lineTooLong, .limitExceeded: "LimitExceeded"
        case .methodNotFound: "MethodNotFound"
        case .invalidParams: "InvalidParams"
        case .internalError: "Internal"
        case .sandboxNotFound: "SandboxNotFound"
        case .processNotFound: "ProcessNotFound"
        case .timeout: "Timeout"
        case .permissionDenied: "PermissionDenied"
        case .fileNotFound: "FileNotFound"
        case .notADirectory: "NotADirectory"
        case .alreadyExists: "AlreadyExists"
        case .processNotRunning: "ProcessNotRunning"
        case .stdinClosed: "StdinClosed"
        case .unsupported: "Unsupported"
        case .sandboxKilled: "SandboxKilled"
        case .isADirectory: "IsADirectory"
        case .requestCancelled: "RequestCancelled"
        case .unsupportedProtocolVersion: "UnsupportedProtocolVersion"
        case .forwarded(_, _, let data): data["kind"]?.stringValue ?? "Internal"
        }
    }

    public var message: String {
        switch self {
        case .parseError(let reason): "parse error: \(reason)"
        case .invalidRequest(let reason): "invalid request: \(reason)"
        case .lineTooLong(let limit): "message longer than the limit of \(limit) bytes; skipped"
        case .methodNotFound(let method): "method not found: \(method)"
        case .invalidParams(let field, let reason): "invalid params: \(field): \(reason)"
        case .internalError(let reason): "internal error: \(reason)"
        case .sandboxNotFound(let id): "sandbox not found: \(id)"
        case .processNotFound(let pid): "process not found: \(pid)"
        case .timeout(let partial): partial.message
        case .permissionDenied(let reason, let path): path.map { "permission denied: \($0): \(reason)" } ?? "permission denied: \(reason)"
        case .fileNotFound(let path): "no such file or directory: \(path)"
        case .notADirectory(let path): "not a directory: \(path)"
        case .alreadyExists(let path): "already exists: \(path)"
        case .processNotRunning(let pid): "process \(pid) is not running"
        case .stdinClosed(let pid): "stdin of process \(pid) is closed (start it with stdin: true)"
        case .limitExceeded(let reason): "limit exceeded: \(reason)"
        case .unsupported(let reason): "unsupported: \(reason)"
        case .sandboxKilled(let id, _): "sandbox \(id) was killed"
        case .isADirectory(let path): "is a directory: \(path)"
        case .requestCancelled: "request cancelled"
        case .forwarded(_, let message, _): message
        case .unsupportedProtocolVersion(let requested, let supported):
            "unsupported protocol version \"\(requested)\" (supported: \(supported.joined(separator: ", ")))"
        }
    }

    public var data: JSONObject {
        if case .forwarded(_, _, let data) = self { return data }
        var data: JSONObject = ["kind": .string(kind)]
        switch self {
        case .parseError(let reason), .invalidRequest(let reason), .internalError(let reason),
             .limitExceeded(let reason), .unsupported(let reason):
            data["reason"] = .string(reason)
        case .lineTooLong(let limit): data["limit"] = .number(limit)
        case .methodNotFound(let method): data["method"] = .string(method)
        case .invalidParams(let field, let reason):
            data["field"] = .string(field)
            data["reason"] = .string(reason)
        case .sandboxNotFound(let id): data["sandboxId"] = .string(id)
        case .processNotFound(let pid), .processNotRunning(let pid), .stdinClosed(let pid):
            data["pid"] = .number(pid)
        case .timeout(let partial):
            data["pid"] = .number(partial.pid)
            data["stdout"] = .string(partial.stdout)
            data["stderr"] = .string(partial.stderr)
            data["exitCode"] = partial.exitCode.map { .number($0) } ?? .null
            if let signal = partial.signal { data["signal"] = .string(signal) }
        case .permissionDenied(let reason, let path):
            data["reason"] = .string(reason)
            if let path { data["path"] = .string(path) }
        case .fileNotFound(let path), .notADirectory(let path), .alreadyExists(let path), .isADirectory(let path):
            data["path"] = .string(path)
        case .sandboxKilled(let id, let pid):
            data["sandboxId"] = .string(id)
            if let pid { data["pid"] = .number(pid) }
        case .requestCancelled, .forwarded: break
        case .unsupportedProtocolVersion(let requested, let supported):
            data["requested"] = .string(requested)
            data["supported"] = .array(supported.map(JSONValue.string))
        }
        return data
    }

    public var json: JSONValue {
        .object(["code": .number(code), "message": .string(message), "data": .object(data)])
    }

    /// The InvalidParams error for a params value that failed to decode.
    public init(_ error: DecodingError) {
        let (field, reason) = error.fieldAndReason
        self = .invalidParams(field: field.isEmpty ? "params" : field, reason: reason)
    }
}
