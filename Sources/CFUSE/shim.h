// fuse.h refuses to compile without FUSE_USE_VERSION, and it must be set before the include.
#define FUSE_USE_VERSION 312
#include <fuse.h>

// fuse_new is a macro over versioned symbols; a static inline function gives Swift one name to call.
static inline struct fuse *corral_fuse_new(struct fuse_args *args, const struct fuse_operations *op, void *data) {
    return fuse_new(args, op, sizeof(*op), data);
}
