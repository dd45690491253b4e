# Corral — the two commands a newcomer needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
SWIFT ?= swift
PREFIX ?= /usr
APT := apt-get -o DPkg::Lock::Timeout=600 install -y -q
PORT ?= 8006

BUILD_DEPS := libvirt-dev lxc-dev libsqlite3-dev libfuse3-dev fuse3 libcorosync-common-dev libcpg-dev libpam0g-dev libldap-dev libcrypt-dev \
	libquorum-dev libcmap-dev libssl-dev zlib1g-dev libzstd-dev librrd-dev pkg-config
# what running guests needs on a node (libvirt's daemons, QEMU, qemu-img, LVM for lvmthin storages; liblxc,
# newuidmap for the unprivileged shift, e2fsprogs for container volumes, busybox-static and debootstrap for templates)
RUN_DEPS := corosync libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils lvm2 thin-provisioning-tools btrfs-progs libiscsi-bin curl tzdata novnc \
	lxc uidmap e2fsprogs xz-utils zstd busybox-static debootstrap genisoimage smartmontools nftables dnsmasq-base node-qrcode-generator
TEST_DEPS := curl openssl python3 python3-pip zbar-tools graphite-carbon influxdb prometheus slapd ldap-utils glewlwyd dbconfig-sqlite3 corosync corosync-qnetd corosync-qdevice libnss3-tools tgt syslinux-utils iproute2 $(RUN_DEPS) busybox-static cpio isolinux syslinux-common genisoimage chromium chromium-driver
BENCH_DEPS := nginx-light wrk curl openssl python3 python3-pip rrdtool corosync iproute2 $(RUN_DEPS) busybox-static cpio isolinux syslinux-common genisoimage \
	chromium chromium-driver

.PHONY: all build release deps test-deps run stop install deb test bench fuzz clean

all: build

# Installs only what is missing, so repeated runs cost nothing.
define ensure_packages
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  (apt-get update -q >/dev/null || true) && DEBIAN_FRONTEND=noninteractive $(APT) $$missing; fi
endef

deps:
	$(call ensure_packages,$(BUILD_DEPS))
	@command -v $(SWIFT) >/dev/null || { echo "Swift 6 toolchain not found (expected at /opt/swift/usr/bin)"; exit 1; }

test-deps: deps
	$(call ensure_packages,$(TEST_DEPS))
	@python3 -c 'import openapi_spec_validator' 2>/dev/null || pip install -q openapi-spec-validator || true
	@python3 -c 'import selenium' 2>/dev/null || pip install -q selenium
	@# the third-party PVE clients the compatibility suite drives (the `ansible` package bundles community.proxmox)
	@python3 -c 'import proxmoxer, pve_exporter, ansible_collections.community.proxmox, ansible_collections.ansible.posix' 2>/dev/null || \
	  pip install -q 'proxmoxer==2.3.0' requests 'ansible==12.3.0' 'prometheus-pve-exporter==3.10.2' 

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

install: release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/corral/www $(DESTDIR)/etc/corral $(DESTDIR)/var/lib/corral $(DESTDIR)/var/log/corral
	install -m 0755 .build/release/corrald .build/release/corral .build/release/corral-lxc-start $(DESTDIR)$(PREFIX)/bin/
	ln -sf corral $(DESTDIR)$(PREFIX)/bin/pvesh
	ln -sf corral $(DESTDIR)$(PREFIX)/bin/pveum
	ln -sf corral $(DESTDIR)$(PREFIX)/bin/qm
	ln -sf corral $(DESTDIR)$(PREFIX)/bin/pct
	ln -sf corral $(DESTDIR)$(PREFIX)/bin/pveam
	ln -sf corral $(DESTDIR)$(PREFIX)/bin/ha-manager
	ln -sf corral $(DESTDIR)$(PREFIX)/bin/pvesm
	ln -sf corral $(DESTDIR)$(PREFIX)/bin/pvecm
	ln -sf corral $(DESTDIR)$(PREFIX)/bin/vzdump
	ln -sf corral $(DESTDIR)$(PREFIX)/bin/qmrestore
	cp -r www/. $(DESTDIR)$(PREFIX)/share/corral/www/
	[ -f $(DESTDIR)/etc/corral/corrald.conf ] || install -m 0644 etc/corrald.conf $(DESTDIR)/etc/corral/corrald.conf
	install -D -m 0644 etc/pam.d/corral-auth $(DESTDIR)/etc/pam.d/corral-auth
	install -D -m 0644 etc/corrald.service $(DESTDIR)/lib/systemd/system/corrald.service

