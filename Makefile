# kestrel: one non-recursive build.
#
#   make            kestrel, the guest tests, the host unit tests
#   make run        build, then boot the built-in default guest
#   make check      build, run every test
#   make bench      benchmarks (figures, never pass/fail)
#   make fuzz       libFuzzer targets, long runs (FUZZ_SECONDS=...)
#   make install    kestrel and libkestrel-vdpa (PREFIX=/usr/local DESTDIR=;
#                   docs/library.md); make uninstall
#   make check-fresh  `make run` in a new Debian 12 chroot (debootstrap; downloads)
#
#   V=1 verbose   WERROR=0 warnings are not errors   SAN=address,undefined
#   SETUP=0 do not run scripts/setup.sh
#
# Every target that compiles first runs scripts/setup.sh (quick when nothing
# is missing; installing needs root): `make`, `make run` install its "build"
# group (compiler, libc, liburing), `make check`, `make bench`, `make fuzz`
# its "test" group too (clang, QEMU, DPDK, ...).
#
# Each subsystem lists its objects one per line. Tests link only the
# subsystems they need, which also keeps the dependency rules of
# docs/design.md (iotlb, vringh, vdpa and vhost-user never need core or arch).

CC		?= gcc
CLANG		?= clang
B		:= build
FUZZ_SECONDS	?= 5

ifeq ($(V),1)
Q :=
E := @true
else
Q := @
E := @echo
endif

WARNINGS += -Wall
WARNINGS += -Wextra
WARNINGS += -Wno-unused-parameter
WARNINGS += -Wno-missing-field-initializers
WARNINGS += -Wformat=2
WARNINGS += -Winit-self
WARNINGS += -Wmissing-declarations
WARNINGS += -Wmissing-prototypes
WARNINGS += -Wnested-externs
WARNINGS += -Wold-style-definition
WARNINGS += -Wredundant-decls
WARNINGS += -Wsign-compare
WARNINGS += -Wstrict-prototypes
WARNINGS += -Wundef
WARNINGS += -Wwrite-strings
WARNINGS += -Wvla
WARNINGS += -Wshadow
ifneq ($(WERROR),0)
WARNINGS += -Werror
endif

CPPFLAGS	+= -D_GNU_SOURCE -Iinclude -Iinclude/uapi
CFLAGS		+= -std=gnu11 -O2 -g -pthread -fno-strict-aliasing $(WARNINGS)
LDFLAGS		+= -pthread
LDLIBS		+=

# kestrel itself links statically unless STATIC=0: no ld.so and no shared
# libc pages faulted in, which halves its peak RSS on the start-up bench
# (bench/boot-bench.sh: ~1.9 -> ~0.95 MiB). Sanitizer builds stay dynamic.
STATIC		?= 1
ifeq ($(STATIC)$(SAN),1)
KESTREL_LDFLAGS	:= -static
# libcrypto's CPU probe runs at the first snapshot, not at every start
# (src/snapshot/snapshot.c, crypto_init)
KESTREL_LDFLAGS	+= -Wl,--wrap=OPENSSL_cpuid_setup
KESTREL_STATIC_OBJS := src/snapshot/cpuid.o
# libc's start-up code first in .text, contiguous (src/startup.order)
KESTREL_LDS	:= $(B)/gen/kestrel.ld
KESTREL_LDFLAGS	+= -Wl,-T,$(KESTREL_LDS)
endif

ifneq ($(SAN),)
CFLAGS		+= -fsanitize=$(SAN) -fno-omit-frame-pointer
LDFLAGS		+= -fsanitize=$(SAN)
B		:= build-san
endif

# ---- what scripts/setup.sh installs first -----------------------------------
SETUP_TEST_GOALS := check bench fuzz setup check-e2e check-fresh
SETUP_GROUP	:= $(if $(filter $(SETUP_TEST_GOALS),$(MAKECMDGOALS)),test,build)

# ---- util -----------------------------------------------------------------
UTIL_OBJS += src/util/log.o
UTIL_OBJS += src/util/fault.o
UTIL_OBJS += src/util/parse.o

# ---- sandbox (seccomp filters per thread, docs/sandbox.md) ------------------
# The allow-lists are compiled to BPF at build time by seccomp-gen (with
# libseccomp, libseccomp-dev in scripts/setup.sh's build group) into
# $(B)/gen/seccomp-filters.inc, which seccomp.c includes: kestrel itself
# links no libseccomp and installs a filter with one syscall.
UTIL_OBJS += src/sandbox/seccomp.o
SECCOMP_GEN := $(B)/tools/seccomp-gen
SECCOMP_INC := $(B)/gen/seccomp-filters.inc
CPPFLAGS += -I$(B)/gen
$(SECCOMP_GEN): src/sandbox/seccomp-gen.c include/kestrel/sandbox.h | setup
	$(E) "  HOSTCC  $@"
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< -lseccomp
$(SECCOMP_INC): $(SECCOMP_GEN)
	$(E) "  GEN     $@"
	@mkdir -p $(dir $@)
	$(Q)$(SECCOMP_GEN) > $@.tmp && mv $@.tmp $@
$(B)/src/sandbox/seccomp.o: $(SECCOMP_INC)
# The test build's kestrel ($(B)/kestrel-test) takes KESTREL_SECCOMP_HOOK.
$(B)/test-hooks/src/sandbox/seccomp.o: $(SECCOMP_INC)
# ---- sandbox (Landlock; include/kestrel/landlock.h, docs/landlock.md) -------
SANDBOX_OBJS += src/sandbox/landlock.o

# ---- iotlb ----------------------------------------------------------------
IOTLB_OBJS += src/iotlb/iotlb.o

# ---- vringh ---------------------------------------------------------------
VRINGH_OBJS += src/vringh/vringh.o

