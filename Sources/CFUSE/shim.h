// fuse_lowlevel.h refuses to compile without FUSE_USE_VERSION, and it must be set before the include.
#define FUSE_USE_VERSION 312
#include <stddef.h>
#include <fuse_lowlevel.h>

// fuse_session_new and fuse_session_loop_mt are macros over versioned symbols in some libfuse
// releases; static inline functions give Swift one name to call.
static inline struct fuse_session *corral_fuse_session_new(struct fuse_args *args, const struct fuse_lowlevel_ops *op, void *data) {
    return fuse_session_new(args, op, sizeof(*op), data);
}

// Serves requests on up to `max_threads` threads of libfuse's own until the session exits.
static inline int corral_fuse_session_loop_mt(struct fuse_session *se, unsigned max_threads) {
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    if (!config) return -1;
    fuse_loop_cfg_set_max_threads(config, max_threads);
    fuse_loop_cfg_set_idle_threads(config, max_threads);
    int result = fuse_session_loop_mt(se, config);
    fuse_loop_cfg_destroy(config);
    return result;
}

// Puts `size` bytes at the start of node `ino`'s page cache (FUSE_BUFVEC_INIT is a macro Swift cannot call).
static inline int corral_fuse_notify_store(struct fuse_session *se, fuse_ino_t ino, const void *data, size_t size) {
    struct fuse_bufvec buffer = FUSE_BUFVEC_INIT(size);
    buffer.buf[0].mem = (void *)data;
    return fuse_lowlevel_notify_store(se, ino, 0, &buffer, 0);
}
