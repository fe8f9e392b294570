import CSandboxShims
import Dispatch
import Glibc
import Protocol

/// Files of a local sandbox: host paths, relative ones resolved against the sandbox home. The
/// blocking calls run on a Dispatch queue, never on Swift's cooperative pool.
struct LocalFileSystem: FileSystem {
    let home: String

    private static let queue = DispatchQueue(label: "sandbox-rpc.files", attributes: .concurrent)

    private func blocking<T: Sendable>(_ body: @escaping @Sendable () throws(RPCError) -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Self.queue.async {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    func resolve(_ path: String) -> String {
        Workspace.absolute(path.isEmpty ? "." : path, base: home)
    }

    func read(_ path: String, offset: Int, length: Int?) async throws -> (bytes: [UInt8], size: Int) {
        let full = resolve(path)
        return try await blocking { () throws(RPCError) in
            // O_NONBLOCK: opening a FIFO nobody writes to must not block a thread for ever.
            let fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else { throw Self.error(errno, full) }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw Self.error(errno, full) }
            let kind = info.st_mode & S_IFMT
            if kind == S_IFDIR { throw .isADirectory(path: full) }
            if kind == S_IFIFO || kind == S_IFSOCK {
                throw .unsupported(reason: "\(full) is a \(kind == S_IFIFO ? "FIFO" : "socket"), not a file")
            }
            // A regular file has a size; others (/proc files, devices) are read up to a bound,
            // and /dev/zero is not read for ever.
            let size = Int(info.st_size)
            let regular = kind == S_IFREG && size > 0
            let bound = Self.maxUnsizedRead
            if regular && length == nil && size - offset > bound {
                throw .limitExceeded(reason: "\(full) is \(size) bytes; read files over \(bound) bytes in chunks with offset and length")
            }
            let wanted = regular ? min(length ?? Int.max, max(0, size - offset), bound) : min(length ?? bound + 1, bound + 1)
            var bytes = [UInt8](repeating: 0, count: wanted)
            var filled = 0
            while filled < wanted {
                let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, wanted - filled, off_t(offset + filled)) }
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN { break }  // a device with nothing to read now
                    throw Self.error(errno, full)
                }
                if n == 0 { break }  // the end (a regular file may have shrunk meanwhile)
                filled += n
            }
            if !regular && length == nil && filled > bound {
                throw .limitExceeded(reason: "\(full) has no size and goes on past \(bound) bytes; read it with offset and length")
            }
            bytes.removeSubrange(filled...)
            return (bytes, regular ? size : filled)
        }
    }

    func write(_ path: String, _ bytes: [UInt8], append: Bool) async throws -> String {
        let full = resolve(path)
        return try await blocking { () throws(RPCError) in
            try Self.makeParents(of: full)
            // O_NONBLOCK, then a check: writing into a FIFO must not block a thread for ever.
            let fd = open(full, O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0o644)
            guard fd >= 0 else { throw Self.error(errno, full) }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw Self.error(errno, full) }
            let kind = info.st_mode & S_IFMT
            if kind == S_IFIFO || kind == S_IFSOCK {
                throw .unsupported(reason: "\(full) is a \(kind == S_IFIFO ? "FIFO" : "socket"), not a file")
            }
            if kind == S_IFREG {
                if append { _ = lseek(fd, 0, SEEK_END) } else { _ = ftruncate(fd, 0) }
            }
            _ = sr_set_blocking(fd)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Self.error(errno, full)
                }
                offset += n
            }
            return full
        }
    }

    func list(_ path: String, depth: Int) async throws -> [EntryInfo] {
        let full = resolve(path)
        return try await blocking { () throws(RPCError) in
            var info = stat()  // follows a link: listing a link to a directory lists the directory
            guard stat(full, &info) == 0 else { throw Self.error(errno, full) }
            guard info.st_mode & S_IFMT == S_IFDIR else { throw .notADirectory(path: full) }
            var entries: [EntryInfo] = []
            try Self.walk(full, depth: depth, into: &entries)
            return entries
        }
    }

    func exists(_ path: String) async throws -> Bool {
        let full = resolve(path)
        return try await blocking { () throws(RPCError) in
            var info = stat()
            return lstat(full, &info) == 0
        }
    }

    func remove(_ path: String) async throws {
        let full = resolve(path)
        try await blocking { () throws(RPCError) in
            let rc = sr_remove_tree(full)
            if rc != 0 && rc != ENOENT { throw Self.error(rc, full) }
        }
    }

    func rename(from: String, to: String) async throws -> EntryInfo {
        let source = resolve(from), target = resolve(to)
        return try await blocking { () throws(RPCError) in
            var info = stat()
            guard lstat(source, &info) == 0 else { throw Self.error(errno, source) }
            try Self.makeParents(of: target)
            guard Glibc.rename(source, target) == 0 else { throw Self.error(errno, target) }
            return try Self.entry(target)
        }
    }

    func makeDir(_ path: String) async throws -> Bool {
        let full = resolve(path)
        return try await blocking { () throws(RPCError) in
            var info = stat()
            if stat(full, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else { throw .alreadyExists(path: full) }
                return false
            }
            try Self.makeParents(of: full)
            guard mkdir(full, 0o755) == 0 || errno == EEXIST else { throw Self.error(errno, full) }
            return true
        }
    }

    func info(_ path: String) async throws -> EntryInfo {
        let full = resolve(path)
        return try await blocking { () throws(RPCError) in try Self.entry(full) }
    }

    // MARK: Helpers

    private static func makeParents(of path: String) throws(RPCError) {
        var parent = ""
        let components = path.split(separator: "/", omittingEmptySubsequences: true).dropLast()
        for component in components {
            parent += "/" + component
            if mkdir(parent, 0o755) != 0 && errno != EEXIST { throw error(errno, parent) }
            var info = stat()
            if stat(parent, &info) == 0 && info.st_mode & S_IFMT != S_IFDIR { throw .notADirectory(path: parent) }
        }
    }

    private static func walk(_ directory: String, depth: Int, into entries: inout [EntryInfo]) throws(RPCError) {
        guard let dir = opendir(directory) else { throw error(errno, directory) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        for name in names.sorted() {
            let path = directory == "/" ? "/" + name : directory + "/" + name
            guard let entry = try? Self.entry(path) else { continue }  // gone meanwhile
            entries.append(entry)
            if entry.type == .dir && depth > 1 { try walk(path, depth: depth - 1, into: &entries) }
        }
    }

    static func entry(_ path: String) throws(RPCError) -> EntryInfo {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw error(errno, path) }
        let kind = info.st_mode & S_IFMT
        let type: FileType = kind == S_IFLNK ? .symlink : kind == S_IFDIR ? .dir : .file
        var target: String? = nil
        if type == .symlink {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(path, &buffer, buffer.count - 1)
            if n >= 0 { target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        let name = path == "/" ? "/" : String(path.split(separator: "/").last ?? "")
        return EntryInfo(
            name: name, path: path, type: type, size: Int(info.st_size), mode: Int(info.st_mode & 0o7777),
            modifiedTime: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9,
            owner: userName(info.st_uid), group: groupName(info.st_gid), symlinkTarget: target)
    }

    private static func userName(_ uid: uid_t) -> String {
        var pwd = passwd(), result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil else { return String(uid) }
        return String(cString: pwd.pw_name)
    }

    private static func groupName(_ gid: gid_t) -> String {
        var grp = group(), result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getgrgid_r(gid, &grp, &buffer, buffer.count, &result) == 0, result != nil else { return String(gid) }
        return String(cString: grp.gr_name)
    }

    /// How much of a file without a size (a /proc file, a device) one read takes at most.
    static let maxUnsizedRead = 64 << 20

    /// The wire error for a failed file call.
    static func error(_ code: Int32, _ path: String) -> RPCError { RPCError(errno: code, path: path) }
}
