// SPDX-License-Identifier: GPL-2.0-only
/*
 * The x86 machine (include/kestrel/machine.h): what "kestrel run" builds,
 * in order, with each failure undone by machine_destroy() on the
 * half-built machine.
 *
 * The virtio-mmio placement policy lives here rather than in the
 * transport: device n gets the window X86_VIRTIO_MMIO_BASE + n * 4 KiB and
 * GSI X86_VIRTIO_MMIO_IRQ0 + n % X86_VIRTIO_MMIO_NR_IRQS (x86/layout.h).
 * The loader describes exactly those windows to the guest (ACPI DSDT or
 * the kernel command line), and `kestrel acpi-dump` computes the same.
 */
#include <kestrel/machine.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/boot.h>
#include <kestrel/fault.h>
#include <kestrel/hw.h>
#include <kestrel/log.h>
#include <kestrel/memory.h>
#include <kestrel/pci.h>
#include <kestrel/snapshot.h>
#include <kestrel/sandbox.h>
#include <kestrel/virtio.h>
#include <kestrel/vm.h>
#include <kestrel/x86/layout.h>

#include "launch.h"

_Static_assert(X86_VIRTIO_MMIO_SIZE >= VIRTIO_MMIO_REGION_SIZE,
	       "a virtio-mmio slot holds the register window");

/* The built-in test guest, embedded by src/default-guest.S. */
extern const unsigned char kestrel_default_guest[];
extern const unsigned char kestrel_default_guest_end[];
/* The measured launch's stub (guest/x86/launch.c), by src/launch-stub.S. */
extern const unsigned char kestrel_launch_stub[];
extern const unsigned char kestrel_launch_stub_end[];

/**
 * struct machine - everything machine_create() built, torn down in reverse
 * @vm: the VM
 * @devs: the caller's virtio device list, attached to @vm
 * @virtio: the window and GSI of each device of @devs, in list order
 * @nr_virtio: entries of @virtio
 * @serial: COM1, the console
 * @i8042: the reset line and the keyboard
 * @debugexit: the guest's exit-status port
 * @pong: the PONG test device
 * @boottimer: the boot-time marker page
 * @cpuhotplug: the vCPU hot-plug test port
 * @acpi_pm: the ACPI PM block (PM1a event/control, PM timer, S3/S5)
 * @rtc: the CMOS real-time clock, its alarm wired to @acpi_pm
 * @testdev: QEMU's pc-testdev, when asked for
 * @pci: the PCI host bridge (every machine has one, docs/pci.md)
 * @pci_info: where it decodes, as the guest's tables describe it
 * @sigthread: takes SIGINT/SIGTERM/SIGPWR (valid when @sigthread_started)
 * @sigthread_started: @sigthread runs
 * @sigthread_stop: set by machine_destroy() before it wakes @sigthread
 * @launch: the measured launch's port, while the machine lives
 */
struct machine {
	struct vm *vm;
	struct virtio_devices *devs;
	struct boot_mmio_dev virtio[X86_VIRTIO_MMIO_MAX];
	unsigned int nr_virtio;
	struct serial *serial;
	struct i8042 *i8042;
	struct debugexit *debugexit;
	struct pong *pong;
	struct boottimer *boottimer;
	struct cpuhotplug *cpuhotplug;
	struct acpi_pm *acpi_pm;
	struct rtc *rtc;
	struct testdev *testdev;
	struct pci_host *pci;
	struct boot_pci pci_info;
	pthread_t sigthread;
	bool sigthread_started;
	atomic_bool sigthread_stop;
	struct x86_launch *launch;
	const char *snapshot_dir;
	const struct snap_key *snapshot_key;
	char *diff_base;
	u8 diff_base_id[16];
	bool testdev_on;
	struct machine_config_saved {
		u64 ram_size;
		unsigned int nr_cpus, irqchip;
		bool pit, protected;
	} saved;
};

int machine_devices_create(struct virtio_devices **out)
{
	int ret = virtio_devices_create(X86_VIRTIO_MMIO_MAX, out);

	if (ret)
		pr_err("cannot allocate the device list: %s", strerror(-ret));
	return ret;
}

/*
 * Where the PCI host bridge decodes (layout.h): its 64-bit window from the
 * first 1 GiB boundary above RAM.
 */
