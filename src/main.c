// SPDX-License-Identifier: GPL-2.0-only
/*
 * kestrel's command line: options in, a machine config out; the machine
 * itself is built by include/kestrel/machine.h.
 *
 * Subcommands live in one table (cmds[]); each parses its own options and
 * returns the process exit status. Only this file and log.c print directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kestrel/boot.h>
#include <kestrel/compiler.h>
#include <kestrel/log.h>
#include <kestrel/machine.h>
#include <kestrel/parse.h>
#include <kestrel/virtio.h>
#include <kestrel/vm.h>
#include <kestrel/vhost-user.h>

#define KESTREL_VERSION		"0.1.0"

#define DEFAULT_RAM		(256ULL << 20)
#define MIN_RAM			(1ULL << 20)
#define MAX_RAM			(1ULL << 40)
#define MAX_KERNEL_SIZE		(256ULL << 20)
#define MAX_INITRD_SIZE		(1ULL << 30)
#define MAX_MODULE_SIZE		(256ULL << 20)
#define MAX_MODULES		16
#define MAX_CMDLINE		(64 * 1024)

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
 * struct run_opts - "kestrel run" options and the files they name
 * @cfg: the machine to build; its images point into the maps below
 * @kernel: --kernel FILE, or NULL for the built-in guest
 * @initrd: --initrd FILE, or NULL
 * @modules: --module FILE[,STR] as given
 * @nr_modules: entries of @modules
 * @kernel_map: @kernel read whole
 * @initrd_map: @initrd read whole
 * @module_maps: each module's FILE read whole
 * @module_names: each module's FILE (a copy, for the error lines)
 * @boot_modules: what the loader gets, @cfg.modules points here
 */
struct run_opts {
	struct machine_config cfg;
	const char *kernel;
	const char *initrd;
	const char *modules[MAX_MODULES];
	unsigned int nr_modules;
	struct file_map kernel_map, initrd_map, module_maps[MAX_MODULES];
	char *module_names[MAX_MODULES];
	struct boot_module boot_modules[MAX_MODULES];
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
	/* virtio_devices_parse_arg() printed the line naming the argument. */
	ret = virtio_devices_parse_arg(devs, name, v);
	if (ret == -ENOMEM)
		return VM_EXIT_HOST_ERROR;
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

	o->cfg.nr_cpus = 1;
	o->cfg.ram_size = DEFAULT_RAM;
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
			ret = run_parse_device(argc, argv, &i, o->cfg.devs);
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
			o->cfg.cmdline = v;
			break;
		case 3:
			if (parse_uint(v, &o->cfg.nr_cpus) || !o->cfg.nr_cpus)
				return usage_error("--cpus: '%s' is not a vCPU count (expected %s)",
						   v, opts[k].form);
			break;
		case 4:
			if (parse_size(v, &o->cfg.ram_size))
				return usage_error("--memory: '%s' is not a size (expected %s)",
						   v, opts[k].form);
			if (o->cfg.ram_size < MIN_RAM || o->cfg.ram_size > MAX_RAM ||
			    !IS_ALIGNED(o->cfg.ram_size, 4096))
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

/* Read the files @o names, and point the machine's images at them. */
static int run_read_files(struct run_opts *o)
{
	int ret;

	if (o->kernel) {
		ret = file_map_open("--kernel", o->kernel, MAX_KERNEL_SIZE, &o->kernel_map);
		if (ret)
			return ret;
	}
	if (o->initrd) {
		ret = file_map_open("--initrd", o->initrd, MAX_INITRD_SIZE, &o->initrd_map);
		if (ret)
			return ret;
	}
	for (unsigned int i = 0; i < o->nr_modules; i++) {
		const char *comma = strchr(o->modules[i], ',');

		o->module_names[i] = comma ? strndup(o->modules[i], comma - o->modules[i])
					   : strdup(o->modules[i]);
		if (!o->module_names[i])
			return usage_error("--module: out of memory");
		ret = file_map_open("--module", o->module_names[i], MAX_MODULE_SIZE,
				    &o->module_maps[i]);
		if (ret)
			return ret;
		o->boot_modules[i] = (struct boot_module){
			.data = o->module_maps[i].data,
			.size = o->module_maps[i].size,
			.cmdline = comma ? comma + 1 : o->module_names[i],
		};
	}
	o->cfg.kernel = o->kernel_map.data;
	o->cfg.kernel_size = o->kernel_map.size;
	o->cfg.kernel_name = o->kernel;
	o->cfg.initrd = o->initrd_map.data;
	o->cfg.initrd_size = o->initrd_map.size;
	o->cfg.modules = o->boot_modules;
	o->cfg.nr_modules = o->nr_modules;
	return 0;
}

static void run_opts_release(struct run_opts *o)
{
	file_map_close(&o->kernel_map);
	file_map_close(&o->initrd_map);
	for (unsigned int i = 0; i < MAX_MODULES; i++) {
		file_map_close(&o->module_maps[i]);
		free(o->module_names[i]);
	}
	virtio_devices_destroy(o->cfg.devs);
}

static int cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	struct machine *m;
	int ret, status;

