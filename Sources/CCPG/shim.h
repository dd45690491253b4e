#include <corosync/corotypes.h>
#include <corosync/cpg.h>
