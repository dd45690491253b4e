#include <corosync/cmap.h>
