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

# ---- vringh ---------------------------------------------------------------

# ---- vdpa (bus, management, simulators, devices) ---------------------------

# ---- virtio transports -----------------------------------------------------

# ---- vhost-user server -----------------------------------------------------

# ---- core -----------------------------------------------------------------

# ---- arch/x86 -------------------------------------------------------------

# ---- hw (platform devices) ------------------------------------------------

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

# ---- libFuzzer targets (clang; ASan + UBSan) ---------------------------------
# FUZZ_TARGETS += <name>, with FUZZ_SRCS_<name> := tests/fuzz/<name>.c src/...

# ---- benchmarks ---------------------------------------------------------------
# BENCHES += <name> (bench/<name>.c), with a line naming the objects it links.

# ---- guest tests (freestanding; see guest/Makefile.inc) --------------------
-include guest/Makefile.inc

# ============================================================================

.PHONY: all run check bench fuzz clean setup FORCE
.DEFAULT_GOAL := all

KESTREL_BIN := $(if $(KESTREL_MAIN),$(B)/kestrel)
UNIT_BINS := $(addprefix $(B)/tests/unit/,$(UNIT_TESTS))
BENCH_BINS := $(addprefix $(B)/bench/,$(BENCHES))
FUZZ_BINS := $(addprefix $(B)/fuzz/,$(FUZZ_TARGETS))

all: $(KESTREL_BIN) $(UNIT_BINS) $(BENCH_BINS) $(GUEST_BINS)

$(B)/%.o: %.c
	$(E) "  CC      $@"
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wp,-MD,$(@:.o=.d) -c -o $@ $<

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
