// SPDX-License-Identifier: GPL-2.0-only
/*
 * kestrel's command line: options in, a machine config out; the machine
 * itself is built by include/kestrel/machine.h.
 *
 * Subcommands live in one table (cmds[]); each parses its own options and
 * returns the process exit status. Only this file and log.c print directly.
 *
 * One convention for every subcommand: options go through getopt_long()
 * ("--opt VALUE" or "--opt=VALUE"; -h and the short forms a subcommand
 * lists); --help prints the usage on stdout and exits VM_EXIT_OK; a bad
 * argument prints one line on stderr naming it and its accepted form and
 * exits VM_EXIT_USAGE; a failure of the host exits VM_EXIT_HOST_ERROR.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef KESTREL_TEST_HOOKS
#include <arpa/inet.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#endif

#include <kestrel/api.h>
#include <kestrel/boot.h>
#include <kestrel/compiler.h>
#include <kestrel/jail.h>
#include <kestrel/landlock.h>
#include <kestrel/launch.h>
#include <kestrel/log.h>
#include <kestrel/machine.h>
#include <kestrel/parse.h>
#include <kestrel/snapshot.h>
#include <kestrel/sandbox.h>
#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>
#include <kestrel/vhost-user.h>
#include <kestrel/virtio.h>
#include <kestrel/version.h>
#include <kestrel/vm.h>

#define DEFAULT_RAM		(256ULL << 20)
#define MIN_RAM			(1ULL << 20)
#define MAX_RAM			(1ULL << 40)
#define MAX_KERNEL_SIZE		(256ULL << 20)
#define MAX_INITRD_SIZE		(1ULL << 30)
#define MAX_MODULE_SIZE		(256ULL << 20)
#define MAX_MODULES		16
#define MAX_CMDLINE		(64 * 1024)
#define MAX_TEST_HOOKS		8

/* ---- the CLI convention ---------------------------------------------------- */

/* What a subcommand's parser returns when the command goes on. */
#define CLI_GO			(-1)
/* What cli_next() returns when parsing stops: the exit status is in cli.status. */
#define CLI_STOP		(-1)
#define CLI_MAX_OPTS		40

static __printf(1, 2) int usage_error(const char *fmt, ...)
{
	va_list ap;

	/* Exactly one line: a hostile argument could hold a newline. */
	va_start(ap, fmt);
	log_err_vline("", fmt, ap);
	va_end(ap);
	return VM_EXIT_USAGE;
}

/* The exit status for a negative errno from a subcommand's work. */
static int exit_status_of(int err)
{
	if (!err)
		return VM_EXIT_OK;
	/* The step that failed logged it, naming the bad argument. */
	return err == -EINVAL ? VM_EXIT_USAGE : VM_EXIT_HOST_ERROR;
}

/**
 * struct cli_opt - one option of a subcommand
 * @name: its long name, without the dashes
 * @has_arg: no_argument or required_argument
 * @val: what cli_next() returns for it: its short form, or an OPT_* value
 * @form: its accepted form, for error lines ("--cpus N (1 or more)")
 */
struct cli_opt {
	const char *name;
	int has_arg;
	int val;
	const char *form;
};

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_CPUS,
	OPT_MEMORY,
	OPT_IRQCHIP,
	OPT_PIT,
	OPT_PROTECTED,
	OPT_REBOOT,
	OPT_MEASURED,
	OPT_EXPECT_MEASUREMENT,
	OPT_IMAGE_KEY,
	OPT_PAYLOAD_CPL,
	OPT_MODULE,
	OPT_NET,
	OPT_DISK,
	OPT_DEVICE,
	OPT_CONSOLE,
	OPT_TRANSPORT,
	OPT_PACKED,
	OPT_RNG,
	OPT_BALLOON,
	OPT_VSOCK,
	OPT_IOMMU,
	OPT_MEM_SLOTS,
	OPT_ONCE,
	OPT_SECCOMP,
	OPT_LANDLOCK,
	OPT_TEST_HOOK,
	OPT_SNAPSHOT,
	OPT_SNAPSHOT_KEY,
	OPT_SNAPSHOT_DIFF,
	OPT_OVERRIDE_DISK,
	OPT_OVERRIDE_TAP,
};

/* The virtio device options of run and acpi-dump (virtio_devices_parse_arg()). */
#define CLI_DEVICE_OPTS								\
	{ "net", required_argument, OPT_NET, "--net sim|tap=IFNAME[,mac=M]" },	\
	{ "disk", required_argument, OPT_DISK, "--disk PATH[,ro]" },		\
	{ "device", required_argument, OPT_DEVICE,				\
	  "--device vdpa,type=TYPE[,attr=value]..." },				\
	{ "console", required_argument, OPT_CONSOLE, "--console serial|virtio" }, \
	{ "rng", no_argument, OPT_RNG, "--rng" },				\
	{ "transport", required_argument, OPT_TRANSPORT, "--transport mmio|pci" }, \
	{ "packed", required_argument, OPT_PACKED, "--packed on|off" },		\
	{ "balloon", required_argument, OPT_BALLOON,				\
	  "--balloon amount_mib=N[,deflate_on_oom=on][,stats_polling_interval_s=S][,free_page_reporting=on]" }, \
	{ "vsock", required_argument, OPT_VSOCK, "--vsock cid=N,uds=PATH" }

#define CLI_HELP_OPT	{ "help", no_argument, 'h', "--help" }
#define CLI_SECCOMP_OPT	{ "seccomp", required_argument, OPT_SECCOMP, "--seccomp off|log|kill" }
#define CLI_LANDLOCK_OPT \
	{ "landlock", required_argument, OPT_LANDLOCK, "--landlock on|off" }

/**
 * struct cli - getopt_long() over one subcommand's arguments
 * @cmd: the subcommand, argv[0] ("run"), for "see kestrel run --help"
 * @usage: what --help prints
 * @opts: its options, up to an entry without a name
 * @argc: arguments, argv[0] included
 * @argv: the arguments
 * @status: the exit status once cli_next() returned CLI_STOP
 * @longopts: @opts for getopt_long()
 * @shortopts: the short forms in @opts, for getopt_long()
 */
struct cli {
	const char *cmd;
	const char *usage;
	const struct cli_opt *opts;
	int argc;
	char **argv;
	int status;
	struct option longopts[CLI_MAX_OPTS + 1];
	char shortopts[2 * CLI_MAX_OPTS + 2];
};

static void cli_init(struct cli *c, const char *usage, const struct cli_opt *opts,
		     int argc, char **argv)
{
	size_t n, k = 0;

	*c = (struct cli){
		.cmd = argv[0], .usage = usage, .opts = opts, .argc = argc, .argv = argv,
	};
	/* A leading ':' makes a missing value ':', apart from an unknown '?'. */
	c->shortopts[k++] = ':';
	for (n = 0; opts[n].name && n < CLI_MAX_OPTS; n++) {
		c->longopts[n] = (struct option){ opts[n].name, opts[n].has_arg, NULL,
						  opts[n].val };
		if (opts[n].val < 128) {
			c->shortopts[k++] = (char)opts[n].val;
			if (opts[n].has_arg == required_argument)
				c->shortopts[k++] = ':';
		}
	}
	/* A table this long would lose its last options without a word. */
	if (opts[n].name) {
		fprintf(stderr, "kestrel: internal error: %s has more than %d options (CLI_MAX_OPTS)\n",
			argv[0], CLI_MAX_OPTS);
		abort();
	}
	optind = 0;	/* glibc: start over, permutation state included */
	opterr = 0;	/* our own error lines, not getopt's */
}

static const struct cli_opt *cli_find(const struct cli *c, int val)
{
	for (const struct cli_opt *o = c->opts; o->name; o++)
		if (o->val == val)
			return o;
	return NULL;
}

/*
 * The next option's @val, with its value in optarg; 0 when none is left
 * (the operands are argv[optind..argc)); CLI_STOP after --help or a bad
 * argument, both printed, with the exit status in @c->status.
 */
