// SPDX-License-Identifier: GPL-2.0-only
/*
 * kestrel's command line and the ordered set-up of a VM.
 *
 * Subcommands live in one table (cmds[]); each parses its own options and
 * returns the process exit status. Only this file and log.c print directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kestrel/api.h>
#include <kestrel/boot.h>
#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/hw.h>
#include <kestrel/log.h>
#include <kestrel/memory.h>
#include <kestrel/virtio.h>
#include <kestrel/vm.h>
#include <kestrel/version.h>
#include <kestrel/vhost-user.h>
#include <kestrel/x86/layout.h>

#define DEFAULT_RAM		(256ULL << 20)
#define MIN_RAM			(1ULL << 20)
#define MAX_RAM			(1ULL << 40)
#define MAX_KERNEL_SIZE		(256ULL << 20)
#define MAX_INITRD_SIZE		(1ULL << 30)
#define MAX_MODULE_SIZE		(256ULL << 20)
#define MAX_MODULES		16
#define MAX_CMDLINE		(64 * 1024)

extern const unsigned char kestrel_default_guest[];
extern const unsigned char kestrel_default_guest_end[];

/* ---- small helpers ------------------------------------------------------- */

static __printf(1, 2) int usage_error(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* Exactly one line: a hostile argument could hold a newline. */
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = '?';
	fprintf(stderr, "kestrel: %s\n", buf);
	return VM_EXIT_USAGE;
}

/**
 * parse_size() - "256M", "1G", "4096", "2k": bytes, with an optional
 * binary suffix K, M, G or T (either case, "iB"/"B" tolerated)
 * Return: 0, or -EINVAL for anything else (including overflow).
 */
static int parse_size(const char *s, u64 *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end)
		return -EINVAL;
	if (shift && v > (~0ULL >> shift))
		return -EINVAL;
	*out = (u64)v << shift;
	return 0;
}

static int parse_uint(const char *s, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT_MAX)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/**
 * struct file_map - a file read whole, read-only
 * @data: its bytes (mmap), or NULL
 * @size: bytes
 */
struct file_map {
	void *data;
	size_t size;
};

/* Map @path whole; on failure print the one-line error for @opt. */
static int file_map_open(const char *opt, const char *path, u64 limit,
			 struct file_map *f)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto err_errno;
	if (fstat(fd, &st) < 0)
		goto err_close;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return usage_error("%s: '%s' is not a regular file (expected %s FILE)",
				   opt, path, opt);
	}
	if (st.st_size == 0 || (u64)st.st_size > limit) {
		close(fd);
		return usage_error("%s: '%s' is %s (expected 1 byte to %llu MiB)",
				   opt, path, st.st_size ? "too large" : "empty",
				   (unsigned long long)(limit >> 20));
	}
	f->size = (size_t)st.st_size;
	f->data = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f->data == MAP_FAILED) {
		f->data = NULL;
		goto err_close;
	}
	close(fd);
	return 0;

err_close:
	err = errno;
	close(fd);
	errno = err;
err_errno:
	return usage_error("%s: cannot read '%s': %s (expected %s FILE)", opt, path,
			   strerror(errno), opt);
}

static void file_map_close(struct file_map *f)
{
	if (f->data)
		munmap(f->data, f->size);
	f->data = NULL;
}

/* ---- kestrel run ---------------------------------------------------------- */

/**
 * struct run_opts - "kestrel run" options
 */
struct run_opts {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	unsigned int cpus;
	u64 ram_size;
	const char *modules[MAX_MODULES];	/* FILE[,cmdline] as given */
	unsigned int nr_modules;
	struct virtio_devices *devs;	/* --net/--disk/--device/--console/--rng */
};

