public enum FileType: String, WireEnum {
    case file
    case dir
    case symlink
}

/// A file system entry as the sandbox sees it.
public struct EntryInfo: Codable, Sendable, Equatable {
    public var name: String
    public var path: String
    public var type: FileType
    public var size: Int
    /// Permission bits (0o644 is 420).
    public var mode: Int
    public var modifiedTime: Double
    public var owner: String?
    public var group: String?
    public var symlinkTarget: String?

    public init(name: String, path: String, type: FileType, size: Int, mode: Int, modifiedTime: Double,
                owner: String?, group: String?, symlinkTarget: String?) {
        self.name = name
        self.path = path
        self.type = type
        self.size = size
        self.mode = mode
        self.modifiedTime = modifiedTime
        self.owner = owner
        self.group = group
        self.symlinkTarget = symlinkTarget
    }
}

/// Params of the file methods that act on one path.
public struct PathTarget: Codable, Sendable, SandboxScoped {
    public var sandboxId: String?
    public var path: String

    public init(sandboxId: String? = nil, path: String) {
        self.sandboxId = sandboxId
        self.path = path
    }
}

public enum FilesRead: RPCMethod {
    public static let name = "files.read"

    public struct Params: Codable, Sendable, SandboxScoped {
        public var sandboxId: String?
        public var path: String
        public var encoding: OutputEncoding?
        /// Read only `length` bytes from `offset` on: how large files are streamed in chunks.
        public var offset: Int?
        public var length: Int?

        public init(sandboxId: String? = nil, path: String, encoding: OutputEncoding?, offset: Int? = nil, length: Int? = nil) {
            self.sandboxId = sandboxId
            self.path = path
            self.encoding = encoding
            self.offset = offset
            self.length = length
        }
    }

    public struct Result: Codable, Sendable {
        public var content: String
        /// With `offset`/`length`: the file's whole size, so a reader knows when it is done.
        public var size: Int?
        public init(content: String, size: Int? = nil) {
            self.content = content
            self.size = size
        }
    }
}

public enum FilesWrite: RPCMethod {
    public static let name = "files.write"

    public struct Params: Codable, Sendable, SandboxScoped {
        public var sandboxId: String?
        public var path: String
        public var content: String
        public var encoding: OutputEncoding?
        /// Append to the file instead of replacing it: how large files are written in chunks.
        public var append: Bool?

        public init(sandboxId: String? = nil, path: String, content: String, encoding: OutputEncoding?, append: Bool? = nil) {
            self.sandboxId = sandboxId
            self.path = path
            self.content = content
            self.encoding = encoding
            self.append = append
        }
    }

    public struct Result: Codable, Sendable {
        public var path: String
        public var size: Int
        public init(path: String, size: Int) {
            self.path = path
            self.size = size
        }
    }
}

public enum FilesList: RPCMethod {
    public static let name = "files.list"

    public struct Params: Codable, Sendable, SandboxScoped {
        public var sandboxId: String?
        public var path: String
        public var depth: Int?

        public init(sandboxId: String? = nil, path: String, depth: Int?) {
            self.sandboxId = sandboxId
            self.path = path
            self.depth = depth
        }
    }

    public struct Result: Codable, Sendable {
        public var entries: [EntryInfo]
        public init(entries: [EntryInfo]) { self.entries = entries }
    }
}

public enum FilesExists: RPCMethod {
    public static let name = "files.exists"
    public typealias Params = PathTarget

    public struct Result: Codable, Sendable {
        public var exists: Bool
        public init(exists: Bool) { self.exists = exists }
    }
}

public enum FilesRemove: RPCMethod {
    public static let name = "files.remove"
    public typealias Params = PathTarget
    public typealias Result = Empty
}

public enum FilesRename: RPCMethod {
    public static let name = "files.rename"

    public struct Params: Codable, Sendable, SandboxScoped {
        public var sandboxId: String?
        public var from: String
        public var to: String

        public init(sandboxId: String? = nil, from: String, to: String) {
            self.sandboxId = sandboxId
            self.from = from
            self.to = to
        }
    }

    public typealias Result = EntryInfo
}

public enum FilesMakeDir: RPCMethod {
    public static let name = "files.makeDir"
    public typealias Params = PathTarget

    public struct Result: Codable, Sendable {
        public var created: Bool
        public init(created: Bool) { self.created = created }
    }
}

public enum FilesInfo: RPCMethod {
    public static let name = "files.info"
    public typealias Params = PathTarget
    public typealias Result = EntryInfo
}