# ---- vdpa (bus, management, simulators, devices) ---------------------------
VDPA_OBJS += src/vdpa/bus.o
VDPA_OBJS += src/vdpa/inflight.o
VDPA_OBJS += src/vdpa/mgmt.o
VDPA_OBJS += src/vdpa/swdev/swdev.o
VDPA_OBJS += src/vdpa/swdev/inflight_packed.o
VDPA_OBJS += src/vdpa/swdev/limiter.o
VDPA_OBJS += src/vdpa/types.o
VDPA_OBJS += src/vdpa/net/net.o
VDPA_OBJS += src/vdpa/net/loop.o
VDPA_OBJS += src/vdpa/net/sink.o
VDPA_OBJS += src/vdpa/net/gen.o
VDPA_OBJS += src/vdpa/net/null.o
VDPA_OBJS += src/vdpa/net/tap.o
VDPA_OBJS += src/vdpa/blk/blk.o
VDPA_OBJS += src/vdpa/blk/ram.o
VDPA_OBJS += src/vdpa/blk/file.o
VDPA_OBJS += src/vdpa/console.o
VDPA_OBJS += src/vdpa/rng.o
VDPA_OBJS += src/vdpa/balloon.o
VDPA_OBJS += src/vdpa/vsock.o

# ---- virtio transports -----------------------------------------------------
VIRTIO_OBJS += src/virtio/common.o
VIRTIO_OBJS += src/virtio/mmio.o
VIRTIO_OBJS += src/virtio/pci.o
VIRTIO_OBJS += src/virtio/devices.o
# file-blk submits through io_uring (liburing-dev, see scripts/setup.sh)
LDLIBS += -luring
VDPA_DEV_TEST_OBJS = $(addprefix $(B)/,$(UTIL_OBJS) $(IOTLB_OBJS) $(VRINGH_OBJS) $(VDPA_OBJS) \
	tests/unit/vdpa/driver.o)
UNIT_TESTS += vdpa-dev/file-blk_test
$(B)/tests/unit/vdpa-dev/file-blk_test: $(VDPA_DEV_TEST_OBJS)
UNIT_TESTS += vdpa-dev/console_test
$(B)/tests/unit/vdpa-dev/console_test: $(VDPA_DEV_TEST_OBJS)
UNIT_TESTS += vdpa-dev/rng_test
$(B)/tests/unit/vdpa-dev/rng_test: $(VDPA_DEV_TEST_OBJS)
UNIT_TESTS += vdpa-dev/tap_test
$(B)/tests/unit/vdpa-dev/tap_test: $(VDPA_DEV_TEST_OBJS)
UNIT_TESTS += vdpa-dev/balloon_test
$(B)/tests/unit/vdpa-dev/balloon_test: $(VDPA_DEV_TEST_OBJS)
UNIT_TESTS += vdpa-dev/vsock_test
$(B)/tests/unit/vdpa-dev/vsock_test: $(VDPA_DEV_TEST_OBJS) $(B)/tests/unit/vdpa-dev/vsock_guest.o
# The same device tests over packed rings (tests/unit/vdpa/driver.h: vdrv_packed)
UNIT_TESTS += vdpa-dev/file-blk_packed_test vdpa-dev/console_packed_test \
	vdpa-dev/rng_packed_test vdpa-dev/tap_packed_test vdpa-dev/balloon_packed_test \
	vdpa-dev/vsock_packed_test
$(addprefix $(B)/tests/unit/vdpa-dev/,file-blk_packed_test console_packed_test \
	rng_packed_test tap_packed_test balloon_packed_test): $(VDPA_DEV_TEST_OBJS)
$(B)/tests/unit/vdpa-dev/vsock_packed_test: $(VDPA_DEV_TEST_OBJS) $(B)/tests/unit/vdpa-dev/vsock_guest.o
FUZZ_TARGETS += virtio_mmio
FUZZ_SRCS_virtio_mmio = tests/fuzz/virtio_mmio.c src/virtio/mmio.c src/virtio/common.c \
	$(FAKE_VM_OBJS:.o=.c) src/iotlb/iotlb.c src/vringh/vringh.c $(VDPA_OBJS:.o=.c)
FUZZ_FLAGS_virtio_mmio = -Isrc/arch/x86/include $(FAKE_VM_LDFLAGS)
FUZZ_TARGETS += pci_config
FUZZ_SRCS_pci_config = tests/fuzz/pci_config.c src/virtio/pci.c src/virtio/common.c \
	$(PCI_OBJS:.o=.c) $(FAKE_VM_OBJS:.o=.c) src/iotlb/iotlb.c src/vringh/vringh.c \
	$(VDPA_OBJS:.o=.c)
FUZZ_FLAGS_pci_config = -Isrc/arch/x86/include $(FAKE_VM_LDFLAGS)
FUZZ_TARGETS += virtio_balloon
FUZZ_SRCS_virtio_balloon = tests/fuzz/virtio_balloon.c src/virtio/mmio.c src/virtio/common.c \
	$(FAKE_VM_OBJS:.o=.c) src/iotlb/iotlb.c src/vringh/vringh.c $(VDPA_OBJS:.o=.c)
FUZZ_FLAGS_virtio_balloon = -Isrc/arch/x86/include $(FAKE_VM_LDFLAGS)
FUZZ_TARGETS += vsock_packets
FUZZ_SRCS_vsock_packets = tests/fuzz/vsock_packets.c tests/unit/vdpa-dev/vsock_guest.c $(UTIL_OBJS:.o=.c) \
	tests/unit/vdpa/driver.c src/iotlb/iotlb.c \
	src/vringh/vringh.c $(VDPA_OBJS:.o=.c)
