// SPDX-License-Identifier: GPL-2.0-only
/*
 * `kestrel jail`, a jailer with Firecracker's command line (docs/jail.md).
 *
 * The steps, in order: parse and check every argument; close every
 * inherited fd above 2 and clear the environment; open the exec file;
 * build the chroot <base>/<exec name>/<id>/root one directory at a time
 * through directory fds, never following a symlink (a chroot left by an
 * earlier run is hostile: its root/ belonged to the jailed user); link the
 * exec file and make the device nodes there; set the resource limits; move
 * into the cgroup; join the network namespace; enter a new mount
 * namespace and pivot_root() into the chroot; optionally fork into a new
 * PID namespace; drop every capability, the supplementary groups, the gid
 * and the uid; set no_new_privs; exec.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include <kestrel/compiler.h>
#include <kestrel/jail.h>
#include <kestrel/log.h>
#include <kestrel/parse.h>
#include <kestrel/vm.h>

#define JAIL_ID_MAX		64
#define JAIL_DEFAULT_BASE	"/srv/jailer"
#define JAIL_DEFAULT_NOFILE	2048	/* Firecracker's jailer's default */
#define JAIL_MAX_CGROUPS	16
#define JAIL_CGROUP_VALUE_MAX	256
#define JAIL_NAME_MAX		128	/* the exec file's name */
#define KVM_MINOR		232	/* misc devices (Documentation/admin-guide/devices.txt) */
#define TUN_MINOR		200
#define MISC_MAJOR		10

/**
 * struct jail_opts - the command line, checked
 * @id: --id, [A-Za-z0-9-]{1,64}
 * @exec_file: --exec-file as given
 * @exec_name: its last component: the chroot's directory and file name
 * @uid: --uid
 * @gid: --gid
 * @base: --chroot-base-dir
 * @netns: --netns PATH, or NULL
 * @parent_cgroup: --parent-cgroup, or NULL (the exec file's name)
 * @cgroups: --cgroup KEY=VALUE as given
 * @nr_cgroups: entries of @cgroups
 * @nofile: --resource-limit no-file=N
 * @fsize: --resource-limit fsize=N, or 0 (no limit set)
 * @daemonize: --daemonize
 * @new_pid_ns: --new-pid-ns
 * @args: what follows --
 * @nr_args: entries of @args
 */
struct jail_opts {
	const char *id;
	const char *exec_file;
	const char *exec_name;
	uid_t uid;
	gid_t gid;
	const char *base;
	const char *netns;
	const char *parent_cgroup;
	const char *cgroups[JAIL_MAX_CGROUPS];
	unsigned int nr_cgroups;
	u64 nofile;
	u64 fsize;
	bool daemonize;
	bool new_pid_ns;
	char **args;
	int nr_args;
};

static const char jail_usage[] =
"usage: kestrel jail --id ID --exec-file FILE --uid UID --gid GID\n"
"                    [--chroot-base-dir DIR] [--netns PATH]\n"
"                    [--cgroup FILE=VALUE]... [--cgroup-version 2]\n"
"                    [--parent-cgroup PATH] [--resource-limit fsize=N|no-file=N]...\n"
"                    [--daemonize] [--new-pid-ns] [-- KESTREL ARGS...]\n"
"\n"
"Runs FILE (a kestrel binary) as UID:GID in the chroot\n"
"DIR/<FILE's name>/ID/root (DIR default /srv/jailer), with no capability,\n"
"no_new_privs, /dev/kvm and /dev/net/tun, no inherited fd but 0-2 and an\n"
"empty environment. Firecracker's jailer's command line: kestrel called\n"
"as \"jailer\" takes it without the word \"jail\".\n"
"\n"
"  --id ID              [A-Za-z0-9-]{1,64}, unique per VM\n"
"  --exec-file FILE     a regular executable file named *kestrel* or\n"
"                       *firecracker*; hard-linked (copied across file\n"
"                       systems) into the chroot\n"
"  --uid, --gid N       who the VMM runs as (0 keeps root's ids, without\n"
"                       capabilities)\n"
"  --netns PATH         join this network namespace (/var/run/netns/NAME)\n"
"  --cgroup FILE=VALUE  write VALUE to FILE (cpu.max, memory.max, pids.max...)\n"
"                       of the cgroup v2 <mount>/<parent>/ID (repeatable)\n"
"  --parent-cgroup PATH its parent, relative (default: FILE's name)\n"
"  --resource-limit fsize=N|no-file=N  setrlimit (no-file defaults to 2048)\n"
"  --daemonize          setsid() and stdin/stdout/stderr on /dev/null\n"
"  --new-pid-ns         FILE runs as PID 1 of a new PID namespace; its host\n"
"                       PID goes into root/<FILE's name>.pid; without\n"
"                       --daemonize the jailer waits and exits with its status\n"
"  --node N, --seccomp-level N  accepted for older orchestrators, ignored\n"
"\n"
"After --, kestrel's arguments: a command (run ..., vhost-user ...), or\n"
"Firecracker's flags, which get --id=ID first, as Firecracker's jailer\n"
"passes. Paths in them are inside the chroot.\n"
"exit status: 2 bad arguments, 4 a step failed; else kestrel's\n";

