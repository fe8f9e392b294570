/// Encodes `Encodable` types into a `JSONValue`, keeping keys in the order they are encoded.
public struct JSONValueEncoder {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if let json = value as? JSONValue { return json }
        if let value = value as? any JSONValueRepresentable { return value.json }
        let root = Node()
        try value.encode(to: ValueEncoder(node: root, parentPath: [], key: nil))
        return root.resolved()
    }
}

/// A value that builds its own `JSONValue`, without the `Encodable` machinery: for results on
/// the hot path (a run's result is encoded once per command). `json` must equal the `Encodable`
/// form, which the tests compare.
public protocol JSONValueRepresentable: Encodable {
    var json: JSONValue { get }
}

/// A mutable tree built while encoding; containers hand out child nodes and the tree is
/// resolved into a `JSONValue` at the end. Children are appended in place (no copy per key).
private final class Node {
    enum Kind { case empty, value, object, array }

    private(set) var kind = Kind.empty
    private var value = JSONValue.null
    private var keys: [String] = []
    private var children: [Node] = []

    var count: Int { kind == .array ? children.count : 0 }

    func set(_ value: JSONValue) {
        kind = .value
        self.value = value
    }

    func resolved() -> JSONValue {
        switch kind {
        case .empty: return .object(JSONObject())
        case .value: return value
        case .object: return .object(JSONObject(zip(keys, children).map { (key: $0, value: $1.resolved()) }))
        case .array: return .array(children.map { $0.resolved() })
        }
    }

    func child(forKey key: String) -> Node {
        makeObject()
        if let index = keys.firstIndex(of: key) { return children[index] }
        let node = Node()
        keys.append(key)
        children.append(node)
        return node
    }

    func appendChild() -> Node {
        makeArray()
        let node = Node()
        children.append(node)
        return node
    }

    func makeObject() { become(.object) }
    func makeArray() { become(.array) }

    private func become(_ container: Kind) {
        guard kind != container else { return }
        kind = container
        keys = []
        children = []
    }
}

private struct ValueEncoder: Encoder {
    let node: Node
    /// As in the decoder: the path is joined only when asked for.
    let parentPath: [any CodingKey]
    let key: (any CodingKey)?
    var codingPath: [any CodingKey] { key.map { parentPath + [$0] } ?? parentPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.makeObject()
        return KeyedEncodingContainer(KeyedContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeArray()
        return UnkeyedContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }
}

extension ValueEncoder: SingleValueEncodingContainer {
    func encodeNil() { node.set(.null) }
    func encode(_ value: Bool) { node.set(.bool(value)) }
    func encode(_ value: String) { node.set(.string(value)) }
    func encode(_ value: Double) { node.set(.number(JSONNumber(value))) }
    func encode(_ value: Float) { node.set(.number(JSONNumber(Double(value)))) }
    func encode(_ value: Int) { node.set(.number(JSONNumber(value))) }
    func encode(_ value: Int8) { encode(Int(value)) }
    func encode(_ value: Int16) { encode(Int(value)) }
    func encode(_ value: Int32) { encode(Int(value)) }
    func encode(_ value: Int64) { encode(Int(value)) }
    func encode(_ value: UInt) { node.set(.number(JSONNumber(literal: String(value)))) }
    func encode(_ value: UInt8) { encode(Int(value)) }
    func encode(_ value: UInt16) { encode(Int(value)) }
    func encode(_ value: UInt32) { encode(Int(value)) }
    func encode(_ value: UInt64) { node.set(.number(JSONNumber(literal: String(value)))) }

    func encode<T: Encodable>(_ value: T) throws {
        // The common leaves directly: `encode(to:)` would box this encoder as a container.
        if T.self == String.self { encode(value as! String) }
        else if T.self == Int.self { encode(value as! Int) }
        else if T.self == Bool.self { encode(value as! Bool) }
        else if let json = value as? JSONValue { node.set(json) }
        else { try value.encode(to: self) }
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [any CodingKey]

    private func encoder(for key: Key) -> ValueEncoder {
        ValueEncoder(node: node.child(forKey: key.stringValue), parentPath: codingPath, key: key)
    }

    mutating func encodeNil(forKey key: Key) { encoder(for: key).encodeNil() }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try encoder(for: key).encode(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        encoder(for: key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        encoder(for: key).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { ValueEncoder(node: node, parentPath: codingPath, key: nil) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { encoder(for: key) }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    var count: Int { node.count }

    private func next() -> ValueEncoder { ValueEncoder(node: node.appendChild(), parentPath: codingPath, key: nil) }

    mutating func encodeNil() { next().encodeNil() }
    mutating func encode<T: Encodable>(_ value: T) throws { try next().encode(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        next().container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { next().unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { next() }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        // Only reached through foreign decoders; ours hands the value over directly.
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let b = try? container.decode(Bool.self) { self = .bool(b) }
        else if let d = try? container.decode(Double.self) { self = .number(JSONNumber(d)) }
        else if let s = try? container.decode(String.self) { self = .string(s) }
        else if let a = try? container.decode([JSONValue].self) { self = .array(a) }
        else {
            let o = try container.decode([String: JSONValue].self)
            self = .object(JSONObject(o.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self)
    }
}