FUZZ_TARGETS += i8042_ports
FUZZ_SRCS_i8042_ports = tests/fuzz/i8042_ports.c src/hw/i8042.c $(FAKE_VM_OBJS:.o=.c)
FUZZ_FLAGS_i8042_ports = -Isrc/arch/x86/include $(FAKE_VM_LDFLAGS)
FUZZ_TARGETS += acpi_pm_ports
FUZZ_SRCS_acpi_pm_ports = tests/fuzz/acpi_pm_ports.c src/hw/acpi-pm.c $(FAKE_VM_OBJS:.o=.c)
FUZZ_FLAGS_acpi_pm_ports = -Isrc/arch/x86/include $(FAKE_VM_LDFLAGS)

# ---- vhost-user server -----------------------------------------------------
VHOST_USER_OBJS += src/vhost-user/mem.o
VHOST_USER_OBJS += src/vhost-user/msg.o
VHOST_USER_OBJS += src/vhost-user/inflight.o
VHOST_USER_OBJS += src/vhost-user/server.o
VHOST_USER_OBJS += src/vhost-user/cmd.o
# What the server links: no core, no arch (docs/design.md §3). It is
# served by "kestrel vhost-user" (src/main.c).
VHOST_USER_DEPS = $(UTIL_OBJS) $(SANDBOX_OBJS) $(IOTLB_OBJS) $(VRINGH_OBJS) $(VDPA_OBJS) \
	$(VHOST_USER_OBJS)
UNIT_TESTS += vhost-user/server_test
$(B)/tests/unit/vhost-user/server_test: $(addprefix $(B)/,$(VHOST_USER_DEPS))
# A blk front-end that kills "kestrel vhost-user" mid-I/O and reconnects
UNIT_TESTS += vhost-user/inflight_test
$(B)/tests/unit/vhost-user/inflight_test: | $(KESTREL_BIN)
FUZZ_TARGETS += vhost_user_msg
FUZZ_SRCS_vhost_user_msg := tests/fuzz/vhost_user_msg.c \
	$(patsubst %.o,%.c,$(VHOST_USER_DEPS))

# ---- libkestrel-vdpa (docs/library.md) ----------------------------------------
# The device layer as a shared library: exactly what the vhost-user server
# links (VHOST_USER_DEPS: util, sandbox, iotlb, vringh, vdpa with every
# device, vhost-user), so an object added to one of those lists is in the
# library too. Compiled again as PIC under $(B)/pic/ (kestrel stays a
# static PIE of its own objects); src/lib/kestrel-vdpa.map exports the
# functions of the headers in LIB_HEADERS and nothing else.
LIB_NAME	:= kestrel-vdpa
# the version of the sources (include/kestrel/version.h); the soname's 0 changes
# only when the ABI breaks
LIB_VERSION	:= $(shell sed -n 's/^\#define KESTREL_VERSION[^"]*"\(.*\)"/\1/p' include/kestrel/version.h)
LIB_SONAME	:= lib$(LIB_NAME).so.0
LIB_SO		:= $(B)/lib/$(LIB_SONAME)
LIB_MAP		:= src/lib/$(LIB_NAME).map
LIB_OBJS	= $(VHOST_USER_DEPS)
LIB_LDLIBS	:= -luring
# Every symbol resolved at link time (not with sanitizers: their runtime
# is the executable's).
LIB_LDFLAGS	:= -shared -Wl,-soname,$(LIB_SONAME) -Wl,--version-script=$(LIB_MAP) \
	-Wl,--no-undefined-version
ifeq ($(SAN),)
LIB_LDFLAGS	+= -Wl,-z,defs
endif
# The installed headers: the API and what it includes, no core or arch.
LIB_HEADERS += include/kestrel/types.h
LIB_HEADERS += include/kestrel/compiler.h
LIB_HEADERS += include/kestrel/log.h
LIB_HEADERS += include/kestrel/iotlb.h
LIB_HEADERS += include/kestrel/vringh.h
LIB_HEADERS += include/kestrel/vdpa.h
LIB_HEADERS += include/kestrel/vdpa-dev.h
LIB_HEADERS += include/kestrel/vhost-user.h
# Section 3 pages; a page that documents several functions names the
# others in LIB_MAN_LINKS as page:alias.
LIB_MANS += man/man3/libkestrel-vdpa.3
LIB_MANS += man/man3/vdpa_mgmt_dev_add.3
LIB_MANS += man/man3/vhost_user_server_create.3
LIB_MANS += man/man3/iotlb_create.3
LIB_MANS += man/man3/vringh_init_iotlb.3
LIB_MAN_LINKS += vdpa_mgmt_dev_add:vdpa_register_types
LIB_MAN_LINKS += vdpa_mgmt_dev_add:vdpa_mgmt_dev_del
LIB_MAN_LINKS += vdpa_mgmt_dev_add:vdpa_mgmt_parse
LIB_MAN_LINKS += vhost_user_server_create:vhost_user_server_run
LIB_MAN_LINKS += vhost_user_server_create:vhost_user_server_stop
LIB_MAN_LINKS += vhost_user_server_create:vhost_user_server_destroy
LIB_MAN_LINKS += iotlb_create:iotlb_destroy
LIB_MAN_LINKS += iotlb_create:iotlb_add_range
LIB_MAN_LINKS += iotlb_create:iotlb_del_range
LIB_MAN_LINKS += iotlb_create:iotlb_translate
LIB_MAN_LINKS += vringh_init_iotlb:vringh_getdesc
LIB_MAN_LINKS += vringh_init_iotlb:vringh_complete
LIB_MAN_LINKS += vringh_init_iotlb:vringh_need_notify