static int cli_next(struct cli *c)
{
	const struct cli_opt *o;
	int ch = getopt_long(c->argc, c->argv, c->shortopts, c->longopts, NULL);

	switch (ch) {
	case -1:
		return 0;
	case 'h':
		fputs(c->usage, stdout);
		c->status = VM_EXIT_OK;
		return CLI_STOP;
	case ':':
		o = cli_find(c, optopt);
		c->status = usage_error("--%s needs a value (expected %s)", o->name, o->form);
		return CLI_STOP;
	case '?':
		/* optopt: 0 for an unknown or ambiguous long option, else its val */
		o = optopt ? cli_find(c, optopt) : NULL;
		if (o)
			c->status = usage_error("--%s takes no value (expected %s)", o->name,
						o->form);
		else if (optopt)
			c->status = usage_error("unknown option '-%c' (see kestrel %s --help)",
						optopt, c->cmd);
		else
			c->status = usage_error("unknown argument '%s' (see kestrel %s --help)",
						c->argv[optind - 1], c->cmd);
		return CLI_STOP;
	}
	return ch;
}

/* "--NAME: 'VALUE' @why (expected FORM)" for option @val, whose value is optarg. */
static int cli_bad_value(const struct cli *c, int val, const char *why)
{
	const struct cli_opt *o = cli_find(c, val);

	return usage_error("--%s: '%s' %s (expected %s)", o->name, optarg, why, o->form);
}

/* --irqchip split|kernel into @irqchip. Return: 0, or the usage status */
static int cli_irqchip(const struct cli *c, int val, unsigned int *irqchip)
{
	if (!strcmp(optarg, "split"))
		*irqchip = VM_IRQCHIP_SPLIT;
	else if (!strcmp(optarg, "kernel"))
		*irqchip = VM_IRQCHIP_KERNEL;
	else
		return cli_bad_value(c, val, "is neither split nor kernel");
	return 0;
}

/* --seccomp off|log|kill into @mode. Return: 0, or the usage status */
static int cli_seccomp(const struct cli *c, int val, enum seccomp_mode *mode)
{
	if (seccomp_parse_mode(optarg, mode))
		return cli_bad_value(c, val, "is not a seccomp mode");
	return 0;
}

/* The mode for the whole process, before any thread exists. */
static int cli_seccomp_apply(enum seccomp_mode mode)
{
	int ret = seccomp_set_mode(mode);

	if (ret)
		pr_err("--seccomp: cannot set up the filters: %s", strerror(-ret));
	return ret ? VM_EXIT_HOST_ERROR : 0;
}

/* --landlock on|off into @on. Return: 0, or the usage status */
static int cli_landlock(const struct cli *c, int val, bool *on)
{
	if (parse_bool(optarg, on))
		return cli_bad_value(c, val, "is neither on nor off");
	return 0;
}

/* One operand too many: the first of them. */
static int cli_extra_operand(const struct cli *c, int first)
{
	return usage_error("unknown argument '%s' (see kestrel %s --help)",
			   c->argv[first], c->cmd);
}

/* A device option @val (value in optarg) into @devs. Return: 0 or the exit status. */
static int cli_device_opt(const struct cli *c, int val, struct virtio_devices *devs)
{
	/* virtio_devices_parse_arg() logs the line naming the argument. */
	int ret = virtio_devices_parse_arg(devs, cli_find(c, val)->name, optarg);

	return ret == -ENOMEM ? VM_EXIT_HOST_ERROR : ret ? VM_EXIT_USAGE : 0;
}

/* ---- files named on the command line ----------------------------------------- */

/**
 * struct file_buf - a file read whole into memory
 * @data: its bytes (malloc), or NULL
 * @size: bytes
 *
 * Read, not mapped: a file that shrinks while a mapping of it is being
 * copied would kill kestrel with SIGBUS. A file that changes size while
 * read is refused.
 */
struct file_buf {
	void *data;
	size_t size;
};

/* Read @path whole; on failure print the one-line error for @opt. */
static int file_read_whole(const char *opt, const char *path, u64 limit,
			   struct file_buf *f)
{
	size_t got = 0;
	struct stat st;
	ssize_t n;
	int fd, err;
	char c;

	/* O_NONBLOCK: a FIFO must not hang the open; refused below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
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
	f->data = malloc(f->size);
	if (!f->data) {
		close(fd);
		pr_err("%s: '%s': out of memory for %zu bytes", opt, path, f->size);
		return VM_EXIT_HOST_ERROR;
	}
	while (got < f->size) {
		n = pread(fd, (char *)f->data + got, f->size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err_close;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	/* One byte more means it grew: also a file changing under us. */
	n = pread(fd, &c, 1, (off_t)got);
	close(fd);
	if (got != f->size || n != 0)
		return usage_error("%s: '%s' changed size while being read (expected %s FILE, left alone while kestrel starts)",
				   opt, path, opt);
	return 0;

err_close:
	err = errno;
	close(fd);
	errno = err;
err_errno:
	return usage_error("%s: cannot read '%s': %s (expected %s FILE)", opt, path,
			   strerror(errno), opt);
}

static void file_buf_free(struct file_buf *f)
{
	free(f->data);
	f->data = NULL;
}

/* ---- test hooks (KESTREL_TEST_HOOKS builds only) ----------------------------- */

/**
 * struct test_hooks - --test-hook ACTIONs as given (test builds only)
 * @list: the actions
 * @nr: entries of @list
 */
struct test_hooks {
	const char *list[MAX_TEST_HOOKS];
	unsigned int nr;
};

/* One more --test-hook (its value in optarg). Return: 0, or the usage status */
static int cli_test_hook(const struct cli *c, int val, struct test_hooks *h)
{
	if (h->nr == MAX_TEST_HOOKS)
		return cli_bad_value(c, val, "is one hook too many");
	h->list[h->nr++] = optarg;
	return 0;
}

#ifdef KESTREL_TEST_HOOKS
/*
 * --test-hook ACTION: once set-up is done (Landlock on, the machine built,
 * no guest instruction run), do what a broken device might try and print
 * the outcome, one "test-hook: ..." line each on stderr. Tests of the
 * sandbox read them (tests/sandbox/). Never in the release binary.
 */
#define CLI_TEST_HOOK_OPT							\
	{ "test-hook", required_argument, OPT_TEST_HOOK,			\
	  "--test-hook open=PATH|connect=PORT|kill=PID|creds" },

