#include <corosync/quorum.h>