# Installs, builds and starts a single-node Corral on port 8006 (systemd when it runs as PID 1,
# otherwise a background daemon), then says how to reach it.
run: install
	$(call ensure_packages,$(RUN_DEPS))
	@bash Tests/Guest/libvirt-up.sh
	@if [ "$$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then \
	  systemctl daemon-reload && systemctl enable corrald >/dev/null 2>&1; systemctl restart corrald; \
	else \
	  if [ -f /run/corrald.pid ] && kill -0 $$(cat /run/corrald.pid) 2>/dev/null; then \
	    kill $$(cat /run/corrald.pid); for i in $$(seq 50); do kill -0 $$(cat /run/corrald.pid) 2>/dev/null || break; sleep 0.2; done; fi; \
	  setsid $(PREFIX)/bin/corrald --config /etc/corral/corrald.conf </dev/null >>/var/log/corral/corrald.log 2>&1 & echo $$! > /run/corrald.pid; \
	fi
	@for i in $$(seq 100); do curl -sk -o /dev/null https://127.0.0.1:$(PORT)/api2/json/access/domains && break; sleep 0.2; done
	@curl -skf https://127.0.0.1:$(PORT)/api2/json/access/domains >/dev/null || { echo "corrald did not come up; see /var/log/corral/corrald.log"; tail -20 /var/log/corral/corrald.log; exit 1; }
	@echo
	@echo "Corral is running: web console and API at https://$$(hostname -f 2>/dev/null || hostname):$(PORT)/ (and https://127.0.0.1:$(PORT)/)"
	@echo "  API: /api2/json, OpenAPI: /api2/openapi.json, CA certificate: /etc/pve/pve-root-ca.pem"
	@echo "Log in as root@pam (realm 'Linux PAM') with this machine's root password."
	@if passwd -S root 2>/dev/null | awk '{exit !($$2 != "P")}'; then \
	  echo "  root has no usable password yet: set one with 'passwd root', then log in."; fi
	@echo "Try: pvesh get /nodes   |   curl -k -d username=root@pam --data-urlencode password=... https://127.0.0.1:$(PORT)/api2/json/access/ticket   |   make stop"

stop:
	@if [ "$$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then systemctl stop corrald; \
	elif [ -f /run/corrald.pid ]; then kill $$(cat /run/corrald.pid) 2>/dev/null || true; rm -f /run/corrald.pid; fi

test: test-deps
	$(SWIFT) build
	bash Tests/Tools/clean_test_data.sh
	bash Tests/Guest/libvirt-up.sh
	# one test at a time: integration tests block threads of the shared pool while daemons start and die
	# line-buffered, so a log cut short (a CI time limit) still shows the test that was running
	# and bounded: a run that hangs fails here, naming its test, instead of running into CI's limit
	timeout -k 30 3000 stdbuf -oL -eL $(SWIFT) test --no-parallel 2>&1 | tee .build/test.log; test $${PIPESTATUS[0]} -eq 0
	# the release build is what `make run` installs: build it and smoke-test it too
	$(SWIFT) build -c release
	bash Tests/smoke.sh .build/release
	# what proxmoxer, Ansible's community.proxmox and prometheus-pve-exporter see must be what PVE would answer
	python3 Tests/Compat/compat_test.py --bin .build/release
	# the web console in a real Chromium, VM wizard and noVNC console included (screenshots in .build/browser-artifacts)
	python3 Tests/Browser/console_test.py --bin .build/release --guests --artifacts .build/browser-artifacts

bench: deps
	$(call ensure_packages,$(BENCH_DEPS))
	@python3 -c 'import selenium' 2>/dev/null || pip install -q selenium
	$(SWIFT) build -c release
	bash Tests/Bench/bench.sh .build/release/corrald
	python3 Tests/Bench/clusterfs_bench.py --corrald .build/release/corrald
	bash Tests/Bench/replication_bench.sh .build/release
	python3 Tests/Bench/cluster_bench.py --bin .build/release --guests 1000
	python3 Tests/Bench/vm_bench.py --bin .build/release
	python3 Tests/Bench/ct_bench.py --bin .build/release
	python3 Tests/Bench/storage_bench.py --bin .build/release
	python3 Tests/Bench/automation_bench.py --bin .build/release
	python3 Tests/Bench/backup_bench.py --bin .build/release
	python3 Tests/Bench/firewall_bench.py --bin .build/release
	python3 Tests/Bench/sdn_bench.py --bin .build/release
	python3 Tests/Bench/event_bench.py --bin .build/release
	python3 Tests/Bench/metrics_bench.py --bin .build/release
	python3 Tests/Bench/realm_bench.py --bin .build/release --members 50
	python3 Tests/Bench/responsiveness_bench.py --bin .build/release
	python3 Tests/Bench/console_bench.py --bin .build/release

# libFuzzer over the HTTP request parser, property strings and JSON (FUZZ_SECONDS each).
FUZZ_SECONDS ?= 60
fuzz: deps
	bash Tests/Fuzz/run.sh $(FUZZ_SECONDS)

deb: deps
	$(call ensure_packages,build-essential debhelper)
	dpkg-buildpackage -us -uc -b

clean:
	rm -rf .build
