#include <errno.h>
#include <lxc/lxccontainer.h>
#include <lxc/attach_options.h>
