// fuse.h refuses to compile without FUSE_USE_VERSION, and it must be set before the include.
#define FUSE_USE_VERSION 312
#include <fuse.h>
