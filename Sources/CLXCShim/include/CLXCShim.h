// What the LXC wrapper cannot call directly in liblxc. Prefixed `corral_`.
#ifndef CLXC_SHIM_H
#define CLXC_SHIM_H

#include <errno.h>
#include <lxc/lxccontainer.h>
#include <lxc/attach_options.h>

// LXC_ATTACH_OPTIONS_DEFAULT is a compound-literal macro.
lxc_attach_options_t corral_lxc_attach_options_default(void);

#endif
