#include "CLXCShim.h"

lxc_attach_options_t corral_lxc_attach_options_default(void) {
    lxc_attach_options_t opts = LXC_ATTACH_OPTIONS_DEFAULT;
    return opts;
}
