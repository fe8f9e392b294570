import Protocol

/// `read_file`: a file's content, or a part of it.
enum ReadFile: MCPTool {
    struct Arguments: Decodable, Sendable {
        var path: String
        var offset: Int?
        var length: Int?
        var encoding: OutputEncoding?
        var sandboxId: String?
    }

    struct Output: Encodable, Sendable {
        var path: String
        var content: String
        var encoding: OutputEncoding
        var size: Int
        var offset: Int
        var length: Int
        var remaining: Int
    }

    static let name = "read_file"
    static let title = "Read a file"
    static let description = """
        Read a file in the sandbox (relative paths start at its home). Large files come in parts: \
        `remaining` says how many bytes follow; read on with `offset`. Use encoding base64 for \
        binary files.
        """
    static let inputSchema = Schema.object(
        [
            "path": Schema.string("The file's path."),
            "offset": Schema.integer("Byte offset to start at.", minimum: 0, default: 0),
            "length": Schema.integer("Bytes to read at most. Default: 262144.", minimum: 0),
            "encoding": Schema.string("How to return the content.", oneOf: ["utf8", "base64"], default: "utf8"),
            "sandboxId": Schema.sandboxId,
        ],
        required: ["path"])
    static let outputSchema = Schema.object(
        [
            "path": Schema.string("The path as given."),
            "content": Schema.string("The bytes read, as text (invalid UTF-8 as U+FFFD) or base64."),
            "encoding": Schema.string("The content's encoding.", oneOf: ["utf8", "base64"]),
            "size": Schema.integer("The file's size in bytes.", minimum: 0),
            "offset": Schema.integer("Where the content starts.", minimum: 0),
            "length": Schema.integer("Bytes in the content.", minimum: 0),
            "remaining": Schema.integer("Bytes of the file after the content.", minimum: 0),
        ],
        required: ["path", "content", "encoding", "size", "offset", "length", "remaining"])
    static let annotations = MCP.ToolAnnotations(readOnly: true, openWorld: false)

    static func call(_ arguments: Arguments, _ context: ToolContext) async throws -> ToolResult<Output> {
        let offset = arguments.offset ?? 0
        let limit = arguments.length ?? context.settings.fileBytes
        guard offset >= 0 else { throw ToolError.invalidArgument("offset", reason: "must be >= 0") }
        guard limit >= 0 else { throw ToolError.invalidArgument("length", reason: "must be >= 0") }
        let encoding = arguments.encoding ?? .utf8
        let sandbox = try await context.sandboxes.sandbox(arguments.sandboxId)
        let (chunk, size) = try await sandbox.files.read(arguments.path, offset: offset, length: limit)
        let start = min(offset, size)
        var part = chunk[...]
        if encoding == .utf8 && start + part.count < size {
            let keep = UTF8Sanitizer.completePrefixLength(part)
            if keep > 0 { part = part.prefix(keep) }  // the cut character comes whole with the next part
        }
        let content = encoding == .utf8 ? String(decoding: part, as: UTF8.self) : Base64.encode(Array(part))
        let remaining = size - (start + part.count)
        let output = Output(
            path: arguments.path, content: content, encoding: encoding, size: size, offset: start,
            length: part.count, remaining: remaining)
        var text = content
        if remaining > 0 {
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            text += "[… \(remaining) more bytes: read on with offset \(start + part.count) …]"
        } else if size == 0 {
            text = "(\(arguments.path) is empty)"
        }
        return ToolResult(output: output, text: text)
    }
}

/// `write_file`: creates or replaces a file.
enum WriteFile: MCPTool {
    struct Arguments: Decodable, Sendable {
        var path: String
        var content: String
        var encoding: OutputEncoding?
        var sandboxId: String?
    }

    struct Output: Encodable, Sendable {
        var path: String
        var size: Int
    }