enum {
	OPT_ID = 256,
	OPT_EXEC_FILE,
	OPT_UID,
	OPT_GID,
	OPT_BASE,
	OPT_NETNS,
	OPT_CGROUP,
	OPT_CGROUP_VERSION,
	OPT_PARENT_CGROUP,
	OPT_RLIMIT,
	OPT_DAEMONIZE,
	OPT_NEW_PID_NS,
	OPT_NODE,
	OPT_SECCOMP_LEVEL,
};

static const struct option jail_options[] = {
	{ "id", required_argument, NULL, OPT_ID },
	{ "exec-file", required_argument, NULL, OPT_EXEC_FILE },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "gid", required_argument, NULL, OPT_GID },
	{ "chroot-base-dir", required_argument, NULL, OPT_BASE },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "cgroup-version", required_argument, NULL, OPT_CGROUP_VERSION },
	{ "parent-cgroup", required_argument, NULL, OPT_PARENT_CGROUP },
	{ "resource-limit", required_argument, NULL, OPT_RLIMIT },
	{ "daemonize", no_argument, NULL, OPT_DAEMONIZE },
	{ "new-pid-ns", no_argument, NULL, OPT_NEW_PID_NS },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "seccomp-level", required_argument, NULL, OPT_SECCOMP_LEVEL },
	{ "help", no_argument, NULL, 'h' },
	{ NULL },
};

/* One line naming the argument; hostile text loses its newlines. */
static __printf(2, 3) int jail_error(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_err_vline("jail: ", fmt, ap);
	va_end(ap);
	return status;
}

#define usage_error(...)	jail_error(VM_EXIT_USAGE, __VA_ARGS__)
#define host_error(...)		jail_error(VM_EXIT_HOST_ERROR, __VA_ARGS__)

/* [A-Za-z0-9-]{1,64}: Firecracker's rule, which also makes it a safe path component. */
static bool jail_id_is_valid(const char *id)
{
	size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");

	return n >= 1 && n <= JAIL_ID_MAX && !id[n];
}

/* A relative path of [A-Za-z0-9._-] components, none "." or "..", no empty one. */
static bool cgroup_path_is_valid(const char *p)
{
	size_t len = strlen(p);

	if (!len || len > 255 || p[0] == '/' || p[len - 1] == '/')
		return false;
	while (*p) {
		size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

		if (!n || (n == 1 && p[0] == '.') || (n == 2 && !strncmp(p, "..", 2)))
			return false;
		p += n;
		if (*p && *p != '/')
			return false;
		if (*p)
			p++;
		if (*p == '/')
			return false;
	}
	return true;
}

/*
 * --cgroup FILE=VALUE: FILE a controller's interface file (CONTROLLER.NAME
 * of [A-Za-z0-9_.], as hugetlb.2MB.max), not a cgroup core file; VALUE printable, one line.
 */
static bool cgroup_arg_is_valid(const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t klen, n;

	if (!eq)
		return false;
	klen = (size_t)(eq - arg);
	n = strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.");
	if (n != klen || !klen || klen > 64 || !memchr(arg, '.', klen) || arg[0] == '.' ||
	    !strncmp(arg, "cgroup.", 7))
		return false;
	if (!eq[1] || strlen(eq + 1) > JAIL_CGROUP_VALUE_MAX)
		return false;
	for (const char *v = eq + 1; *v; v++)
		if (!isprint((unsigned char)*v))
			return false;
	return true;
}

static int parse_id_value(const char *opt, const char *val, unsigned int *out)
{
	u64 v;

	if (parse_u64(val, &v) || v >= (u64)UINT_MAX)
		return usage_error("--%s: '%.32s' is not an id (expected --%s N, 0 to %u)",
				   opt, val, opt, UINT_MAX - 1);
	*out = (unsigned int)v;
	return 0;
}