static void test_hook_one(const char *hook)
{
	const char *arg = strchr(hook, '=');
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct caps[2] = { 0 };
	unsigned int n;
	int fd, ret;

	arg = arg ? arg + 1 : "";
	if (!strncmp(hook, "open=", 5)) {
		fd = open(arg, O_RDONLY | O_CLOEXEC);
		fprintf(stderr, "test-hook: open %s: %s\n", arg, fd < 0 ? strerror(errno) : "ok");
		if (fd >= 0)
			close(fd);
	} else if (!strncmp(hook, "connect=", 8) && !parse_uint(arg, &n) && n < 65536) {
		sin.sin_port = htons((u16)n);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ret = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		fprintf(stderr, "test-hook: connect 127.0.0.1:%u: %s\n", n,
			ret < 0 ? strerror(errno) : "ok");
		if (fd >= 0)
			close(fd);
	} else if (!strncmp(hook, "kill=", 5) && !parse_uint(arg, &n)) {
		ret = kill((pid_t)n, 0);
		fprintf(stderr, "test-hook: kill %u: %s\n", n, ret < 0 ? strerror(errno) : "ok");
	} else if (!strcmp(hook, "creds")) {
		ret = (int)syscall(SYS_capget, &hdr, caps);
		fprintf(stderr, "test-hook: creds uid=%u gid=%u groups=%d capeff=%llx nnp=%d\n",
			getuid(), getgid(), getgroups(0, NULL),
			ret < 0 ? ~0ULL : (unsigned long long)caps[0].effective |
					  (unsigned long long)caps[1].effective << 32,
			prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	} else {
		fprintf(stderr, "test-hook: unknown hook '%s'\n", hook);
	}
}

static void test_hooks_run(const struct test_hooks *h)
{
	for (unsigned int i = 0; i < h->nr; i++)
		test_hook_one(h->list[i]);
}

/* vhost_user_server_opts.ready: the hooks once the server listens. */
static void test_hooks_ready(void *arg)
{
	test_hooks_run(arg);
}
#else
#define CLI_TEST_HOOK_OPT
static void test_hooks_run(const struct test_hooks *h)
{
}
#define test_hooks_ready NULL
#endif

/* ---- kestrel run ---------------------------------------------------------- */

/**
 * struct run_opts - "kestrel run" options and the files they name
 * @cfg: the machine to build; its images point into the buffers below
 * @seccomp: --seccomp (default kill)
 * @kernel: --kernel FILE, or NULL for the built-in guest
 * @initrd: --initrd FILE, or NULL
 * @modules: --module FILE[,STR] as given
 * @nr_modules: entries of @modules
 * @kernel_map: @kernel read whole
 * @initrd_map: @initrd read whole
 * @module_maps: each module's FILE read whole
 * @module_names: each module's FILE (a copy, for the error lines)
 * @boot_modules: what the loader gets, @cfg.modules points here
 * @landlock: --landlock (default on): confine the process to its files
 * @reboot: --reboot: a guest reset runs the guest again in a new process
 * @image_key_path: --image-key FILE, or NULL
 * @image_key: its key; @cfg.image_key points here
 * @expect: --expect-measurement HEX as bytes; @cfg.expect_measurement
 *	points here
 * @hooks: --test-hook ACTION as given (test builds only)
 */
struct run_opts {
	struct machine_config cfg;
	const char *snapshot_key;
	struct snap_key key;
	enum seccomp_mode seccomp;
	const char *kernel;
	const char *initrd;
	const char *modules[MAX_MODULES];
	unsigned int nr_modules;
	struct file_buf kernel_map, initrd_map, module_maps[MAX_MODULES];
	char *module_names[MAX_MODULES];
	struct boot_module boot_modules[MAX_MODULES];
	bool landlock;
	bool reboot;
	const char *image_key_path;
	struct snap_key image_key;
	u8 expect[32];
	struct test_hooks hooks;
};

static const char run_usage[] =
"usage: kestrel run [--kernel FILE] [--initrd FILE] [--cmdline STR] [--cpus N]\n"
"                   [--memory SIZE] [--module FILE[,STR]]...\n"
"                   [--net sim|tap=IFNAME[,mac=M]] [--disk PATH[,ro]]\n"
"                   [--device vdpa,type=TYPE[,attr=value]...]\n"
"                   [--console serial|virtio] [--rng] [--device testdev]\n"
"                   [--transport mmio|pci] [--packed on|off]\n"
"                   [--balloon amount_mib=N[,attr=value]...]\n"
"                   [--vsock cid=N,uds=PATH[,max_conns=M]]\n"
"                   [--irqchip split|kernel] [--pit] [--landlock on|off]\n"
"                   [--protected [--measured] [--expect-measurement HEX]\n"
"                    [--image-key FILE] [--payload-cpl 3|0]] [--reboot]\n"
"                   [--snapshot DIR [--snapshot-key FILE]]\n"
"                   [--seccomp off|log|kill]\n"
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
"                       (a ',' in PATH or any value is written ',,')\n"
"  --device vdpa,type=TYPE[,attr=value]...  any vDPA device type\n"
"                       (net, blk, tap, file-blk, console, rng, balloon, vsock); rate limits:\n"
"                       bw_size=,ops_size=,..._refill_ms= (net, tap: rx_/tx_)\n"
"  --console serial|virtio  guest console on stdin/stdout (default serial)\n"
"  --rng                virtio-rng fed by getrandom()\n"
"  --balloon amount_mib=N[,deflate_on_oom=on][,stats_polling_interval_s=S]\n"
"                       [,free_page_reporting=on]  virtio-balloon: the guest\n"
"                       gives N MiB back to the host (docs/balloon.md)\n"
"  --vsock cid=N,uds=PATH[,max_conns=M]  virtio-vsock (docs/vsock.md): guest\n"
"                       CID N (3 or more); host programs connect to the Unix\n"
"                       socket PATH and write \"CONNECT <port>\\n\"; the guest\n"
"                       connecting to port P reaches a listener at PATH_P;\n"
"                       at most M streams at once (default 256)\n"
"  --device testdev     QEMU's pc-testdev (docs/testdev.md)\n"
"  --irqchip split|kernel  userspace IOAPIC and no PIC (default), or the\n"
"                       whole irqchip in the kernel (docs/irqchip.md)\n"
"  --pit                an in-kernel 8254 PIT (needs --irqchip kernel)\n"
"  --seccomp off|log|kill  each thread's syscall filter (docs/sandbox.md):\n"
"                       kill (default) kills the process on a syscall off\n"
"                       the thread's list, log lets it run and the kernel\n"
"                       logs it, off installs none\n"
"  --landlock on|off    confine the process with Landlock to /dev/kvm and the\n"
"                       files its devices open (default on, docs/landlock.md)\n"
"  --protected          RAM from 64M up in guest_memfd: the guest's, not\n"
"                       kestrel's to read; devices reach only the low 64M\n"
"                       (needs --memory above 64M; never with --snapshot;\n"
"                       docs/protected.md)\n"
"  --measured           with --protected: the measured launch. kestrel's launch\n"
"                       stub copies --kernel (a ring-3 payload, or a sealed\n"
"                       image of one), --cmdline and --initrd into private\n"
"                       RAM and measures them (SHA-256, printed as\n"
"                       'launch: measurement HEX') before the guest is sealed\n"
"  --expect-measurement HEX  the stub starts the payload only if the\n"
"                       measurement is HEX (64 hex digits); else the run\n"
"                       ends with status 81 (implies --measured)\n"
"  --image-key FILE     the 32-byte key of a sealed --kernel (kestrel\n"
"                       seal-image); handed to the stub only; an image that\n"
"                       does not authenticate ends the run with status 83\n"
"                       (implies --measured; docs/protected.md)\n"
"  --payload-cpl 3|0    enter the payload in ring 3 (default) or at CPL 0,\n"
"                       for hosts where supervisor code runs natively\n"
"                       (VMX/SVM; on PVM it stops as an emulated access to\n"
"                       private RAM; implies --measured)\n"
"  --reboot             a guest reset starts the guest again, in a new\n"
"                       process (the default ends the run with status 0);\n"
"                       a protected guest's private RAM goes with the old one\n"
"  --snapshot DIR       SIGUSR1 pauses the guest, writes a snapshot into DIR\n"
"                       and exits 0 (restore it with kestrel restore DIR;\n"
"                       docs/snapshot.md)\n"
"  --snapshot-key FILE  encrypt the snapshot with this 32-byte key (AES-256-GCM)\n"
"  --transport mmio|pci  the transport of virtio devices without their own\n"
"                       transport=mmio|pci (--net, --disk, --device take it);\n"
"                       default: pci for a Linux kernel (bzImage, PVH), mmio\n"
"                       for other images (docs/pci.md)\n"
"  --packed on|off      offer packed virtqueues (virtio 1.2 §2.8) to the drivers of\n"
"                       devices without their own packed=on|off (--net, --disk,\n"
"                       --device take it; default off: split rings only)\n"
"  (each virtio-mmio device takes the next virtio-mmio slot, in order; each\n"
"  virtio-pci device the next PCI slot)\n"
"\n"
"exit status: the guest's debug-exit value v gives (v << 1) | 1 (odd);\n"
"  0 reset or power-off, 2 bad arguments, 4 host error, 6 guest crashed\n"
"  (triple fault, KVM internal/emulation error, failed entry), 130 SIGINT/SIGTERM;\n"
"  the measured launch's refusals: 81 measurement, 83 sealed image, 85 malformed\n"
"SIGPWR presses the guest's ACPI power button (a clean shutdown, if it handles it)\n";

static const struct cli_opt run_options[] = {
	{ "kernel", required_argument, OPT_KERNEL, "--kernel FILE" },
	{ "initrd", required_argument, OPT_INITRD, "--initrd FILE" },
	{ "cmdline", required_argument, OPT_CMDLINE, "--cmdline STR" },
	{ "cpus", required_argument, OPT_CPUS, "--cpus N (1 or more)" },
	{ "memory", required_argument, OPT_MEMORY, "--memory SIZE (e.g. 256M, 1G or plain bytes)" },
	{ "module", required_argument, OPT_MODULE, "--module FILE[,STR]" },
	{ "irqchip", required_argument, OPT_IRQCHIP, "--irqchip split|kernel" },
	{ "pit", no_argument, OPT_PIT, "--pit" },
	{ "protected", no_argument, OPT_PROTECTED, "--protected" },
	{ "reboot", no_argument, OPT_REBOOT, "--reboot" },
	{ "measured", no_argument, OPT_MEASURED, "--measured" },
	{ "expect-measurement", required_argument, OPT_EXPECT_MEASUREMENT,
	  "--expect-measurement HEX (64 hex digits)" },
	{ "image-key", required_argument, OPT_IMAGE_KEY, "--image-key FILE" },
	{ "payload-cpl", required_argument, OPT_PAYLOAD_CPL, "--payload-cpl 3|0" },
	CLI_SECCOMP_OPT,
	CLI_LANDLOCK_OPT,
	{ "snapshot", required_argument, OPT_SNAPSHOT, "--snapshot DIR" },
	{ "snapshot-key", required_argument, OPT_SNAPSHOT_KEY, "--snapshot-key FILE" },
	CLI_DEVICE_OPTS,
	CLI_TEST_HOOK_OPT
	CLI_HELP_OPT,
	{ NULL },
};

/* Load --snapshot-key FILE (@path may be NULL). Return: 0 or VM_EXIT_USAGE. */
static int cli_snapshot_key(const char *path, struct snap_key *key)
{
	char err[256];

	if (!path)
		return 0;
	if (snap_key_load(path, key, err, sizeof(err)))
		return usage_error("--snapshot-key: %s (expected --snapshot-key FILE)", err);
	return 0;
}

/* Return: CLI_GO, or the exit status (the usage or the error is printed). */
static int run_parse(int argc, char **argv, struct run_opts *o)
{
	struct machine_config *cfg = &o->cfg;
	struct cli c;
	int ch, ret;

	cli_init(&c, run_usage, run_options, argc, argv);
	cfg->nr_cpus = 1;
	cfg->ram_size = DEFAULT_RAM;
	o->seccomp = SECCOMP_MODE_KILL;
	o->landlock = true;
	while ((ch = cli_next(&c)) > 0) {
		switch (ch) {
		case OPT_KERNEL:
			o->kernel = optarg;
			break;
		case OPT_INITRD:
			o->initrd = optarg;
			break;
		case OPT_CMDLINE:
			if (strlen(optarg) >= MAX_CMDLINE)
				return usage_error("--cmdline: longer than %d bytes (expected --cmdline STR)",
						   MAX_CMDLINE - 1);
			cfg->cmdline = optarg;
			break;
		case OPT_CPUS:
			if (parse_uint(optarg, &cfg->nr_cpus) || !cfg->nr_cpus)
				return cli_bad_value(&c, ch, "is not a vCPU count");
			break;
		case OPT_MEMORY:
			if (parse_size(optarg, &cfg->ram_size))
				return cli_bad_value(&c, ch, "is not a size");
			if (cfg->ram_size < MIN_RAM || cfg->ram_size > MAX_RAM ||
			    !IS_ALIGNED(cfg->ram_size, 4096))
				return cli_bad_value(&c, ch, "must be a multiple of 4K from 1M to 1T");
			break;
		case OPT_MODULE:
			if (o->nr_modules == MAX_MODULES)
				return usage_error("--module: at most %d modules (expected --module FILE[,STR])",
						   MAX_MODULES);
			o->modules[o->nr_modules++] = optarg;
			break;
		case OPT_IRQCHIP:
			ret = cli_irqchip(&c, ch, &cfg->irqchip);
			if (ret)
				return ret;
			break;
		case OPT_PIT:
			cfg->pit = true;
			break;
		case OPT_PROTECTED:
			cfg->protected = true;
			break;
		case OPT_REBOOT:
			o->reboot = true;
			break;
		case OPT_MEASURED:
			cfg->measured = true;
			break;
		case OPT_EXPECT_MEASUREMENT:
			if (launch_parse_measurement(optarg, o->expect))
				return cli_bad_value(&c, ch, "is not 64 hex digits");
			cfg->expect_measurement = o->expect;
			cfg->measured = true;
			break;
		case OPT_IMAGE_KEY:
			o->image_key_path = optarg;
			cfg->measured = true;
			break;
		case OPT_PAYLOAD_CPL:
			if (strcmp(optarg, "3") && strcmp(optarg, "0"))
				return cli_bad_value(&c, ch, "is neither 3 nor 0");
			cfg->payload_supervisor = !strcmp(optarg, "0");
			cfg->measured = true;
			break;
		case OPT_SECCOMP:
			ret = cli_seccomp(&c, ch, &o->seccomp);
			if (ret)
				return ret;
			break;
		case OPT_LANDLOCK:
			ret = cli_landlock(&c, ch, &o->landlock);
			if (ret)
				return ret;
			break;
		case OPT_TEST_HOOK:
			ret = cli_test_hook(&c, ch, &o->hooks);
			if (ret)
				return ret;
			break;
		case OPT_SNAPSHOT:
			cfg->snapshot_dir = optarg;
			break;
		case OPT_SNAPSHOT_KEY:
			o->snapshot_key = optarg;
			break;
		case OPT_DEVICE:
			/* A platform device, not a virtio one. */
			if (!strcmp(optarg, "testdev")) {
				cfg->testdev = true;
				break;
			}
			ret = cli_device_opt(&c, ch, cfg->devs);
			if (ret)
				return ret;
			break;
		default:
			ret = cli_device_opt(&c, ch, cfg->devs);
			if (ret)
				return ret;
		}
	}
	if (ch)
		return c.status;
	if (optind < argc)
		return cli_extra_operand(&c, optind);
	if (o->initrd && !o->kernel)
		return usage_error("--initrd needs --kernel (expected --kernel FILE --initrd FILE)");
	if (cfg->pit && cfg->irqchip != VM_IRQCHIP_KERNEL)
		return usage_error("--pit needs the in-kernel irqchip (expected --irqchip kernel --pit)");
	if (o->snapshot_key && !cfg->snapshot_dir)
		return usage_error("--snapshot-key needs --snapshot (expected --snapshot DIR --snapshot-key FILE)");
	if (cfg->measured && !cfg->protected)
		return usage_error("--measured, --expect-measurement, --image-key and --payload-cpl are the protected guest's launch (expected --protected --measured)");
	if (cfg->measured && (!o->kernel || o->nr_modules))
		return usage_error("the measured launch starts a payload, without modules (expected --protected --measured --kernel FILE)");
	if (o->image_key_path) {
		char err[256];

		if (snap_key_load(o->image_key_path, &o->image_key, err, sizeof(err)))
			return usage_error("--image-key: %s (expected --image-key FILE)", err);
		cfg->image_key = o->image_key.bytes;
	}
	if (cfg->protected && cfg->snapshot_dir)
		return usage_error("--snapshot: a protected guest's private RAM cannot be read by kestrel, so it is never snapshotted (expected --protected or --snapshot DIR, docs/protected.md)");
	if (cfg->snapshot_dir) {
		struct stat st;

		if (stat(cfg->snapshot_dir, &st) < 0 || !S_ISDIR(st.st_mode))
			return usage_error("--snapshot: '%s' is not a directory (expected --snapshot DIR)",
					   cfg->snapshot_dir);
	}
	ret = cli_snapshot_key(o->snapshot_key, &o->key);
	if (ret)
		return ret;
	if (o->snapshot_key)
		cfg->snapshot_key = &o->key;
	return CLI_GO;
}

/* Read the files @o names, and point the machine's images at them. */
static int run_read_files(struct run_opts *o)
{
	int ret;

	if (o->kernel) {
		ret = file_read_whole("--kernel", o->kernel, MAX_KERNEL_SIZE, &o->kernel_map);
		if (ret)
			return ret;
	}
	if (o->initrd) {
		ret = file_read_whole("--initrd", o->initrd, MAX_INITRD_SIZE, &o->initrd_map);
		if (ret)
			return ret;
	}
	for (unsigned int i = 0; i < o->nr_modules; i++) {
		const char *comma = strchr(o->modules[i], ',');

		o->module_names[i] = comma ? strndup(o->modules[i], comma - o->modules[i])
					   : strdup(o->modules[i]);
		if (!o->module_names[i]) {
			pr_err("--module: out of memory");
			return VM_EXIT_HOST_ERROR;
		}
		ret = file_read_whole("--module", o->module_names[i], MAX_MODULE_SIZE,
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
	explicit_bzero(&o->image_key, sizeof(o->image_key));
	file_buf_free(&o->kernel_map);
	file_buf_free(&o->initrd_map);
	for (unsigned int i = 0; i < MAX_MODULES; i++) {
		file_buf_free(&o->module_maps[i]);
		free(o->module_names[i]);
	}
	virtio_devices_destroy(o->cfg.devs);
}

/* The rights a snapshot directory needs: written anew (temporary files renamed, old ones removed, the directory fsynced) or read. */
#define SNAPSHOT_DIR_WRITE	(LANDLOCK_ALLOW_RW | LANDLOCK_ALLOW_CREATE | \
				 LANDLOCK_ALLOW_REMOVE | LANDLOCK_ALLOW_LIST)
#define SNAPSHOT_DIR_READ	(LANDLOCK_ALLOW_READ | LANDLOCK_ALLOW_LIST)

/*
 * Before the machine (and any thread) exists, so that every thread it
 * starts inherits the domain: /dev/kvm, the files the devices open, the
 * directory a snapshot is written into (@snap_out) and the snapshot being
 * restored (@snap_in directory, @snap_base a diff's base memory file; each
 * may be NULL). The kernel, initrd and modules are already read.
 */
static int confine(const struct virtio_devices *devs, const char *snap_out,
		   const char *snap_in, const char *snap_base)
{
	struct landlock *ll;
	int ret;

	ret = landlock_create(&ll);
	if (!ret)
		ret = landlock_allow(ll, "/dev/kvm", LANDLOCK_ALLOW_RW | LANDLOCK_ALLOW_DEVICE);
	if (!ret)
		ret = virtio_devices_for_each_file(devs, landlock_allow_file, ll);
	if (!ret)
		ret = virtio_devices_for_each_socket(devs, landlock_allow_socket, ll);
	if (!ret && snap_out)
		ret = landlock_allow(ll, snap_out, SNAPSHOT_DIR_WRITE);
	if (!ret && snap_in)
		ret = landlock_allow(ll, snap_in, SNAPSHOT_DIR_READ);
	if (!ret && snap_base)
		ret = landlock_allow(ll, snap_base, LANDLOCK_ALLOW_READ);
	if (ret)
		pr_err("landlock: cannot allow /dev/kvm, a device's file or a snapshot path: %s",
		       strerror(-ret));
	else
		ret = landlock_apply(ll);
	landlock_destroy(ll);
	return ret ? VM_EXIT_HOST_ERROR : 0;
}

/* ---- kestrel run --reboot ------------------------------------------------------ */

/* A --reboot child's status for "the guest reset": seen by its parent only. */
#define RUN_EXIT_REBOOT		8

/*
 * --reboot: the parent forks a child per boot and waits; each child builds
 * and runs the machine as `kestrel run` does, and exits RUN_EXIT_REBOOT
 * when the guest resets. Nothing of a boot outlives its process: guest
 * RAM (a protected guest's guest_memfd too), the vCPUs, the device
 * threads, the seccomp filters and Landlock all start afresh, which is how
 * a sealed protected guest reboots (docs/protected.md). The parent holds
 * only the command line and the image files read once, under the same
 * Landlock ruleset as its children (no seccomp filter: a child would
 * inherit it before its set-up); it forwards
 * SIGINT, SIGTERM, SIGPWR and SIGUSR1 to the running child, which dies
 * with it (PR_SET_PDEATHSIG) if it is killed outright.
 * Return: -1 in a child (go on and run the machine), else the exit status.
 */
/* The signals that stop a run (VM_EXIT_INTERRUPTED), not just reach it. */
static bool is_stop_signal(int sig)
{
	return sig == SIGINT || sig == SIGTERM;
}

static int run_supervise(void)
{
	unsigned int boots = 0;
	bool stopping = false;
	sigset_t set, old;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGPWR);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (;;) {
		siginfo_t si;
		pid_t pid;
		int st;

		fflush(NULL);
		pid = fork();
		if (pid < 0) {
			pr_err("--reboot: cannot start boot %u: %s", boots + 1, strerror(errno));
			return VM_EXIT_HOST_ERROR;
		}
		if (!pid) {
			/* The guest goes with its parent, whatever kills it. */
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
				_exit(VM_EXIT_HOST_ERROR);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return -1;
		}
		boots++;
		for (;;) {
			if (sigwaitinfo(&set, &si) < 0)
				continue;
			if (si.si_signo != SIGCHLD) {
				stopping |= is_stop_signal(si.si_signo);
				kill(pid, si.si_signo);
				continue;
			}
			if (waitpid(pid, &st, WNOHANG) == pid)
				break;
		}
		/*
		 * Once SIGINT/SIGTERM went to the boot, the stop wins: a guest
		 * that reset meanwhile ends its boot as a reset, and a boot too
		 * young to have its handlers dies of the signal. Either way
		 * kestrel ends as a stopped VM; else the signal would be lost
		 * and the guest boot again.
		 */
		if (stopping && (WIFSIGNALED(st) ? is_stop_signal(WTERMSIG(st))
						 : WEXITSTATUS(st) == RUN_EXIT_REBOOT))
			return VM_EXIT_INTERRUPTED;
		if (WIFSIGNALED(st))
			return 128 + WTERMSIG(st);
		if (WEXITSTATUS(st) != RUN_EXIT_REBOOT)
			return WEXITSTATUS(st);
		pr_info("the guest reset: starting it again in a new process (boot %u)", boots + 1);
	}
}

static int cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	struct machine *m;
	int ret, status;

	if (machine_devices_create(&o.cfg.devs))
		return VM_EXIT_HOST_ERROR;
	status = run_parse(argc, argv, &o);
	if (status != CLI_GO)
		goto out_release;
	status = run_read_files(&o);
	if (!status)
		status = cli_seccomp_apply(o.seccomp);
	if (status)
		goto out_release;
	if (o.landlock) {
		status = confine(o.cfg.devs, o.cfg.snapshot_dir, NULL, NULL);
		if (status)
			goto out_release;
	}
	/* Confined first: the parent of the boots is too. */
	if (o.reboot) {
		status = run_supervise();
		if (status >= 0)
			goto out_release;
	}

	/* With --console virtio, stdin belongs to the virtio-console. */
	o.cfg.console_in = virtio_devices_console_is_virtio(o.cfg.devs) ? -1 : STDIN_FILENO;
	o.cfg.console_out = STDOUT_FILENO;
	o.cfg.stop_on_signals = true;
	ret = machine_create(&o.cfg, &m);
	/* The launch is over: the key is in the guest's private RAM only. */
	explicit_bzero(&o.image_key, sizeof(o.image_key));
	if (ret) {
		status = exit_status_of(ret);
		goto out_release;
	}
	test_hooks_run(&o.hooks);
	/* vm_run() installs this thread's filter once the vCPUs run. */
	status = machine_run(m);
	if (o.reboot && vm_stop_reason(machine_vm(m)) == VM_STOP_RESET)
		status = RUN_EXIT_REBOOT;
	machine_destroy(m);
out_release:
	run_opts_release(&o);
	return status;
}