static void machine_pci_layout(u64 ram_size, struct boot_pci *p)
{
	u64 ram_end = ram_size > X86_RAM_32BIT_END ?
		X86_HIGH_RAM_START + (ram_size - X86_RAM_32BIT_END) : X86_HIGH_RAM_START;

	*p = (struct boot_pci){
		.ecam_base = X86_PCI_ECAM_GPA,
		.io_base = X86_PCI_IO_BASE, .io_size = X86_PCI_IO_SIZE,
		.mmio32_base = X86_PCI_MMIO32_BASE, .mmio32_size = X86_PCI_MMIO32_SIZE,
		.mmio64_base = ALIGN_UP(ram_end, X86_PCI_MMIO64_ALIGN),
		.mmio64_size = X86_PCI_MMIO64_SIZE,
		.intx_gsi0 = X86_PCI_INTX_GSI0, .nr_intx = X86_PCI_NR_INTX,
	};
}

/*
 * Fill @slots with the window and GSI of each virtio-mmio device of @devs
 * (may be NULL), after each device's transport is settled (@linux_guest:
 * pci by default).
 */
static int machine_place_virtio(struct virtio_devices *devs, bool linux_guest,
				struct boot_mmio_dev *slots, unsigned int *nr)
{
	unsigned int count;

	if (devs)
		virtio_devices_resolve_transport(devs, linux_guest);
	count = devs ? virtio_devices_count_mmio(devs) : 0;

	if (count > X86_VIRTIO_MMIO_MAX) {
		pr_err("%u virtio devices: the machine has %u virtio-mmio slots",
		       count, X86_VIRTIO_MMIO_MAX);
		return -EINVAL;
	}
	for (unsigned int n = 0; n < count; n++) {
		slots[n] = (struct boot_mmio_dev){
			.base = X86_VIRTIO_MMIO_BASE + (u64)n * X86_VIRTIO_MMIO_SIZE,
			.size = X86_VIRTIO_MMIO_SIZE,
			.irq = X86_VIRTIO_MMIO_IRQ0 + n % X86_VIRTIO_MMIO_NR_IRQS,
		};
	}
	*nr = count;
	return 0;
}

static void machine_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGPWR);
	sigaddset(set, SIGUSR1);
}

/*
 * Turns SIGINT/SIGTERM (blocked in every other thread) into a VM stop, and
 * SIGPWR into a press of the guest's ACPI power button: the request for a
 * clean shutdown LXC sends a container's init the same way.
 */
static void *machine_signal_thread(void *arg)
{
	struct machine *m = arg;
	sigset_t set;
	int sig;

	machine_stop_signals(&set);
	seccomp_thread_enter(SECCOMP_THREAD_SIGNAL);
	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (atomic_load(&m->sigthread_stop))
			return NULL;
		if (sig == SIGUSR1) {
			if (!m->snapshot_dir) {
				pr_info("caught SIGUSR1 without a snapshot directory: ignored");
				continue;
			}
			pr_info("caught SIGUSR1, writing a snapshot to '%s'", m->snapshot_dir);
			machine_snapshot(m, m->snapshot_dir, m->snapshot_key);
			continue;
		}
		if (sig == SIGPWR) {
			pr_info("caught SIGPWR, pressing the guest's power button");
			acpi_pm_power_button(m->acpi_pm);
			continue;
		}
		pr_info("caught signal %d, stopping the VM", sig);
		vm_request_stop(m->vm, VM_STOP_USER, 0);
	}
}

/* Log a failed step: "cannot create the @what: <strerror>". */
static int machine_fail(int ret, const char *what)
{
	if (ret)
		pr_err("cannot create the %s: %s", what, strerror(-ret));
	return ret;
}