# ---- core -----------------------------------------------------------------
CORE_OBJS += src/core/memory.o
CORE_OBJS += src/core/iobus.o
CORE_OBJS += src/core/vm.o
CORE_OBJS += src/core/irqroute.o
CORE_OBJS += src/core/vcpu.o
CORE_OBJS += src/core/snapshot.o
# snapshot files (docs/snapshot.md): SHA-256 and AES-256-GCM from OpenSSL's
# libcrypto (libssl-dev in scripts/setup.sh), linked statically
CORE_OBJS += src/snapshot/snapshot.o
CORE_OBJS += src/launch/launch.o
LDLIBS += -lcrypto

# The built-in default guest, embedded with .incbin.
KESTREL_OBJS += src/default-guest.o
KESTREL_OBJS += src/launch-stub.o
$(B)/src/launch-stub.o: src/launch-stub.S $(B)/guest/x86/launch.elf | setup
	$(E) "  AS      $@"
	@mkdir -p $(dir $@)
	$(Q)$(CC) -c -DLAUNCH_STUB='"$(B)/guest/x86/launch.elf"' -o $@ $<
$(B)/src/default-guest.o: src/default-guest.S $(B)/guest/x86/default.elf | setup
	$(E) "  AS      $@"
	@mkdir -p $(dir $@)
	$(Q)$(CC) -c -DDEFAULT_GUEST='"$(B)/guest/x86/default.elf"' -o $@ $<

# ---- arch/x86 -------------------------------------------------------------
CPPFLAGS += -Isrc/arch/x86/include
X86_OBJS += src/arch/x86/vm.o
X86_OBJS += src/arch/x86/launch.o
X86_OBJS += src/arch/x86/ioapic.o
X86_OBJS += src/arch/x86/vcpu.o
X86_OBJS += src/arch/x86/cpuid.o
X86_OBJS += src/arch/x86/msr.o
X86_OBJS += src/arch/x86/snapshot.o
# guest loaders, boot data, ACPI and MP tables (no KVM needed but in boot.c)
X86_BOOT_OBJS += src/arch/x86/boot.o
X86_BOOT_OBJS += src/arch/x86/e820.o
X86_BOOT_OBJS += src/arch/x86/elf.o
X86_BOOT_OBJS += src/arch/x86/bzimage.o
X86_BOOT_OBJS += src/arch/x86/multiboot.o
X86_BOOT_OBJS += src/arch/x86/pvh.o
X86_BOOT_OBJS += src/arch/x86/acpi.o
X86_BOOT_OBJS += src/arch/x86/aml.o
X86_BOOT_OBJS += src/arch/x86/mptable.o
X86_OBJS += $(X86_BOOT_OBJS)

# ---- pci (host bridge, MSI-X; docs/pci.md) ---------------------------------
PCI_OBJS += src/pci/pci.o
PCI_OBJS += src/pci/msix.o

# ---- hw (platform devices) ------------------------------------------------
HW_OBJS += src/hw/serial.o
HW_OBJS += src/hw/i8042.o
HW_OBJS += src/hw/debugexit.o
HW_OBJS += src/hw/pong.o
HW_OBJS += src/hw/boottimer.o
HW_OBJS += src/hw/cpuhotplug.o
HW_OBJS += src/hw/testdev.o
HW_OBJS += src/hw/rtc.o
HW_OBJS += src/hw/acpi-pm.o

# ---- the x86 machine: what "kestrel run" builds (include/kestrel/machine.h)
MACHINE_OBJS += src/arch/x86/machine.o

# ---- api (Firecracker-compatible control plane, docs/api.md) ----------------
API_OBJS += src/api/vmconfig.o
API_OBJS += src/api/routes.o
API_OBJS += src/api/mailbox.o
API_OBJS += src/api/server.o
API_OBJS += src/api/logger.o
API_OBJS += src/api/metrics.o
API_OBJS += src/api/fcmain.o
API_OBJS += src/api/vmm.o
# HTTP is libevent's evhttp, JSON jansson (libevent-dev, libjansson-dev in
# scripts/setup.sh); kestrel's static link takes their .a archives.
API_LDLIBS := -levent_extra -levent_core -ljansson
LDLIBS += $(API_LDLIBS)
API_TEST_OBJS = $(addprefix $(B)/,$(UTIL_OBJS) $(filter-out src/api/fcmain.o src/api/vmm.o,$(API_OBJS)))
UNIT_TESTS += api/vmconfig_test
$(B)/tests/unit/api/vmconfig_test: $(API_TEST_OBJS)
UNIT_TESTS += api/routes_test
$(B)/tests/unit/api/routes_test: $(API_TEST_OBJS)
UNIT_TESTS += api/server_test
$(B)/tests/unit/api/server_test: $(API_TEST_OBJS)
UNIT_TESTS += api/fcmain_test
$(B)/tests/unit/api/fcmain_test: | $(KESTREL_BIN)
FUZZ_TARGETS += api_request
FUZZ_SRCS_api_request := tests/fuzz/api_request.c src/util/log.c src/util/fault.c src/util/parse.c \
	$(patsubst %.o,%.c,$(filter-out src/api/server.o src/api/fcmain.o src/api/vmm.o,$(API_OBJS)))
# The handler opens the paths requests name: the target confines open().
FUZZ_FLAGS_api_request := -Dopen=fuzz_open

# ---- jail (kestrel jail, docs/jail.md) ---------------------------------------
JAIL_OBJS += src/jail/jail.o

# ---- the kestrel binary ----------------------------------------------------
KESTREL_OBJS += $(UTIL_OBJS)
KESTREL_OBJS += $(SANDBOX_OBJS)
KESTREL_OBJS += $(JAIL_OBJS)
KESTREL_OBJS += $(IOTLB_OBJS)
KESTREL_OBJS += $(VRINGH_OBJS)
KESTREL_OBJS += $(VDPA_OBJS)
KESTREL_OBJS += $(VIRTIO_OBJS)
KESTREL_OBJS += $(VHOST_USER_OBJS)
KESTREL_OBJS += $(CORE_OBJS)
KESTREL_OBJS += $(X86_OBJS)
KESTREL_OBJS += $(PCI_OBJS)
KESTREL_OBJS += $(HW_OBJS)
KESTREL_OBJS += $(MACHINE_OBJS)
KESTREL_OBJS += $(API_OBJS)
KESTREL_MAIN := $(wildcard src/main.c)

