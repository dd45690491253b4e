// What the TLS wrapper cannot call directly in OpenSSL: function-like macros and constants of a
// type Swift does not import. Every symbol is prefixed `corral_`.
#ifndef CTLS_SHIM_H
#define CTLS_SHIM_H

#include <openssl/ssl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

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

// SSL_set_tlsext_host_name is a macro over SSL_ctrl.
long corral_ssl_set_host_name(SSL *ssl, const char *name);

#endif