static int machine_create_vm(struct machine *m, const struct machine_config *cfg)
{
	struct vm_config vcfg = {
		.ram_size = cfg->ram_size,
		.mem_flags = MEM_F_NORESERVE,
		.irqchip = cfg->irqchip,
		.pit = cfg->pit,
		.protected = cfg->protected,
		.vcpu_thread_name = cfg->vcpu_thread_name,
		.dirty_log = cfg->snapshot_diff,
		.restore = cfg->restore,
	};
	int ret;

	if (cfg->protected && cfg->ram_size <= X86_PRIVATE_RAM_START) {
		pr_err("--protected: RAM below %llu MiB stays shared, so the guest needs more (expected --memory 256M --protected)",
		       X86_PRIVATE_RAM_START >> 20);
		return -EINVAL;
	}
	ret = vm_create(&vcfg, &m->vm);
	if (ret) {
		pr_err("cannot create the VM: %s%s", strerror(-ret),
		       ret == -ENOENT || ret == -EACCES ? " (is /dev/kvm there and usable?)" :
		       ret == -EOPNOTSUPP && cfg->protected ?
		       " (--protected needs KVM's guest_memfd with GUEST_MEMFD_FLAG_MMAP: Linux 6.18 or later)" : "");
		return ret;
	}
	if (cfg->nr_cpus < 1 || cfg->nr_cpus > vm_max_vcpus(m->vm)) {
		pr_err("--cpus: %u is more than KVM allows here (expected --cpus N with N from 1 to %u)",
		       cfg->nr_cpus, vm_max_vcpus(m->vm));
		return -EINVAL;
	}
	return 0;
}

static int machine_attach_virtio(struct machine *m)
{
	int ret;

	ret = machine_fail(pci_host_create(m->vm, &m->pci_info, &m->pci), "PCI host bridge");
	if (ret || !m->devs || !virtio_devices_count(m->devs))
		return ret;
	ret = virtio_devices_attach(m->devs, m->vm, m->virtio, m->pci);
	/* Logged naming the option; a path or name that does not work is a
	 * bad argument, anything else a host error. */
	if (ret == -ENOENT || ret == -EISDIR || ret == -ENOTBLK || ret == -EROFS ||
	    ret == -ENODEV)
		return -EINVAL;
	return ret;
}

static int machine_load_guest(struct machine *m, const struct machine_config *cfg)
{
	struct boot_config bcfg = {
		.kernel = cfg->kernel ? cfg->kernel : kestrel_default_guest,
		.kernel_size = cfg->kernel ? cfg->kernel_size
			: (size_t)(kestrel_default_guest_end - kestrel_default_guest),
		.kernel_path = cfg->kernel ? cfg->kernel_name : "(built-in)",
		.initrd = cfg->initrd,
		.initrd_size = cfg->initrd_size,
		.cmdline = cfg->cmdline,
		.modules = cfg->modules,
		.nr_modules = cfg->nr_modules,
		.nr_cpus = cfg->nr_cpus,
		.legacy_pic = cfg->irqchip == VM_IRQCHIP_KERNEL,
		.mmio_devs = m->nr_virtio ? m->virtio : NULL,
		.nr_mmio_devs = m->nr_virtio,
		.pci = &m->pci_info,
	};
	char err[256] = "";
	int ret;

	/* The measured launch boots the stub; the image goes to the window. */
	if (cfg->measured)
		bcfg = (struct boot_config){
			.kernel = kestrel_launch_stub,
			.kernel_size = (size_t)(kestrel_launch_stub_end - kestrel_launch_stub),
			.kernel_path = "(launch stub)",
			.nr_cpus = cfg->nr_cpus,
			.legacy_pic = bcfg.legacy_pic,
			.mmio_devs = bcfg.mmio_devs,
			.nr_mmio_devs = bcfg.nr_mmio_devs,
			.pci = bcfg.pci,
		};
	ret = vm_load_guest(m->vm, &bcfg, err, sizeof(err));
	if (ret == -ENOMEM || ret == -EIO) {
		/* Out of memory, or a KVM ioctl failed: not the image's fault. */
		pr_err("cannot load the guest: %s", err[0] ? err : strerror(-ret));
		return ret;
	}
	if (ret) {
		pr_err("--kernel %s: %s (expected a bzImage, PVH ELF or Multiboot v1 image that fits in --memory)",
		       !cfg->kernel ? "(built-in)" : cfg->kernel_name ? cfg->kernel_name : "(image)",
		       err[0] ? err : strerror(-ret));
		return -EINVAL;
	}
	return 0;
}

