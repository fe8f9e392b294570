import CSandboxShims
import Glibc
import Protocol

/// A sandbox's home directory: made under the bridge's root and removed with the sandbox, or
/// the user's own `cwd`, which is used as it is and never removed.
struct Workspace: Sendable {
    let path: String
    let owned: Bool

    static func make(root: String, name: String) throws(RPCError) -> Workspace {
        let path = root + "/" + name
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw .internalError(reason: "cannot create the sandbox home \(path): \(String(cString: strerror(errno)))")
        }
        return Workspace(path: path, owned: true)
    }

    static func existing(_ path: String) throws(RPCError) -> Workspace {
        try requireDirectory(path)
        return Workspace(path: absolute(path, base: currentDirectory()), owned: false)
    }

    func remove() {
        guard owned else { return }
        _ = sr_remove_tree(path)
    }

    /// `path` resolved against this workspace when relative.
    func resolve(_ path: String?) -> String {
        guard let path, !path.isEmpty else { return self.path }
        return Self.absolute(path, base: self.path)
    }

    /// `path` made absolute against `base`, with `.` and `..` components resolved lexically.
    static func absolute(_ path: String, base: String) -> String {
        let joined = path.hasPrefix("/") ? path : base + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// FileNotFound when missing, NotADirectory when something else.
    static func requireDirectory(_ path: String) throws(RPCError) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == EACCES { throw .permissionDenied(reason: "cannot access the directory", path: path) }
            throw .fileNotFound(path: path)
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw .notADirectory(path: path) }
    }
}