static const char run_usage[] =
"usage: kestrel run [--kernel FILE] [--initrd FILE] [--cmdline STR] [--cpus N]\n"
"                   [--memory SIZE] [--module FILE[,STR]]...\n"
"                   [--net sim|tap=IFNAME[,mac=M]] [--disk PATH[,ro]]\n"
"                   [--device vdpa,type=TYPE[,attr=value]...]\n"
"                   [--console serial|virtio] [--rng]\n"
"\n"
"  --kernel FILE        bzImage, PVH ELF or Multiboot v1 image\n"
"                       (default: the built-in test guest)\n"
"  --initrd FILE        initial ramdisk (Linux)\n"
"  --cmdline STR        kernel command line\n"
"  --cpus N             vCPUs (default 1)\n"
"  --memory SIZE        guest RAM: bytes or with K/M/G/T (default 256M)\n"
"  --module FILE[,STR]  Multiboot module with its string (repeatable)\n"
"  --net sim[,mac=M]    virtio-net on the loopback simulator\n"
"  --net tap=IFNAME[,mac=M]  virtio-net over a TAP interface\n"
"  --disk PATH[,ro]     virtio-blk over a file or block device\n"
"  --device vdpa,type=TYPE[,attr=value]...  any vDPA device type\n"
"                       (net, blk, tap, file-blk, console, rng)\n"
"  --console serial|virtio  guest console on stdin/stdout (default serial)\n"
"  --rng                virtio-rng fed by getrandom()\n"
"  (each virtio device takes the next virtio-mmio slot, in order)\n"
"\n"
"exit status: the guest's debug-exit value v gives (v << 1) | 1 (odd);\n"
"  0 reset or power-off, 2 bad arguments, 4 host error, 6 guest crashed\n"
"  (triple fault, KVM internal/emulation error, failed entry), 130 SIGINT/SIGTERM\n";

/* Accepts "--opt VALUE" and "--opt=VALUE"; returns the value or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *name,
			     bool *matched)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	*matched = false;
	if (strncmp(a, name, n))
		return NULL;
	if (a[n] == '=') {
		*matched = true;
		return a + n + 1;
	}
	if (a[n])
		return NULL;
	*matched = true;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/*
 * A virtio device option (--net, --disk, --device, --console, --rng):
 * recorded in @devs, opened at attach. Return: 0; -ENOENT when argv[*i]
 * is not one; otherwise the exit status (the error line is printed).
 */
static int run_parse_device(int argc, char **argv, int *i,
			    struct virtio_devices *devs)
{
	static const char *const names[] = { "--net", "--disk", "--device",
					     "--console" };
	const char *name = "--rng", *v = NULL;
	bool matched = false;
	int ret;

	if (strcmp(argv[*i], "--rng")) {
		for (size_t k = 0; k < ARRAY_SIZE(names) && !matched; k++) {
			name = names[k];
			v = opt_value(argc, argv, i, name, &matched);
		}
		if (!matched)
			return -ENOENT;
		if (!v)
			return usage_error("%s needs a value (see kestrel run --help)",
					   name);
	}
	ret = virtio_devices_parse_arg(devs, name, v);
	if (ret == -ENOMEM) {
		pr_err("%s: out of memory", name);
		return VM_EXIT_HOST_ERROR;
	}
	/* virtio_devices_parse_arg() printed the line naming the argument. */
	return ret ? VM_EXIT_USAGE : 0;
}

static int run_parse(int argc, char **argv, struct run_opts *o)
{
	static const struct {
		const char *name, *form;
	} opts[] = {
		{ "--kernel", "--kernel FILE" },
		{ "--initrd", "--initrd FILE" },
		{ "--cmdline", "--cmdline STR" },
		{ "--cpus", "--cpus N (1 or more)" },
		{ "--memory", "--memory SIZE (e.g. 256M, 1G or plain bytes)" },
		{ "--module", "--module FILE[,STR]" },
	};

	o->cpus = 1;
	o->ram_size = DEFAULT_RAM;
	for (int i = 0; i < argc; i++) {
		const char *v = NULL;
		bool matched = false;
		size_t k;
		int ret;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(run_usage, stdout);
			return -1;
		}
		for (k = 0; k < ARRAY_SIZE(opts); k++) {
			v = opt_value(argc, argv, &i, opts[k].name, &matched);
			if (matched)
				break;
		}
		if (!matched) {
			ret = run_parse_device(argc, argv, &i, o->devs);
			if (ret == -ENOENT)
				return usage_error("unknown argument '%s' (see kestrel run --help)",
						   argv[i]);
			if (ret)
				return ret;
			continue;
		}
		if (!v)
			return usage_error("%s needs a value (expected %s)",
					   opts[k].name, opts[k].form);
		switch (k) {
		case 0: o->kernel = v; break;
		case 1: o->initrd = v; break;
		case 2:
			if (strlen(v) >= MAX_CMDLINE)
				return usage_error("--cmdline: longer than %d bytes (expected --cmdline STR)",
						   MAX_CMDLINE - 1);
			o->cmdline = v;
			break;
		case 3:
			if (parse_uint(v, &o->cpus) || !o->cpus)
				return usage_error("--cpus: '%s' is not a vCPU count (expected %s)",
						   v, opts[k].form);
			break;
		case 4:
			if (parse_size(v, &o->ram_size))
				return usage_error("--memory: '%s' is not a size (expected %s)",
						   v, opts[k].form);
			if (o->ram_size < MIN_RAM || o->ram_size > MAX_RAM ||
			    !IS_ALIGNED(o->ram_size, 4096))
				return usage_error("--memory: '%s' must be a multiple of 4K from 1M to 1T (expected %s)",
						   v, opts[k].form);
			break;
		case 5:
			if (o->nr_modules == MAX_MODULES)
				return usage_error("--module: at most %d modules (expected %s)",
						   MAX_MODULES, opts[k].form);
			o->modules[o->nr_modules++] = v;
			break;
		}
	}
	if (o->initrd && !o->kernel)
		return usage_error("--initrd needs --kernel (expected --kernel FILE --initrd FILE)");
	return 0;
}

