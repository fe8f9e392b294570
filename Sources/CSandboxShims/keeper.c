#define _GNU_SOURCE
#include "CSandboxShims.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_MESSAGE (1 << 20)

static int keeper_sock = -1;
static pid_t keeper_pid;
static int accepting = 1;
/// Signals the keeper ignores (inherited, or SIGPIPE): exec keeps an ignored signal ignored,
/// so the child resets these; caught ones exec resets by itself. Found once, at start.
static int ignored_signals[NSIG];
static int ignored_count;

/// Sends one event to the bridge; returns whether it went out.
static int send_event(uint32_t op, uint32_t token, int32_t pid, int32_t status) {
    struct sr_event ev = {op, token, pid, status};
    for (;;) {
        if (send(keeper_sock, &ev, sizeof ev, MSG_NOSIGNAL) == (ssize_t)sizeof ev) return 1;
        if (errno != EINTR) return 0;
    }
}

static void reap_available(void) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) send_event(SR_OP_EXITED, 0, pid, status);
}

/// SIGKILLs every child and its process group; returns how many children there were.
static int kill_children(void) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", keeper_pid, keeper_pid);
    FILE *f = fopen(path, "re");
    int count = 0;
    if (f) {
        long child;
        while (fscanf(f, "%ld", &child) == 1) {
            kill(-(pid_t)child, SIGKILL);
            kill((pid_t)child, SIGKILL);
            count++;
        }
        fclose(f);
        return count;
    }
    // Without /proc/PID/task/TID/children: scan every process for our pid as its parent.
    DIR *proc = opendir("/proc");
    if (!proc) return 0;
    struct dirent *entry;
    while ((entry = readdir(proc))) {
        pid_t pid = (pid_t)atol(entry->d_name);
        if (pid <= 0) continue;
        char stat_path[64], buf[512];
        snprintf(stat_path, sizeof stat_path, "/proc/%d/stat", pid);
        int fd = open(stat_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) continue;
        buf[n] = 0;
        char *close_paren = strrchr(buf, ')');
        int ppid = 0;
        if (close_paren && sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == keeper_pid) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            count++;
        }
    }
    closedir(proc);
    return count;
}

/// Kills the whole tree below the keeper. As a subreaper, the keeper inherits every orphan, so
/// killing its children until none is left reaches descendants that left their process group.
static void kill_all(void) {
    accepting = 0;
    for (;;) {
        kill_children();
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;  // ECHILD: nothing left
        }
        send_event(SR_OP_EXITED, 0, pid, status);
        reap_available();
    }
}

static void child_fail(const char *what) {
    char message[512];
    int n = snprintf(message, sizeof message, "sandbox-rpc: cannot start command: %s: %s\n", what, strerror(errno));
    if (n > 0) (void)!write(2, message, (size_t)n);
    _exit(127);
}

/// Runs in the vfork child: system calls only, then exec or _exit; it never returns.
static void run_child(const struct sr_spawn_header *h, char *cwd, char **argv, char **envp, const int *fds) {
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != keeper_pid) _exit(137);
    for (int i = 0; i < 3; i++) {
        if (fds[i] == i) {
            int flags = fcntl(i, F_GETFD);
            fcntl(i, F_SETFD, flags & ~FD_CLOEXEC);
        } else if (dup2(fds[i], i) < 0) {
            _exit(127);
        }
    }
    if (close_range(3, ~0U, 0) < 0) {
        for (int fd = 3; fd < 65536; fd++) close(fd);  // a kernel without close_range
    }
    if (h->flags & SR_SPAWN_CONTROLLING_TTY) {
        if (ioctl(0, TIOCSCTTY, 0) < 0) child_fail("controlling terminal");
    }
    if (h->flags & SR_SPAWN_SET_USER) {
        // Raw system calls: glibc's wrappers would try to change every thread of the (shared) keeper.
        gid_t gid = (gid_t)h->gid;
        if (syscall(SYS_setgroups, 1, &gid) < 0 || syscall(SYS_setgid, gid) < 0) child_fail("setgid");
        if (syscall(SYS_setuid, (uid_t)h->uid) < 0) child_fail("setuid");
    }
    if (chdir(cwd) < 0) child_fail(cwd);
    sr_apply_rlimits(&h->limits);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int i = 0; i < ignored_count; i++) signal(ignored_signals[i], SIG_DFL);
    execve(argv[0], argv, envp);
    child_fail(argv[0]);
}

