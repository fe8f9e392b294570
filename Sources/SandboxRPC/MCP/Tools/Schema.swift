import Protocol

/// A few JSON Schema builders, so that each tool's input and output schemas read as what they
/// say. Objects are closed (`additionalProperties: false`): a misspelt argument is an error the
/// model sees, not something silently ignored.
enum Schema {
    static func object(
        _ properties: KeyValuePairs<String, JSONValue>, required: [String] = [], description: String? = nil
    ) -> JSONValue {
        var schema: JSONObject = ["type": "object"]
        if let description { schema["description"] = .string(description) }
        schema["properties"] = .object(JSONObject(properties.map { (key: $0.key, value: $0.value) }))
        if !required.isEmpty { schema["required"] = .array(required.map(JSONValue.string)) }
        schema["additionalProperties"] = false
        return .object(schema)
    }

    static func string(_ description: String, oneOf values: [String]? = nil, default value: String? = nil) -> JSONValue {
        var schema: JSONObject = ["type": "string", "description": .string(description)]
        if let values { schema["enum"] = .array(values.map(JSONValue.string)) }
        if let value { schema["default"] = .string(value) }
        return .object(schema)
    }

    static func integer(_ description: String, minimum: Int? = nil, default value: Int? = nil) -> JSONValue {
        var schema: JSONObject = ["type": "integer", "description": .string(description)]
        if let minimum { schema["minimum"] = .number(minimum) }
        if let value { schema["default"] = .number(value) }
        return .object(schema)
    }

    static func number(_ description: String, minimum: Double? = nil, default value: Double? = nil) -> JSONValue {
        var schema: JSONObject = ["type": "number", "description": .string(description)]
        if let minimum { schema["minimum"] = .number(minimum) }
        if let value { schema["default"] = .number(value) }
        return .object(schema)
    }

    static func boolean(_ description: String, default value: Bool? = nil) -> JSONValue {
        var schema: JSONObject = ["type": "boolean", "description": .string(description)]
        if let value { schema["default"] = .bool(value) }
        return .object(schema)
    }

    static func array(of items: JSONValue, _ description: String) -> JSONValue {
        ["type": "array", "description": .string(description), "items": items]
    }

    /// An object whose keys are free and whose values all have the schema `values`.
    static func map(of values: JSONValue, _ description: String) -> JSONValue {
        ["type": "object", "description": .string(description), "additionalProperties": values]
    }

    /// The property names of an object schema.
    static func propertyNames(of schema: JSONValue) -> [String] {
        guard case .object(let properties)? = schema["properties"] else { return [] }
        return properties.keys
    }

    // Properties several tools share.
    static let sandboxId = string("The sandbox to use, from create_sandbox. Default: this session's sandbox.")
    static let pid = integer("A process id from start_command or list_processes.", minimum: 1)
    /// A number for each output stream: `{stdout, stderr}`.
    static func perStream(_ what: String, description: String) -> JSONValue {
        object(
            ["stdout": integer("\(what) stdout.", minimum: 0), "stderr": integer("\(what) stderr.", minimum: 0)],
            required: ["stdout", "stderr"], description: description)
    }
    static let omittedBytes = perStream("Bytes left out of", description: "How many bytes of each stream were left out of the middle.")
}
