// fuse_lowlevel.h refuses to compile without FUSE_USE_VERSION, and it must be set before the include.
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fuse_lowlevel.h>

// fuse_session_new and fuse_session_loop_mt are macros over versioned symbols in some libfuse
// releases; static inline functions give Swift one name to call.
static inline struct fuse_session *corral_fuse_session_new(struct fuse_args *args, const struct fuse_lowlevel_ops *op, void *data) {
    return fuse_session_new(args, op, sizeof(*op), data);
}

// The request loop: libfuse's receive/process, on `threads` threads in a leader/follower pattern. One
// thread at a time (the leader) waits for the next request; it spins on the non-blocking device for
// `spin_ns` before it sleeps in poll, because waking a thread whose virtual CPU went idle costs more than
// the request itself (tens of microseconds on these machines) and a process's requests come in quick
// succession (open, fstat, read). A leader that took a request hands the role to a sleeping follower
// and serves the request; the thread that finishes first and finds no leader becomes it.
struct corral_fuse_loop {
    struct fuse_session *se;
    long spin_ns;
    pthread_mutex_t lock;
    pthread_cond_t followers;
    int leader;
    int running;
};

static inline long corral_fuse_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

// Requests that change the tree may wait (a commit: SQLite, or the cluster's order in cluster mode);
// their leader hands the role on first so other requests are served meanwhile. The rest answer from
// memory, and the leader keeps its role (a hand-off would wake a sleeping thread, the very cost spinning
// saves).
static inline int corral_fuse_may_block(const struct fuse_buf *buf) {
    if (buf->size < 8 || (buf->flags & FUSE_BUF_IS_FD)) return 1;
    uint32_t opcode = ((const uint32_t *)buf->mem)[1];
    // RELEASE of a handle opened read-only has nothing to commit (fuse_release_in after the 40-byte
    // header: fh, then the open flags)
    if (opcode == 18 /* RELEASE */ && buf->size >= 52) return (((const uint32_t *)buf->mem)[12] & O_ACCMODE) != O_RDONLY;
    switch (opcode) {
    case 1: /* LOOKUP */ case 2: /* FORGET */ case 3: /* GETATTR */ case 5: /* READLINK */ case 14: /* OPEN */
    case 15: /* READ */ case 16: /* WRITE (buffered in the handle) */ case 17: /* STATFS */ case 27: /* OPENDIR */
    case 28: /* READDIR */ case 29: /* RELEASEDIR */ case 42: /* BATCH_FORGET */
        return 0;
    default:
        return 1;
    }
}

static void *corral_fuse_worker(void *arg) {
    struct corral_fuse_loop *loop = (struct corral_fuse_loop *)arg;
    struct fuse_buf buf;
    memset(&buf, 0, sizeof(buf));
    int fd = fuse_session_fd(loop->se);
    // only a thread that has just served a request spins: its CPU is awake anyway. One that slept as a
    // follower goes straight to poll, or on a 2-CPU machine it would take the CPU from the process
    // whose requests it waits for.
    int hot = 0;
    for (;;) {
        pthread_mutex_lock(&loop->lock);
        while (loop->leader && !fuse_session_exited(loop->se)) {
            hot = 0;
            pthread_cond_wait(&loop->followers, &loop->lock);
        }
        if (fuse_session_exited(loop->se)) {
            pthread_cond_broadcast(&loop->followers);
            pthread_mutex_unlock(&loop->lock);
            break;
        }
        loop->leader = 1;
        pthread_mutex_unlock(&loop->lock);

        long until = hot ? corral_fuse_now_ns() + loop->spin_ns : 0;
        int res;
        for (;;) {
            res = fuse_session_receive_buf(loop->se, &buf);
            if (res != -EAGAIN && res != -EINTR) break;
            if (fuse_session_exited(loop->se)) { res = 0; break; }
            if (until && corral_fuse_now_ns() < until) continue;
            struct pollfd p = { .fd = fd, .events = POLLIN };
            poll(&p, 1, 1000);
        }

        if (res <= 0) {
            pthread_mutex_lock(&loop->lock);
            loop->leader = 0;
            fuse_session_exit(loop->se);
            pthread_cond_broadcast(&loop->followers);
            pthread_mutex_unlock(&loop->lock);
            break;
        }
        if (corral_fuse_may_block(&buf)) {
            pthread_mutex_lock(&loop->lock);
            loop->leader = 0;
            pthread_cond_signal(&loop->followers);
            pthread_mutex_unlock(&loop->lock);
            fuse_session_process_buf(loop->se, &buf);
        } else {
            fuse_session_process_buf(loop->se, &buf);
            pthread_mutex_lock(&loop->lock);
            loop->leader = 0;
            pthread_mutex_unlock(&loop->lock);
        }
        hot = 1;
    }
    free(buf.mem);
    return NULL;
}

// Serves requests until the session exits (an unmount, or `fuse_session_exit`). Returns 0, or -1 when
// no thread could be started.
static inline int corral_fuse_session_loop(struct fuse_session *se, unsigned threads, long spin_ns) {
    struct corral_fuse_loop loop;
    memset(&loop, 0, sizeof(loop));
    loop.se = se;
    loop.spin_ns = spin_ns;
    pthread_mutex_init(&loop.lock, NULL);
    pthread_cond_init(&loop.followers, NULL);
    int fd = fuse_session_fd(se);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    pthread_t ids[16];
    unsigned started = 0;
    if (threads > 16) threads = 16;
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&ids[started], NULL, corral_fuse_worker, &loop) == 0) started++;
    }
    for (unsigned i = 0; i < started; i++) pthread_join(ids[i], NULL);
    pthread_cond_destroy(&loop.followers);
    pthread_mutex_destroy(&loop.lock);
    return started > 0 ? 0 : -1;
}

// Puts `size` bytes at the start of node `ino`'s page cache (FUSE_BUFVEC_INIT is a macro Swift cannot call).
static inline int corral_fuse_notify_store(struct fuse_session *se, fuse_ino_t ino, const void *data, size_t size) {
    struct fuse_bufvec buffer = FUSE_BUFVEC_INIT(size);
    buffer.buf[0].mem = (void *)data;
    return fuse_lowlevel_notify_store(se, ino, 0, &buffer, 0);
}