static atomic_bool signal_thread_done;

/* Turns SIGINT/SIGTERM (blocked in every other thread) into a VM stop. */
static void *signal_thread(void *arg)
{
	struct vm *vm = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (atomic_load(&signal_thread_done))
			return NULL;
		pr_info("caught signal %d, stopping the VM", sig);
		vm_request_stop(vm, VM_STOP_USER, 0);
	}
}

/**
 * struct machine - everything "kestrel run" builds, torn down in reverse
 */
struct machine {
	struct file_map kernel, initrd, modules[MAX_MODULES];
	struct boot_module boot_modules[MAX_MODULES];
	char *module_names[MAX_MODULES];
	struct vm *vm;
	struct serial *serial;
	struct i8042 *i8042;
	struct debugexit *debugexit;
	struct pong *pong;
	struct boottimer *boottimer;
	struct cpuhotplug *cpuhotplug;
};

static int machine_read_files(struct machine *m, const struct run_opts *o)
{
	int ret;

	if (o->kernel) {
		ret = file_map_open("--kernel", o->kernel, MAX_KERNEL_SIZE, &m->kernel);
		if (ret)
			return ret;
	}
	if (o->initrd) {
		ret = file_map_open("--initrd", o->initrd, MAX_INITRD_SIZE, &m->initrd);
		if (ret)
			return ret;
	}
	for (unsigned int i = 0; i < o->nr_modules; i++) {
		const char *comma = strchr(o->modules[i], ',');

		m->module_names[i] = comma ? strndup(o->modules[i], comma - o->modules[i])
					   : strdup(o->modules[i]);
		if (!m->module_names[i])
			return usage_error("--module: out of memory");
		ret = file_map_open("--module", m->module_names[i], MAX_MODULE_SIZE,
				    &m->modules[i]);
		if (ret)
			return ret;
		m->boot_modules[i] = (struct boot_module){
			.data = m->modules[i].data,
			.size = m->modules[i].size,
			.cmdline = comma ? comma + 1 : m->module_names[i],
		};
	}
	return 0;
}

static void machine_close_files(struct machine *m)
{
	file_map_close(&m->kernel);
	file_map_close(&m->initrd);
	for (unsigned int i = 0; i < MAX_MODULES; i++) {
		file_map_close(&m->modules[i]);
		free(m->module_names[i]);
	}
}

/*
 * Build the machine in order, run it, tear it down. Each step that fails
 * jumps to the label that undoes everything before it.
 */
