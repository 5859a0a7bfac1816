// SPDX-License-Identifier: GPL-2.0-only
/*
 * The measured launch on x86 (docs/protected.md): kestrel's half. The boot
 * window (X86_BOOT_WINDOW_GPA) gets a struct launch_window and the boot
 * data; the launch stub (guest/x86/launch.c, already loaded in shared RAM)
 * runs on vCPU 0 on the thread that builds the machine, before any other
 * thread exists, until it writes LAUNCH_PORT_DONE to X86_LAUNCH_PORT.
 * Then the window is zeroed and its slot deleted, and machine_create()
 * seals the guest: no later thread can make a memory-slot or vCPU-state
 * ioctl, and the window never comes back.
 */
#include "launch.h"
#include "x86.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/iobus.h>
#include <kestrel/launch.h>
#include <kestrel/log.h>
#include <kestrel/vm.h>
#include <kestrel/x86/layout.h>

#define SZ_2M	0x200000ULL

/*
 * @window: kestrel's mapping of the boot window (vm_boot_window_add()),
 * until x86_launch_run() removes it; the stub's result is read from it.
 */
struct x86_launch {
	struct io_dev dev;
	struct vm *vm;
	const volatile struct launch_window *window;
	bool supervisor;
	bool registered;
	bool done;
};

static int launch_port_read(struct io_dev *dev, u64 offset, void *data, unsigned int len)
{
	memset(data, 0xff, len);
	return 0;
}

static int launch_port_write(struct io_dev *dev, u64 offset, const void *data, unsigned int len)
{
	struct x86_launch *l = container_of(dev, struct x86_launch, dev);
	u32 v = 0;

	memcpy(&v, data, MIN(len, sizeof(v)));
	if (!offset && len == 4 && v == LAUNCH_PORT_DONE && !l->done)
		__atomic_store_n(&l->done, true, __ATOMIC_RELEASE);
	else
		pr_warn_ratelimited("launch: port write 0x%x after the launch: ignored", v);
	return 0;
}

static const struct io_ops launch_port_ops = {
	.read = launch_port_read,
	.write = launch_port_write,
	.min_access = 1,
	.max_access = 4,
	.unaligned = true,
};

/* Where things go: the window's offsets, and the stub's private layout. */
static int launch_layout(const struct machine_config *cfg, struct launch_window *h, u64 *size)
{
	u64 cmdline_len = cfg->cmdline ? strlen(cfg->cmdline) : 0;
	u64 initrd_len = cfg->initrd ? cfg->initrd_size : 0;
	u64 ram_end = MIN(cfg->ram_size, X86_RAM_32BIT_END), end;

	h->image_off = LAUNCH_WINDOW_HDR;
	h->image_len = cfg->kernel_size;
	h->cmdline_off = ALIGN_UP(h->image_off + h->image_len, 4096);
	h->cmdline_len = cmdline_len;
	h->initrd_off = ALIGN_UP(h->cmdline_off + cmdline_len, 4096);
	h->initrd_len = initrd_len;
	*size = ALIGN_UP(h->initrd_off + initrd_len, 4096);
	end = ALIGN_UP(ALIGN_UP(X86_LAUNCH_PAYLOAD_GPA + h->image_len, SZ_2M) + initrd_len, SZ_2M);
	if (*size > X86_BOOT_WINDOW_MAX || cmdline_len >= X86_LAUNCH_CMDLINE_MAX) {
		pr_err("--kernel %s: with its command line and initrd, %llu KiB do not fit the boot window (%llu MiB, a command line under %llu KiB; expected a smaller image)",
		       cfg->kernel_name ? cfg->kernel_name : "(image)",
		       (unsigned long long)(*size >> 10), X86_BOOT_WINDOW_MAX >> 20,
		       X86_LAUNCH_CMDLINE_MAX >> 10);
		return -EINVAL;
	}
	if (end > ram_end) {
		pr_err("--kernel %s: the payload and initrd need RAM up to %llu MiB, the guest has %llu MiB below 3 GiB (expected a larger --memory)",
		       cfg->kernel_name ? cfg->kernel_name : "(image)",
		       (unsigned long long)(end >> 20), (unsigned long long)(ram_end >> 20));
		return -EINVAL;
	}
	return 0;
}

