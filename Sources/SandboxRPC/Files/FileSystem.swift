import Protocol

/// The `files.*` operations of a sandbox, on paths as the sandbox sees them (relative paths
/// start at its home).
protocol FileSystem: Sendable {
    /// Up to `length` bytes from `offset` (all of it when nil), and the file's size.
    func read(_ path: String, offset: Int, length: Int?) async throws -> (bytes: [UInt8], size: Int)
    /// Creates missing parents; replaces the file, or appends to it. Returns the absolute path.
    func write(_ path: String, _ bytes: [UInt8], append: Bool) async throws -> String
    func list(_ path: String, depth: Int) async throws -> [EntryInfo]
    func exists(_ path: String) async throws -> Bool
    /// Recursive; nothing to remove is not an error.
    func remove(_ path: String) async throws
    func rename(from: String, to: String) async throws -> EntryInfo
    /// Creates missing parents; false when the directory already existed.
    func makeDir(_ path: String) async throws -> Bool
    func info(_ path: String) async throws -> EntryInfo
}

extension FileSystem {
    func read(_ path: String) async throws -> [UInt8] { try await read(path, offset: 0, length: nil).bytes }
    func write(_ path: String, _ bytes: [UInt8]) async throws -> String { try await write(path, bytes, append: false) }
}