# ---- host unit tests --------------------------------------------------------
# UNIT_TESTS += <subsys>/<name>_test, plus one line naming the objects it links:
# $(B)/tests/unit/<subsys>/<name>_test: $(call objs,$(UTIL_OBJS) ...)
objs = $(addprefix $(B)/,$(1))
UNIT_TESTS += util/parse_test
$(B)/tests/unit/util/parse_test: $(call objs,src/util/parse.o)
# tests/unit/test.h itself (links nothing else)
UNIT_TESTS += util/report_test
UNIT_TESTS += iotlb/iotlb_test
$(B)/tests/unit/iotlb/iotlb_test: $(call objs,$(UTIL_OBJS) $(IOTLB_OBJS))
UNIT_TESTS += vringh/vringh_test
$(B)/tests/unit/vringh/vringh_test: $(call objs,$(UTIL_OBJS) $(IOTLB_OBJS) $(VRINGH_OBJS))
UNIT_TESTS += vringh/packed_test
$(B)/tests/unit/vringh/packed_test: $(call objs,$(UTIL_OBJS) $(IOTLB_OBJS) $(VRINGH_OBJS))
VDPA_TEST_OBJS = $(call objs,$(UTIL_OBJS) $(IOTLB_OBJS) $(VRINGH_OBJS) $(VDPA_OBJS) tests/unit/vdpa/driver.o)
UNIT_TESTS += vdpa/bus_test
$(B)/tests/unit/vdpa/bus_test: $(VDPA_TEST_OBJS)
UNIT_TESTS += vdpa/inflight_test
$(B)/tests/unit/vdpa/inflight_test: $(VDPA_TEST_OBJS)
UNIT_TESTS += vdpa/mgmt_test
$(B)/tests/unit/vdpa/mgmt_test: $(VDPA_TEST_OBJS)
UNIT_TESTS += vdpa/net_test
$(B)/tests/unit/vdpa/net_test: $(VDPA_TEST_OBJS)
UNIT_TESTS += vdpa/net_mq_test
$(B)/tests/unit/vdpa/net_mq_test: $(VDPA_TEST_OBJS)
UNIT_TESTS += vdpa/net_packed_test vdpa/blk_packed_test vdpa/rate_limit_packed_test
$(addprefix $(B)/tests/unit/vdpa/,net_packed_test blk_packed_test rate_limit_packed_test): \
	$(VDPA_TEST_OBJS)
UNIT_TESTS += vdpa/blk_test
$(B)/tests/unit/vdpa/blk_test: $(VDPA_TEST_OBJS)
UNIT_TESTS += vdpa/sigbus_test
$(B)/tests/unit/vdpa/sigbus_test: $(VDPA_TEST_OBJS)
UNIT_TESTS += vdpa/limiter_test
$(B)/tests/unit/vdpa/limiter_test: $(call objs,src/vdpa/swdev/limiter.o)
UNIT_TESTS += vdpa/rate_limit_test
$(B)/tests/unit/vdpa/rate_limit_test: $(VDPA_TEST_OBJS)
$(B)/tests/unit/vdpa/limiter_test: $(call objs,src/vdpa/swdev/limiter.o)
UNIT_TESTS += x86/boot_test
$(B)/tests/unit/x86/boot_test: $(call objs,$(UTIL_OBJS) src/core/memory.o $(X86_BOOT_OBJS))
UNIT_TESTS += x86/acpi_test
$(B)/tests/unit/x86/acpi_test: $(call objs,$(UTIL_OBJS) src/core/memory.o $(X86_BOOT_OBJS))
UNIT_TESTS += x86/boot_kvm_test
$(B)/tests/unit/x86/boot_kvm_test: $(call objs,$(UTIL_OBJS) src/core/memory.o $(X86_BOOT_OBJS))

# The launch stub's freestanding crypto, built for the host (docs/protected.md)
UNIT_TESTS += guest/crypto_test
$(B)/tests/unit/guest/crypto_test: $(B)/host/guest/lib/sha256.o $(B)/host/guest/lib/sha256-x86.o \
	$(B)/host/guest/lib/aes-gcm.o
$(B)/host/guest/lib/sha256-x86.o: CFLAGS += -msse4.1 -msha
UNIT_TESTS += launch/launch_test
$(B)/tests/unit/launch/launch_test: $(call objs,src/launch/launch.o) $(B)/host/guest/lib/sha256.o \
	$(B)/host/guest/lib/aes-gcm.o
$(B)/host/guest/lib/%.o: guest/lib/%.c | setup
	$(E) "  CC      $@"
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -MF $(@:.o=.d) -c -o $@ $<

UNIT_TESTS += core/memory_test
$(B)/tests/unit/core/memory_test: $(call objs,$(UTIL_OBJS) src/core/memory.o)
UNIT_TESTS += core/iobus_test
UNIT_TESTS += snapshot/snapshot_test
$(B)/tests/unit/snapshot/snapshot_test: $(call objs,$(UTIL_OBJS) src/core/memory.o src/snapshot/snapshot.o)
$(B)/tests/unit/core/iobus_test: $(call objs,$(UTIL_OBJS) src/core/iobus.o)
# raw KVM ioctls only: what this host's guest_memfd does (docs/protected.md)
UNIT_TESTS += core/guest_memfd_test

UNIT_TESTS += core/vm_test
$(B)/tests/unit/core/vm_test: $(call objs,$(UTIL_OBJS) $(CORE_OBJS) $(X86_OBJS))