static int parse_rlimit(const char *val, struct jail_opts *o)
{
	const char *eq = strchr(val, '=');
	u64 v;

	if (!eq || parse_u64(eq + 1, &v))
		goto bad;
	if ((size_t)(eq - val) == 5 && !strncmp(val, "fsize", 5) && v)
		o->fsize = v;
	else if ((size_t)(eq - val) == 7 && !strncmp(val, "no-file", 7) && v >= 4 &&
		 v <= (1U << 20))
		o->nofile = v;
	else
		goto bad;
	return 0;
bad:
	return usage_error("--resource-limit: '%.64s' is not a limit (expected fsize=BYTES or no-file=N with N from 4 to 1048576)",
			   val);
}

/* Return: -1 to go on, else the exit status. */
static int jail_parse(int argc, char **argv, struct jail_opts *o)
{
	bool have_uid = false, have_gid = false;
	const char *slash;
	int ch, ret;

	*o = (struct jail_opts){ .base = JAIL_DEFAULT_BASE, .nofile = JAIL_DEFAULT_NOFILE };
	optind = 0;
	opterr = 0;
	/* '+': options end at the first operand or "--"; the rest is kestrel's. */
	while ((ch = getopt_long(argc, argv, "+:h", jail_options, NULL)) != -1) {
		switch (ch) {
		case OPT_ID:
			o->id = optarg;
			break;
		case OPT_EXEC_FILE:
			o->exec_file = optarg;
			break;
		case OPT_UID:
			ret = parse_id_value("uid", optarg, &o->uid);
			if (ret)
				return ret;
			have_uid = true;
			break;
		case OPT_GID:
			ret = parse_id_value("gid", optarg, &o->gid);
			if (ret)
				return ret;
			have_gid = true;
			break;
		case OPT_BASE:
			o->base = optarg;
			break;
		case OPT_NETNS:
			o->netns = optarg;
			break;
		case OPT_CGROUP:
			if (!cgroup_arg_is_valid(optarg))
				return usage_error("--cgroup: '%.64s' is not a cgroup setting (expected --cgroup CONTROLLER.FILE=VALUE, e.g. pids.max=64)",
						   optarg);
			if (o->nr_cgroups == JAIL_MAX_CGROUPS)
				return usage_error("--cgroup: at most %d settings", JAIL_MAX_CGROUPS);
			o->cgroups[o->nr_cgroups++] = optarg;
			break;
		case OPT_CGROUP_VERSION:
			if (strcmp(optarg, "2"))
				return usage_error("--cgroup-version: '%.16s' is not supported: kestrel jail uses cgroup v2 only (expected --cgroup-version 2)",
						   optarg);
			break;
		case OPT_PARENT_CGROUP:
			if (!cgroup_path_is_valid(optarg))
				return usage_error("--parent-cgroup: '%.64s' is not a relative cgroup path (expected NAME[/NAME...] of [A-Za-z0-9._-], no . or ..)",
						   optarg);
			o->parent_cgroup = optarg;
			break;
		case OPT_RLIMIT:
			ret = parse_rlimit(optarg, o);
			if (ret)
				return ret;
			break;
		case OPT_DAEMONIZE:
			o->daemonize = true;
			break;
		case OPT_NEW_PID_NS:
			o->new_pid_ns = true;
			break;
		case OPT_NODE:
		case OPT_SECCOMP_LEVEL:
			pr_info("jail: --%s ignored (kestrel's sandbox has no such setting)",
				ch == OPT_NODE ? "node" : "seccomp-level");
			break;
		case 'h':
			fputs(jail_usage, stdout);
			return VM_EXIT_OK;
		case ':':
			return usage_error("%s needs a value (see kestrel jail --help)",
					   argv[optind - 1]);
		default:
			return usage_error("unknown argument '%.64s' (see kestrel jail --help)",
					   argv[optind - 1]);
		}
	}
	if (optind < argc && strcmp(argv[optind - 1], "--"))
		return usage_error("unknown argument '%.64s' (expected -- before kestrel's arguments)",
				   argv[optind]);
	o->args = argv + optind;
	o->nr_args = argc - optind;

	if (!o->id || !o->exec_file || !have_uid || !have_gid)
		return usage_error("--id, --exec-file, --uid and --gid are required (see kestrel jail --help)");
	if (!jail_id_is_valid(o->id))
		return usage_error("--id: '%.80s' is not an id (expected 1 to %d characters from [A-Za-z0-9-])",
				   o->id, JAIL_ID_MAX);
	slash = strrchr(o->exec_file, '/');
	o->exec_name = slash ? slash + 1 : o->exec_file;
	if (!o->exec_name[0] || strlen(o->exec_name) > JAIL_NAME_MAX ||
	    !strcmp(o->exec_name, ".") || !strcmp(o->exec_name, "..") ||
	    (!strstr(o->exec_name, "kestrel") && !strstr(o->exec_name, "firecracker")))
		return usage_error("--exec-file: '%.80s' is not named like kestrel (expected a file whose name contains kestrel or firecracker)",
				   o->exec_file);
	if (o->base[0] != '/')
		return usage_error("--chroot-base-dir: '%.80s' is not absolute (expected --chroot-base-dir /DIR)",
				   o->base);
	if (o->netns && o->netns[0] != '/')
		return usage_error("--netns: '%.80s' is not absolute (expected --netns /PATH)", o->netns);
	return -1;
}