/* ---- kestrel restore ---------------------------------------------------------- */

static const char restore_usage[] =
"usage: kestrel restore DIR [--snapshot-key FILE] [--snapshot DIR2 [--snapshot-diff]]\n"
"                          [--override-disk OLD=NEW]... [--override-tap OLD=NEW]...\n"
"                          [--landlock on|off] [--seccomp off|log|kill]\n"
"\n"
"Rebuilds the machine a snapshot in DIR describes (written by kestrel run\n"
"--snapshot), loads its memory, vCPUs and devices, and runs the guest from\n"
"where it stopped (docs/snapshot.md). The console is stdin/stdout again.\n"
"\n"
"  --snapshot-key FILE  the 32-byte key an encrypted snapshot was written with\n"
"  --snapshot DIR2      SIGUSR1 writes a new snapshot into DIR2, as in run\n"
"                       (encrypted with the same --snapshot-key, if any)\n"
"  --snapshot-diff      DIR2 gets a diff: only the pages written since the\n"
"                       restore, applied on DIR's memory file when DIR2 is\n"
"                       restored (DIR must stay; plain, without virtio devices)\n"
"  --override-disk OLD=NEW  the saved device whose file is OLD (the path as it\n"
"                       was given to run) opens NEW instead; repeatable\n"
"  --override-tap OLD=NEW   the saved TAP device on interface OLD uses NEW\n"
"                       (a path or name holding '=' cannot be overridden)\n"
"  --landlock on|off    confine the process to /dev/kvm, the devices' files, the\n"
"                       snapshot read and DIR2 (default on, docs/landlock.md)\n"
"  --seccomp off|log|kill  each thread's syscall filter, as in run (default kill)\n"
"\n"
"exit status: that of kestrel run; 2 also when the snapshot cannot be read,\n"
"  was altered, truncated, mixed with another one's files or is under\n"
"  another key (one line says which; no guest instruction has run)\n";