static int cmd_run(int argc, char **argv)
{
	struct machine m = { 0 };
	struct run_opts o = { 0 };
	struct vm_config vcfg;
	struct boot_config bcfg;
	pthread_t sigthread;
	sigset_t stop_signals;
	char err[256] = "";
	int ret, status = VM_EXIT_HOST_ERROR;

	ret = virtio_devices_create(&o.devs);
	if (ret) {
		pr_err("cannot allocate the device list: %s", strerror(-ret));
		return VM_EXIT_HOST_ERROR;
	}
	ret = run_parse(argc, argv, &o);
	if (ret) {
		status = ret < 0 ? 0 : ret;
		goto out_close_files;
	}
	ret = machine_read_files(&m, &o);
	if (ret) {
		status = ret;
		goto out_close_files;
	}

	/* SIGINT/SIGTERM go to the signal thread only (threads inherit this). */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

	vcfg = (struct vm_config){ .ram_size = o.ram_size, .mem_flags = MEM_F_NORESERVE };
	ret = vm_create(&vcfg, &m.vm);
	if (ret) {
		pr_err("cannot create the VM: %s%s", strerror(-ret),
		       ret == -ENOENT || ret == -EACCES ? " (is /dev/kvm there and usable?)" : "");
		goto out_close_files;
	}
	if (o.cpus > vm_max_vcpus(m.vm)) {
		status = usage_error("--cpus: %u is more than KVM allows here (expected --cpus N with N from 1 to %u)",
				     o.cpus, vm_max_vcpus(m.vm));
		goto out_destroy_vm;
	}

	/* Before the loader: their windows and GSIs go into the DSDT/cmdline. */
	ret = virtio_devices_attach(o.devs, m.vm);
	if (ret) {
		/* Logged naming the option; a path or name that does not work is a
		 * bad argument, anything else a host error. */
		if (ret == -ENOENT || ret == -EINVAL || ret == -EISDIR ||
		    ret == -ENOTBLK || ret == -EROFS || ret == -ENODEV)
			status = VM_EXIT_USAGE;
		goto out_destroy_vm;
	}

	bcfg = (struct boot_config){
		.kernel = o.kernel ? m.kernel.data : kestrel_default_guest,
		.kernel_size = o.kernel ? m.kernel.size
			: (size_t)(kestrel_default_guest_end - kestrel_default_guest),
		.initrd = m.initrd.data,
		.initrd_size = m.initrd.size,
		.cmdline = o.cmdline,
		.modules = m.boot_modules,
		.nr_modules = o.nr_modules,
		.nr_cpus = o.cpus,
	};
	bcfg.mmio_devs = virtio_devices_boot_list(o.devs, &bcfg.nr_mmio_devs);
	ret = vm_load_guest(m.vm, &bcfg, err, sizeof(err));
	if (ret == -ENOMEM || ret == -EIO) {
		/* Out of memory, or a KVM ioctl failed: not the image's fault. */
		pr_err("cannot load the guest: %s", err[0] ? err : strerror(-ret));
		goto out_destroy_vm;
	}
	if (ret) {
		status = usage_error("--kernel %s: %s (expected a bzImage, PVH ELF or Multiboot v1 image that fits in --memory)",
				     o.kernel ? o.kernel : "(built-in)",
				     err[0] ? err : strerror(-ret));
		goto out_destroy_vm;
	}

	/* With --console virtio, stdin belongs to the virtio-console. */
	ret = serial_create(m.vm, X86_COM1_PORT, X86_COM1_IRQ,
			    virtio_devices_console_is_virtio(o.devs) ? -1 : STDIN_FILENO,
			    STDOUT_FILENO, &m.serial);
	if (ret) {
		pr_err("cannot create the serial device: %s", strerror(-ret));
		goto out_destroy_devices;
	}
	ret = i8042_create(m.vm, &m.i8042);
	if (ret) {
		pr_err("cannot create the i8042 device: %s", strerror(-ret));
		goto out_destroy_devices;
	}
	ret = debugexit_create(m.vm, X86_DEBUG_EXIT_PORT, &m.debugexit);
	if (ret) {
		pr_err("cannot create the debug-exit device: %s", strerror(-ret));
		goto out_destroy_devices;
	}
	ret = pong_create(m.vm, X86_PONG_PORT, X86_PONG_IRQ, &m.pong);
	if (ret) {
		pr_err("cannot create the pong device: %s", strerror(-ret));
		goto out_destroy_devices;
	}
	ret = boottimer_create(m.vm, X86_BOOT_TIMER_GPA, &m.boottimer);
	if (ret) {
		pr_err("cannot create the boot timer device: %s", strerror(-ret));
		goto out_destroy_devices;
	}
	ret = cpuhotplug_create(m.vm, X86_CPU_HOTPLUG_PORT, &m.cpuhotplug);
	if (ret) {
		pr_err("cannot create the cpu hot-plug device: %s", strerror(-ret));
		goto out_destroy_devices;
	}

	for (unsigned int i = 0; i < o.cpus; i++) {
		ret = vm_add_vcpu(m.vm, NULL);
		if (ret) {
			pr_err("cannot create vCPU %u: %s", i, strerror(-ret));
			goto out_destroy_devices;
		}
	}

	ret = xpthread_create(&sigthread, NULL, signal_thread, m.vm);
	if (ret) {
		pr_err("cannot start the signal thread: %s", strerror(-ret));
		goto out_destroy_devices;
	}
	vm_run(m.vm);
	status = vm_exit_status(m.vm);
	/*
	 * No fast exit (_exit() here, leaving teardown to the kernel): it
	 * would save only the thread joins and unmaps (~0.3 ms). Most of the
	 * exit time is KVM destroying the VM, and process exit does that too,
	 * synchronously, before the parent can reap us: closing the last fd of
	 * a VM with the in-kernel irqchip and PIT waits for SRCU grace periods
	 * (kvm_free_pit() unregistering the PIT's irq notifiers, then
	 * srcu_barrier() in kvm_destroy_vm()), ~5-20 ms on this HZ=250 host
	 * whatever the order of our own teardown. So the CLI takes the same
	 * complete, leak-checked teardown as the library.
	 */

	atomic_store(&signal_thread_done, true);
	pthread_kill(sigthread, SIGTERM);
	pthread_join(sigthread, NULL);
	goto out_destroy_devices;

out_destroy_devices:
	cpuhotplug_destroy(m.cpuhotplug);
	boottimer_destroy(m.boottimer);
	pong_destroy(m.pong);
	debugexit_destroy(m.debugexit);
	i8042_destroy(m.i8042);
	serial_destroy(m.serial);
out_destroy_vm:
	/* Devices go first: they hold ioeventfds, irqfds and RAM mappings. */
	virtio_devices_destroy(o.devs);
	o.devs = NULL;
	vm_destroy(m.vm);
out_close_files:
	virtio_devices_destroy(o.devs);
	machine_close_files(&m);
	return status;
}