# The fake VM (tests/unit/fake_vm.h): the real core and arch over a fake
# /dev/kvm, no KVM needed. What links it also links with FAKE_VM_LDFLAGS,
# which route open() and ioctl() through the fake and count vm_request_stop().
FAKE_VM_OBJS = $(UTIL_OBJS) $(CORE_OBJS) $(X86_OBJS) tests/unit/fake_vm.o
FAKE_VM_LDFLAGS := -Wl,--wrap=open,--wrap=ioctl,--wrap=vm_request_stop
FAKE_VM_TESTS += hw/pong_test
FAKE_VM_TESTS += x86/ioapic_test
FAKE_VM_TESTS += hw/rtc_test
FAKE_VM_TESTS += hw/acpi-pm_test
FAKE_VM_TESTS += hw/serial_test
FAKE_VM_TESTS += hw/misc_test
FAKE_VM_TESTS += virtio/mmio_test
FAKE_VM_TESTS += pci/pci_test
FAKE_VM_TESTS += virtio/pci_test
$(addprefix $(B)/tests/unit/,$(FAKE_VM_TESTS)): LDFLAGS += $(FAKE_VM_LDFLAGS)

# src/hw against the fake VM.
HW_TEST_OBJS = $(call objs,$(FAKE_VM_OBJS))
UNIT_TESTS += hw/pong_test
$(B)/tests/unit/hw/pong_test: $(HW_TEST_OBJS) $(call objs,src/hw/pong.o)
UNIT_TESTS += hw/serial_test
$(B)/tests/unit/hw/serial_test: $(HW_TEST_OBJS) $(call objs,src/hw/serial.o)
UNIT_TESTS += x86/ioapic_test
$(B)/tests/unit/x86/ioapic_test: $(HW_TEST_OBJS)
UNIT_TESTS += hw/rtc_test
$(B)/tests/unit/hw/rtc_test: $(HW_TEST_OBJS) $(call objs,src/hw/rtc.o)
UNIT_TESTS += hw/acpi-pm_test
$(B)/tests/unit/hw/acpi-pm_test: $(HW_TEST_OBJS) $(call objs,src/hw/acpi-pm.o src/hw/rtc.o)
UNIT_TESTS += hw/misc_test
$(B)/tests/unit/hw/misc_test: $(HW_TEST_OBJS) $(call objs,src/hw/debugexit.o src/hw/i8042.o src/hw/boottimer.o src/hw/cpuhotplug.o)

# The virtio transport against the fake VM, with a vDPA simulator behind it.
VIRTIO_TEST_OBJS = $(call objs,$(FAKE_VM_OBJS) $(IOTLB_OBJS) $(VRINGH_OBJS) $(VDPA_OBJS) \
	src/virtio/common.o src/virtio/mmio.o)
UNIT_TESTS += virtio/mmio_test
$(B)/tests/unit/virtio/mmio_test: $(VIRTIO_TEST_OBJS)
UNIT_TESTS += virtio/pci_test
$(B)/tests/unit/virtio/pci_test: $(VIRTIO_TEST_OBJS) $(call objs,src/virtio/pci.o $(PCI_OBJS))

# The PCI host bridge and MSI-X against the fake VM.
UNIT_TESTS += pci/pci_test
$(B)/tests/unit/pci/pci_test: $(call objs,$(FAKE_VM_OBJS) $(PCI_OBJS))

UNIT_TESTS += core/cli_test
$(B)/tests/unit/core/cli_test: | $(KESTREL_BIN)
# kestrel run --reboot: boots in new processes, signals, the parent's death
UNIT_TESTS += core/reboot_test
$(B)/tests/unit/core/reboot_test: | $(KESTREL_BIN)
# Every thread kind stepping off its list, in the test build of kestrel.
UNIT_TESTS += sandbox/seccomp_test
$(B)/tests/unit/sandbox/seccomp_test: | $(KESTREL_BIN:=-test)
# FIFOs, shrinking files, planted links, hostile vhost-user peers
UNIT_TESTS += core/cli_hostile_test
$(B)/tests/unit/core/cli_hostile_test: | $(KESTREL_BIN)

# The machine builder in-process with every injection point failed in turn.
# fault_lsan_test is the same test built with AddressSanitizer (its own
# objects under $(B)/lsan/), for LeakSanitizer after every point.
LSAN_FLAGS := -fsanitize=address -fno-omit-frame-pointer
FAULT_TEST_OBJS = $(filter-out src/default-guest.o src/launch-stub.o,$(KESTREL_OBJS)) \
	tests/unit/core/fault_test.o
UNIT_TESTS += core/fault_test
$(B)/tests/unit/core/fault_test: $(call objs,$(FAULT_TEST_OBJS) src/default-guest.o src/launch-stub.o)
UNIT_TESTS += core/fault_lsan_test
$(B)/tests/unit/core/fault_lsan_test: $(addprefix $(B)/lsan/,$(FAULT_TEST_OBJS)) $(B)/src/default-guest.o $(B)/src/launch-stub.o
	$(E) "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $(LSAN_FLAGS) -o $@ $^ $(LDLIBS)
$(B)/lsan/src/sandbox/seccomp.o: $(SECCOMP_INC)
$(B)/lsan/%.o: %.c | setup
	$(E) "  CC      $@"
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LSAN_FLAGS) -MMD -MP -MF $(@:.o=.d) -c -o $@ $<