static int machine_create_platform(struct machine *m, const struct machine_config *cfg)
{
	int ret;

	ret = machine_fail(serial_create(m->vm, X86_COM1_PORT, X86_COM1_IRQ, cfg->console_in,
					 cfg->console_out, &m->serial), "serial device");
	if (!ret)
		ret = machine_fail(i8042_create(m->vm, &m->i8042), "i8042 device");
	if (!ret)
		ret = machine_fail(debugexit_create(m->vm, X86_DEBUG_EXIT_PORT, &m->debugexit),
				   "debug-exit device");
	if (!ret)
		ret = machine_fail(pong_create(m->vm, X86_PONG_PORT, X86_PONG_IRQ, &m->pong),
				   "pong device");
	if (!ret)
		ret = machine_fail(boottimer_create(m->vm, X86_BOOT_TIMER_GPA, &m->boottimer),
				   "boot timer device");
	if (!ret)
		ret = machine_fail(cpuhotplug_create(m->vm, X86_CPU_HOTPLUG_PORT, &m->cpuhotplug),
				   "cpu hot-plug device");
	/* The PM block before the RTC, whose alarm it takes (and outlives). */
	if (!ret)
		ret = machine_fail(acpi_pm_create(m->vm, X86_ACPI_PM_PORT, X86_ACPI_SCI_IRQ,
						  X86_ACPI_FACS_GPA, &m->acpi_pm),
				   "ACPI PM block");
	if (!ret)
		ret = machine_fail(rtc_create(m->vm, X86_RTC_PORT, X86_RTC_IRQ, &m->rtc),
				   "real-time clock");
	if (!ret)
		rtc_connect_alarm(m->rtc, acpi_pm_rtc_input(m->acpi_pm));
	if (!ret && cfg->testdev)
		ret = machine_fail(testdev_create(m->vm, &m->testdev), "test device");
	return ret;
}

/* ---- snapshots (docs/snapshot.md) ------------------------------------------- */

int machine_config_from_snapshot(struct snap_reader *r, struct machine_config *cfg)
{
	const struct snap_machine *sm;
	const void *data;
	size_t len;
	int ret;

	if (snap_read_section(r, SNAP_SEC_MACHINE, 0, &data, &len) || len != sizeof(*sm)) {
		pr_err("snapshot: the machine section is missing or malformed");
		return -EINVAL;
	}
	sm = data;
	if (sm->ram_size < (1ULL << 20) || sm->ram_size > (1ULL << 40) ||
	    !IS_ALIGNED(sm->ram_size, 4096) || !sm->nr_cpus || sm->nr_cpus > VM_MAX_VCPUS ||
	    sm->irqchip > VM_IRQCHIP_KERNEL || sm->pit > 1 || sm->testdev > 1 ||
	    (sm->pit && sm->irqchip != VM_IRQCHIP_KERNEL)) {
		pr_err("snapshot: the machine section describes a machine kestrel cannot build");
		return -EINVAL;
	}
	if (!snap_read_section(r, SNAP_SEC_VIRTIO_DEV, 0, &data, &len) || cfg->nr_overrides) {
		if (!cfg->devs) {
			pr_err("snapshot: it has virtio devices, the machine has no device list");
			return -EINVAL;
		}
		ret = virtio_devices_from_snapshot(cfg->devs, r, cfg->overrides,
						   cfg->nr_overrides);
		if (ret)
			return ret == -ENOENT ? ret : -EINVAL;
	}
	cfg->ram_size = sm->ram_size;
	cfg->nr_cpus = sm->nr_cpus;
	cfg->irqchip = sm->irqchip;
	cfg->pit = sm->pit;
	cfg->testdev = sm->testdev;
	return 0;
}

/* The platform devices snapshots cover; the others restart at power-on. */
static int machine_save_devices(struct machine *m, struct snap_writer *w)
{
	int ret = serial_snapshot_save(m->serial, w);

	if (!ret)
		ret = pong_snapshot_save(m->pong, w);
	if (!ret)
		ret = i8042_snapshot_save(m->i8042, w);
	if (!ret)
		ret = rtc_snapshot_save(m->rtc, w);
	if (!ret)
		ret = acpi_pm_snapshot_save(m->acpi_pm, w);
	if (!ret)
		ret = boottimer_snapshot_save(m->boottimer, w);
	if (!ret && m->testdev)
		ret = testdev_snapshot_save(m->testdev, w);
	return ret;
}

/* x86 RAM: below the 32-bit hole and from 4 GiB (vm_arch_create()). */
#define X86_MAX_RAM_REGIONS	2

