/// One element of what a client sent, classified by the JSON-RPC 2.0 rules.
public enum IncomingMessage: Sendable, Equatable {
    /// A call to be answered. `params` is the raw value (an object, an array or absent).
    case request(id: RequestID, method: String, params: JSONValue?)
    /// A call never to be answered, even when it fails.
    case notification(method: String, params: JSONValue?)
    /// Not a valid request: answered with -32600, echoing `id` when it could be read.
    case invalid(id: RequestID?, reason: String)
    /// A response from the client; this server sends no requests, so it is ignored.
    case response

    public init(_ value: JSONValue) {
        guard case .object(let object) = value else {
            self = .invalid(id: nil, reason: "a request must be an object, got \(value.typeName)")
            return
        }
        let idValue = object["id"]
        let id = idValue.flatMap(RequestID.init)
        if let idValue, id == nil {
            self = .invalid(id: nil, reason: "id must be a string, a number or null, got \(idValue.typeName)")
            return
        }
        guard object["jsonrpc"] == .string("2.0") else {
            self = .invalid(id: id, reason: "jsonrpc must be \"2.0\"")
            return
        }
        guard let methodValue = object["method"] else {
            if object["result"] != nil || object["error"] != nil {
                self = .response
            } else {
                self = .invalid(id: id, reason: "method is required")
            }
            return
        }
        guard case .string(let method) = methodValue else {
            self = .invalid(id: id, reason: "method must be a string, got \(methodValue.typeName)")
            return
        }
        let params = object["params"]
        if let params {
            switch params {
            case .object, .array: break
            default:
                self = .invalid(id: id, reason: "params must be an object or an array, got \(params.typeName)")
                return
            }
        }
        if let id {
            self = .request(id: id, method: method, params: params)
        } else {
            self = .notification(method: method, params: params)
        }
    }
}

/// Encoders for what the server writes: each returns one line's bytes without the newline.
public enum OutgoingMessage {
    public static func result(id: RequestID, _ result: JSONValue) -> [UInt8] {
        JSONWriter.bytes(.object(["jsonrpc": "2.0", "id": id.json, "result": result]))
    }

    public static func error(id: RequestID?, _ error: RPCError) -> [UInt8] {
        JSONWriter.bytes(.object(["jsonrpc": "2.0", "id": id?.json ?? .null, "error": error.json]))
    }

    public static func notification(method: String, params: JSONValue) -> [UInt8] {
        JSONWriter.bytes(.object(["jsonrpc": "2.0", "method": .string(method), "params": params]))
    }

    /// Joins already encoded responses into one batch response line.
    public static func batch(_ responses: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (i, response) in responses.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: response)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }
}
