// SPDX-License-Identifier: GPL-2.0-only
/*
 * kestrel with no subcommand: Firecracker's command line. Sets up the
 * logger and metrics, creates the API socket as early as it can, applies
 * --config-file (and starts that VM), then starts the API thread and runs
 * the VMM thread's loop here: mailbox requests, SIGINT/SIGTERM, the VM
 * stopping by itself, and (without an API thread) the periodic metrics
 * flush.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kestrel/sandbox.h>
#include <kestrel/landlock.h>
#include <kestrel/parse.h>
#include <kestrel/version.h>
#include <kestrel/vm.h>

#include "internal.h"

#define DEFAULT_API_SOCK	"/run/firecracker.socket"	/* Firecracker's */
#define DEFAULT_INSTANCE_ID	"anonymous-instance"
#define MAX_CONFIG_FILE		(1 << 20)
#define METRICS_PERIOD_MS	60000
#define MAX_LANDLOCK_ALLOW	8

/**
 * struct fc_opts - Firecracker's flags as given
 */
struct fc_opts {
	const char *api_sock;
	const char *config_file;
	const char *id;
	const char *level;
	const char *log_path;
	const char *metrics_path;
	const char *seccomp;
	const char *seccomp_level;
	bool no_seccomp;
	const char *landlock;
	const char *landlock_allow[MAX_LANDLOCK_ALLOW];
	unsigned int nr_landlock_allow;
	bool no_api;
	bool boot_timer;
	bool show_level;
	bool show_log_origin;
	bool landlock_on;
	const struct fc_flag *ignored[8];	/* logged once the logger is up */
	unsigned int nr_ignored;
};

/**
 * struct fc_flag - one flag
 * @name: as typed
 * @takes_value: "--flag VALUE" (or "--flag=VALUE")
 * @value: where a value goes, or NULL
 * @set: where a plain flag goes, or NULL
 * @ignored: accepted for the orchestrators that pass it, and logged
 */
struct fc_flag {
	const char *name;
	bool takes_value;
	size_t value_off;
	size_t set_off;
	const char *ignored;
};

#define VAL(n, f)	{ n, true, offsetof(struct fc_opts, f) + 1, 0, NULL }
#define SET(n, f)	{ n, false, 0, offsetof(struct fc_opts, f) + 1, NULL }
#define IGNORED(n, v, why) { n, v, 0, 0, why }

static const struct fc_flag flags[] = {
	VAL("--api-sock", api_sock),
	VAL("--config-file", config_file),
	VAL("--id", id),
	VAL("--level", level),
	VAL("--log-path", log_path),
	VAL("--metrics-path", metrics_path),
	VAL("--seccomp", seccomp),
	VAL("--seccomp-level", seccomp_level),
	SET("--no-seccomp", no_seccomp),
	VAL("--landlock", landlock),
	/* repeatable: appended to landlock_allow[] by fc_parse() */
	VAL("--landlock-allow", landlock_allow),
	SET("--no-api", no_api),
	SET("--boot-timer", boot_timer),
	SET("--show-level", show_level),
	SET("--show-log-origin", show_log_origin),
	IGNORED("--seccomp-filter", true,
		"kestrel installs its own per-thread filters (docs/sandbox.md; --no-seccomp for none)"),
	IGNORED("--metadata", true, "MMDS is not implemented by kestrel"),
	IGNORED("--mmds-size-limit", true, "MMDS is not implemented by kestrel"),
	IGNORED("--http-api-max-payload-size", true,
		"kestrel's API body limit is fixed at 51200 bytes"),
	IGNORED("--start-time-us", true, "kestrel measures its own start"),
	IGNORED("--start-time-cpu-us", true, "kestrel measures its own start"),
	IGNORED("--parent-cpu-time-us", true, "kestrel measures its own start"),
};

