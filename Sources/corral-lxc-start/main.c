// corral-lxc-start LXCPATH NAME: starts container NAME of LXCPATH through liblxc, daemonized, and
// exits once it runs (0) or failed (1, liblxc's reason on stderr).
//
// corrald runs this instead of calling lxc_container.start itself: liblxc's start forks, and a fork
// of the daemon copies its whole address space (and every lock another of its threads held at that
// moment) into the child that then runs liblxc. This process is a few megabytes with one thread.
#include <lxc/lxccontainer.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s LXCPATH NAME\n", argv[0]);
        return 2;
    }
    struct lxc_container *c = lxc_container_new(argv[2], argv[1]);
    if (!c) {
        fprintf(stderr, "cannot load container %s in %s\n", argv[2], argv[1]);
        return 1;
    }
    if (!c->is_defined(c)) {
        fprintf(stderr, "container %s has no configuration in %s\n", argv[2], argv[1]);
        lxc_container_put(c);
        return 1;
    }
    // the monitor liblxc leaves behind keeps none of this process's descriptors
    c->want_daemonize(c, true);
    c->want_close_all_fds(c, true);
    bool started = c->start(c, 0, NULL);
    if (!started) fprintf(stderr, "%s\n", c->error_string ? c->error_string : "the container did not start");
    lxc_container_put(c);
    return started ? 0 : 1;
}