/* ---- the chroot, through directory fds --------------------------------------- */

/*
 * The directory @name in @dfd, created if missing, opened without
 * following a symlink. It must be a directory; unless @any_owner, owned by
 * root and writable by nobody else, so nobody but root changes what is in
 * it while the jailer works. Return: the fd, or the exit status (< 0 never).
 */
static int dir_open(int dfd, const char *name, const char *what, bool any_owner, int *out)
{
	struct stat st;
	int fd;

	if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
		return host_error("cannot create %s: %s", what, strerror(errno));
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return host_error("%s is not a directory (%s): refusing to follow it",
				  what, strerror(errno));
	if (fstat(fd, &st) < 0 ||
	    (!any_owner && (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))))) {
		close(fd);
		return host_error("%s is not root's or is writable by others: refusing it", what);
	}
	*out = fd;
	return 0;
}

/* Remove whatever non-directory @name in @dfd is (a planted symlink, say). */
static int entry_clear(int dfd, const char *name, const char *what)
{
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		return host_error("cannot replace %s: %s", what, strerror(errno));
	return 0;
}

/* Remove @name in @dfd unless it is a directory (or absent). */
static int entry_clear_nondir(int dfd, const char *name, const char *what)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode))
		return 0;
	return entry_clear(dfd, name, what);
}

/* The exec file into the chroot: a hard link, a copy across file systems. */
static int exec_link(int exec_fd, int root_fd, const struct jail_opts *o)
{
	struct stat st, have;
	char buf[65536];
	ssize_t n;
	int fd, ret;

	/* Already the same file (a rerun, or the exec file given inside the chroot). */
	if (!fstat(exec_fd, &st) && !fstatat(root_fd, o->exec_name, &have, AT_SYMLINK_NOFOLLOW) &&
	    st.st_dev == have.st_dev && st.st_ino == have.st_ino)
		return 0;
	ret = entry_clear(root_fd, o->exec_name, "the chroot's exec file");
	if (ret)
		return ret;
	if (!linkat(exec_fd, "", root_fd, o->exec_name, AT_EMPTY_PATH))
		return 0;
	if (errno != EXDEV)
		return host_error("cannot link %.80s into the chroot: %s", o->exec_file,
				  strerror(errno));
	fd = openat(root_fd, o->exec_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0755);
	if (fd < 0)
		return host_error("cannot copy %.80s into the chroot: %s", o->exec_file,
				  strerror(errno));
	ret = 0;
	if (lseek(exec_fd, 0, SEEK_SET) < 0)
		ret = -1;
	while (!ret && (n = read(exec_fd, buf, sizeof(buf))) != 0) {
		if (n < 0 || write(fd, buf, (size_t)n) != n)
			ret = -1;
	}
	if (ret || fchmod(fd, 0755) < 0) {
		ret = host_error("cannot copy %.80s into the chroot: %s", o->exec_file,
				 strerror(errno));
		close(fd);
		unlinkat(root_fd, o->exec_name, 0);
		return ret;
	}
	close(fd);
	return 0;
}

/*
 * Character device @name in @dfd, a fresh node (whatever was there is
 * removed) with the host's device number at @host_path (or @fallback),
 * 0600 and owned by the jailed user.
 */