/* The pages written since the restore: a diff against the base. */
static int machine_diff_setup(struct machine *m, struct snap_writer *w, u64 **dirty)
{
	struct address_space *as = vm_address_space(m->vm);
	unsigned int n = address_space_nr_regions(as);
	int ret = 0;

	if (n > X86_MAX_RAM_REGIONS)
		return -EINVAL;
	for (unsigned int i = 0; !ret && i < n; i++) {
		u64 pages = address_space_region(as, i)->size / 4096;

		dirty[i] = xzalloc((pages + 63) / 64 * 8);
		ret = dirty[i] ? vm_dirty_log_get(m->vm, i, dirty[i]) : -ENOMEM;
	}
	if (!ret)
		ret = snap_writer_set_diff(w, m->diff_base, m->diff_base_id,
					   (const u64 *const *)dirty);
	return ret;
}

/*
 * Every section of a paused machine, then both files: into @dir
 * (memory-<id>, crash-safe) or @state_path and @mem_path.
 */
static int machine_snapshot_write(struct machine *m, const char *dir, const char *state_path,
				  const char *mem_path, const struct snap_key *key,
				  bool resume_devices, char *err, size_t errlen)
{
	struct snap_machine sm = {
		.ram_size = m->saved.ram_size, .nr_cpus = vm_nr_vcpus(m->vm),
		.irqchip = m->saved.irqchip, .pit = m->saved.pit, .testdev = m->testdev_on,
	};
	u64 *dirty[X86_MAX_RAM_REGIONS] = { 0 };
	struct snap_writer *w = NULL;
	int ret;

	err[0] = '\0';
	/* Its private RAM is not kestrel's to read, let alone to write to a file. */
	if (m->saved.protected) {
		snprintf(err, errlen, "the guest is protected: kestrel cannot read its private RAM, "
			 "so it is never snapshotted (docs/protected.md)");
		return -EPERM;
	}
	/* Decided (docs/pci.md): PCI functions and their MSI-X state are not saved yet. */
	if (m->devs && virtio_devices_have_pci(m->devs)) {
		snprintf(err, errlen, "the VM has virtio-pci devices, which snapshots do not cover "
			 "(docs/pci.md): give them transport=mmio (or --transport mmio) to snapshot it");
		return -EOPNOTSUPP;
	}
	/* Quiesced: no ring or buffer is touched until they resume. */
	if (m->nr_virtio) {
		ret = virtio_devices_suspend(m->devs);
		if (ret) {
			snprintf(err, errlen, "a virtio device cannot be suspended");
			return ret;
		}
	}
	ret = snap_writer_create(&w);
	if (!ret && m->diff_base)
		ret = machine_diff_setup(m, w, dirty);
	if (!ret)
		ret = snap_write_section(w, SNAP_SEC_MACHINE, 0, &sm, sizeof(sm));
	if (!ret)
		ret = vm_snapshot_save(m->vm, w);
	if (!ret)
		ret = machine_save_devices(m, w);
	if (!ret && m->nr_virtio)
		ret = virtio_devices_snapshot_save(m->devs, w);
	if (!ret && dir)
		ret = snap_writer_commit(w, dir, key, vm_address_space(m->vm), err, errlen);
	else if (!ret)
		ret = snap_writer_commit_files(w, state_path, mem_path, key,
					       vm_address_space(m->vm), err, errlen);
	snap_writer_destroy(w);
	for (unsigned int i = 0; i < X86_MAX_RAM_REGIONS; i++)
		free(dirty[i]);
	/* A VM that stops after its snapshot keeps its devices still. */
	if (m->nr_virtio && (ret || resume_devices))
		virtio_devices_resume(m->devs);
	if (ret && !err[0])
		snprintf(err, errlen, "%s", strerror(-ret));
	return ret;
}

int machine_snapshot_files(struct machine *m, const char *state_path, const char *mem_path,
			   const struct snap_key *key, char *err, size_t errlen)
{
	return machine_snapshot_write(m, NULL, state_path, mem_path, key, true, err, errlen);
}

int machine_snapshot(struct machine *m, const char *dir, const struct snap_key *key)
{
	char err[512];
	int ret;

	ret = vm_pause(m->vm);
	if (ret)
		return ret;	/* stopping anyway */
	ret = machine_snapshot_write(m, dir, NULL, NULL, key, false, err, sizeof(err));
	if (ret) {
		pr_err("snapshot: not written: %s", err);
		vm_resume(m->vm);
		return ret;
	}
	pr_info("snapshot written to '%s'%s", dir, key ? " (encrypted)" : "");
	vm_request_stop(m->vm, VM_STOP_SNAPSHOT, 0);
	vm_resume(m->vm);
	return 0;
}

