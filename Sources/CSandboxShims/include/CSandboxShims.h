#ifndef CSANDBOXSHIMS_H
#define CSANDBOXSHIMS_H

#include <stdint.h>
#include <sys/types.h>

// ---- The keeper: one small process per sandbox that starts its commands, is their subreaper,
// ---- reports their exits, and kills every descendant when the bridge goes away (even SIGKILL).

enum {
    SR_OP_SPAWN = 1,        // bridge -> keeper: sr_spawn_header + strings, 3 fds (stdin, stdout, stderr)
    SR_OP_KILL_ALL = 2,     // bridge -> keeper: kill every descendant, then refuse new spawns
    SR_OP_SPAWNED = 3,      // keeper -> bridge: token, pid
    SR_OP_SPAWN_FAILED = 4, // keeper -> bridge: token, errno
    SR_OP_EXITED = 5,       // keeper -> bridge: pid, wait status (for every process it reaped)
    SR_OP_KILLED_ALL = 6,   // keeper -> bridge: no descendant is left
};

enum {
    SR_SPAWN_SET_USER = 1,        // switch to uid/gid before exec (the keeper runs as root)
    SR_SPAWN_CONTROLLING_TTY = 2, // make stdin (a pty slave) the controlling terminal
};

/// Followed by NUL-terminated strings: the cwd, `argc` arguments, `envc` environment entries.
struct sr_spawn_header {
    uint32_t op;
    uint32_t token;
    uint32_t uid;
    uint32_t gid;
    uint32_t flags;
    uint32_t argc;
    uint32_t envc;
    uint32_t reserved;
    struct sr_rlimits {
        uint64_t cpu_seconds;   // RLIMIT_CPU: SIGXCPU at this many seconds, SIGKILL a second later
        uint64_t address_space; // RLIMIT_AS, bytes
        uint64_t processes;     // RLIMIT_NPROC, per user
    } limits;                   // 0: leave as it is
};

/// Applies the non-zero limits to the calling process (and so to what it starts).
/// Only system calls: safe in a vfork child.
void sr_apply_rlimits(const struct sr_rlimits *limits);

struct sr_event {
    uint32_t op;
    uint32_t token;
    int32_t pid;
    int32_t status;
};

/// Runs the keeper loop on `sock` (a SOCK_SEQPACKET end); never returns.
void sr_keeper_main(int sock) __attribute__((noreturn));

/// Starts `exe` as a keeper with `sock` as its fd 3, stdin/stdout on /dev/null, default signal
/// dispositions and an empty signal mask. Returns 0 or an errno.
int sr_spawn_keeper(const char *exe, int sock, pid_t *pid);

/// Starts `argv[0]` as another user (uid/gid, no supplementary groups) in a new session, with
/// `fds` as its stdin, stdout, stderr, default signal dispositions, an empty signal mask and
/// SIGKILL as its parent-death signal. For the isolation launcher (bwrap). Returns 0 or an errno.
/// `limits` are applied and the child joins every cgroup whose `cgroup.procs` path is listed in
/// `cgroups` (NULL-terminated; may be NULL) before it execs.
int sr_spawn_as(char *const argv[], char *const envp[], const int fds[3], uid_t uid, gid_t gid,
                const struct sr_rlimits *limits, char *const cgroups[], pid_t *pid);

/// Forwards a loopback port of this machine into another network namespace: listens on
/// 127.0.0.1 (an ephemeral port, returned in `listen_port`) and, for every connection, connects
/// to 127.0.0.1:`target_port` inside the namespace of `ns_fd` (from a thread that entered it)
/// and relays bytes both ways. Returns 0 or an errno; `sr_forward_stop(listen_fd)` ends it.
int sr_forward_start(int ns_fd, int target_port, int *listen_fd, int *listen_port);
void sr_forward_stop(int listen_fd);

/// Sends one message with file descriptors attached (SCM_RIGHTS). Returns 0 or an errno.
int sr_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);

// ---- Small wrappers for calls Swift cannot make directly (variadic or packed structs).