static const struct cli_opt restore_options[] = {
	{ "snapshot-key", required_argument, OPT_SNAPSHOT_KEY, "--snapshot-key FILE" },
	{ "snapshot", required_argument, OPT_SNAPSHOT, "--snapshot DIR" },
	{ "snapshot-diff", no_argument, OPT_SNAPSHOT_DIFF, "--snapshot-diff" },
	{ "override-disk", required_argument, OPT_OVERRIDE_DISK, "--override-disk OLD=NEW" },
	{ "override-tap", required_argument, OPT_OVERRIDE_TAP, "--override-tap OLD=NEW" },
	CLI_LANDLOCK_OPT,
	CLI_SECCOMP_OPT,
	CLI_HELP_OPT,
	{ NULL },
};

/* --override-disk/--override-tap OLD=NEW into @o (pointing into @arg). */
static int restore_override(char *arg, bool tap, struct vdev_override *o)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg || !eq[1] || strchr(eq + 1, '='))
		return usage_error("--override-%s %.256s: expected OLD=NEW (two non-empty parts, one '=')",
				   tap ? "tap" : "disk", arg);
	*eq = '\0';
	*o = (struct vdev_override){ .tap = tap, .from = arg, .to = eq + 1 };
	return 0;
}

static int cmd_restore(int argc, char **argv)
{
	struct vdev_override overrides[16];	/* more than the virtio-mmio slots */
	struct machine_config cfg = {
		.console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO,
		.overrides = overrides,
	};
	const char *key_path = NULL, *dir, *base = NULL;
	struct snap_reader *r = NULL;
	enum seccomp_mode seccomp = SECCOMP_MODE_KILL;
	bool landlock = true;
	const void *sec;
	size_t sec_len;
	struct snap_key key;
	struct machine *m;
	char err[512];
	struct cli c;
	int ch, ret;

	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cli_init(&c, restore_usage, restore_options, argc, argv);
	while ((ch = cli_next(&c)) > 0) {
		if (ch == OPT_SNAPSHOT_KEY)
			key_path = optarg;
		else if (ch == OPT_SNAPSHOT)
			cfg.snapshot_dir = optarg;
		else if (ch == OPT_SNAPSHOT_DIFF)
			cfg.snapshot_diff = true;
		else if ((ch == OPT_OVERRIDE_DISK || ch == OPT_OVERRIDE_TAP) &&
			 cfg.nr_overrides == ARRAY_SIZE(overrides))
			return usage_error("restore: at most %zu overrides", ARRAY_SIZE(overrides));
		else if ((ch == OPT_OVERRIDE_DISK || ch == OPT_OVERRIDE_TAP) &&
			 restore_override(optarg, ch == OPT_OVERRIDE_TAP,
					  &overrides[cfg.nr_overrides++]))
			return VM_EXIT_USAGE;
		else if (ch == OPT_LANDLOCK && cli_landlock(&c, ch, &landlock))
			return VM_EXIT_USAGE;
		else if (ch == OPT_SECCOMP && cli_seccomp(&c, ch, &seccomp))
			return VM_EXIT_USAGE;
	}
	if (ch)
		return c.status;
	if (optind != argc - 1)
		return usage_error("restore: expected one snapshot directory (kestrel restore DIR)");
	dir = argv[optind];
	if (cfg.snapshot_diff && !cfg.snapshot_dir)
		return usage_error("--snapshot-diff needs --snapshot (expected --snapshot DIR2 --snapshot-diff)");
	ret = cli_snapshot_key(key_path, &key);
	if (ret)
		return ret;
	if (snap_reader_open(dir, key_path ? &key : NULL, &r, err, sizeof(err)))
		return usage_error("restore: %s: %s", dir, err);
	if (machine_devices_create(&cfg.devs)) {
		snap_reader_destroy(r);
		return VM_EXIT_HOST_ERROR;
	}
	if (machine_config_from_snapshot(r, &cfg)) {
		snap_reader_destroy(r);
		virtio_devices_destroy(cfg.devs);
		return VM_EXIT_USAGE;
	}
	/* A diff's base memory file: its id, then its path (checked on load). */
	if (!snap_read_section(r, SNAP_SEC_DIFF_BASE, 0, &sec, &sec_len) && sec_len > 17 &&
	    !((const char *)sec)[sec_len - 1])
		base = (const char *)sec + 16;
	if ((landlock && confine(cfg.devs, cfg.snapshot_dir, dir, base)) ||
	    cli_seccomp_apply(seccomp)) {
		snap_reader_destroy(r);
		virtio_devices_destroy(cfg.devs);
		return VM_EXIT_HOST_ERROR;
	}
	/* With --console virtio, stdin belongs to the virtio-console. */
	if (virtio_devices_console_is_virtio(cfg.devs))
		cfg.console_in = -1;
	cfg.snapshot_key = key_path ? &key : NULL;
	cfg.stop_on_signals = true;
	cfg.restore = r;
	ret = machine_create(&cfg, &m);
	snap_reader_destroy(r);	/* the memory mappings outlive the fd */
	if (ret) {
		virtio_devices_destroy(cfg.devs);
		return exit_status_of(ret);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pr_info("snapshot: restored in %.3f ms (machine built, state loaded)",
		(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	ret = machine_run(m);
	machine_destroy(m);
	virtio_devices_destroy(cfg.devs);
	return ret;
}

/* ---- kestrel acpi-dump -------------------------------------------------------- */

static const char acpi_dump_usage[] =
"usage: kestrel acpi-dump DIR [--cpus N] [--irqchip split|kernel]\n"
"                          [device options of kestrel run]...\n"
"\n"
"Writes the ACPI tables `kestrel run` would give a guest with the same\n"
"--cpus, --irqchip and virtio device options (--net, --disk, --device,\n"
"--console, --rng, --vsock) into DIR, one DIR/<SIGNATURE>.dat per table (RSDP,\n"
"FACS, XSDT, FACP, APIC, DSDT), ready for `iasl -d`. DIR must exist; a\n"
"file of one of those names in it is replaced (removed, then created anew:\n"
"a symlink there is never followed, a FIFO never opened). No device is\n"
"opened or created: devices are only placed. Needs no /dev/kvm.\n";

static const struct cli_opt acpi_dump_options[] = {
	{ "cpus", required_argument, OPT_CPUS, "--cpus N" },
	{ "irqchip", required_argument, OPT_IRQCHIP, "--irqchip split|kernel" },
	CLI_DEVICE_OPTS,
	CLI_HELP_OPT,
	{ NULL },
};

static int cmd_acpi_dump(int argc, char **argv)
{
	struct machine_config cfg = { .nr_cpus = 1 };
	const char *dir;
	struct stat st;
	struct cli c;
	int ch, ret, status = VM_EXIT_USAGE;

	if (machine_devices_create(&cfg.devs))
		return VM_EXIT_HOST_ERROR;
	cli_init(&c, acpi_dump_usage, acpi_dump_options, argc, argv);
	while ((ch = cli_next(&c)) > 0) {
		if (ch == OPT_IRQCHIP) {
			status = cli_irqchip(&c, ch, &cfg.irqchip);
			if (status)
				goto out_destroy_devs;
		} else if (ch != OPT_CPUS) {
			status = cli_device_opt(&c, ch, cfg.devs);
			if (status)
				goto out_destroy_devs;
		} else if (parse_uint(optarg, &cfg.nr_cpus) || !cfg.nr_cpus ||
			   cfg.nr_cpus > VM_MAX_VCPUS) {
			status = usage_error("--cpus: '%s' is not a vCPU count (expected --cpus N with N from 1 to %u)",
					     optarg, VM_MAX_VCPUS);
			goto out_destroy_devs;
		}
	}
	if (ch) {
		status = c.status;
		goto out_destroy_devs;
	}
	if (optind == argc) {
		status = usage_error("missing DIR (expected kestrel acpi-dump DIR [--cpus N] [devices])");
		goto out_destroy_devs;
	}
	if (optind + 1 < argc) {
		status = cli_extra_operand(&c, optind + 1);
		goto out_destroy_devs;
	}
	dir = argv[optind];
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		status = usage_error("'%s' is not a directory (expected kestrel acpi-dump DIR, DIR existing)",
				     dir);
		goto out_destroy_devs;
	}
	ret = machine_dump_tables(&cfg, dir);
	if (ret && ret != -EINVAL)
		pr_err("cannot write the tables to %s: %s", dir, strerror(-ret));
	status = exit_status_of(ret);
out_destroy_devs:
	virtio_devices_destroy(cfg.devs);
	return status;
}

/* ---- kestrel vhost-user ------------------------------------------------------ */

static const char vhost_user_usage[] =
"usage: kestrel vhost-user --socket PATH --device TYPE[,attr=value...]\n"
"                          [--iommu] [--mem-slots N] [--once] [-v]\n"
"                          [--seccomp off|log|kill]\n"
"                          [--landlock on|off]\n"
"\n"
"  -s, --socket PATH    Unix socket to listen on (a socket there is replaced)\n"
"  -d, --device TYPE[,attr=value...]  the vDPA device to serve, TYPE one of:\n"
"      net       simulator: name, mac, mtu, max_vqp, workers, poll,\n"
"                mode=loop|sink|gen|null,\n"
"                gen_len (loop: TX frames come back on RX; sink: TX counted\n"
"                and dropped; gen: RX buffers filled with gen_len-byte frames,\n"
"                default 64, TX as sink)\n"
"      blk       RAM disk: name, capacity, ro, serial\n"
"      file-blk  path, ro, serial, io=map|uring (map, the default: cached\n"
"                reads from a mapping of the image, cached writes by pwrite;\n"
"                uring: every read and write through io_uring)\n"
"      tap       path=IFNAME, mac, mtu, max_vqp, workers\n"
"      console, rng\n"
"      vsock     cid, uds (the Unix socket it listens on), max_conns\n"
"                blk and file-blk also take a rate limit: bw_size, bw_burst,\n"
"                bw_refill_ms, ops_size, ops_burst, ops_refill_ms; net and tap\n"
"                the same prefixed rx_ and tx_ (see README)\n"
"  --iommu              offer VIRTIO_F_ACCESS_PLATFORM (the IOTLB message path)\n"
"  --mem-slots N        memory regions a front-end may add (default: the most)\n"
"  --once               exit once the first front-end that sent a message\n"
"                       has disconnected\n"
"  -v, --verbose        debug logging\n"
"  --seccomp off|log|kill  the threads' syscall filters (default kill;\n"
"                       see kestrel run --help)\n"
"  --landlock on|off    confine the process with Landlock to the socket's\n"
"                       directory and the device's file (default on)\n"
"\n"
"Serves front-ends one at a time until SIGINT/SIGTERM.\n"
"exit status: 0 stopped by a signal (or --once), 2 bad arguments, 4 host error\n";

static const struct cli_opt vhost_user_options[] = {
	{ "socket", required_argument, 's', "--socket PATH" },
	{ "device", required_argument, 'd', "--device TYPE[,attr=value...]" },
	{ "iommu", no_argument, OPT_IOMMU, "--iommu" },
	{ "mem-slots", required_argument, OPT_MEM_SLOTS, "--mem-slots N" },
	{ "once", no_argument, OPT_ONCE, "--once" },
	{ "verbose", no_argument, 'v', "--verbose" },
	CLI_SECCOMP_OPT,
	CLI_LANDLOCK_OPT,
	CLI_TEST_HOOK_OPT
	CLI_HELP_OPT,
	{ NULL },
};

static int cmd_vhost_user(int argc, char **argv)
{
	struct vhost_user_server_opts opts = { .landlock = true };
	enum seccomp_mode seccomp = SECCOMP_MODE_KILL;
	struct test_hooks hooks = { 0 };
	const char *sock = NULL, *spec = NULL;
	struct cli c;
	int ch, ret;

	cli_init(&c, vhost_user_usage, vhost_user_options, argc, argv);
	while ((ch = cli_next(&c)) > 0) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'd':
			spec = optarg;
			break;
		case OPT_IOMMU:
			opts.iommu = true;
			break;
		case OPT_MEM_SLOTS:
			if (parse_uint(optarg, &opts.max_mem_slots) || !opts.max_mem_slots ||
			    opts.max_mem_slots > VHOST_USER_SERVER_MEM_SLOTS)
				return usage_error("--mem-slots: '%s' is not a slot count (expected --mem-slots N with N from 1 to %u)",
						   optarg, VHOST_USER_SERVER_MEM_SLOTS);
			break;
		case OPT_ONCE:
			opts.once = true;
			break;
		case 'v':
			log_level_set(LOG_DEBUG);
			break;
		case OPT_SECCOMP:
			ret = cli_seccomp(&c, ch, &seccomp);
			if (ret)
				return ret;
			break;
		case OPT_LANDLOCK:
			ret = cli_landlock(&c, ch, &opts.landlock);
			if (ret)
				return ret;
			break;
		case OPT_TEST_HOOK:
			ret = cli_test_hook(&c, ch, &hooks);
			if (ret)
				return ret;
			break;
		}
	}
	if (ch)
		return c.status;
	if (optind < argc)
		return cli_extra_operand(&c, optind);
	if (!sock || !spec)
		return usage_error("--socket and --device are required (expected kestrel vhost-user --socket PATH --device TYPE[,attr=value...])");
	ret = cli_seccomp_apply(seccomp);
	if (ret)
		return ret;
	if (hooks.nr) {
		opts.ready = test_hooks_ready;
		opts.ready_arg = &hooks;
	}
	return exit_status_of(vhost_user_serve(sock, spec, &opts));
}

