import Protocol
import Testing

@Suite struct ParamsDecodingTests {
    func decodeError<T: Decodable>(_ type: T.Type, _ text: String) throws -> RPCError? {
        let value = try JSONParser.parse(Array(text.utf8))
        do {
            _ = try JSONValueDecoder().decode(type, from: value)
            return nil
        } catch let error as DecodingError {
            return RPCError(error)
        }
    }

    @Test func decodesRunParams() throws {
        let value = try JSONParser.parse(Array(#"{"cmd":"ls","background":true,"envs":{"A":"1"},"timeout":2.5,"encoding":"base64","extra":1}"#.utf8))
        let params = try JSONValueDecoder().decode(CommandsRun.Params.self, from: value)
        #expect(params.cmd == "ls")
        #expect(params.background == true)
        #expect(params.envs == ["A": "1"])
        #expect(params.timeout == 2.5)
        #expect(params.encoding == .base64)
    }

    @Test func namesTheFieldThatIsWrong() throws {
        #expect(try decodeError(CommandsRun.Params.self, #"{}"#) == .invalidParams(field: "cmd", reason: "is required"))
        #expect(try decodeError(CommandsRun.Params.self, #"{"cmd":1}"#) == .invalidParams(field: "cmd", reason: "expected a string, got a number"))
        #expect(try decodeError(CommandsRun.Params.self, #"{"cmd":"x","envs":{"A":2}}"#)
            == .invalidParams(field: "envs.A", reason: "expected a string, got a number"))
        #expect(try decodeError(CommandsRun.Params.self, #"{"cmd":"x","encoding":"hex"}"#)
            == .invalidParams(field: "encoding", reason: #"must be one of "utf8", "base64", got "hex""#))
        #expect(try decodeError(SandboxCreate.Params.self, #"{"limits":{"pids":1.5}}"#)
            == .invalidParams(field: "limits.pids", reason: "expected an integer in range, got 1.5"))
        #expect(try decodeError(CommandsKill.Params.self, #"{"pid":1,"signal":"SIGNOPE"}"#)
            == .invalidParams(field: "signal", reason: #"unknown signal "SIGNOPE"; expected a name such as "SIGTERM""#))
        #expect(try decodeError(CommandsKill.Params.self, #"{"pid":null}"#) == .invalidParams(field: "pid", reason: "must not be null"))
    }

    @Test func signalsByName() {
        #expect(SignalName(name: "SIGTERM")?.number == 15)
        #expect(SignalName(name: "kill")?.number == 9)
        #expect(SignalName(number: 9).description == "SIGKILL")
        #expect(SignalName(name: "SIGFOO") == nil)
    }

    @Test func encodesResultsWithOptionalFieldsLeftOut() throws {
        let result = CommandsRun.Result.finished(CommandResult(pid: 3, stdout: "a", stderr: "", exitCode: 0))
        #expect(JSONWriter.string(try JSONValueEncoder().encode(result)) == #"{"pid":3,"stdout":"a","stderr":"","exitCode":0}"#)
        let killed = CommandResult(pid: 3, stdout: "", stderr: "", exitCode: 137, signal: .kill, truncated: .init(stdout: 5, stderr: 0))
        #expect(JSONWriter.string(try JSONValueEncoder().encode(killed))
            == #"{"pid":3,"stdout":"","stderr":"","exitCode":137,"signal":"SIGKILL","truncated":{"stdout":5,"stderr":0}}"#)
        #expect(JSONWriter.string(try JSONValueEncoder().encode(CommandsRun.Result.started(pid: 8))) == #"{"pid":8}"#)
        #expect(JSONWriter.string(try JSONValueEncoder().encode(Empty())) == "{}")
    }

    @Test func aHandBuiltResultEqualsItsEncodableForm() throws {
        let results: [CommandsRun.Result] = [
            .finished(CommandResult(pid: 3, stdout: "a\n\u{1}\"", stderr: "é", exitCode: 0)),
            .finished(CommandResult(pid: 4, stdout: "", stderr: "", exitCode: 137, signal: .kill)),
            .finished(CommandResult(pid: 5, stdout: "x", stderr: "", exitCode: 1, truncated: .init(stdout: 7, stderr: 0))),
            .started(pid: 8),
        ]
        // Inside an array, each element goes through `Encodable`; alone, through `json`.
        guard case .array(let encodable) = try JSONValueEncoder().encode(results) else {
            Issue.record("not an array")
            return
        }
        #expect(encodable == results.map(\.json))
        #expect(try results.map { try JSONValueEncoder().encode($0) } == results.map(\.json))
    }
}

@Suite struct RunResultDecodingTests {
    @Test func tellsAFinishedRunFromAStartedOne() throws {
        let finished = try JSONParser.parse(Array(#"{"pid":3,"stdout":"a","stderr":"","exitCode":0}"#.utf8))
        guard case .finished(let result) = try JSONValueDecoder().decode(CommandsRun.Result.self, from: finished) else {
            Issue.record("decoded as started")
            return
        }
        #expect(result == CommandResult(pid: 3, stdout: "a", stderr: "", exitCode: 0))
        let started = try JSONParser.parse(Array(#"{"pid":8}"#.utf8))
        guard case .started(let pid) = try JSONValueDecoder().decode(CommandsRun.Result.self, from: started) else {
            Issue.record("decoded as finished")
            return
        }
        #expect(pid == 8)
    }
}
