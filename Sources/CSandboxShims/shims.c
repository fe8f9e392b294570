#define _GNU_SOURCE
#include "CSandboxShims.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

int sr_errno(void) { return errno; }

int sr_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int sr_pidfd_send_signal(int pidfd, int sig) { return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0); }

int sr_pidfd_exited(int pidfd) {
    struct pollfd p = {pidfd, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
}

int sr_poll_one(int fd, short events, int timeout_ms) {
    struct pollfd p = {fd, events, 0};
    int n;
    do { n = poll(&p, 1, timeout_ms); } while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : p.revents;
}

/// One write of `head` then `tail` (which may be empty) with `flags` for pwritev2; EINTR retried.
static long write_parts(int fd, const void *head, size_t head_count, const void *tail, size_t tail_count, int flags) {
    struct iovec parts[2] = {{(void *)head, head_count}, {(void *)tail, tail_count}};
    ssize_t n;
    do {
        n = pwritev2(fd, parts, tail_count ? 2 : 1, -1, flags);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN ? 0 : -errno;
    return (long)n;
}

long sr_write_nowait(int fd, const void *head, size_t head_count, const void *tail, size_t tail_count) {
    return write_parts(fd, head, head_count, tail, tail_count, RWF_NOWAIT);
}

long sr_write_if_room(int fd, const void *head, size_t head_count, const void *tail, size_t tail_count) {
    if (!(sr_poll_one(fd, POLLOUT, 0) & POLLOUT)) return 0;
    return write_parts(fd, head, head_count, tail, tail_count, 0);
}

void sr_open_standard_descriptors(void) {
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int opened = open("/dev/null", O_RDWR);  // the lowest free descriptor: this one
            if (opened >= 0 && opened != fd) close(opened);
        }
    }
}

int sr_is_pipe_or_socket(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

void sr_tune_malloc(void) {
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_ARENA_MAX, 2);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
}

void sr_set_thread_name(const char *name) {
    char short_name[16];
    strncpy(short_name, name, sizeof short_name - 1);
    short_name[sizeof short_name - 1] = 0;
    pthread_setname_np(pthread_self(), short_name);
}

int sr_spawn_keeper(const char *exe, int sock, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, sock, 3);
    posix_spawn_file_actions_addclosefrom_np(&actions, 4);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *const argv[] = {"sandbox-rpc-keeper", "__keeper", NULL};
    extern char **environ;
    int rc = posix_spawn(pid, exe, &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc;
}

void sr_apply_rlimits(const struct sr_rlimits *limits) {
    if (!limits) return;
    if (limits->cpu_seconds) {
        struct rlimit r = {limits->cpu_seconds, limits->cpu_seconds + 1};
        syscall(SYS_setrlimit, RLIMIT_CPU, &r);
    }
    if (limits->address_space) {
        struct rlimit r = {limits->address_space, limits->address_space};
        syscall(SYS_setrlimit, RLIMIT_AS, &r);
    }
    if (limits->processes) {
        struct rlimit r = {limits->processes, limits->processes};
        syscall(SYS_setrlimit, RLIMIT_NPROC, &r);
    }
}

int sr_spawn_as(char *const argv[], char *const envp[], const int fds[3], uid_t uid, gid_t gid,
                const struct sr_rlimits *limits, char *const cgroups[], pid_t *pid) {
    int error_pipe[2];
    if (pipe2(error_pipe, O_CLOEXEC) < 0) return errno;
    pid_t child = vfork();
    if (child == 0) {
        // The vfork child: raw system calls only, then exec or _exit.
        int err = 0;
        setsid();
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (int i = 0; cgroups && cgroups[i] && !err; i++) {
            int fd = open(cgroups[i], O_WRONLY | O_CLOEXEC);
            if (fd < 0 || write(fd, "0", 1) != 1) err = errno;
            if (fd >= 0) close(fd);
        }
        sr_apply_rlimits(limits);
        for (int i = 0; i < 3 && !err; i++) {
            if (dup2(fds[i], i) < 0) err = errno;
        }
        if (!err && (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setgid, gid) < 0 || syscall(SYS_setuid, uid) < 0)) err = errno;
        if (!err) {
            sigset_t none;
            sigemptyset(&none);
            syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, _NSIG / 8);
            for (int sig = 1; sig < _NSIG; sig++) {
                struct sigaction dfl = {0};
                dfl.sa_handler = SIG_DFL;
                sigaction(sig, &dfl, NULL);
            }
            execve(argv[0], argv, envp);
            err = errno;
        }
        (void)!write(error_pipe[1], &err, sizeof err);
        _exit(127);
    }
    int saved = errno;
    close(error_pipe[1]);
    if (child < 0) {
        close(error_pipe[0]);
        return saved;
    }
    int err = 0;
    ssize_t n;
    do { n = read(error_pipe[0], &err, sizeof err); } while (n < 0 && errno == EINTR);
    close(error_pipe[0]);
    if (n == sizeof err && err != 0) return err;
    *pid = child;
    return 0;
}

int sr_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds) {
    struct iovec iov = {(void *)buf, len};
    struct msghdr msg = {0};
    char control[CMSG_SPACE(sizeof(int) * 4)];
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        memset(control, 0, sizeof control);
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    for (;;) {
        if (sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) return 0;
        if (errno != EINTR) return errno;
    }
}

int sr_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int sr_set_blocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

int sr_set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

int sr_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int sr_decode_wait_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return 0;
}

int sr_set_status_flags(int fd, int flags) { return fcntl(fd, F_SETFL, flags); }

int sr_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }

int sr_connect_unix(const char *path) {
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path) { errno = ENAMETOOLONG; return -1; }
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    while (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        if (errno == EINTR) continue;
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int sr_socketpair_seqpacket(int fds[2]) {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) return -1;
    int size = 4 << 20;
    for (int i = 0; i < 2; i++) {
        if (setsockopt(fds[i], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
            setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        if (setsockopt(fds[i], SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
            setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    return 0;
}

int sr_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int sr_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

int sr_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev = {.events = events, .data = {.u64 = token}};
    return epoll_ctl(epfd, op, fd, &ev);
}

int sr_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        tokens[i] = evs[i].data.u64;
        events[i] = evs[i].events;
    }
    return n;
}

int sr_open_pty(int *master, int *slave, unsigned short rows, unsigned short cols) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return errno;
    char name[128];
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof name) != 0) {
        int err = errno;
        close(m);
        return err;
    }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        int err = errno;
        close(m);
        return err;
    }
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    ioctl(m, TIOCSWINSZ, &ws);
    *master = m;
    *slave = s;
    return 0;
}

int sr_set_window_size(int fd, unsigned short rows, unsigned short cols) {
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    return ioctl(fd, TIOCSWINSZ, &ws) < 0 ? errno : 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st; (void)ftw;
    int rc = (type == FTW_DP) ? rmdir(path) : unlink(path);
    return (rc < 0 && errno != ENOENT) ? errno : 0;
}

int sr_remove_tree(const char *path) {
    int rc = nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
    if (rc < 0) return errno == ENOENT ? 0 : errno;
    return rc;
}

void sr_prepare_process_signals(void) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN);
}

int sr_wait_termination_signal(void) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    int sig = 0;
    while (sigwait(&mask, &sig) != 0) {}
    return sig;
}