/* asm/kvm.h since Linux 6.12; older headers lack it. */
#ifndef KVM_X86_QUIRK_SLOT_ZAP_ALL
#define KVM_X86_QUIRK_SLOT_ZAP_ALL	(1 << 7)
#endif

/*
 * KVM's default on x86 is to drop every guest mapping, of every slot, when
 * any slot is deleted: so removing the window at the end of the launch
 * would make the payload fault on every private page the stub just wrote
 * (a shadow-MMU fault each on PVM hosts, with no prefetch for private
 * pages: about 1 ms per MiB the payload reads). With the quirk disabled,
 * KVM drops only what maps the deleted slot, which is all the seal needs:
 * the window is unreachable either way (docs/protected.md, Cost). Where
 * KVM lacks the capability, the launch is the same, only slower.
 */
static void launch_keep_mappings(struct vm *vm)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_DISABLE_QUIRKS2, .args = { KVM_X86_QUIRK_SLOT_ZAP_ALL },
	};
	int quirks = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DISABLE_QUIRKS2);

	if (quirks <= 0 || !(quirks & KVM_X86_QUIRK_SLOT_ZAP_ALL)) {
		pr_debug("launch: KVM cannot keep other slots' mappings when the window goes");
		return;
	}
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		pr_debug("launch: KVM_X86_QUIRK_SLOT_ZAP_ALL stays: %s", strerror(errno));
}