# ---- libFuzzer targets (clang; ASan + UBSan) ---------------------------------
# FUZZ_TARGETS += <name>, with FUZZ_SRCS_<name> := tests/fuzz/<name>.c src/...
# (and FUZZ_FLAGS_<name> for what it alone needs)
FUZZ_TARGETS += iotlb_ops
FUZZ_SRCS_iotlb_ops := tests/fuzz/iotlb_ops.c src/iotlb/iotlb.c src/util/log.c src/util/fault.c
FUZZ_TARGETS += vringh_chain
FUZZ_SRCS_vringh_chain := tests/fuzz/vringh_chain.c src/vringh/vringh.c src/iotlb/iotlb.c src/util/log.c src/util/fault.c
FUZZ_TARGETS += vringh_packed
FUZZ_SRCS_vringh_packed := tests/fuzz/vringh_packed.c src/vringh/vringh.c src/iotlb/iotlb.c src/util/log.c src/util/fault.c
FUZZ_TARGETS += snapshot_state
FUZZ_SRCS_snapshot_state := tests/fuzz/snapshot_state.c src/snapshot/snapshot.c src/core/memory.c src/util/fault.c src/util/log.c src/util/parse.c
FUZZ_TARGETS += x86_loader
FUZZ_SRCS_x86_loader := tests/fuzz/x86_loader.c $(X86_BOOT_OBJS:.o=.c) src/core/memory.c src/util/fault.c src/util/log.c

# ---- benchmarks ---------------------------------------------------------------
# BENCHES += <name> (bench/<name>.c), with a line naming the objects it links.
BENCHES += iotlb_bench
$(B)/bench/iotlb_bench: $(call objs,$(UTIL_OBJS) $(IOTLB_OBJS))
BENCHES += vringh_bench
$(B)/bench/vringh_bench: $(call objs,$(UTIL_OBJS) $(IOTLB_OBJS) $(VRINGH_OBJS))
BENCHES += vdpa_net_bench
$(B)/bench/vdpa_net_bench: $(VDPA_TEST_OBJS)
BENCHES += vdpa_blk_bench
$(B)/bench/vdpa_blk_bench: $(VDPA_TEST_OBJS)
BENCHES += balloon_bench
$(B)/bench/balloon_bench: $(VDPA_TEST_OBJS)
BENCHES += vsock_bench
$(B)/bench/vsock_bench: $(VDPA_TEST_OBJS) $(B)/tests/unit/vdpa-dev/vsock_guest.o
# api_start execs kestrel in Firecracker mode: exec -> API socket ready; it
# re-executes itself as the floor, linked static as kestrel is (dynamic
# in sanitizer builds, as kestrel is: the sanitizers cannot link static).
BENCHES += api_start
ifeq ($(SAN),)
$(B)/bench/api_start: LDFLAGS += -static
endif
# exit_floor links no kestrel code (raw KVM ioctls): it is the floor.
BENCHES += exit_floor
BENCHES += vm_create
# the AES-256-GCM anchor of bench/snapshot.sh (links libcrypto only)
BENCHES += snapshot_evp
$(B)/bench/vm_create: $(call objs,$(KESTREL_OBJS))
# the measured launch against plain and protected boots (docs/protected.md)
BENCHES += launch_bench
$(B)/bench/launch_bench: $(call objs,$(KESTREL_OBJS)) $(B)/host/guest/lib/sha256.o \
	$(B)/host/guest/lib/sha256-x86.o $(B)/host/guest/lib/aes-gcm.o

# ---- guest tests (freestanding; see guest/Makefile.inc) --------------------
-include guest/Makefile.inc

# ============================================================================

.PHONY: all run check bench fuzz clean setup FORCE
# Keep test and bench objects so header changes rebuild them (their .d files)
.SECONDARY:
.DEFAULT_GOAL := all

KESTREL_BIN := $(if $(KESTREL_MAIN),$(B)/kestrel)
UNIT_BINS := $(addprefix $(B)/tests/unit/,$(UNIT_TESTS))
BENCH_BINS := $(addprefix $(B)/bench/,$(BENCHES))
FUZZ_BINS := $(addprefix $(B)/fuzz/,$(FUZZ_TARGETS))

all: $(KESTREL_BIN) $(KESTREL_BIN:=-test) $(LIB_SO) $(UNIT_BINS) $(BENCH_BINS) $(GUEST_BINS)

$(B)/%.o: %.c | setup
	$(E) "  CC      $@"
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -MF $(@:.o=.d) -c -o $@ $<

# ld's own default script rearranged for start-up locality (src/kestrel.ld.awk)
$(B)/gen/kestrel.ld: src/startup.order src/kestrel.ld.awk | setup
	$(E) "  GEN     $@"
	@mkdir -p $(dir $@)
	$(Q)$(CC) -static -Wl,--verbose -nostdlib -x c /dev/null -o /dev/null 2>/dev/null | \
		sed -n '/^=====/,/^=====/p' | sed '1d;$$d' | \
		awk -f src/kestrel.ld.awk src/startup.order - > $@.tmp
	$(Q)test $$(grep -c '^    \*lib' $@.tmp) -gt 0 && mv $@.tmp $@
$(B)/kestrel: $(call objs,$(KESTREL_OBJS) $(KESTREL_STATIC_OBJS) src/main.o) $(KESTREL_LDS)
	$(E) "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $(KESTREL_LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

# kestrel-test: kestrel with --test-hook (src/main.c, KESTREL_TEST_HOOKS),
# what tests/sandbox/ drive, KESTREL_SECCOMP_HOOK (src/sandbox/seccomp.c)
# and KESTREL_VIRTIO_RELAY (src/virtio/common.c), what
# tests/unit/sandbox/seccomp_test drives, and KESTREL_LAUNCH_HOOK
# (src/arch/x86/launch.c, scripts/launch-check.sh); never installed. Only
# those files differ.
KESTREL_TEST_HOOK_OBJS := src/sandbox/seccomp.o src/virtio/common.o src/core/vcpu.o \
	src/arch/x86/launch.o
$(B)/kestrel-test: $(call objs,$(filter-out $(KESTREL_TEST_HOOK_OBJS),$(KESTREL_OBJS)) $(KESTREL_STATIC_OBJS)) \
		$(B)/test-hooks/src/main.o $(KESTREL_TEST_HOOK_OBJS:%=$(B)/test-hooks/%) $(KESTREL_LDS)
	$(E) "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $(KESTREL_LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)