/* ---- kestrel seccomp-dump ------------------------------------------------------ */

static const char seccomp_dump_usage[] =
"usage: kestrel seccomp-dump [KIND]\n"
"\n"
"Prints each thread kind's seccomp allow-list (docs/sandbox.md): its name,\n"
"how many syscalls it allows, the size of its BPF program and the\n"
"syscalls, one kind a line; with KIND, that kind only.\n";

static const struct cli_opt seccomp_dump_options[] = {
	CLI_HELP_OPT,
	{ NULL },
};

static int cmd_seccomp_dump(int argc, char **argv)
{
	struct cli c;
	int ch;

	cli_init(&c, seccomp_dump_usage, seccomp_dump_options, argc, argv);
	while ((ch = cli_next(&c)) > 0)
		;
	if (ch)
		return c.status;
	if (optind + 1 < argc)
		return cli_extra_operand(&c, optind + 1);
	if (seccomp_dump(optind < argc ? argv[optind] : NULL))
		return usage_error("'%s' is not a thread kind (see kestrel seccomp-dump)",
				   argv[optind]);
	return VM_EXIT_OK;
}

/* ---- kestrel seal-image ------------------------------------------------------ */

static const char seal_image_usage[] =
"usage: kestrel seal-image --key FILE IN OUT\n"
"\n"
"Encrypt the payload IN with AES-256-GCM into the sealed image OUT, for\n"
"kestrel run --protected --kernel OUT --image-key FILE: the launch stub\n"
"decrypts and authenticates it inside the guest, in private RAM\n"
"(docs/protected.md has the file format).\n"
"\n"
"  --key FILE           the 32-byte key (e.g. head -c 32 /dev/urandom > FILE)\n"
"\n"
"exit status: 0 written, 2 bad arguments, 4 host error\n";

