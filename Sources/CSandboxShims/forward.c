#define _GNU_SOURCE
#include "CSandboxShims.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct forward {
    int listen_fd;
    int ns_fd;
    int ready_fd;  // the thread writes its setns result (0 or errno) here
    int target_port;
};

struct relay {
    int a, b;
};

/// Copies bytes both ways until both directions have ended.
static void *relay_main(void *arg) {
    struct relay r = *(struct relay *)arg;
    free(arg);
    char buffer[65536];
    int open_a = 1, open_b = 1;
    while (open_a || open_b) {
        struct pollfd p[2] = {{open_a ? r.a : -1, POLLIN, 0}, {open_b ? r.b : -1, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            int from = i == 0 ? r.a : r.b, to = i == 0 ? r.b : r.a;
            ssize_t n = read(from, buffer, sizeof buffer);
            if (n <= 0) {
                shutdown(to, SHUT_WR);
                if (i == 0) open_a = 0; else open_b = 0;
                continue;
            }
            for (ssize_t off = 0; off < n;) {
                ssize_t w = send(to, buffer + off, (size_t)(n - off), MSG_NOSIGNAL);
                if (w < 0) {
                    if (errno == EINTR) continue;
                    open_a = open_b = 0;
                    break;
                }
                off += w;
            }
        }
    }
    close(r.a);
    close(r.b);
    return NULL;
}

static void *forward_main(void *arg) {
    struct forward f = *(struct forward *)arg;
    free(arg);
    int entered = setns(f.ns_fd, CLONE_NEWNET);
    int result = entered < 0 ? errno : 0;
    close(f.ns_fd);
    // Tell the starter whether this thread is in the sandbox's namespace (setns needs
    // CAP_SYS_ADMIN over it): a forward that cannot connect anything is an error, not a port.
    while (write(f.ready_fd, &result, sizeof result) < 0 && errno == EINTR) {}
    close(f.ready_fd);
    if (entered < 0) {
        close(f.listen_fd);
        return NULL;
    }
    for (;;) {
        int client = accept4(f.listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (client < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            break;  // shut down: the sandbox is gone
        }
        int target = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // in the sandbox's namespace
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f.target_port)};
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (target < 0 || connect(target, (struct sockaddr *)&to, sizeof to) < 0) {
            if (target >= 0) close(target);
            close(client);
            continue;
        }
        struct relay *r = malloc(sizeof *r);
        r->a = client;
        r->b = target;
        pthread_t thread;
        if (pthread_create(&thread, NULL, relay_main, r) != 0) {
            close(client);
            close(target);
            free(r);
            continue;
        }
        pthread_detach(thread);
    }
    close(f.listen_fd);
    return NULL;
}

int sr_forward_start(int ns_fd, int target_port, int *listen_fd, int *listen_port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 128) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
        int err = errno;
        close(fd);
        return err;
    }
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        int err = errno;
        close(fd);
        return err;
    }
    struct forward *f = malloc(sizeof *f);
    f->listen_fd = fd;
    f->ns_fd = fcntl(ns_fd, F_DUPFD_CLOEXEC, 3);  // the thread's own, closed once it has entered
    f->ready_fd = ready[1];
    f->target_port = target_port;
    pthread_t thread;
    if (f->ns_fd < 0 || pthread_create(&thread, NULL, forward_main, f) != 0) {
        if (f->ns_fd >= 0) close(f->ns_fd);
        free(f);
        close(fd);
        close(ready[0]);
        close(ready[1]);
        return EAGAIN;
    }
    pthread_detach(thread);
    int entered = EIO;
    while (read(ready[0], &entered, sizeof entered) < 0 && errno == EINTR) {}
    close(ready[0]);
    if (entered != 0) return entered;  // the thread has closed the listener
    *listen_fd = fd;
    *listen_port = ntohs(addr.sin_port);
    return 0;
}

void sr_forward_stop(int listen_fd) { shutdown(listen_fd, SHUT_RDWR); }