/* Diffs of this machine apply to the full plain snapshot it came from. */
static int machine_diff_base(struct machine *m, const struct machine_config *cfg)
{
	if (!cfg->restore || !snap_reader_id(cfg->restore, m->diff_base_id) ||
	    cfg->snapshot_key || m->nr_virtio) {
		pr_err("--snapshot-diff: needs a restore from a full plain snapshot, no key and no virtio device (devices' writes to guest memory are not logged)");
		return -EINVAL;
	}
	m->diff_base = strdup(snap_reader_memory_path(cfg->restore));
	return m->diff_base ? 0 : -ENOMEM;
}

#define RESTORE_ERR_MAX	512

/* A platform device's restore result @ret; @err (RESTORE_ERR_MAX) names @what. */
static int restore_part(int ret, const char *what, char *err)
{
	if (!ret)
		return 0;
	snprintf(err, RESTORE_ERR_MAX, "the %s section is missing or impossible", what);
	return -EINVAL;
}

static int machine_restore(struct machine *m, struct snap_reader *r)
{
	char err[RESTORE_ERR_MAX] = "";
	int ret;

	ret = vm_snapshot_restore(m->vm, r, err, sizeof(err));
	if (!ret)
		ret = restore_part(serial_snapshot_restore(m->serial, r), "serial", err);
	if (!ret)
		ret = restore_part(pong_snapshot_restore(m->pong, r), "PONG", err);
	if (!ret)
		ret = restore_part(i8042_snapshot_restore(m->i8042, r), "i8042", err);
	if (!ret)
		ret = restore_part(rtc_snapshot_restore(m->rtc, r), "RTC", err);
	if (!ret)
		ret = restore_part(acpi_pm_snapshot_restore(m->acpi_pm, r), "ACPI PM", err);
	if (!ret)
		ret = restore_part(boottimer_snapshot_restore(m->boottimer, r), "boot timer", err);
	if (!ret && m->testdev)
		ret = restore_part(testdev_snapshot_restore(m->testdev, r), "testdev", err);
	if (!ret && m->nr_virtio)
		ret = virtio_devices_snapshot_restore(m->devs, r, err, sizeof(err));
	if (ret) {
		pr_err("snapshot: cannot restore: %s", err[0] ? err : strerror(-ret));
		return -EINVAL;
	}
	return 0;
}

/*
 * The order matters: devices before the loader (their windows and GSIs go
 * into the DSDT or the command line), the loader before vCPU 0 (it starts
 * at the loaded entry), the signal thread last (it needs the whole VM).
 */
int machine_create(const struct machine_config *cfg, struct machine **out)
{
	struct machine *m;
	sigset_t set;
	int ret;

	*out = NULL;
	m = xzalloc(sizeof(*m));
	if (!m)
		return machine_fail(-ENOMEM, "machine");
	m->devs = cfg->devs;
	machine_pci_layout(cfg->ram_size, &m->pci_info);
	ret = machine_place_virtio(cfg->devs,
				   !cfg->restore && boot_image_is_linux(cfg->kernel, cfg->kernel_size),
				   m->virtio, &m->nr_virtio);
	if (ret)
		goto err_destroy;

	if (cfg->stop_on_signals) {
		/* Before any thread exists: threads inherit the mask. */
		machine_stop_signals(&set);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	}
	ret = machine_create_vm(m, cfg);
	if (ret)
		goto err_destroy;
	ret = machine_attach_virtio(m);
	if (ret)
		goto err_destroy;
	if (!cfg->restore) {
		ret = machine_load_guest(m, cfg);
		if (ret)
			goto err_destroy;
	}
	ret = machine_create_platform(m, cfg);
	if (ret)
		goto err_destroy;
	for (unsigned int i = 0; i < cfg->nr_cpus; i++) {
		ret = vm_add_vcpu(m->vm, NULL);
		if (ret) {
			pr_err("cannot create vCPU %u: %s", i, strerror(-ret));
			goto err_destroy;
		}
	}
	m->snapshot_dir = cfg->snapshot_dir;
	m->snapshot_key = cfg->snapshot_key;
	m->testdev_on = cfg->testdev;
	m->saved = (struct machine_config_saved){
		.ram_size = cfg->ram_size, .nr_cpus = cfg->nr_cpus,
		.irqchip = cfg->irqchip, .pit = cfg->pit, .protected = cfg->protected,
	};
	if (cfg->restore) {
		ret = machine_restore(m, cfg->restore);
		if (ret)
			goto err_destroy;
	}
	if (cfg->snapshot_diff) {
		ret = machine_diff_base(m, cfg);
		if (ret)
			goto err_destroy;
	}
	/*
	 * The measured launch, on this thread while it is the only one: the
	 * stub copies and checks the image, the window goes. A refusal stops
	 * the VM with the stub's status, which machine_run() returns at once.
	 */
	if (cfg->protected && cfg->measured) {
		ret = x86_launch_prepare(m->vm, cfg, &m->launch);
		if (!ret)
			ret = x86_launch_run(m->launch);
		if (ret && ret != -ESHUTDOWN)
			goto err_destroy;
	}
	/* Built: from here no thread of a protected guest touches vCPU state. */
	if (cfg->protected) {
		ret = seccomp_seal();
		if (ret)
			goto err_destroy;
	}
	if (cfg->stop_on_signals) {
		ret = xpthread_create(&m->sigthread, NULL, machine_signal_thread, m);
		if (ret) {
			pr_err("cannot start the signal thread: %s", strerror(-ret));
			goto err_destroy;
		}
		m->sigthread_started = true;
	}
	*out = m;
	return 0;

err_destroy:
	machine_destroy(m);
	return ret;
}

