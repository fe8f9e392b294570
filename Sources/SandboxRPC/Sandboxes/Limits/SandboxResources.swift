import CSandboxShims
import Glibc
import Protocol

/// How a sandbox's `limits` are enforced on this machine: cgroups (the v1 memory and pids
/// controllers) where the bridge may make them, which bound the sandbox as a whole; per-process
/// rlimits otherwise (RLIMIT_AS, RLIMIT_NPROC); CPU time always per process (RLIMIT_CPU).
struct SandboxResources: Sendable {
    /// The `cgroup.procs` files a process joins to be under the sandbox's cgroups.
    let cgroupProcs: [String]
    /// Limits each command starts with.
    let rlimits: sr_rlimits
    /// For each limit asked for, how it is enforced: "cgroup", "rlimit" or "retention".
    let enforcement: [String: String]
    private let cgroupDirectories: [String]

    static let cgroupRoot = "/sys/fs/cgroup"

    /// `processesPerUser`: whether RLIMIT_NPROC would count this sandbox's processes only (they
    /// run as a user of their own), so that it can stand in for a pids cgroup.
    static func make(sandboxId: String, limits: SandboxLimits?, processesPerUser: Bool) -> SandboxResources {
        var procs: [String] = [], directories: [String] = [], enforcement: [String: String] = [:]
        var rlimits = sr_rlimits()
        if let memory = limits?.memoryBytes, memory > 0 {
            if let dir = makeCgroup("memory", sandboxId, settings: [("memory.limit_in_bytes", String(memory))]) {
                _ = write(dir + "/memory.memsw.limit_in_bytes", String(memory))  // no escape into swap
                directories.append(dir)
                procs.append(dir + "/cgroup.procs")
                enforcement["memoryBytes"] = "cgroup"
            } else {
                rlimits.address_space = UInt64(memory)
                enforcement["memoryBytes"] = "rlimit"
            }
        }
        if let pids = limits?.pids, pids > 0 {
            if let dir = makeCgroup("pids", sandboxId, settings: [("pids.max", String(pids))]) {
                directories.append(dir)
                procs.append(dir + "/cgroup.procs")
                enforcement["pids"] = "cgroup"
            } else if processesPerUser {
                rlimits.processes = UInt64(pids)
                enforcement["pids"] = "rlimit"
            } else {
                enforcement["pids"] = "none"
            }
        }
        if let cpu = limits?.cpuSeconds, cpu > 0 {
            rlimits.cpu_seconds = UInt64(min(max(1, cpu.rounded(.up)), 1e12))  // past that: no limit in practice
            enforcement["cpuSeconds"] = "rlimit"
        }
        if limits?.maxOutputBytes != nil { enforcement["maxOutputBytes"] = "retention" }
        return SandboxResources(cgroupProcs: procs, rlimits: rlimits, enforcement: enforcement, cgroupDirectories: directories)
    }

    /// Puts a process (the sandbox's keeper, before it starts anything) under the cgroups.
    func adopt(pid: pid_t) {
        for file in cgroupProcs { _ = Self.write(file, String(pid)) }
    }

    /// Removes the cgroups once their processes are gone.
    func release() {
        for dir in cgroupDirectories {
            for _ in 0..<50 {
                if rmdir(dir) == 0 || errno == ENOENT { break }
                usleep(10_000)
            }
        }
    }

    private static func makeCgroup(_ controller: String, _ sandboxId: String, settings: [(String, String)]) -> String? {
        guard geteuid() == 0 else { return nil }
        let parent = "\(cgroupRoot)/\(controller)/sandbox-rpc"
        guard access("\(cgroupRoot)/\(controller)/cgroup.procs", W_OK) == 0 else { return nil }
        if mkdir(parent, 0o755) != 0 && errno != EEXIST { return nil }
        let dir = "\(parent)/\(getpid())-\(sandboxId)"
        guard mkdir(dir, 0o755) == 0 || errno == EEXIST else { return nil }
        for (file, value) in settings where !write(dir + "/" + file, value) {
            rmdir(dir)
            return nil
        }
        return dir
    }

    @discardableResult
    private static func write(_ path: String, _ value: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var bytes = Array(value.utf8)
        return bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }
}
