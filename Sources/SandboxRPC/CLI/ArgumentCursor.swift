/// Walks command-line arguments: each option, and its value given as `--name=value` or as the
/// next argument.
struct ArgumentCursor {
    private let arguments: [String]
    private var index = -1
    private var inlineValue: String?

    init(_ arguments: [String]) { self.arguments = arguments }

    /// The next option's name (`--name` of `--name=value`), or nil at the end.
    mutating func nextOption() -> String? {
        index += 1
        guard index < arguments.count else { return nil }
        let argument = arguments[index]
        if argument.hasPrefix("--"), let eq = argument.firstIndex(of: "=") {
            inlineValue = String(argument[argument.index(after: eq)...])
            return String(argument[..<eq])
        }
        inlineValue = nil
        return argument
    }

    /// The current option's value: after its `=`, else the next argument.
    mutating func value() -> String? {
        if let inlineValue { return inlineValue }
        index += 1
        return index < arguments.count ? arguments[index] : nil
    }

    /// The current option as written, with its value when it has one, for passing it on.
    mutating func passThrough() -> [String] {
        if inlineValue != nil { return [arguments[index]] }
        var words = [arguments[index]]
        if index + 1 < arguments.count, !arguments[index + 1].hasPrefix("--") {
            index += 1
            words.append(arguments[index])
        }
        return words
    }
}
