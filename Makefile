# kestrel: one non-recursive build.
#
#   make            kestrel, the guest tests, the host unit tests
#   make run        build, then boot the built-in default guest
#   make check      install what is missing, build, run every test
#   make bench      benchmarks (figures, never pass/fail)
#   make fuzz       libFuzzer targets, long runs (FUZZ_SECONDS=...)
#
#   V=1 verbose   WERROR=0 warnings are not errors   SAN=address,undefined
#
# Each subsystem lists its objects one per line. Tests link only the
# subsystems they need, which also keeps the dependency rules of
# docs/DESIGN (iotlb, vringh, vdpa and vhost-user never need core or arch).

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

ifneq ($(SAN),)
CFLAGS		+= -fsanitize=$(SAN) -fno-omit-frame-pointer
LDFLAGS		+= -fsanitize=$(SAN)
B		:= build-san
endif

# ---- util -----------------------------------------------------------------
UTIL_OBJS += src/util/log.o

# ---- iotlb ----------------------------------------------------------------
IOTLB_OBJS += src/iotlb/iotlb.o

# ---- vringh ---------------------------------------------------------------
VRINGH_OBJS += src/vringh/vringh.o

# ---- vdpa (bus, management, simulators, devices) ---------------------------
VDPA_OBJS += src/vdpa/bus.o
VDPA_OBJS += src/vdpa/mgmt.o
VDPA_OBJS += src/vdpa/sim/sim.o
VDPA_OBJS += src/vdpa/sim/net.o
VDPA_OBJS += src/vdpa/sim/blk.o
VDPA_OBJS += src/vdpa/devices.o
VDPA_OBJS += src/vdpa/tap.o
VDPA_OBJS += src/vdpa/file-blk.o
VDPA_OBJS += src/vdpa/console.o
VDPA_OBJS += src/vdpa/rng.o

# ---- virtio transports -----------------------------------------------------
VIRTIO_OBJS += src/virtio/mmio.o
VIRTIO_OBJS += src/virtio/devices.o
# file-blk submits through io_uring (liburing-dev, see scripts/setup.sh)
LDLIBS += -luring

# ---- vhost-user server -----------------------------------------------------

# ---- core -----------------------------------------------------------------
CORE_OBJS += src/core/fault.o
CORE_OBJS += src/core/memory.o
CORE_OBJS += src/core/iobus.o
CORE_OBJS += src/core/vm.o
CORE_OBJS += src/core/vcpu.o

# The built-in default guest, embedded with .incbin.
KESTREL_OBJS += src/default-guest.o
$(B)/src/default-guest.o: src/default-guest.S $(B)/guest/x86/default.elf
	$(E) "  AS      $@"
	@mkdir -p $(dir $@)
	$(Q)$(CC) -c -DDEFAULT_GUEST='"$(B)/guest/x86/default.elf"' -o $@ $<

# ---- arch/x86 -------------------------------------------------------------
CPPFLAGS += -Isrc/arch/x86/include
X86_OBJS += src/arch/x86/vm.o
X86_OBJS += src/arch/x86/vcpu.o
X86_OBJS += src/arch/x86/cpuid.o
X86_OBJS += src/arch/x86/msr.o
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

# ---- hw (platform devices) ------------------------------------------------
HW_OBJS += src/hw/serial.o
HW_OBJS += src/hw/i8042.o
HW_OBJS += src/hw/debugexit.o
HW_OBJS += src/hw/pong.o
HW_OBJS += src/hw/boottimer.o
HW_OBJS += src/hw/cpuhotplug.o

# ---- the kestrel binary ----------------------------------------------------
KESTREL_OBJS += $(UTIL_OBJS)
KESTREL_OBJS += $(IOTLB_OBJS)
KESTREL_OBJS += $(VRINGH_OBJS)
KESTREL_OBJS += $(VDPA_OBJS)
KESTREL_OBJS += $(VIRTIO_OBJS)
KESTREL_OBJS += $(VHOST_USER_OBJS)
KESTREL_OBJS += $(CORE_OBJS)
KESTREL_OBJS += $(X86_OBJS)
KESTREL_OBJS += $(HW_OBJS)
KESTREL_MAIN := $(wildcard src/main.c)

