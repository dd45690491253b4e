// What the web server cannot call directly in glibc's socket and epoll API. It includes no
// library headers beyond libc, so the server compiles against neither OpenSSL nor liblxc here.
// Prefixed `corral_`.
#ifndef CSOCKET_SHIM_H
#define CSOCKET_SHIM_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

// accept4 is declared only under _GNU_SOURCE, which the Glibc module is built without.
int corral_accept4_nonblocking(int fd, struct sockaddr *addr, socklen_t *len);

// epoll_data is a union Swift imports awkwardly; these keep the fd in and out of an event.
struct epoll_event corral_epoll_event(uint32_t events, int fd);
int corral_epoll_event_fd(const struct epoll_event *event);

#endif
