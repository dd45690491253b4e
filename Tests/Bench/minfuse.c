// The floor for the ClusterFS benchmark: a minimal FUSE filesystem (flat, in memory, libfuse3 defaults,
// single-threaded), as the issue defines it. Built and run by clusterfs_bench.py; not part of Corral.
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fuse.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 200000
#define SLOTS (1 << 19)
struct file { char *name; char *data; size_t size; };
static struct file files[MAX_FILES];
static int nfiles;
static int slots[SLOTS];  // open addressing: index + 1 into files, 0 = empty; tombstones keep name NULL

static unsigned hash(const char *s) { unsigned h = 2166136261u; while (*s) h = (h ^ (unsigned char)*s++) * 16777619u; return h; }

static struct file *find(const char *path) {
    for (unsigned i = hash(path + 1) & (SLOTS - 1);; i = (i + 1) & (SLOTS - 1)) {
        if (!slots[i]) return NULL;
        struct file *f = &files[slots[i] - 1];
        if (f->name && strcmp(f->name, path + 1) == 0) return f;
    }
}

static void index_file(int n) {
    unsigned i = hash(files[n].name) & (SLOTS - 1);
    while (slots[i]) i = (i + 1) & (SLOTS - 1);
    slots[i] = n + 1;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
    memset(st, 0, sizeof(*st));
    if (strcmp(path, "/") == 0) { st->st_mode = S_IFDIR | 0755; st->st_nlink = 2; return 0; }
    struct file *f = find(path);
    if (!f) return -ENOENT;
    st->st_mode = S_IFREG | 0640; st->st_nlink = 1; st->st_size = f->size;
    return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags) {
    fill(buf, ".", NULL, 0, 0); fill(buf, "..", NULL, 0, 0);
    for (int i = 0; i < nfiles; i++) if (files[i].name) fill(buf, files[i].name, NULL, 0, 0);
    return 0;
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
    if (find(path)) return 0;
    if (nfiles >= MAX_FILES) return -ENOSPC;
    files[nfiles].name = strdup(path + 1); files[nfiles].data = NULL; files[nfiles].size = 0;
    index_file(nfiles); nfiles++;
    return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi) { return find(path) ? 0 : -ENOENT; }

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
    struct file *f = find(path);
    if (!f) return -ENOENT;
    if ((size_t)off >= f->size) return 0;
    if (off + size > f->size) size = f->size - off;
    memcpy(buf, f->data + off, size);
    return size;
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
    struct file *f = find(path);
    if (!f) return -ENOENT;
    if (off + size > f->size) { f->data = realloc(f->data, off + size); f->size = off + size; }
    memcpy(f->data + off, buf, size);
    return size;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
    struct file *f = find(path);
    if (!f) return -ENOENT;
    f->data = realloc(f->data, size ? size : 1); if ((size_t)size > f->size) memset(f->data + f->size, 0, size - f->size);
    f->size = size;
    return 0;
}

static int fs_unlink(const char *path) {
    struct file *f = find(path);
    if (!f) return -ENOENT;
    free(f->name); free(f->data); f->name = NULL;
    return 0;
}

static int fs_rename(const char *from, const char *to, unsigned int flags) {
    struct file *f = find(from);
    if (!f) return -ENOENT;
    struct file *t = find(to);
    if (t && t != f) { free(t->name); free(t->data); t->name = NULL; }
    if (nfiles >= MAX_FILES) return -ENOSPC;
    // move: the old slot becomes a tombstone, the file gets a new entry under its new name
    files[nfiles] = *f; files[nfiles].name = strdup(to + 1); free(f->name); f->name = NULL; f->data = NULL;
    index_file(nfiles); nfiles++;
    return 0;
}

static int fs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) { return 0; }

static const struct fuse_operations ops = {
    .getattr = fs_getattr, .readdir = fs_readdir, .create = fs_create, .open = fs_open, .read = fs_read,
    .write = fs_write, .truncate = fs_truncate, .unlink = fs_unlink, .rename = fs_rename, .utimens = fs_utimens,
};

int main(int argc, char *argv[]) { return fuse_main(argc, argv, &ops, NULL); }
