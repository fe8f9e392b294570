import Protocol

/// Checks of strings that reach system calls: the wire allows what C cannot take (a NUL would
/// cut the string short and change its meaning), and an empty path would mean the sandbox home.
enum InputChecks {
    /// The longest user name we look up (glibc's LOGIN_NAME_MAX).
    static let maxUserName = 256

    static func path(_ value: String, field: String) throws(RPCError) {
        if value.isEmpty { throw .invalidParams(field: field, reason: "must not be empty") }
        try noNUL(value, field: field)
    }

    static func noNUL(_ value: String?, field: String) throws(RPCError) {
        if let value, value.utf8.contains(0) { throw .invalidParams(field: field, reason: "must not contain NUL bytes") }
    }

    static func userName(_ value: String?) throws(RPCError) {
        guard let value else { return }
        try noNUL(value, field: "user")
        if value.isEmpty || value.utf8.count > maxUserName {
            throw .invalidParams(field: "user", reason: "must be a user name of 1 to \(maxUserName) bytes")
        }
    }

    static func sandboxId(_ value: String?) throws(RPCError) {
        if let value, value.isEmpty { throw .invalidParams(field: "sandboxId", reason: "must not be empty") }
    }
}