int machine_run(struct machine *m)
{
	vm_run(m->vm);
	return vm_exit_status(m->vm);
}

struct vm *machine_vm(struct machine *m)
{
	return m->vm;
}

int machine_send_ctrl_alt_del(struct machine *m)
{
	return m->i8042 ? i8042_send_ctrl_alt_del(m->i8042) : -ENODEV;
}

/*
 * No fast exit for the CLI (_exit() after machine_run(), leaving this to
 * the kernel): it would save only the thread joins and unmaps (~0.3 ms).
 * Most of the exit time is KVM destroying the VM, and process exit does
 * that too, synchronously, before the parent can reap us: closing the last
 * fd of a VM with the in-kernel irqchip and PIT waits for SRCU grace
 * periods (kvm_free_pit() unregistering the PIT's irq notifiers, then
 * srcu_barrier() in kvm_destroy_vm()), ~5-20 ms on a HZ=250 host whatever
 * the order of our own teardown. So "kestrel run" takes this complete,
 * leak-checked teardown too.
 */
void machine_destroy(struct machine *m)
{
	if (!m)
		return;
	if (m->sigthread_started) {
		atomic_store(&m->sigthread_stop, true);
		pthread_kill(m->sigthread, SIGTERM);
		pthread_join(m->sigthread, NULL);
	}
	testdev_destroy(m->testdev);
	rtc_destroy(m->rtc);
	acpi_pm_destroy(m->acpi_pm);
	cpuhotplug_destroy(m->cpuhotplug);
	x86_launch_destroy(m->launch);
	boottimer_destroy(m->boottimer);
	pong_destroy(m->pong);
	debugexit_destroy(m->debugexit);
	i8042_destroy(m->i8042);
	serial_destroy(m->serial);
	/* Before the VM: they hold ioeventfds, irqfds and RAM mappings. */
	if (m->devs)
		virtio_devices_detach(m->devs);
	pci_host_destroy(m->pci);
	vm_destroy(m->vm);
	free(m->diff_base);
	free(m);
}

int machine_dump_tables(const struct machine_config *cfg, const char *dir)
{
	struct boot_mmio_dev slots[X86_VIRTIO_MMIO_MAX];
	struct boot_pci pci;
	struct boot_config bcfg = {
		.nr_cpus = cfg->nr_cpus,
		.legacy_pic = cfg->irqchip == VM_IRQCHIP_KERNEL,
		.pci = &pci,
	};
	int ret;

	machine_pci_layout(cfg->ram_size, &pci);
	ret = machine_place_virtio(cfg->devs, false, slots, &bcfg.nr_mmio_devs);
	if (ret)
		return ret;
	bcfg.mmio_devs = bcfg.nr_mmio_devs ? slots : NULL;
	return boot_tables_dump(&bcfg, dir);
}