/* ---- kestrel acpi-dump -------------------------------------------------------- */

static const char acpi_dump_usage[] =
"usage: kestrel acpi-dump DIR [--cpus N] [device options of kestrel run]...\n"
"\n"
"Writes the ACPI tables `kestrel run` would give a guest with the same\n"
"--cpus and virtio device options (--net, --disk, --device, --console,\n"
"--rng) into DIR, one DIR/<SIGNATURE>.dat per table (RSDP, XSDT, FACP,\n"
"APIC, DSDT), ready for `iasl -d`. Nothing is opened or created: devices\n"
"are only placed. Needs no /dev/kvm.\n";

static int cmd_acpi_dump(int argc, char **argv)
{
	struct boot_mmio_dev mmio[X86_VIRTIO_MMIO_MAX];
	struct virtio_devices *devs = NULL;
	struct boot_config bcfg = { .nr_cpus = 1 };
	const char *dir = NULL;
	struct stat st;
	int ret, status = VM_EXIT_USAGE;

	ret = virtio_devices_create(&devs);
	if (ret) {
		pr_err("cannot allocate the device list: %s", strerror(-ret));
		return VM_EXIT_HOST_ERROR;
	}
	for (int i = 0; i < argc; i++) {
		bool matched;
		const char *v;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(acpi_dump_usage, stdout);
			status = 0;
			goto out_destroy_devs;
		}
		v = opt_value(argc, argv, &i, "--cpus", &matched);
		if (matched) {
			if (!v || parse_uint(v, &bcfg.nr_cpus) || !bcfg.nr_cpus ||
			    bcfg.nr_cpus > 254) {
				usage_error("--cpus: '%s' is not a vCPU count (expected --cpus N with N from 1 to 254)",
					    v ? v : "");
				goto out_destroy_devs;
			}
			continue;
		}
		ret = run_parse_device(argc, argv, &i, devs);
		if (ret == -ENOENT) {
			if (argv[i][0] == '-' || dir) {
				usage_error("unknown argument '%s' (see kestrel acpi-dump --help)",
					    argv[i]);
				goto out_destroy_devs;
			}
			dir = argv[i];
			continue;
		}
		if (ret) {
			status = ret;
			goto out_destroy_devs;
		}
	}
	if (!dir) {
		usage_error("missing DIR (expected kestrel acpi-dump DIR [--cpus N] [devices])");
		goto out_destroy_devs;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		usage_error("'%s' is not a directory (expected kestrel acpi-dump DIR, DIR existing)",
			    dir);
		goto out_destroy_devs;
	}
	bcfg.nr_mmio_devs = virtio_devices_plan(devs, mmio, ARRAY_SIZE(mmio));
	bcfg.mmio_devs = bcfg.nr_mmio_devs ? mmio : NULL;
	ret = boot_tables_dump(&bcfg, dir);
	if (ret) {
		pr_err("cannot write the tables to %s: %s", dir, strerror(-ret));
		status = VM_EXIT_HOST_ERROR;
		goto out_destroy_devs;
	}
	status = 0;