/* [A-Za-z0-9-]{1,64}: Firecracker's rule for --id */
static bool instance_id_is_valid(const char *id)
{
	size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");

	return n >= 1 && n <= API_INSTANCE_ID_MAX && !id[n];
}

static int fc_parse(int argc, char **argv, struct fc_opts *o)
{
	bool landlock = true;

	for (int i = 0; i < argc; i++) {
		const struct fc_flag *f = NULL;
		const char *a = argv[i], *v = NULL, *eq = strchr(a, '=');
		size_t n = eq ? (size_t)(eq - a) : strlen(a);

		for (size_t k = 0; k < ARRAY_SIZE(flags) && !f; k++)
			if (strlen(flags[k].name) == n && !strncmp(a, flags[k].name, n))
				f = &flags[k];
		if (!f) {
			pr_err("unknown argument '%.64s' (see kestrel --help)", a);
			return -EINVAL;
		}
		if (f->takes_value) {
			v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
			if (!v) {
				pr_err("%s needs a value (see kestrel --help)", f->name);
				return -EINVAL;
			}
		} else if (eq) {
			pr_err("%s takes no value (see kestrel --help)", f->name);
			return -EINVAL;
		}
		if (f->ignored) {
			if (o->nr_ignored < ARRAY_SIZE(o->ignored))
				o->ignored[o->nr_ignored++] = f;
			continue;
		}
		if (f->value_off == offsetof(struct fc_opts, landlock_allow) + 1) {
			if (o->nr_landlock_allow == MAX_LANDLOCK_ALLOW) {
				pr_err("--landlock-allow: at most %d directories", MAX_LANDLOCK_ALLOW);
				return -EINVAL;
			}
			o->landlock_allow[o->nr_landlock_allow++] = v;
		} else if (f->value_off)
			*(const char **)((char *)o + f->value_off - 1) = v;
		else
			*(bool *)((char *)o + f->set_off - 1) = true;
	}
	if (o->no_api && !o->config_file) {
		pr_err("--no-api needs --config-file (expected --no-api --config-file FILE)");
		return -EINVAL;
	}
	if (o->seccomp && (o->no_seccomp || o->seccomp_level)) {
		pr_err("--seccomp: give one of --seccomp, --seccomp-level and --no-seccomp");
		return -EINVAL;
	}
	if (o->landlock && parse_bool(o->landlock, &landlock)) {
		pr_err("--landlock: '%.16s' is neither on nor off (expected --landlock on|off)",
		       o->landlock);
		return -EINVAL;
	}
	if (!landlock && o->nr_landlock_allow) {
		pr_err("--landlock-allow needs Landlock (expected no --landlock off)");
		return -EINVAL;
	}
	if (!instance_id_is_valid(o->id)) {
		pr_err("--id: '%.64s' is not an instance id (expected 1 to %d characters from "
		       "[A-Za-z0-9-])", o->id, API_INSTANCE_ID_MAX);
		return -EINVAL;
	}
	o->landlock_on = landlock;
	return 0;
}

/*
 * The filters' mode: --seccomp off|log|kill (kestrel's), Firecracker's
 * --no-seccomp (off) and its older --seccomp-level 0|1|2 (0 off; 1 and 2
 * both get kestrel's argument-checking filters). Default kill.
 */
static int fc_seccomp_mode(const struct fc_opts *o, enum seccomp_mode *mode)
{
	*mode = SECCOMP_MODE_KILL;
	if (o->no_seccomp)
		*mode = SECCOMP_MODE_OFF;
	if (o->seccomp && seccomp_parse_mode(o->seccomp, mode)) {
		pr_err("--seccomp: '%.32s' is not a seccomp mode (expected --seccomp off|log|kill)",
		       o->seccomp);
		return -EINVAL;
	}
	if (o->seccomp_level) {
		if (strlen(o->seccomp_level) != 1 || o->seccomp_level[0] < '0' ||
		    o->seccomp_level[0] > '2') {
			pr_err("--seccomp-level: '%.32s' is not a level (expected --seccomp-level 0|1|2)",
			       o->seccomp_level);
			return -EINVAL;
		}
		if (o->seccomp_level[0] == '0')
			*mode = SECCOMP_MODE_OFF;
	}
	return 0;
}