$(B)/test-hooks/%.o: %.c | setup
	$(E) "  CC      $@"
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) -DKESTREL_TEST_HOOKS $(CFLAGS) -MMD -MP -MF $(@:.o=.d) -c -o $@ $<

# libkestrel-vdpa: the PIC objects of LIB_OBJS, linked with the symbol map
$(B)/pic/%.o: %.c | setup
	$(E) "  CC      $@"
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -fno-semantic-interposition -MMD -MP -MF $(@:.o=.d) -c -o $@ $<
$(B)/pic/src/sandbox/seccomp.o: $(SECCOMP_INC)
$(LIB_SO): $(addprefix $(B)/pic/,$(LIB_OBJS)) $(LIB_MAP)
	$(E) "  LINK    $@"
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) $(LIB_LDFLAGS) -o $@ $(filter %.o,$^) $(LIB_LDLIBS)

$(B)/tests/unit/%: $(B)/tests/unit/%.o
	$(E) "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/bench/%: $(B)/bench/%.o
	$(E) "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Iinclude -Iinclude/uapi -I$(B)/gen -pthread \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

$(B)/fuzz/%: FORCE $(SECCOMP_INC) | setup
	@mkdir -p $(dir $@)
	$(E) "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_FLAGS_$*) -o $@ $(FUZZ_SRCS_$*) $(LDLIBS)

run: $(KESTREL_BIN) $(GUEST_BINS)
	$(B)/kestrel run

# Order-only prerequisite of every compile rule: runs once per make, first.
setup:
ifneq ($(SETUP),0)
	$(Q)scripts/setup.sh $(SETUP_GROUP)
endif

# The README's test command: installs what is missing, builds, runs everything.
check: setup
	$(Q)$(MAKE) --no-print-directory SETUP=0 all
	$(Q)$(MAKE) --no-print-directory SETUP=0 $(FUZZ_BINS)
	$(Q)B=$(B) FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-tests.sh

# The README's first command on a new Debian 12 (scripts/check-fresh.sh):
# downloads a base system, so it is not part of `make check`.
.PHONY: check-fresh
check-fresh: setup
	$(Q)scripts/check-fresh.sh

# The whole nested end-to-end matrix (tests/e2e/README.md); `make check` runs one case.
.PHONY: check-e2e e2e-inputs
check-e2e: $(KESTREL_BIN)
	$(Q)B=$(B) E2E_MATRIX=full tests/e2e/check.sh

e2e-inputs:
	$(Q)scripts/fetch-e2e-inputs.sh

bench: setup all
	$(Q)B=$(B) scripts/run-bench.sh $(BENCH_BINS)

fuzz: $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_BINS); do echo "== $$f"; \
		mkdir -p $(B)/corpus/$$(basename $$f); \
		$$f -max_total_time=$${FUZZ_LONG_SECONDS:-120} $(B)/corpus/$$(basename $$f) || exit 1; done

# `make install PREFIX=/usr DESTDIR=/tmp/root`: kestrel, libkestrel-vdpa, its
# headers, pkg-config file and man pages (docs/library.md)
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
LIBDIR		?= $(PREFIX)/lib
INCLUDEDIR	?= $(PREFIX)/include
MANDIR		?= $(PREFIX)/share/man
PKGCONFIGDIR	?= $(LIBDIR)/pkgconfig
INSTALL		?= install
LIB_PC		:= $(LIB_NAME).pc
.PHONY: install uninstall
install: $(KESTREL_BIN) $(LIB_SO)
	$(E) "  INSTALL $(DESTDIR)$(PREFIX)"
	$(Q)$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCLUDEDIR)/kestrel $(DESTDIR)$(MANDIR)/man3
	$(Q)$(INSTALL) -m 755 $(KESTREL_BIN) $(DESTDIR)$(BINDIR)/kestrel
	$(Q)$(INSTALL) -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/lib$(LIB_NAME).so.$(LIB_VERSION)
	$(Q)ln -sf lib$(LIB_NAME).so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	$(Q)ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/lib$(LIB_NAME).so
	$(Q)$(INSTALL) -m 644 $(LIB_HEADERS) $(DESTDIR)$(INCLUDEDIR)/kestrel/
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(LIB_VERSION)|' src/lib/$(LIB_PC).in >$(DESTDIR)$(PKGCONFIGDIR)/$(LIB_PC)
	$(Q)$(INSTALL) -m 644 $(LIB_MANS) $(DESTDIR)$(MANDIR)/man3/
	$(Q)for l in $(LIB_MAN_LINKS); do \
		echo ".so man3/$${l%%:*}.3" >$(DESTDIR)$(MANDIR)/man3/$${l#*:}.3; done

uninstall:
	$(Q)rm -f $(DESTDIR)$(BINDIR)/kestrel $(DESTDIR)$(LIBDIR)/lib$(LIB_NAME).so \
		$(DESTDIR)$(LIBDIR)/$(LIB_SONAME) $(DESTDIR)$(LIBDIR)/lib$(LIB_NAME).so.$(LIB_VERSION) \
		$(DESTDIR)$(PKGCONFIGDIR)/$(LIB_PC) \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/kestrel/,$(notdir $(LIB_HEADERS))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(LIB_MANS))) \
		$(foreach l,$(LIB_MAN_LINKS),$(DESTDIR)$(MANDIR)/man3/$(word 2,$(subst :, ,$(l))).3)
	$(Q)rmdir $(DESTDIR)$(INCLUDEDIR)/kestrel 2>/dev/null || true

clean:
	rm -rf build build-san

-include $(shell find $(B) -name '*.d' 2>/dev/null)