	if (machine_devices_create(&o.cfg.devs))
		return VM_EXIT_HOST_ERROR;
	status = run_parse(argc, argv, &o);
	if (!status)
		status = run_read_files(&o);
	if (status)
		goto out_release;

	/* With --console virtio, stdin belongs to the virtio-console. */
	o.cfg.console_in = virtio_devices_console_is_virtio(o.cfg.devs) ? -1 : STDIN_FILENO;
	o.cfg.console_out = STDOUT_FILENO;
	o.cfg.stop_on_signals = true;
	ret = machine_create(&o.cfg, &m);
	if (ret) {
		status = ret == -EINVAL ? VM_EXIT_USAGE : VM_EXIT_HOST_ERROR;
		goto out_release;
	}
	status = machine_run(m);
	machine_destroy(m);
out_release:
	run_opts_release(&o);
	return status < 0 ? VM_EXIT_OK : status;
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
	struct machine_config cfg = { .nr_cpus = 1 };
	const char *dir = NULL;
	struct stat st;
	int ret, status = VM_EXIT_USAGE;

	if (machine_devices_create(&cfg.devs))
		return VM_EXIT_HOST_ERROR;
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
			if (!v || parse_uint(v, &cfg.nr_cpus) || !cfg.nr_cpus ||
			    cfg.nr_cpus > VM_MAX_VCPUS) {
				usage_error("--cpus: '%s' is not a vCPU count (expected --cpus N with N from 1 to %u)",
					    v ? v : "", VM_MAX_VCPUS);
				goto out_destroy_devs;
			}
			continue;
		}
		ret = run_parse_device(argc, argv, &i, cfg.devs);
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
	ret = machine_dump_tables(&cfg, dir);
	if (ret == -EINVAL)
		goto out_destroy_devs;
	if (ret) {
		pr_err("cannot write the tables to %s: %s", dir, strerror(-ret));
		status = VM_EXIT_HOST_ERROR;
		goto out_destroy_devs;
	}
	status = 0;
out_destroy_devs:
	virtio_devices_destroy(cfg.devs);
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
"\n"
"commands:\n"
"  run        boot a guest (kestrel run --help)\n"
"  vhost-user serve a vDPA device to vhost-user front-ends (QEMU, DPDK)\n"
"             (kestrel vhost-user --help)\n"
"  acpi-dump  write the ACPI tables a guest would get (kestrel acpi-dump --help)\n"
"\n"
"  kestrel --help | --version\n";

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
	if (argc < 2) {
		fputs(main_usage, stderr);
		return VM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(main_usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("kestrel %s\n", KESTREL_VERSION);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 2, argv + 2);
	return usage_error("unknown command '%s' (expected one of: run, vhost-user, acpi-dump; see kestrel --help)",
			   argv[1]);
}