/*
 * Once the API socket is bound and before any thread exists. The API
 * names the files it opens at run time (kernels, drives, a PATCH's new
 * drive, log and metrics paths), so they may be anywhere under the
 * --landlock-allow directories: by default "/", which jailed is the
 * chroot. Everything else stays denied: executing, creating anything but
 * regular files and FIFOs, removing files but the socket, TCP, abstract
 * sockets and signals outside the process.
 */
#define FC_LANDLOCK_TREE	(LANDLOCK_ALLOW_RW | LANDLOCK_ALLOW_CREATE | LANDLOCK_ALLOW_REMOVE | \
				 LANDLOCK_ALLOW_LIST | LANDLOCK_ALLOW_DEVICE | LANDLOCK_ALLOW_SOCKET)

static int fc_confine(const struct fc_opts *o)
{
	char dir[PATH_MAX];
	struct landlock *ll;
	struct stat st;
	int ret;

	for (unsigned int i = 0; i < o->nr_landlock_allow; i++) {
		if (stat(o->landlock_allow[i], &st) || !S_ISDIR(st.st_mode)) {
			pr_err("--landlock-allow: '%.256s' is not a directory (expected --landlock-allow DIR)",
			       o->landlock_allow[i]);
			return -EINVAL;
		}
	}
	ret = landlock_create(&ll);
	/* Files the API names (drives, snapshots written crash-safe: created, renamed over, directory fsynced). */
	for (unsigned int i = 0; !ret && i < o->nr_landlock_allow; i++)
		ret = landlock_allow(ll, o->landlock_allow[i], FC_LANDLOCK_TREE);
	if (!ret && !o->nr_landlock_allow)
		ret = landlock_allow(ll, "/", FC_LANDLOCK_TREE);
	if (!ret)
		ret = landlock_allow(ll, "/dev/kvm", LANDLOCK_ALLOW_RW | LANDLOCK_ALLOW_DEVICE);
	if (!ret)
		ret = landlock_allow(ll, "/dev/net/tun", LANDLOCK_ALLOW_RW | LANDLOCK_ALLOW_DEVICE);
	if (!ret && o->config_file)
		ret = landlock_allow(ll, o->config_file, LANDLOCK_ALLOW_READ);
	if (!ret && !o->no_api) {
		/* The socket is removed at exit. */
		snprintf(dir, sizeof(dir), "%s", o->api_sock);
		ret = landlock_allow(ll, dirname(dir), LANDLOCK_ALLOW_REMOVE);
	}
	if (ret)
		pr_err("landlock: cannot set up the rules: %s", strerror(-ret));
	else
		ret = landlock_apply(ll);
	landlock_destroy(ll);
	return ret;
}

static int fc_setup_logger(struct api *api, const struct fc_opts *o)
{
	struct api_logger_config lc = {
		.level = LOG_INFO, .show_level = o->show_level,
		.show_origin = o->show_log_origin,
	};
	char err[API_ERR_MAX];
	int ret;

	if (o->level && api_logger_parse_level(o->level, &lc)) {
		pr_err("--level: '%.32s' is not a level (expected Error, Warning, Info, Debug, "
		       "Trace or Off)", o->level);
		return -EINVAL;
	}
	if (o->log_path) {
		lc.path = strdup(o->log_path);
		if (!lc.path)
			return -ENOMEM;
	}
	ret = api_logger_apply(&lc, api->instance_id, err, sizeof(err));
	if (ret) {
		pr_err("--log-path: %s", err);
		api_logger_config_release(&lc);
		return ret;
	}
	api->logger = lc;
	api->logger_set = o->log_path || o->level || o->show_level || o->show_log_origin;
	return 0;
}