# ---- host unit tests --------------------------------------------------------
# UNIT_TESTS += <subsys>/<name>_test, plus one line naming the objects it links:
# $(B)/tests/unit/<subsys>/<name>_test: $(call objs,$(UTIL_OBJS) ...)
objs = $(addprefix $(B)/,$(1))
UNIT_TESTS += iotlb/iotlb_test
$(B)/tests/unit/iotlb/iotlb_test: $(call objs,$(UTIL_OBJS) $(IOTLB_OBJS))
UNIT_TESTS += vringh/vringh_test
$(B)/tests/unit/vringh/vringh_test: $(call objs,$(UTIL_OBJS) $(IOTLB_OBJS) $(VRINGH_OBJS))
VDPA_TEST_OBJS = $(call objs,$(UTIL_OBJS) $(IOTLB_OBJS) $(VRINGH_OBJS) $(VDPA_OBJS) tests/unit/vdpa/driver.o)
UNIT_TESTS += vdpa/bus_test
$(B)/tests/unit/vdpa/bus_test: $(VDPA_TEST_OBJS)
UNIT_TESTS += vdpa/mgmt_test
$(B)/tests/unit/vdpa/mgmt_test: $(VDPA_TEST_OBJS)
UNIT_TESTS += vdpa/net_test
$(B)/tests/unit/vdpa/net_test: $(VDPA_TEST_OBJS)
UNIT_TESTS += vdpa/blk_test
$(B)/tests/unit/vdpa/blk_test: $(VDPA_TEST_OBJS)
UNIT_TESTS += x86/boot_test
$(B)/tests/unit/x86/boot_test: $(call objs,$(UTIL_OBJS) src/core/memory.o src/core/fault.o $(X86_BOOT_OBJS))
UNIT_TESTS += x86/acpi_test
$(B)/tests/unit/x86/acpi_test: $(call objs,$(UTIL_OBJS) src/core/memory.o src/core/fault.o $(X86_BOOT_OBJS))
UNIT_TESTS += x86/boot_kvm_test
$(B)/tests/unit/x86/boot_kvm_test: $(call objs,$(UTIL_OBJS) src/core/memory.o src/core/fault.o $(X86_BOOT_OBJS))

UNIT_TESTS += core/memory_test
$(B)/tests/unit/core/memory_test: $(call objs,$(UTIL_OBJS) src/core/fault.o src/core/memory.o)
UNIT_TESTS += core/iobus_test
$(B)/tests/unit/core/iobus_test: $(call objs,$(UTIL_OBJS) src/core/fault.o src/core/iobus.o)

UNIT_TESTS += core/vm_test
$(B)/tests/unit/core/vm_test: $(call objs,$(UTIL_OBJS) $(CORE_OBJS) $(X86_OBJS))

UNIT_TESTS += core/cli_test
$(B)/tests/unit/core/cli_test: | $(KESTREL_BIN)

# ---- libFuzzer targets (clang; ASan + UBSan) ---------------------------------
# FUZZ_TARGETS += <name>, with FUZZ_SRCS_<name> := tests/fuzz/<name>.c src/...
FUZZ_TARGETS += iotlb_ops
FUZZ_SRCS_iotlb_ops := tests/fuzz/iotlb_ops.c src/iotlb/iotlb.c src/util/log.c
FUZZ_TARGETS += vringh_chain
FUZZ_SRCS_vringh_chain := tests/fuzz/vringh_chain.c src/vringh/vringh.c src/iotlb/iotlb.c src/util/log.c
FUZZ_TARGETS += x86_loader
FUZZ_SRCS_x86_loader := tests/fuzz/x86_loader.c $(X86_BOOT_OBJS:.o=.c) src/core/memory.c src/core/fault.c src/util/log.c

# ---- benchmarks ---------------------------------------------------------------
# BENCHES += <name> (bench/<name>.c), with a line naming the objects it links.
BENCHES += iotlb_bench
$(B)/bench/iotlb_bench: $(call objs,$(UTIL_OBJS) $(IOTLB_OBJS))
BENCHES += vringh_bench
$(B)/bench/vringh_bench: $(call objs,$(UTIL_OBJS) $(IOTLB_OBJS) $(VRINGH_OBJS))
BENCHES += vdpa_net_bench
$(B)/bench/vdpa_net_bench: $(VDPA_TEST_OBJS)

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

all: $(KESTREL_BIN) $(UNIT_BINS) $(BENCH_BINS) $(GUEST_BINS)

$(B)/%.o: %.c
	$(E) "  CC      $@"
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -MF $(@:.o=.d) -c -o $@ $<

$(B)/kestrel: $(call objs,$(KESTREL_OBJS) src/main.o)
	$(E) "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/unit/%: $(B)/tests/unit/%.o
	$(E) "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/bench/%: $(B)/bench/%.o
	$(E) "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Iinclude -Iinclude/uapi -pthread \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

$(B)/fuzz/%: FORCE
	@mkdir -p $(dir $@)
	$(E) "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS_$*) $(LDLIBS)

run: $(KESTREL_BIN) $(GUEST_BINS)
	$(B)/kestrel run

setup:
	scripts/setup.sh

# The README's test command: installs what is missing, builds, runs everything.
check: setup
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BINS)
	$(Q)B=$(B) FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-tests.sh

bench: all
	$(Q)B=$(B) scripts/run-bench.sh $(BENCH_BINS)

fuzz: $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_BINS); do echo "== $$f"; \
		mkdir -p $(B)/corpus/$$(basename $$f); \
		$$f -max_total_time=$${FUZZ_LONG_SECONDS:-120} $(B)/corpus/$$(basename $$f) || exit 1; done

clean:
	rm -rf build build-san

-include $(shell find $(B) -name '*.d' 2>/dev/null)
