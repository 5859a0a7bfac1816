// SPDX-License-Identifier: GPL-2.0-only
/*
 * Landlock through its three system calls (no library): a ruleset that
 * handles every access right the running kernel knows, one rule per
 * allowed path, enforced with landlock_restrict_self(). docs/landlock.md
 * says what each kestrel mode allows and why.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/landlock.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/landlock.h>
#include <kestrel/log.h>
#include <kestrel/types.h>

/* ABI 1: everything up to MAKE_SYM. */
#define FS_ACCESS_V1	((LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1)
/* The rights a rule on a file (not a directory) may hold. */
#define FS_FILE_ACCESS	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
			 LANDLOCK_ACCESS_FS_IOCTL_DEV)

/**
 * struct landlock_rule - one allowed path
 * @fd: the path, opened O_PATH when it was allowed
 * @allow: LANDLOCK_ALLOW_* bits
 * @dir: whether @fd is a directory
 */
struct landlock_rule {
	int fd;
	unsigned int allow;
	bool dir;
};

struct landlock {
	unsigned int nr;
	struct landlock_rule rules[LANDLOCK_MAX_RULES];
};

static long sys_landlock_create_ruleset(const struct landlock_ruleset_attr *attr,
					size_t size, unsigned int flags)
{
	return syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

static long sys_landlock_add_rule(int ruleset_fd, enum landlock_rule_type type,
				  const void *attr, unsigned int flags)
{
	return syscall(SYS_landlock_add_rule, ruleset_fd, type, attr, flags);
}

static long sys_landlock_restrict_self(int ruleset_fd, unsigned int flags)
{
	return syscall(SYS_landlock_restrict_self, ruleset_fd, flags);
}

int landlock_abi_version(void)
{
	long v = sys_landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return v < 0 ? 0 : (int)v;
}

int landlock_create(struct landlock **out)
{
	*out = xzalloc(sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

int landlock_allow(struct landlock *ll, const char *path, unsigned int allow)
{
	struct landlock_rule *r;
	struct stat st;
	int fd;

	if (ll->nr == LANDLOCK_MAX_RULES)
		return -E2BIG;
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			pr_debug("landlock: %s does not exist, not allowed", path);
			return 0;
		}
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	r = &ll->rules[ll->nr++];
	*r = (struct landlock_rule){ .fd = fd, .allow = allow, .dir = S_ISDIR(st.st_mode) };
	return 0;
}

int landlock_allow_file(const char *path, bool write, void *ll)
{
	return landlock_allow(ll, path, LANDLOCK_ALLOW_READ | LANDLOCK_ALLOW_DEVICE |
				       (write ? LANDLOCK_ALLOW_WRITE : 0));
}

int landlock_allow_socket(const char *path, void *ll)
{
	char dir[PATH_MAX];

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, path);
	return landlock_allow(ll, dirname(dir), LANDLOCK_ALLOW_SOCKET | LANDLOCK_ALLOW_REMOVE);
}

void landlock_destroy(struct landlock *ll)
{
	if (!ll)
		return;
	for (unsigned int i = 0; i < ll->nr; i++)
		close(ll->rules[i].fd);
	free(ll);
}

/* Every filesystem right ABI @abi handles: all are denied but where allowed. */
static u64 fs_handled(int abi)
{
	u64 fs = FS_ACCESS_V1;

	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return fs;
}

/* The Landlock rights of @r, within @handled. */
static u64 rule_access(const struct landlock_rule *r, u64 handled)
{
	u64 a = 0;

	if (r->allow & LANDLOCK_ALLOW_READ)
		a |= LANDLOCK_ACCESS_FS_READ_FILE;
	if (r->allow & LANDLOCK_ALLOW_WRITE)
		a |= LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
	if (r->allow & LANDLOCK_ALLOW_DEVICE)
		a |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	if (r->allow & LANDLOCK_ALLOW_CREATE)
		a |= LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_FIFO;
	if (r->allow & LANDLOCK_ALLOW_REMOVE)
		a |= LANDLOCK_ACCESS_FS_REMOVE_FILE;
	if (r->allow & LANDLOCK_ALLOW_SOCKET)
		a |= LANDLOCK_ACCESS_FS_MAKE_SOCK;
	if (r->allow & LANDLOCK_ALLOW_LIST)
		a |= LANDLOCK_ACCESS_FS_READ_DIR;
	/* The kernel refuses directory rights on a file: EINVAL. */
	if (!r->dir)
		a &= FS_FILE_ACCESS;
	return a & handled;
}

int landlock_apply(struct landlock *ll)
{
	struct landlock_ruleset_attr attr = { 0 };
	size_t attr_size = sizeof(attr);
	int abi, fd, ret;

	abi = landlock_abi_version();
	if (!abi) {
		pr_warn("landlock: not available in this kernel (%s): the process is not confined to its configured paths",
			errno == EOPNOTSUPP ? "disabled at boot" : "not built in");
		return 0;
	}
	attr.handled_access_fs = fs_handled(abi);
	if (abi >= 4)
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP |
					  LANDLOCK_ACCESS_NET_CONNECT_TCP;
	if (abi >= 6)
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
	/* Older kernels take the shorter struct and refuse the longer one. */
	if (abi < 4)
		attr_size = offsetof(struct landlock_ruleset_attr, handled_access_net);
	else if (abi < 6)
		attr_size = offsetof(struct landlock_ruleset_attr, scoped);

	fd = sys_landlock_create_ruleset(&attr, attr_size, 0);
	if (fd < 0) {
		ret = -errno;
		pr_err("landlock: cannot create a ruleset (ABI %d): %s", abi, strerror(errno));
		return ret;
	}
	for (unsigned int i = 0; i < ll->nr; i++) {
		struct landlock_path_beneath_attr pb = {
			.allowed_access = rule_access(&ll->rules[i], attr.handled_access_fs),
			.parent_fd = ll->rules[i].fd,
		};

		if (!pb.allowed_access)
			continue;
		if (sys_landlock_add_rule(fd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0) {
			ret = -errno;
			pr_err("landlock: cannot add a rule: %s", strerror(errno));
			goto out_close;
		}
	}
	/*
	 * What glibc would open lazily later, once: the time zone (log lines
	 * with local time). After this it could not.
	 */
	tzset();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    sys_landlock_restrict_self(fd, 0) < 0) {
		ret = -errno;
		pr_err("landlock: cannot restrict the process: %s", strerror(errno));
		goto out_close;
	}
	pr_debug("landlock: ABI %d, %u path(s) allowed", abi, ll->nr);
	ret = 0;
out_close:
	close(fd);
	return ret;
}
