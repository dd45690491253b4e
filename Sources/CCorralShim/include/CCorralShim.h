// The one compiled C shim of Corral. It exists only for what Swift cannot call directly:
// function-like macros, variadic functions, and values only a macro can name. Every symbol is
// prefixed `corral_` so it cannot clash with the libraries it wraps.
#ifndef CCORRAL_SHIM_H
#define CCORRAL_SHIM_H

#include <openssl/ssl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <lxc/lxccontainer.h>
#include <lxc/attach_options.h>

// SSL_CTX_set_min_proto_version and SSL_CTX_set_mode are macros over SSL_CTX_ctrl.
int corral_ssl_ctx_set_min_proto(SSL_CTX *ctx, int version);
long corral_ssl_ctx_set_mode(SSL_CTX *ctx, long mode);
long corral_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode);
int corral_ssl_ctx_set_ecdh_auto(SSL_CTX *ctx);

// SSL_OP_* constants are macros of a 64-bit type Swift does not import.
void corral_ssl_ctx_harden(SSL_CTX *ctx);

// EVP_EC_gen is a macro around the variadic EVP_PKEY_Q_keygen.
EVP_PKEY *corral_evp_ec_p256_generate(void);

// X509V3_set_ctx_nodb is a macro; adding an extension needs a context set up by it.
int corral_x509_add_ext(X509 *cert, X509 *issuer, int nid, const char *value);

// LXC_ATTACH_OPTIONS_DEFAULT is a compound-literal macro.
lxc_attach_options_t corral_lxc_attach_options_default(void);

// accept4 is declared only under _GNU_SOURCE, which the Glibc module is built without.
int corral_accept4_nonblocking(int fd, struct sockaddr *addr, socklen_t *len);

// epoll_data is a union Swift imports awkwardly; these keep the fd in and out of an event.
struct epoll_event corral_epoll_event(uint32_t events, int fd);
int corral_epoll_event_fd(const struct epoll_event *event);

#endif
