#define _GNU_SOURCE
#include "CSocketShim.h"

int corral_accept4_nonblocking(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

struct epoll_event corral_epoll_event(uint32_t events, int fd) {
    struct epoll_event event;
    event.events = events;
    event.data.u64 = 0;
    event.data.fd = fd;
    return event;
}

int corral_epoll_event_fd(const struct epoll_event *event) {
    return event->data.fd;
}
