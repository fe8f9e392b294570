import Glibc
import Protocol

/// The environment a command starts with: a clean, non-interactive base (never the bridge's
/// own, which may hold API keys, unless `--inherit-env`), then the sandbox's envs, then the
/// command's.
enum CommandEnvironment {
    static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    static func build(
        home: String, user: String, inherited: [String: String]?,
        sandboxEnvs: [String: String], commandEnvs: [String: String], extra: [String: String] = [:]
    ) -> [String] {
        var env: [String: String] = inherited ?? [:]
        let base: [String: String] = [
            "PATH": path, "HOME": home, "USER": user, "LOGNAME": user, "LANG": "C.UTF-8", "TERM": "dumb",
            "SHELL": "/bin/bash", "PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0",
            "DEBIAN_FRONTEND": "noninteractive",
            // Python's output reaches the client as it is printed, not when a buffer fills.
            "PYTHONUNBUFFERED": "1",
        ]
        for (key, value) in base where inherited == nil || env[key] == nil || key == "HOME" || key == "USER" {
            env[key] = value
        }
        env.merge(extra) { $1 }
        env.merge(sandboxEnvs) { $1 }
        env.merge(commandEnvs) { $1 }
        return env.map { "\($0.key)=\($0.value)" }.sorted()
    }

    /// The bridge's own environment, read once at start-up for `--inherit-env`.
    static func bridgeEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                env[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            cursor += 1
        }
        return env
    }

    /// Refuses names and values that cannot be passed to exec.
    static func validate(_ envs: [String: String]?, field: String) throws(RPCError) {
        for (key, value) in envs ?? [:] {
            if key.isEmpty || key.contains("=") || key.utf8.contains(0) {
                throw .invalidParams(field: "\(field).\(key)", reason: "is not a valid environment variable name")
            }
            if value.utf8.contains(0) {
                throw .invalidParams(field: "\(field).\(key)", reason: "must not contain NUL bytes")
            }
        }
    }
}