int x86_launch_prepare(struct vm *vm, const struct machine_config *cfg, struct x86_launch **out)
{
	struct launch_window h = {
		.magic = LAUNCH_WINDOW_MAGIC, .version = LAUNCH_WINDOW_VERSION,
	};
	struct x86_launch *l;
	u64 size;
	u8 *w;
	int ret;

	*out = NULL;
	if (!cfg->kernel || !cfg->kernel_size) {
		pr_err("the measured launch needs a payload (expected --kernel FILE)");
		return -EINVAL;
	}
	if (launch_is_sealed(cfg->kernel, cfg->kernel_size) != !!cfg->image_key) {
		const char *name = cfg->kernel_name ? cfg->kernel_name : "(image)";

		if (cfg->image_key)
			pr_err("--kernel %s: not a sealed image, but --image-key was given (expected an image from kestrel seal-image)",
			       name);
		else
			pr_err("--kernel %s: a sealed image needs its key (expected --image-key FILE)",
			       name);
		return -EINVAL;
	}
	ret = launch_layout(cfg, &h, &size);
	if (ret)
		return ret;
	if (cfg->expect_measurement) {
		h.flags |= LAUNCH_F_EXPECT;
		memcpy(h.expect, cfg->expect_measurement, sizeof(h.expect));
	}
	if (cfg->payload_supervisor)
		h.flags |= LAUNCH_F_SUPERVISOR;
	if (cfg->image_key) {
		h.flags |= LAUNCH_F_SEALED;
		memcpy(h.key, cfg->image_key, sizeof(h.key));
	}
	l = xzalloc(sizeof(*l));
	if (!l) {
		pr_err("cannot create the launch port: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	l->vm = vm;
	l->supervisor = cfg->payload_supervisor;
	l->dev.ops = &launch_port_ops;
	l->dev.name = "launch";
	launch_keep_mappings(vm);
	ret = vm_boot_window_add(vm, X86_BOOT_WINDOW_GPA, size, (void **)&w);
	if (ret) {
		pr_err("cannot create the boot window: %s", strerror(-ret));
		goto err;
	}
	memcpy(w, &h, sizeof(h));
	explicit_bzero(&h.key, sizeof(h.key));
	l->window = (const volatile struct launch_window *)w;
	memcpy(w + h.image_off, cfg->kernel, h.image_len);
	if (h.cmdline_len)
		memcpy(w + h.cmdline_off, cfg->cmdline, h.cmdline_len);
	if (h.initrd_len)
		memcpy(w + h.initrd_off, cfg->initrd, h.initrd_len);
	ret = iobus_register(vm_iobus(vm), IO_SPACE_PIO, X86_LAUNCH_PORT, 4, &l->dev);
	if (ret) {
		pr_err("cannot claim the launch port: %s", strerror(-ret));
		goto err;
	}
	l->registered = true;
	*out = l;
	return 0;

err:
	x86_launch_destroy(l);
	vm_boot_window_remove(vm);
	return ret;
}

static const char *launch_refusal(int status)
{
	switch (status) {
	case LAUNCH_EXIT_STATUS(LAUNCH_REFUSE_MEASUREMENT):
		return "not the expected measurement";
	case LAUNCH_EXIT_STATUS(LAUNCH_REFUSE_SEALED):
		return "the sealed image does not authenticate (changed, or another key)";
	case LAUNCH_EXIT_STATUS(LAUNCH_REFUSE_MALFORMED):
		return "the launch window or the image is malformed";
	}
	return NULL;
}

/* The stub's detail for a malformed launch (struct launch_window @reason). */
static const char *launch_malformed_why(u32 reason)
{
	switch (reason) {
	case LAUNCH_WHY_NO_PRIVATE_RAM:
		return "no private RAM in the memory map";
	case LAUNCH_WHY_REGION:
		return "a region outside the window";
	case LAUNCH_WHY_NO_FIT:
		return "the image and initrd do not fit in private RAM";
	case LAUNCH_WHY_NOT_SEALED:
		return "not a sealed image";
	}
	return NULL;
}

/*
 * What the stub left in the window's header: the measurement it computed
 * over its private copies, printed here (the stub prints nothing), and
 * why it refused. Guest-written, so only bounded reads and a log line.
 */
static void launch_report(const struct x86_launch *l, int status)
{
	const char *why = launch_refusal(status), *detail;
	char hex[2 * sizeof(l->window->measurement) + 1];

	if (l->window->measured == 1) {
		for (unsigned int i = 0; i < sizeof(l->window->measurement); i++)
			snprintf(hex + 2 * i, 3, "%02x", l->window->measurement[i]);
		pr_info("launch: measurement %s", hex);
	}
	if (!why)
		return;
	detail = status == LAUNCH_EXIT_STATUS(LAUNCH_REFUSE_MALFORMED) ?
		 launch_malformed_why(l->window->reason) : NULL;
	pr_err("launch: the stub refused the image: %s%s%s%s (exit status %d, docs/protected.md)",
	       why, detail ? " (" : "", detail ? detail : "", detail ? ")" : "", status);
}

#ifdef KESTREL_TEST_HOOKS
/*
 * Test builds only: KESTREL_LAUNCH_HOOK=keep-window leaves the boot window
 * in place after the launch (scripts/launch-check.sh window-control: the
 * payload's probe must then see it).
 */
static bool launch_keep_window(void)
{
	const char *h = getenv("KESTREL_LAUNCH_HOOK");

	return h && !strcmp(h, "keep-window");
}
#else
static inline bool launch_keep_window(void)
{
	return false;
}
#endif

int x86_launch_run(struct x86_launch *l)
{
	int ret = vm_run_launch(l->vm, &l->done), rm = 0;

	launch_report(l, ret == -ESHUTDOWN && vm_stop_reason(l->vm) == VM_STOP_EXIT ?
			 vm_stop_status(l->vm) : 0);
	if (launch_keep_window())
		fprintf(stderr, "test-hook: launch: the boot window stays\n");
	else
		rm = vm_boot_window_remove(l->vm);
	l->window = NULL;
	if (!ret && rm) {
		pr_err("launch: cannot remove the boot window: %s", strerror(-rm));
		return rm;
	}
	if (!ret && !launch_keep_window())
		pr_info("launch: boot window zeroed and removed; sealing%s",
			l->supervisor ? "; the payload runs at CPL 0 (--payload-cpl 0)" : "");
	return ret;
}

void x86_launch_destroy(struct x86_launch *l)
{
	if (!l)
		return;
	if (l->registered)
		iobus_unregister(vm_iobus(l->vm), IO_SPACE_PIO, X86_LAUNCH_PORT);
	free(l);
}
