import Glibc

/// The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat).
func processStartTime(_ pid: pid_t) -> UInt64? {
    statFields(pid).flatMap { $0.count > 19 ? UInt64($0[19]) : nil }
}

/// The parent of a process (field 4 of /proc/PID/stat).
func processParent(_ pid: pid_t) -> pid_t? {
    statFields(pid).flatMap { $0.count > 1 ? pid_t($0[1]) : nil }
}

/// The fields of /proc/PID/stat after the command name, from the state (field 3) on.
private func statFields(_ pid: pid_t) -> [Substring]? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ")
}

/// Where a symbolic link points (as /proc's links to executables and namespaces).
func symbolicLinkTarget(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink(path, &buffer, buffer.count - 1)
    return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
}

/// Facts about executable files.
enum ExecutableFile {
    /// No program interpreter (PT_INTERP): the file runs without the host's dynamic loader.
    static func isStaticallyLinked(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { closeDescriptor(fd) }
        var header = [UInt8](repeating: 0, count: 64)
        guard pread(fd, &header, 64, 0) == 64, header[0..<4].elementsEqual([0x7F, 0x45, 0x4C, 0x46]), header[4] == 2 else {
            return false  // not a 64-bit ELF file
        }
        func little(_ bytes: ArraySlice<UInt8>) -> Int { bytes.reversed().reduce(0) { $0 << 8 | Int($1) } }
        let programHeaders = little(header[32..<40]), entrySize = little(header[54..<56]), count = little(header[56..<58])
        var entry = [UInt8](repeating: 0, count: max(entrySize, 4))
        for index in 0..<count {
            guard pread(fd, &entry, entrySize, off_t(programHeaders + index * entrySize)) == entrySize else { return false }
            if little(entry[0..<4]) == 3 { return false }  // PT_INTERP
        }
        return true
    }
}

extension String {
    /// The text of a (small) file, such as one under /proc.
    init(contentsOfFile path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(call: "open(\(path))", errno: errno) }
        defer { closeDescriptor(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        self = String(decoding: bytes, as: UTF8.self)
    }
}