static int dev_make(int dfd, const char *name, const char *host_path, dev_t fallback,
		    const struct jail_opts *o)
{
	struct stat st;
	dev_t dev = fallback;
	int ret;

	if (!stat(host_path, &st) && S_ISCHR(st.st_mode))
		dev = st.st_rdev;
	ret = entry_clear(dfd, name, host_path);
	if (ret)
		return ret;
	if (mknodat(dfd, name, S_IFCHR | 0600, dev) < 0 ||
	    fchownat(dfd, name, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return host_error("cannot make %s in the chroot: %s", host_path, strerror(errno));
	return 0;
}

/* mkdir -p @base (an absolute path). Return: 0 or the exit status. */
static int base_make(const char *base)
{
	char path[PATH_MAX], c;
	size_t len = strlen(base);

	if (len >= sizeof(path))
		return usage_error("--chroot-base-dir: longer than %zu bytes", sizeof(path) - 1);
	memcpy(path, base, len + 1);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return host_error("--chroot-base-dir: cannot create '%.80s': %s", path,
					  strerror(errno));
		*p = c;
		if (!c)
			return 0;
	}
}

/*
 * <base>/<exec name>/<id>/root with the exec file, dev/kvm and dev/net/tun;
 * root/ owned by the jailed user (kestrel makes its API socket there).
 * @root_out: the chroot's fd. Return: 0 or the exit status.
 */
static int chroot_build(const struct jail_opts *o, int exec_fd, int *root_out)
{
	char what[PATH_MAX];
	int base_fd, name_fd = -1, id_fd = -1, root_fd = -1, dev_fd = -1, net_fd = -1;
	int ret;

	/* The base is the orchestrator's choice: created as given, parents too. */
	ret = base_make(o->base);
	if (ret)
		return ret;
	base_fd = open(o->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (base_fd < 0)
		return host_error("--chroot-base-dir: cannot open '%.80s': %s", o->base,
				  strerror(errno));
	snprintf(what, sizeof(what), "%s/%s", o->base, o->exec_name);
	ret = dir_open(base_fd, o->exec_name, what, false, &name_fd);
	if (ret)
		goto out;
	snprintf(what, sizeof(what), "%s/%s/%s", o->base, o->exec_name, o->id);
	ret = dir_open(name_fd, o->id, what, false, &id_fd);
	if (ret)
		goto out;
	/* root/ may be the jailed user's, from an earlier run: checked below it. */
	snprintf(what, sizeof(what), "%s/%s/%s/root", o->base, o->exec_name, o->id);
	ret = dir_open(id_fd, "root", what, true, &root_fd);
	if (ret)
		goto out;
	ret = exec_link(exec_fd, root_fd, o);
	if (ret)
		goto out;
	/* A "dev" that is no directory (a symlink) goes; a directory must be root's. */
	ret = entry_clear_nondir(root_fd, "dev", "the chroot's dev");
	if (ret)
		goto out;
	ret = dir_open(root_fd, "dev", "the chroot's dev", false, &dev_fd);
	if (!ret)
		ret = entry_clear_nondir(dev_fd, "net", "the chroot's dev/net");
	if (!ret)
		ret = dir_open(dev_fd, "net", "the chroot's dev/net", false, &net_fd);
	if (!ret)
		ret = dev_make(dev_fd, "kvm", "/dev/kvm", makedev(MISC_MAJOR, KVM_MINOR), o);
	if (!ret)
		ret = dev_make(net_fd, "tun", "/dev/net/tun", makedev(MISC_MAJOR, TUN_MINOR), o);
	if (!ret && fchown(root_fd, o->uid, o->gid) < 0)
		ret = host_error("cannot give the chroot to %u:%u: %s", o->uid, o->gid,
				 strerror(errno));
out:
	if (net_fd >= 0)
		close(net_fd);
	if (dev_fd >= 0)
		close(dev_fd);
	if (id_fd >= 0)
		close(id_fd);
	if (name_fd >= 0)
		close(name_fd);
	close(base_fd);
	if (ret && root_fd >= 0)
		close(root_fd);
	else
		*root_out = root_fd;
	return ret;
}

/* ---- cgroup v2 ------------------------------------------------------------------ */

/* The first cgroup2 mount in /proc/self/mountinfo, into @mnt. Return: 0 or -ENOENT. */
static int cgroup2_mount(char *mnt, size_t len)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root MOUNTPOINT opts... - FSTYPE source opts */
		char *sep = strstr(line, " - "), *mp;

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		strtok(line, " ");
		for (int i = 0; i < 3; i++)
			strtok(NULL, " ");
		mp = strtok(NULL, " ");
		/* Mount points with spaces come octal-escaped: none is ours to use. */
		if (mp && !strchr(mp, '\\') && strlen(mp) < len) {
			snprintf(mnt, len, "%s", mp);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* Write @val to @dir/@file. Return: 0 or -errno. */
static int cgroup_write(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, err;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	err = n < 0 ? -errno : (size_t)n != strlen(val) ? -EIO : 0;
	close(fd);
	return err;
}

/* Whether @ctrl is a word of @dir/cgroup.controllers. */
static bool cgroup_has_controller(const char *dir, const char *ctrl, char *list, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.controllers", dir) >= sizeof(path))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, list, len - 1);
	if (fd >= 0)
		close(fd);
	list[n > 0 ? n : 0] = '\0';
	if (n > 0 && list[n - 1] == '\n')
		list[n - 1] = '\0';
	for (char *w = list; *w;) {
		size_t k = strcspn(w, " ");

		if (k == strlen(ctrl) && !strncmp(w, ctrl, k))
			return true;
		w += k;
		w += strspn(w, " ");
	}
	return false;
}

/*
 * <mount>/<parent>/<id>: every controller the settings name enabled on the
 * way down, the settings written, then this process moved in (its
 * children, the jailed kestrel among them, stay there).
 */
static int cgroup_join(const struct jail_opts *o)
{
	char mnt[PATH_MAX], dir[PATH_MAX], ctrl[65], list[512], pid[24];
	const char *parent = o->parent_cgroup ? o->parent_cgroup : o->exec_name;
	int ret;

	if (!o->nr_cgroups)
		return 0;
	if (cgroup2_mount(mnt, sizeof(mnt)))
		return host_error("--cgroup: no cgroup v2 file system is mounted (mount -t cgroup2 none /sys/fs/cgroup)");
	for (unsigned int i = 0; i < o->nr_cgroups; i++) {
		size_t n = strcspn(o->cgroups[i], ".");

		snprintf(ctrl, sizeof(ctrl), "%.*s", (int)n, o->cgroups[i]);
		if (!cgroup_has_controller(mnt, ctrl, list, sizeof(list)))
			return host_error("--cgroup %.64s: controller '%s' is not available in the cgroup v2 hierarchy at %s (it has: %s)",
					  o->cgroups[i], ctrl, mnt, list[0] ? list : "none");
		/* Enable it in each cgroup from the mount down to <parent>. */
		snprintf(dir, sizeof(dir), "%s", mnt);
		for (const char *p = parent;;) {
			size_t k = strcspn(p, "/");
			char plus[70];

			snprintf(plus, sizeof(plus), "+%s", ctrl);
			ret = cgroup_write(dir, "cgroup.subtree_control", plus);
			if (ret)
				return host_error("--cgroup: cannot enable '%s' below %s: %s", ctrl, dir,
						  strerror(-ret));
			if (!*p)
				break;
			snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%.*s", (int)k, p);
			if (mkdir(dir, 0755) < 0 && errno != EEXIST)
				return host_error("--cgroup: cannot create %s: %s", dir, strerror(errno));
			p += k;
			p += *p == '/';
			if (!*p) {
				/* <parent> itself: its children get the controller too. */
				ret = cgroup_write(dir, "cgroup.subtree_control", plus);
				if (ret)
					return host_error("--cgroup: cannot enable '%s' below %s: %s",
							  ctrl, dir, strerror(-ret));
				break;
			}
		}
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s/%s", mnt, parent, o->id) >= sizeof(dir))
		return host_error("--cgroup: the cgroup's path is too long");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return host_error("--cgroup: cannot create %s: %s", dir, strerror(errno));
	for (unsigned int i = 0; i < o->nr_cgroups; i++) {
		const char *eq = strchr(o->cgroups[i], '=');
		char file[65];

		snprintf(file, sizeof(file), "%.*s", (int)(eq - o->cgroups[i]), o->cgroups[i]);
		ret = cgroup_write(dir, file, eq + 1);
		if (ret)
			return host_error("--cgroup %.64s: cannot write %s/%s: %s", o->cgroups[i], dir,
					  file, strerror(-ret));
	}
	snprintf(pid, sizeof(pid), "%d", getpid());
	ret = cgroup_write(dir, "cgroup.procs", pid);
	if (ret)
		return host_error("--cgroup: cannot move into %s: %s", dir, strerror(-ret));
	return 0;
}

/* ---- limits, namespaces, privileges ------------------------------------------- */

static int rlimits_set(const struct jail_opts *o)
{
	struct rlimit nofile = { o->nofile, o->nofile };
	struct rlimit fsize = { o->fsize, o->fsize };

	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return host_error("--resource-limit no-file=%llu: %s",
				  (unsigned long long)o->nofile, strerror(errno));
	if (o->fsize && setrlimit(RLIMIT_FSIZE, &fsize) < 0)
		return host_error("--resource-limit fsize=%llu: %s",
				  (unsigned long long)o->fsize, strerror(errno));
	return 0;
}

static int netns_join(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		return host_error("--netns: cannot join '%.80s': %s", path, strerror(err));
	}
	close(fd);
	return 0;
}

/*
 * A new mount namespace whose root is the chroot: nothing of the host's
 * file systems stays reachable (pivot_root, then the old root detached).
 * pivot_root(".", ".") stacks the old root on the new one, so the chroot
 * needs no old_root directory a planted symlink could stand in for.
 */
static int root_pivot(int root_fd)
{
	char fdpath[64], path[PATH_MAX];
	ssize_t n;

	/*
	 * The chroot's path as the kernel knows its fd: every directory above
	 * it was checked to be root's and writable by nobody else, so the
	 * path names that directory still.
	 */
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", root_fd);
	n = readlink(fdpath, path, sizeof(path) - 1);
	if (n <= 0 || path[0] != '/')
		return host_error("cannot find the chroot's path: %s", n < 0 ? strerror(errno) : "not a path");
	path[n] = '\0';
	if (unshare(CLONE_NEWNS) < 0)
		return host_error("cannot enter a new mount namespace: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL) < 0)
		return host_error("cannot make the mounts private: %s", strerror(errno));
	/* A mount point of its own (pivot_root needs one), with what is mounted inside. */
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return host_error("cannot bind-mount the chroot: %s", strerror(errno));
	if (chdir(path) < 0)
		return host_error("cannot enter the chroot: %s", strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return host_error("cannot pivot into the chroot: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		return host_error("cannot detach the host's root: %s", strerror(errno));
	if (chdir("/") < 0 || chroot(".") < 0)
		return host_error("cannot settle in the chroot: %s", strerror(errno));
	return 0;
}

/*
 * Every capability gone for good: the bounding and ambient sets emptied
 * while CAP_SETPCAP is still held, then the ids changed, then the
 * permitted, effective and inheritable sets cleared (setuid(0) would keep
 * them), and no_new_privs so that exec gains nothing (for uid 0 an empty
 * bounding set already means no file capabilities).
 */
static int privileges_drop(const struct jail_opts *o)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct none[2] = { 0 };

	for (int cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return host_error("cannot drop capability %d from the bounding set: %s",
					  cap, strerror(errno));
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return host_error("cannot clear the ambient capabilities: %s", strerror(errno));
	if (setgroups(0, NULL) < 0 || setresgid(o->gid, o->gid, o->gid) < 0 ||
	    setresuid(o->uid, o->uid, o->uid) < 0)
		return host_error("cannot become %u:%u: %s", o->uid, o->gid, strerror(errno));
	if (syscall(SYS_capset, &hdr, none) < 0)
		return host_error("cannot clear the capabilities: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return host_error("cannot set no_new_privs: %s", strerror(errno));
	return 0;
}

/*
 * kestrel's argv: the exec file's name, then in Firecracker mode (no
 * command: nothing, or flags first) --id=<id> as Firecracker's jailer
 * passes it, then the arguments after --.
 */
static char **exec_argv(const struct jail_opts *o, char *idarg, size_t idlen)
{
	bool fc_mode = !o->nr_args || !strncmp(o->args[0], "--", 2);
	char **argv = calloc((size_t)o->nr_args + 3, sizeof(*argv));
	int n = 0;

	if (!argv)
		return NULL;
	argv[n++] = (char *)o->exec_name;
	if (fc_mode) {
		snprintf(idarg, idlen, "--id=%s", o->id);
		argv[n++] = idarg;
	}
	for (int i = 0; i < o->nr_args; i++)
		argv[n++] = o->args[i];
	argv[n] = NULL;
	return argv;
}

static __attribute__((noreturn)) void exec_jailed(const struct jail_opts *o)
{
	static char *const envp[] = { NULL };
	char idarg[JAIL_ID_MAX + 8], path[JAIL_NAME_MAX + 2];
	char **argv;

	if (privileges_drop(o))
		_exit(VM_EXIT_HOST_ERROR);
	argv = exec_argv(o, idarg, sizeof(idarg));
	snprintf(path, sizeof(path), "/%s", o->exec_name);
	if (argv)
		execve(path, argv, envp);
	host_error("cannot exec %s in the chroot: %s", path, argv ? strerror(errno) : "out of memory");
	_exit(VM_EXIT_HOST_ERROR);
}

/* ---- --new-pid-ns: the parent ----------------------------------------------------- */

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* <exec name>.pid in the chroot: the child's PID as the host sees it. */
static int pid_file_write(int root_fd, const struct jail_opts *o, pid_t pid)
{
	char name[JAIL_NAME_MAX + 8], buf[24];
	int fd, len, ret = 0;

	snprintf(name, sizeof(name), "%s.pid", o->exec_name);
	ret = entry_clear(root_fd, name, "the chroot's pid file");
	if (ret)
		return ret;
	fd = openat(root_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	len = snprintf(buf, sizeof(buf), "%d\n", pid);
	if (fd < 0 || write(fd, buf, (size_t)len) != len)
		ret = host_error("cannot write %s: %s", name, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * Fork the process that becomes PID 1 of the new PID namespace. The
 * parent writes its PID file, then exits at once with --daemonize, or
 * drops its privileges too, forwards termination signals and exits with
 * the child's status.
 */
static int pid_ns_spawn(int root_fd, const struct jail_opts *o)
{
	struct sigaction sa = { .sa_handler = forward_signal };
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPWR };
	int status, ret;
	pid_t pid;

	if (unshare(CLONE_NEWPID) < 0)
		return host_error("--new-pid-ns: cannot create a PID namespace: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return host_error("--new-pid-ns: cannot fork: %s", strerror(errno));
	if (pid == 0) {
		close(root_fd);
		exec_jailed(o);
	}
	child_pid = pid;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	ret = pid_file_write(root_fd, o, pid);
	close(root_fd);
	if (ret || o->daemonize)
		return ret;
	if (privileges_drop(o))
		pr_warn("jail: the waiting parent keeps its privileges");
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return host_error("cannot wait for the jailed process: %s", strerror(errno));
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* ---- the command --------------------------------------------------------------- */

int jail_main(int argc, char **argv)
{
	struct jail_opts o;
	int status, exec_fd, root_fd = -1, null_fd = -1;
	struct stat st;

	status = jail_parse(argc, argv, &o);
	if (status >= 0)
		return status;
	if (geteuid() != 0)
		return host_error("needs root (it makes device nodes, mounts and changes user)");
	/* Nothing inherited reaches kestrel: no fd but 0-2, no environment. */
	if (close_range(3, ~0U, 0) < 0)
		return host_error("cannot close the inherited fds: %s", strerror(errno));
	clearenv();
	umask(022);

	exec_fd = open(o.exec_file, O_RDONLY | O_CLOEXEC);
	if (exec_fd < 0)
		return usage_error("--exec-file: cannot open '%.80s': %s", o.exec_file,
				   strerror(errno));
	if (fstat(exec_fd, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
		close(exec_fd);
		return usage_error("--exec-file: '%.80s' is not an executable regular file",
				   o.exec_file);
	}
	status = chroot_build(&o, exec_fd, &root_fd);
	close(exec_fd);
	if (status)
		return status;
	status = rlimits_set(&o);
	if (!status)
		status = cgroup_join(&o);
	if (!status && o.netns)
		status = netns_join(o.netns);
	if (!status && o.daemonize) {
		null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null_fd < 0)
			status = host_error("--daemonize: cannot open /dev/null: %s", strerror(errno));
	}
	if (!status)
		status = root_pivot(root_fd);
	if (status)
		goto out;
	if (o.daemonize) {
		if (setsid() < 0) {
			status = host_error("--daemonize: setsid: %s (is the jailer a process group leader?)",
					    strerror(errno));
			goto out;
		}
		if (dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0) {
			status = host_error("--daemonize: cannot redirect stdio: %s", strerror(errno));
			goto out;
		}
		close(null_fd);
		null_fd = -1;
	}
	if (o.new_pid_ns)
		return pid_ns_spawn(root_fd, &o);
	close(root_fd);
	exec_jailed(&o);
out:
	if (null_fd >= 0)
		close(null_fd);
	if (root_fd >= 0)
		close(root_fd);
	return status;
}
