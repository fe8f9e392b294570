import Protocol

/// The `files.*` operations of a sandbox, on paths as the sandbox sees them (relative paths
/// start at its home).
protocol FileSystem: Sendable {
    func read(_ path: String) async throws -> [UInt8]
    /// Creates missing parents; returns the absolute path written.
    func write(_ path: String, _ bytes: [UInt8]) async throws -> String
    func list(_ path: String, depth: Int) async throws -> [EntryInfo]
    func exists(_ path: String) async throws -> Bool
    /// Recursive; nothing to remove is not an error.
    func remove(_ path: String) async throws
    func rename(from: String, to: String) async throws -> EntryInfo
    /// Creates missing parents; false when the directory already existed.
    func makeDir(_ path: String) async throws -> Bool
    func info(_ path: String) async throws -> EntryInfo
}