static const struct cli_opt seal_image_options[] = {
	{ "key", required_argument, 'k', "--key FILE" },
	CLI_HELP_OPT,
	{ NULL },
};

/* Write @len bytes to @path, replacing it. Return: 0 or the exit status. */
static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t done = 0;

	if (fd < 0)
		return usage_error("'%s': cannot create it: %s (expected OUT, a path kestrel may write)",
				   path, strerror(errno));
	while (done < len) {
		ssize_t n = write(fd, (const u8 *)data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pr_err("'%s': cannot write it: %s", path, n < 0 ? strerror(errno) : "short write");
			close(fd);
			unlink(path);
			return VM_EXIT_HOST_ERROR;
		}
		done += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		pr_err("'%s': cannot write it: %s", path, strerror(errno));
		unlink(path);
		return VM_EXIT_HOST_ERROR;
	}
	return 0;
}

static int cmd_seal_image(int argc, char **argv)
{
	const char *key_path = NULL;
	struct file_buf in = { 0 };
	struct snap_key key;
	char err[256];
	struct cli c;
	void *out;
	int ch, ret;

	cli_init(&c, seal_image_usage, seal_image_options, argc, argv);
	while ((ch = cli_next(&c)) > 0)
		key_path = optarg;
	if (ch)
		return c.status;
	if (!key_path || optind + 2 != argc)
		return optind + 2 < argc ? cli_extra_operand(&c, optind + 2) :
		       usage_error("seal-image needs a key, an input and an output (expected kestrel seal-image --key FILE IN OUT)");
	if (snap_key_load(key_path, &key, err, sizeof(err)))
		return usage_error("--key: %s (expected --key FILE)", err);
	ret = file_read_whole("IN", argv[optind], MAX_KERNEL_SIZE - sizeof(struct sealed_header), &in);
	if (ret)
		goto out_key;
	out = malloc(in.size + sizeof(struct sealed_header));
	if (!out) {
		pr_err("seal-image: out of memory for %zu bytes", in.size);
		ret = VM_EXIT_HOST_ERROR;
		goto out_in;
	}
	ret = launch_seal_image(key.bytes, in.data, in.size, out);
	if (ret) {
		pr_err("seal-image: cannot encrypt: %s", strerror(-ret));
		ret = VM_EXIT_HOST_ERROR;
	} else {
		ret = write_file(argv[optind + 1], out, in.size + sizeof(struct sealed_header));
	}
	free(out);
out_in:
	file_buf_free(&in);
out_key:
	explicit_bzero(&key, sizeof(key));
	return ret;
}

