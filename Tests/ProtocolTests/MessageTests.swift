import Protocol
import Testing

@Suite struct MessageTests {
    func classify(_ text: String) throws -> IncomingMessage {
        IncomingMessage(try JSONParser.parse(Array(text.utf8)))
    }

    @Test func classifiesRequestsAndNotifications() throws {
        #expect(try classify(#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#)
            == .request(id: .number(JSONNumber(literal: "7")), method: "ping", params: nil))
        #expect(try classify(#"{"jsonrpc":"2.0","id":"a","method":"m","params":[1]}"#)
            == .request(id: .string("a"), method: "m", params: [1]))
        #expect(try classify(#"{"jsonrpc":"2.0","id":null,"method":"m"}"#) == .request(id: .null, method: "m", params: nil))
        #expect(try classify(#"{"jsonrpc":"2.0","method":"m","params":{}}"#) == .notification(method: "m", params: [:]))
        #expect(try classify(#"{"jsonrpc":"2.0","id":1,"result":{}}"#) == .response)
    }

    @Test func explainsInvalidRequests() throws {
        let cases: [(String, IncomingMessage)] = [
            (#"1"#, .invalid(id: nil, reason: "a request must be an object, got a number")),
            (#"{"jsonrpc":"2.0","id":{},"method":"m"}"#, .invalid(id: nil, reason: "id must be a string, a number or null, got an object")),
            (#"{"jsonrpc":"1.0","id":3,"method":"m"}"#, .invalid(id: .number(JSONNumber(3)), reason: #"jsonrpc must be "2.0""#)),
            (#"{"jsonrpc":"2.0","id":"x"}"#, .invalid(id: .string("x"), reason: "method is required")),
            (#"{"jsonrpc":"2.0","id":"x","method":5}"#, .invalid(id: .string("x"), reason: "method must be a string, got a number")),
            (#"{"jsonrpc":"2.0","id":"x","method":"m","params":"p"}"#,
             .invalid(id: .string("x"), reason: "params must be an object or an array, got a string")),
        ]
        for (text, expected) in cases {
            #expect(try classify(text) == expected, "\(text)")
        }
    }

    @Test func encodesResponsesWithTheIdAsGiven() {
        let id = RequestID.number(JSONNumber(literal: "18446744073709551621"))
        #expect(String(decoding: OutgoingMessage.result(id: id, [:]), as: UTF8.self)
            == #"{"jsonrpc":"2.0","id":18446744073709551621,"result":{}}"#)
        #expect(String(decoding: OutgoingMessage.error(id: nil, .methodNotFound(method: "nope")), as: UTF8.self)
            == #"{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"method not found: nope","data":{"kind":"MethodNotFound","method":"nope"}}}"#)
        #expect(String(decoding: OutgoingMessage.batch([Array("1".utf8), Array("2".utf8)]), as: UTF8.self) == "[1,2]")
    }
}

@Suite struct ErrorTests {
    @Test func mapsEveryErrorToItsCodeAndKind() {
        let partial = RPCError.PartialResult(pid: 1, stdout: "o", stderr: "e", exitCode: 137, signal: "SIGKILL", message: "m")
        let cases: [(RPCError, Int, String)] = [
            (.parseError(reason: "r"), -32700, "ParseError"), (.invalidRequest(reason: "r"), -32600, "InvalidRequest"),
            (.lineTooLong(limit: 5), -32600, "LimitExceeded"), (.methodNotFound(method: "m"), -32601, "MethodNotFound"),
            (.invalidParams(field: "f", reason: "r"), -32602, "InvalidParams"), (.internalError(reason: "r"), -32603, "Internal"),
            (.sandboxNotFound(sandboxId: "s"), -32001, "SandboxNotFound"), (.processNotFound(pid: 1), -32002, "ProcessNotFound"),
            (.timeout(partial), -32003, "Timeout"), (.permissionDenied(reason: "r"), -32004, "PermissionDenied"),
            (.fileNotFound(path: "p"), -32005, "FileNotFound"), (.notADirectory(path: "p"), -32006, "NotADirectory"),
            (.alreadyExists(path: "p"), -32007, "AlreadyExists"), (.processNotRunning(pid: 1), -32008, "ProcessNotRunning"),
            (.stdinClosed(pid: 1), -32009, "StdinClosed"), (.limitExceeded(reason: "r"), -32010, "LimitExceeded"),
            (.unsupported(reason: "r"), -32011, "Unsupported"), (.sandboxKilled(sandboxId: "s"), -32012, "SandboxKilled"),
            (.isADirectory(path: "p"), -32013, "IsADirectory"), (.requestCancelled, -32800, "RequestCancelled"),
        ]
        for (error, code, kind) in cases {
            #expect(error.code == code)
            #expect(error.data["kind"] == .string(kind))
        }
    }

    @Test func timeoutCarriesThePartialResult() {
        let partial = RPCError.PartialResult(pid: 9, stdout: "so far", stderr: "", exitCode: 137, signal: "SIGKILL", message: "timed out")
        #expect(JSONWriter.string(RPCError.timeout(partial).json)
            == #"{"code":-32003,"message":"timed out","data":{"kind":"Timeout","pid":9,"stdout":"so far","stderr":"","exitCode":137,"signal":"SIGKILL"}}"#)
    }

    @Test func invalidParamsNameTheField() {
        #expect(JSONWriter.string(RPCError.invalidParams(field: "cmd", reason: "is required").json)
            == #"{"code":-32602,"message":"invalid params: cmd: is required","data":{"kind":"InvalidParams","field":"cmd","reason":"is required"}}"#)
    }
}