/* Read --config-file whole; Return: the bytes (malloc'd, NUL-terminated) or NULL. */
static char *read_config(const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > MAX_CONFIG_FILE) {
		pr_err("--config-file: cannot read '%.256s'%s (expected a JSON file of at most %d bytes)",
		       path, fd < 0 ? ": no such file or no access" : "", MAX_CONFIG_FILE);
		goto out_close;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto out_close;
	while (got < (size_t)st.st_size && (n = read(fd, buf + got, st.st_size - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	*len = got;
out_close:
	if (fd >= 0)
		close(fd);
	return buf;
}

/* SIGINT/SIGTERM become a readable fd (blocked before any thread starts). */
static int fc_signalfd(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

/*
 * The VMM thread: until a signal or the VM's own stop. @started says
 * whether a VM runs (the config file's); a mailbox START can start one.
 * Once one runs, this thread's set-up is over: it takes its filter.
 * Return: the exit status.
 */
static int fc_loop(struct api *api, struct api_mailbox *mb, struct api_vmm *vmm,
		   int sigfd, bool started)
{
	if (started)
		seccomp_thread_enter(SECCOMP_THREAD_CONTROL);
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = mb ? api_mailbox_fd(mb) : -1, .events = POLLIN },
			{ .fd = started ? vmm->ops->stopped_fd(vmm) : -1, .events = POLLIN },
		};
		struct signalfd_siginfo si;
		int n;

		n = poll(p, ARRAY_SIZE(p), mb ? -1 : METRICS_PERIOD_MS);
		if (n < 0 && errno != EINTR)
			return VM_EXIT_HOST_ERROR;
		if (n == 0)
			api_metrics_flush(api);	/* --no-api: nobody else flushes */
		if (p[0].revents && read(sigfd, &si, sizeof(si)) == sizeof(si)) {
			pr_info("caught signal %u, stopping", si.ssi_signo);
			return started ? vmm->ops->stop(vmm, true) : VM_EXIT_INTERRUPTED;
		}
		if (p[2].revents)
			return vmm->ops->stop(vmm, false);
		if (p[1].revents && api_mailbox_serve(mb, vmm) && !started) {
			started = true;
			seccomp_thread_enter(SECCOMP_THREAD_CONTROL);
		}
	}
}

int api_fc_main(int argc, char **argv, struct api_vmm *vmm)
{
	struct fc_opts o = { .api_sock = DEFAULT_API_SOCK, .id = DEFAULT_INSTANCE_ID };
	struct api_mailbox *mb = NULL;
	struct api_server *server = NULL;
	char err[API_ERR_MAX], *text;
	int ret, sigfd, status = VM_EXIT_HOST_ERROR;
	struct api *api = NULL;
	bool started = false;
	size_t len = 0;
	int listen_fd = -1;
	u64 startup_us = 0, startup_cpu_us = 0;

	enum seccomp_mode seccomp;

	if (fc_parse(argc, argv, &o) || fc_seccomp_mode(&o, &seccomp))
		return VM_EXIT_USAGE;
	/* Before any thread exists (the API thread, the VM's). */
	ret = seccomp_set_mode(seccomp);
	if (ret) {
		pr_err("--seccomp: cannot set up the filters: %s", strerror(-ret));
		return VM_EXIT_HOST_ERROR;
	}
	/*
	 * The socket before anything else (the logger, the signals, the
	 * API's state): clients may connect, and queue, from here on.
	 */
	if (!o.no_api) {
		listen_fd = api_server_listen(o.api_sock);	/* an error is logged below */
		startup_us = api_uptime_us();
		startup_cpu_us = api_cpu_us();
	}
	sigfd = fc_signalfd();
	if (sigfd < 0) {
		pr_err("cannot take SIGINT/SIGTERM: %s", strerror(-sigfd));
		goto out_unlisten;
	}
	if (api_create(vmm, o.id, &api))
		goto out_close;
	ret = fc_setup_logger(api, &o);
	if (ret) {
		status = ret == -EINVAL ? VM_EXIT_USAGE : VM_EXIT_HOST_ERROR;
		goto out_destroy;
	}
	pr_info("Running Firecracker v%s (kestrel %s)", API_FIRECRACKER_VERSION, KESTREL_VERSION);
	for (unsigned int i = 0; i < o.nr_ignored; i++)
		pr_info("%s ignored: %s", o.ignored[i]->name, o.ignored[i]->ignored);
	pr_info("seccomp: %s", seccomp == SECCOMP_MODE_OFF ? "off, no filter installed" :
		seccomp == SECCOMP_MODE_LOG ? "log, a filter per thread (the kernel logs what it would refuse)" :
		"kill, a filter per thread");
	if (o.boot_timer)
		pr_info("--boot-timer: the boot timer device is always there in kestrel");
	if (o.metrics_path && api_metrics_open(&api->metrics, o.metrics_path, err,
					       sizeof(err))) {
		pr_err("--metrics-path: %s", err);
		status = VM_EXIT_USAGE;
		goto out_destroy;
	}

	if (listen_fd < 0 && !o.no_api) {
		pr_err("--api-sock: cannot listen on '%.256s': %s%s", o.api_sock,
		       strerror(-listen_fd), listen_fd == -EADDRINUSE ? " (remove it first)" : "");
		goto out_destroy;
	}
	if (!o.no_api) {
		ret = api_mailbox_create(&mb);
		if (!ret) {
			ret = api_server_create_on(api, o.api_sock, listen_fd, &server);
			listen_fd = -1;	/* the server's now, even on failure */
		}
		if (ret) {
			pr_err("--api-sock: cannot serve '%.256s': %s", o.api_sock, strerror(-ret));
			goto out_destroy;
		}
		pr_info("Listening on API socket (\"%s\").", o.api_sock);
		api->metrics.startup_us = startup_us;
		api->metrics.startup_cpu_us = startup_cpu_us;
	} else {
		api->metrics.startup_us = api_uptime_us();
		api->metrics.startup_cpu_us = api_cpu_us();
	}
	if (o.landlock_on) {
		ret = fc_confine(&o);
		if (ret) {
			status = ret == -EINVAL ? VM_EXIT_USAGE : VM_EXIT_HOST_ERROR;
			goto out_destroy;
		}
	}

	if (o.config_file) {
		text = read_config(o.config_file, &len);
		if (!text) {
			status = VM_EXIT_USAGE;
			goto out_destroy;
		}
		ret = api_load_config(api, text, len, err, sizeof(err));
		free(text);
		if (ret) {
			pr_err("%s", err);
			status = VM_EXIT_USAGE;
			goto out_destroy;
		}
		ret = api_instance_start(api, err, sizeof(err));
		if (ret) {
			pr_err("%s", err);
			goto out_destroy;
		}
		started = true;
		pr_info("Successfully started microvm that was configured from one single json");
	}
	if (server) {
		api->mbox = mb;
		ret = api_server_start(server);
		if (ret) {
			pr_err("cannot start the API thread: %s", strerror(-ret));
			if (started)
				vmm->ops->stop(vmm, true);
			goto out_destroy;
		}
		pr_info("API server started.");
	}
	status = fc_loop(api, mb, vmm, sigfd, started);

out_destroy:
	if (mb)
		api_mailbox_shutdown(mb);
	api_server_destroy(server);
	api_mailbox_destroy(mb);
	if (api && api->metrics.fd >= 0)
		api_metrics_flush(api);
	api_destroy(api);
	api_logger_close();
out_close:
	close(sigfd);
out_unlisten:
	if (listen_fd >= 0) {	/* never handed to the server: ours to undo */
		close(listen_fd);
		unlink(o.api_sock);
	}
	return status;
}
