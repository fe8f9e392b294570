import CSandboxShims
import Dispatch
import Glibc
import Protocol
import Synchronization

/// Isolation with bubblewrap: each sandbox gets its own user, mount, PID, IPC, UTS and (unless
/// `network: true`) network namespace; the host's system directories read-only; its workspace
/// at /home/user; a private /tmp, /proc, /dev. Inside runs `sandbox-rpc agent`, as "user"
/// (uid 1000 there). On the host, bwrap runs as an unprivileged uid of its own, never as root.
enum Bubblewrap {
    static let sandboxHome = "/home/user"
    static let agentPath = "/run/sandbox-rpc/sandbox-rpc"
    static let executable: String? = ["/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"].first { (path: String) in
        access(path, X_OK) == 0
    }

    /// Host uids for sandboxes, one per sandbox, when the bridge is root.
    private static let nextUID = Atomic<UInt32>(0)

    static func allocateHostUser() -> (uid: uid_t, gid: gid_t) {
        guard geteuid() == 0 else { return (getuid(), getgid()) }
        let n = nextUID.add(1, ordering: .relaxed).newValue
        let id = 200_000 + (UInt32(getpid()) % 1000) * 1000 + n % 1000
        return (id, id)
    }

    /// The bwrap command line for a sandbox whose host workspace is `workspace`.
    static func arguments(workspace: String, etc: String, network: Bool, command: [String]) -> [String] {
        var args = [
            executable ?? "bwrap",
            "--unshare-user", "--uid", "1000", "--gid", "1000",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "sandbox", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        ]
        if !network { args.append("--unshare-net") }
        args += ["--ro-bind", "/usr", "/usr"]
        for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
            var info = stat()
            guard lstat(top, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFLNK {
                var target = [CChar](repeating: 0, count: 4096)
                let n = readlink(top, &target, target.count - 1)
                if n > 0 { args += ["--symlink", String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self), top] }
            } else {
                args += ["--ro-bind", top, top]
            }
        }
        args += [
            "--ro-bind", "/etc", "/etc",
            "--ro-bind", etc + "/passwd", "/etc/passwd",
            "--ro-bind", etc + "/group", "/etc/group",
            "--ro-bind-try", "/opt", "/opt",
            "--bind", workspace, sandboxHome,
            "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/run",
            "--ro-bind", selfExecutable(), agentPath,
            "--remount-ro", "/",
            "--chdir", sandboxHome,
        ]
        return args + command
    }

    static func selfExecutable() -> String {
        symbolicLinkTarget("/proc/self/exe") ?? "/proc/self/exe"
    }

    /// The environment bwrap itself starts with (the agent builds clean ones for commands).
    static let launchEnvironment = ["PATH=" + CommandEnvironment.path, "HOME=" + sandboxHome, "LANG=C.UTF-8"]

    /// Starts `argv` as `user` with the given stdio, under `limits` and in the cgroups whose
    /// `cgroup.procs` files are listed; the process is the caller's to kill.
    static func spawn(
        _ argv: [String], user: (uid: uid_t, gid: gid_t), stdio: [Int32], limits: sr_rlimits = sr_rlimits(),
        cgroups: [String] = []
    ) throws(SystemError) -> pid_t {
        var pid: pid_t = 0
        var limits = limits
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = launchEnvironment.map { strdup($0) } + [nil]
        let cGroups = cgroups.map { strdup($0) } + [nil]
        defer { (cArgs + cEnv + cGroups).forEach { free($0) } }
        let rc = stdio.withUnsafeBufferPointer { fds in
            sr_spawn_as(cArgs, cEnv, fds.baseAddress, user.uid, user.gid, &limits, cGroups, &pid)
        }
        if rc != 0 { throw SystemError(call: "spawn(\(argv[0]))", errno: rc) }
        return pid
    }

    /// Whether bwrap can make a sandbox on this machine (user namespaces allowed, and so on).
    /// Tried once, by starting a sandbox that prints a word.
    static func works(scratch: String) -> Bool {
        probe.withLock { cached in
            if let cached { return cached }
            let result = runProbe(scratch: scratch)
            cached = result
            return result
        }
    }

    private static let probe = Mutex<Bool?>(nil)

    private static func runProbe(scratch: String) -> Bool {
        guard executable != nil else { return false }
        let user = allocateHostUser()
        let workspace = scratch + "/bwrap-probe"
        let etc = scratch + "/bwrap-probe.etc"
        defer {
            _ = sr_remove_tree(workspace)
            _ = sr_remove_tree(etc)
        }
        guard (try? prepare(workspace: workspace, etc: etc, user: user)) != nil else { return false }
        var fds: [Int32] = [-1, -1]
        guard sr_pipe_cloexec(&fds) == 0 else { return false }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { closeDescriptor(devNull) }
        let argv = arguments(workspace: workspace, etc: etc, network: false, command: ["/bin/sh", "-c", "echo sandboxed"])
        let pid = try? spawn(argv, user: user, stdio: [devNull, fds[1], devNull])
        closeDescriptor(fds[1])
        defer { closeDescriptor(fds[0]) }
        guard pid != nil else { return false }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        return String(decoding: output, as: UTF8.self) == "sandboxed\n"
    }

    /// The sandbox's workspace (owned by its host user) and its /etc/passwd and /etc/group,
    /// which name uid 1000 "user" as the cloud sandboxes do.
    static func prepare(workspace: String, etc: String, user: (uid: uid_t, gid: gid_t)) throws(RPCError) {
        for directory in [workspace, etc] where mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw .internalError(reason: "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        if geteuid() == 0 {
            _ = chown(workspace, user.uid, user.gid)
            _ = chmod(workspace, 0o700)
        }
        let files = [
            "passwd": "root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000:user:/home/user:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            "group": "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n",
        ]
        for (name, content) in files {
            let fd = open(etc + "/" + name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw .internalError(reason: "cannot write \(etc)/\(name)") }
            var bytes = Array(content.utf8)
            _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
    }
}

/// An agent process on the host (bwrap, whose death ends the sandbox's PID namespace).
final class LaunchedAgent: AgentHost {
    let pid: pid_t
    let network: Bool
    /// A pidfd of bwrap (it is reaped automatically, so its pid may name another process later).
    private let pidfd: Int32
    private let forwards: LoopbackForwards

    init(pid: pid_t, sandboxId: String, network: Bool) {
        self.pid = pid
        self.network = network
        self.forwards = LoopbackForwards(sandboxId: sandboxId)
        self.pidfd = sr_pidfd_open(pid)
    }

    deinit { closeDescriptor(pidfd) }

    var hasExited: Bool { pidfd < 0 || sr_pidfd_exited(pidfd) != 0 }

    func kill() {
        if pidfd >= 0 { _ = sr_pidfd_send_signal(pidfd, SIGKILL) }
        forwards.stopAll()
    }

    /// The port itself when the sandbox shares the host's network, else a loopback forward
    /// into the sandbox's own network namespace (which still cannot reach out).
    func host(forPort port: Int) async throws -> String {
        if network { return "127.0.0.1:\(port)" }
        return try forwards.host(forPort: port) { firstChild(of: pid) }
    }

    /// bwrap's child: the sandbox's first process, in its namespaces.
    private func firstChild(of pid: pid_t) -> pid_t? {
        let fd = open("/proc/\(pid)/task/\(pid)/children", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { closeDescriptor(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self).split(separator: " ").first.flatMap { pid_t($0) }
    }
}