    static let name = "write_file"
    static let title = "Write a file"
    static let description = """
        Create or replace a file in the sandbox (relative paths start at its home); missing parent \
        directories are created.
        """
    static let inputSchema = Schema.object(
        [
            "path": Schema.string("The file's path."),
            "content": Schema.string("The whole new content."),
            "encoding": Schema.string("How `content` is encoded.", oneOf: ["utf8", "base64"], default: "utf8"),
            "sandboxId": Schema.sandboxId,
        ],
        required: ["path", "content"])
    static let outputSchema = Schema.object(
        ["path": Schema.string("The absolute path written."), "size": Schema.integer("Bytes written.", minimum: 0)],
        required: ["path", "size"])
    static let annotations = MCP.ToolAnnotations(destructive: true, idempotent: true, openWorld: false)

    static func call(_ arguments: Arguments, _ context: ToolContext) async throws -> ToolResult<Output> {
        let bytes = try ServerMethods.decode(arguments.content, arguments.encoding, field: "content")
        let sandbox = try await context.sandboxes.sandbox(arguments.sandboxId)
        let path = try await sandbox.files.write(arguments.path, bytes)
        return ToolResult(output: Output(path: path, size: bytes.count), text: "wrote \(bytes.count) bytes to \(path)")
    }
}

/// `list_files`: a directory's entries, optionally deeper.
enum ListFiles: MCPTool {
    struct Arguments: Decodable, Sendable {
        var path: String?
        var depth: Int?
        var sandboxId: String?
    }

    struct Entry: Encodable, Sendable {
        var name: String
        var path: String
        var type: FileType
        var size: Int
    }

    struct Output: Encodable, Sendable {
        var entries: [Entry]
        var omitted: Int
    }

    static let name = "list_files"
    static let title = "List files"
    static let description = """
        List a directory in the sandbox (relative paths start at its home; default: the home), \
        with depth > 1 also what its subdirectories hold.
        """
    static let inputSchema = Schema.object(
        [
            "path": Schema.string("The directory.", default: "."),
            "depth": Schema.integer("How many levels to list.", minimum: 1, default: 1),
            "sandboxId": Schema.sandboxId,
        ])
    static let outputSchema = Schema.object(
        [
            "entries": Schema.array(
                of: Schema.object(
                    [
                        "name": Schema.string("The entry's name."),
                        "path": Schema.string("Its absolute path."),
                        "type": Schema.string("What it is.", oneOf: FileType.allCases.map(\.rawValue)),
                        "size": Schema.integer("Its size in bytes.", minimum: 0),
                    ],
                    required: ["name", "path", "type", "size"]),
                "The entries."),
            "omitted": Schema.integer("Entries left out past the first 1000.", minimum: 0),
        ],
        required: ["entries", "omitted"])
    static let annotations = MCP.ToolAnnotations(readOnly: true, openWorld: false)

    static func call(_ arguments: Arguments, _ context: ToolContext) async throws -> ToolResult<Output> {
        let depth = arguments.depth ?? 1
        guard depth >= 1 else { throw ToolError.invalidArgument("depth", reason: "must be at least 1") }
        let path = arguments.path ?? "."
        let sandbox = try await context.sandboxes.sandbox(arguments.sandboxId)
        let all = try await sandbox.files.list(path, depth: depth)
        let shown = all.prefix(context.settings.maxEntries).map {
            Entry(name: $0.name, path: $0.path, type: $0.type, size: $0.size)
        }
        let output = Output(entries: Array(shown), omitted: all.count - shown.count)
        var lines = shown.map { entry -> String in
            switch entry.type {
            case .dir: "dir   \(entry.path)/"
            case .symlink: "link  \(entry.path)"
            case .file: "file  \(entry.path) (\(entry.size) bytes)"
            }
        }
        if shown.isEmpty { lines = ["(\(path) is empty)"] }
        if output.omitted > 0 { lines.append("[… \(output.omitted) more entries …]") }
        return ToolResult(output: output, text: lines.joined(separator: "\n"))
    }
}