int sr_set_nonblocking(int fd);
int sr_set_blocking(int fd);
int sr_set_cloexec(int fd);
int sr_set_pipe_size(int fd, int size);
/// Sets a descriptor's status flags (F_SETFL) to exactly `flags`: one call where the current
/// flags are known.
int sr_set_status_flags(int fd, int flags);
int sr_socketpair_seqpacket(int fds[2]);
/// A blocking, close-on-exec stream socket connected to the unix socket at `path`; -1 with errno.
int sr_connect_unix(const char *path);
/// pipe2(O_CLOEXEC); the caller sets O_NONBLOCK on its own end only.
int sr_pipe_cloexec(int fds[2]);
/// Decodes a wait status: returns the exit code, or -signal when killed by a signal.
int sr_decode_wait_status(int status);

enum { SR_EPOLL_IN = 0x001, SR_EPOLL_OUT = 0x004 };
enum { SR_EPOLL_ADD = 1, SR_EPOLL_DEL = 2, SR_EPOLL_MOD = 3 };

int sr_epoll_create(void);
/// A non-blocking, close-on-exec eventfd.
int sr_eventfd(void);
int sr_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);
/// Waits for events; fills `tokens` and `events` with up to `max` entries.
int sr_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms);

/// Opens a pseudo-terminal pair (both close-on-exec) with the given window size.
/// Returns 0 or an errno.
int sr_open_pty(int *master, int *slave, unsigned short rows, unsigned short cols);
/// Sets a terminal's window size (the kernel then sends SIGWINCH to its foreground group).
int sr_set_window_size(int fd, unsigned short rows, unsigned short cols);

/// Removes a directory tree without following symlinks. Returns 0 or an errno.
int sr_remove_tree(const char *path);

/// Blocks SIGINT, SIGTERM, SIGHUP in the calling thread (and the threads it creates later),
/// ignores SIGPIPE and reaps keepers automatically (SIGCHLD ignored).
void sr_prepare_process_signals(void);
/// Waits for SIGINT, SIGTERM or SIGHUP; returns its number.
int sr_wait_termination_signal(void);

/// Large buffers (output, outbox) are mmapped and given back when freed, and few malloc arenas
/// are used, so that the bridge's RSS returns to its idle size after a burst of output.
void sr_tune_malloc(void);

int sr_errno(void);

/// A pidfd for `pid` (-1 with errno when it is gone), and a signal sent through one: unlike a
/// pid, a pidfd never names another process once its own has been reaped.
int sr_pidfd_open(pid_t pid);
int sr_pidfd_send_signal(int pidfd, int sig);
/// Whether the process of a pidfd has exited.
int sr_pidfd_exited(int pidfd);
/// Waits until `fd` is readable or writable (`events`: POLLIN/POLLOUT bits), up to `timeout_ms`.
int sr_poll_one(int fd, short events, int timeout_ms);
/// Writes what `fd` takes now of `head` then `tail` (which may be empty), never waiting for room
/// (pwritev2 with RWF_NOWAIT, whatever the descriptor's own flags): returns the bytes written,
/// 0 when there is no room, or -errno (EOPNOTSUPP: pipes before Linux 6.4, named FIFOs).
long sr_write_nowait(int fd, const void *head, size_t head_count, const void *tail, size_t tail_count);
/// Writes `head` then `tail` once if `poll` reports room: with at most PIPE_BUF bytes to a pipe,
/// that write cannot wait. Returns as `sr_write_nowait` does.
long sr_write_if_room(int fd, const void *head, size_t head_count, const void *tail, size_t tail_count);
/// Opens /dev/null on whichever of descriptors 0, 1 and 2 is closed, so that no descriptor the
/// process opens later (an epoll, an eventfd) takes their place.
void sr_open_standard_descriptors(void);
/// Whether `fd` is a pipe (FIFO) or a socket.
int sr_is_pipe_or_socket(int fd);
/// Names the calling thread (up to 15 bytes), for ps and debuggers.
void sr_set_thread_name(const char *name);

#endif