static void handle_spawn(char *message, size_t len, const int *fds, int nfds) {
    struct sr_spawn_header h;
    memcpy(&h, message, sizeof h);
    if (nfds != 3 || !accepting) {
        send_event(SR_OP_SPAWN_FAILED, h.token, 0, accepting ? EINVAL : ESRCH);
        return;
    }
    size_t count = 1 + (size_t)h.argc + (size_t)h.envc;
    char **strings = calloc(count + 2, sizeof(char *));
    char *cursor = message + sizeof h, *end = message + len;
    size_t found = 0;
    while (found < count && cursor < end) {
        strings[found++] = cursor;
        cursor += strnlen(cursor, (size_t)(end - cursor)) + 1;
    }
    if (found != count || cursor > end || h.argc == 0) {
        free(strings);
        send_event(SR_OP_SPAWN_FAILED, h.token, 0, EINVAL);
        return;
    }
    // argv = strings[1 ... argc], NULL; envp follows after that NULL.
    char **argv = strings + 1;
    char **envp = malloc((h.envc + 1) * sizeof(char *));
    for (uint32_t i = 0; i < h.envc; i++) envp[i] = strings[1 + h.argc + i];
    envp[h.envc] = NULL;
    char *saved = argv[h.argc];
    argv[h.argc] = NULL;
    // vfork: no page tables to copy; the child only makes system calls until it execs or exits.
    pid_t pid = vfork();
    if (pid == 0) run_child(&h, strings[0], argv, envp, fds);
    argv[h.argc] = saved;
    int err = errno;
    free(envp);
    free(strings);
    if (pid < 0) {
        send_event(SR_OP_SPAWN_FAILED, h.token, 0, err);
        return;
    }
    // The pid goes out once the child has exec'd (or exited), when vfork returns here. Sent by
    // the child before exec, it woke the bridge while the program was still loading, and on
    // two cores that cost a run 50-60 us (bench/README, "2026-11-26 19:27 and 19:30 UTC").
    send_event(SR_OP_SPAWNED, h.token, pid, 0);
}

void sr_keeper_main(int sock) {
    keeper_sock = sock;
    keeper_pid = getpid();
    fcntl(sock, F_SETFD, FD_CLOEXEC);  // posix_spawn's dup2 cleared it; commands must never inherit it
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    setsid();  // terminal signals (Ctrl-C) go to the bridge, which then cleans up through us
    signal(SIGPIPE, SIG_IGN);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction action;
        if (sigaction(sig, NULL, &action) == 0 && action.sa_handler == SIG_IGN) ignored_signals[ignored_count++] = sig;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

    char *message = malloc(MAX_MESSAGE);
    struct pollfd pfds[2] = {{sock, POLLIN, 0}, {sfd, POLLIN, 0}};
    for (;;) {
        if (poll(pfds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pfds[1].revents & POLLIN) {
            struct signalfd_siginfo info;
            int terminate = 0;
            while (read(sfd, &info, sizeof info) == sizeof info) {
                if (info.ssi_signo != SIGCHLD) terminate = 1;
            }
            if (terminate) break;
            reap_available();
        }
        if (pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char control[CMSG_SPACE(sizeof(int) * 3)];
            struct iovec iov = {message, MAX_MESSAGE};
            struct msghdr msg = {0};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // the bridge is gone
            int fds[3] = {-1, -1, -1}, nfds = 0;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                    nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                    if (nfds > 3) nfds = 3;
                    memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)nfds);
                }
            }
            uint32_t op = 0;
            if ((size_t)n >= sizeof op) memcpy(&op, message, sizeof op);
            if (op == SR_OP_SPAWN && (size_t)n >= sizeof(struct sr_spawn_header)) {
                handle_spawn(message, (size_t)n, fds, nfds);
            } else if (op == SR_OP_KILL_ALL) {
                kill_all();
                send_event(SR_OP_KILLED_ALL, 0, 0, 0);
            }
            for (int i = 0; i < nfds; i++) close(fds[i]);
        }
    }
    kill_all();
    _exit(0);
}