/* ---- dispatch --------------------------------------------------------------- */

static const char main_usage[] =
"usage: kestrel <command> [options]\n"
"       kestrel [Firecracker's flags]   (Firecracker-compatible mode, docs/api.md)\n"
"\n"
"commands:\n"
"  run        boot a guest (kestrel run --help)\n"
"  jail       run kestrel in a chroot, as another user, without privileges\n"
"             (kestrel jail --help; also when called as \"jailer\")\n"
"  restore    run a guest from a snapshot (kestrel restore --help)\n"
"  vhost-user serve a vDPA device to vhost-user front-ends (QEMU, DPDK)\n"
"             (kestrel vhost-user --help)\n"
"  acpi-dump  write the ACPI tables a guest would get (kestrel acpi-dump --help)\n"
"  seccomp-dump  print each thread's syscall allow-list (docs/sandbox.md)\n"
"  seal-image encrypt a payload for a protected guest's measured launch\n"
"             (kestrel seal-image --help)\n"
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
"  --landlock on|off    Landlock confinement (default on, docs/landlock.md)\n"
"  --landlock-allow DIR the API may name files only under DIR (repeatable;\n"
"                       default /, which is the chroot when jailed)\n"
"  --boot-timer         accepted (kestrel's boot timer is always there)\n"
"  --seccomp off|log|kill  the threads' syscall filters (default kill)\n"
"  --no-seccomp         no filters (--seccomp off); --seccomp-level 0 is the same,\n"
"                       1 and 2 are kill\n"
"  --seccomp-filter, --metadata, --start-time-us,\n"
"  --start-time-cpu-us, --parent-cpu-time-us, --http-api-max-payload-size,\n"
"  --mmds-size-limit    accepted and ignored, with a log line\n";

/**
 * struct cmd - one subcommand
 * @name: what the user types
 * @fn: runs it with its arguments, argv[0] being @name; returns the exit
 *	status
 */
static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{ "run", cmd_run },
	{ "restore", cmd_restore },
	{ "vhost-user", cmd_vhost_user },
	{ "acpi-dump", cmd_acpi_dump },
	{ "seccomp-dump", cmd_seccomp_dump },
	{ "seal-image", cmd_seal_image },
	{ "jail", jail_main },
};

/*
 * The vDPA device types every subcommand offers (src/vdpa/types.c lists
 * them): registered here, once, before any subcommand runs.
 */
static int register_device_types(void)
{
	return vdpa_register_types();
}

/*
 * Firecracker mode: no command, or flags only. --help and --version are
 * answered wherever they stand, as Firecracker does.
 */
static int cmd_firecracker(int argc, char **argv)
{
	struct api_vmm *vmm;
	int ret, status;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			fputs(main_usage, stdout);
			return VM_EXIT_OK;
		}
		if (!strcmp(argv[i], "--version")) {
			/* Clients read the 2nd word of line 1 (Kata: less its "v"). */
			printf("Firecracker v%s (kestrel %s)\n", API_FIRECRACKER_VERSION,
			       KESTREL_VERSION);
			return VM_EXIT_OK;
		}
	}
	ret = register_device_types();
	if (!ret)
		ret = api_vmm_create(&vmm);
	if (ret) {
		pr_err("cannot set up the VMM: %s", strerror(-ret));
		return VM_EXIT_HOST_ERROR;
	}
	status = api_fc_main(argc, argv, vmm);
	api_vmm_destroy(vmm);
	return status;
}

/* Called as "jailer" (a link named so): Firecracker's jailer command line. */
static bool called_as_jailer(const char *argv0)
{
	const char *base = strrchr(argv0, '/');
	size_t n;

	base = base ? base + 1 : argv0;
	n = strlen(base);
	return n >= 6 && !strcmp(base + n - 6, "jailer");
}

int main(int argc, char **argv)
{
	int ret;

	if (argc >= 1 && called_as_jailer(argv[0]))
		return jail_main(argc, argv);

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
		fputs(main_usage, stdout);
		return VM_EXIT_OK;
	}
	if (argc < 2 || !strncmp(argv[1], "--", 2))
		return cmd_firecracker(argc - 1, argv + 1);
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		if (cmds[i].fn == jail_main)
			return jail_main(argc - 1, argv + 1);
		ret = register_device_types();
		if (ret) {
			pr_err("cannot register the vDPA device types: %s", strerror(-ret));
			return VM_EXIT_HOST_ERROR;
		}
		return cmds[i].fn(argc - 1, argv + 1);
	}
	return usage_error("unknown command '%s' (expected one of: run, restore, vhost-user, acpi-dump, jail, seccomp-dump; see kestrel --help)",
			   argv[1]);
}