out_destroy_devs:
	virtio_devices_destroy(devs);
	return status;
}

/* ---- kestrel vhost-user ------------------------------------------------------ */

static int cmd_vhost_user(int argc, char **argv)
{
	/* vhost_user_cmd_main() wants the command name in argv[0]. */
	return vhost_user_cmd_main(argc + 1, argv - 1);
}

/* ---- dispatch --------------------------------------------------------------- */

static const char main_usage[] =
"usage: kestrel <command> [options]\n"
"       kestrel [Firecracker's flags]   (Firecracker-compatible mode, docs/api.md)\n"
"\n"
"commands:\n"
"  run        boot a guest (kestrel run --help)\n"
"  vhost-user serve a vDPA device to vhost-user front-ends (QEMU, DPDK)\n"
"             (kestrel vhost-user --help)\n"
"  acpi-dump  write the ACPI tables a guest would get (kestrel acpi-dump --help)\n"
"\n"
"  kestrel --help | --version\n"
"\n"
"Firecracker-compatible mode (no command): Firecracker's HTTP API on a Unix\n"
"socket and its --config-file document.\n"
"  --api-sock PATH      API socket (default /run/firecracker.socket)\n"
"  --config-file FILE   build and start the VM this JSON document describes\n"
"  --no-api             no API socket (needs --config-file)\n"
"  --id ID              instance id in GET / and in log lines ([A-Za-z0-9-]{1,64})\n"
"  --level LEVEL        Error, Warning, Info, Debug, Trace or Off\n"
"  --log-path PATH      log file or named pipe (default stderr)\n"
"  --show-level         the level in each log line\n"
"  --show-log-origin    file:line in each log line\n"
"  --metrics-path PATH  metrics file or named pipe (one JSON object a line)\n"
"  --boot-timer         accepted (kestrel's boot timer is always there)\n"
"  --seccomp-level, --seccomp-filter, --no-seccomp, --metadata, --start-time-us,\n"
"  --start-time-cpu-us, --parent-cpu-time-us, --http-api-max-payload-size,\n"
"  --mmds-size-limit    accepted and ignored, with a log line\n";

/*
 * Firecracker mode: no command, or flags only. --help and --version are
 * answered here, wherever they stand, as Firecracker does.
 */
static int cmd_firecracker(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			fputs(main_usage, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--version")) {
			/* Clients read the 2nd word of line 1 (Kata: less its "v"). */
			printf("Firecracker v%s (kestrel %s)\n", API_FIRECRACKER_VERSION,
			       KESTREL_VERSION);
			return 0;
		}
	}
	return api_fc_main(argc, argv, NULL);
}

/**
 * struct cmd - one subcommand
 * @name: what the user types
 * @fn: runs it with the arguments after the name; returns the exit status
 */
static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{ "run", cmd_run },
	{ "vhost-user", cmd_vhost_user },
	{ "acpi-dump", cmd_acpi_dump },
};

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
		fputs(main_usage, stdout);
		return 0;
	}
	if (argc < 2 || !strncmp(argv[1], "--", 2))
		return cmd_firecracker(argc - 1, argv + 1);
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 2, argv + 2);
	return usage_error("unknown command '%s' (expected one of: run, vhost-user, acpi-dump; see kestrel --help)",
			   argv[1]);
}
