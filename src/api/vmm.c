// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VMM behind the API: struct vmconfig → struct machine_config →
 * machine_create(), then machine_run() on a thread of its own so the VMM
 * thread keeps serving the mailbox (pause, resume) while the guest runs.
 *
 * Devices take virtio-mmio slots in Firecracker's order: drives (root
 * first, so it is /dev/vda), then network interfaces (TAP), then the
 * entropy device, then the balloon ("fcballoon"). As Firecracker does, a root drive adds "root=/dev/vda"
 * (or "root=PARTUUID=...") and "ro" or "rw" to the kernel command line.
 * Drives and interfaces are named devices ("fcd<i>", "fcn<i>"), so that
 * their rate limiters, set once the devices exist and before a vCPU runs,
 * can be changed on the running guest (vdpa_set_rate_limit()).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#include <kestrel/fault.h>
#include <kestrel/machine.h>
#include <kestrel/snapshot.h>
#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>
#include <kestrel/virtio.h>
#include <kestrel/vm.h>

#include "internal.h"

/*
 * Firecracker's default when boot_args is not given, less i8042.nopnp, so
 * that Linux finds the keyboard through its PNP0303 device
 * (src/arch/x86/acpi.c) and SendCtrlAltDel has a keyboard to reach. (That
 * was the only way while kestrel's ACPI platform was hardware-reduced;
 * since it has a PM block, IRQ 1 is a legacy ISA IRQ again and nopnp
 * would do too.)
 */
#define FC_DEFAULT_CMDLINE \
	"reboot=k panic=1 pci=off nomodules 8250.nr_uarts=0 i8042.noaux " \
	"i8042.nomux i8042.dumbkbd"
#define MAX_IMAGE		(1ULL << 30)
#define FC_BALLOON_NAME		"fcballoon"

/**
 * struct fc_vmm - the machine the API built
 * @vmm: what the API calls
 * @m: the machine, NULL until started
 * @devs: its virtio devices (outlive @m)
 * @kernel: the kernel image, mapped, or NULL (built-in guest)
 * @kernel_size: bytes
 * @initrd: the initrd, mapped, or NULL
 * @initrd_size: bytes
 * @cmdline: the command line given to the guest
 * @run_thread: runs machine_run()
 * @stopped_fd: eventfd, written when machine_run() returns
 * @status: machine_run()'s exit status (read after @run_thread joined)
 */
struct fc_vmm {
	struct api_vmm vmm;
	pthread_mutex_t m_lock;		/* @m against get_stats() of another thread */
	struct machine *m;
	struct virtio_devices *devs;
	void *kernel;
	size_t kernel_size;
	void *initrd;
	size_t initrd_size;
	char *cmdline;
	/* drive_id of each drive, in the order of their devices "fcd<i>" */
	char drive_ids[VMCONFIG_MAX_DRIVES][API_ID_MAX + 1];
	unsigned int nr_drives;
	/* iface_id of each interface, in the order of their devices "fcn<i>" */
	char net_ids[VMCONFIG_MAX_NETS][API_ID_MAX + 1];
	unsigned int nr_nets;
	pthread_t run_thread;
	int stopped_fd;
	int status;
};

static struct fc_vmm *to_fc_vmm(struct api_vmm *vmm)
{
	return container_of(vmm, struct fc_vmm, vmm);
}

static int map_image(const char *path, void **data, size_t *size, char *err,
		     size_t errlen)
{
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || !st.st_size ||
	    (u64)st.st_size > MAX_IMAGE) {
		snprintf(err, errlen, "cannot read '%.256s' (a non-empty file up to 1 GiB)", path);
		ret = -EINVAL;
		goto out_close;
	}
	*data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (*data == MAP_FAILED) {
		*data = NULL;
		snprintf(err, errlen, "cannot map '%.256s': %s", path, strerror(errno));
		ret = -ENOMEM;
		goto out_close;
	}
	*size = (size_t)st.st_size;
out_close:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* One device option for virtio_devices_parse_arg(), as "kestrel run" takes it. */
static int add_device(struct fc_vmm *v, const char *opt, const char *val,
		      const char *what, char *err, size_t errlen)
{
	int ret;

	ret = virtio_devices_parse_arg(v->devs, opt, val);
	if (ret)
		snprintf(err, errlen, "%s: cannot be attached (%s; see the log)", what,
			 strerror(-ret));
	return ret;
}

/* The API id of the device added last, saved in snapshots (network_overrides). */
static int label_device(struct fc_vmm *v, const char *id, const char *what, char *err,
			size_t errlen)
{
	int ret = virtio_devices_set_label(v->devs, id);

	if (ret)
		snprintf(err, errlen, "%s: %s", what, strerror(-ret));
	return ret;
}

/* The balloon, named so PATCH /balloon finds it (docs/balloon.md). */
static int add_balloon(const struct vmconfig *cfg, struct fc_vmm *v, char *err,
		       size_t errlen)
{
	const struct vmconfig_balloon *b = &cfg->balloon;
	char spec[160];

	/* machine-config may have shrunk since PUT /balloon. */
	if (b->amount_mib > cfg->machine.mem_size_mib) {
		snprintf(err, errlen, "balloon: amount_mib %u is more than the guest's memory "
			 "(mem_size_mib %llu)", b->amount_mib,
			 (unsigned long long)cfg->machine.mem_size_mib);
		return -EINVAL;
	}
	snprintf(spec, sizeof(spec), "amount_mib=%u,deflate_on_oom=%s,"
		 "stats_polling_interval_s=%u,free_page_reporting=%s,name=" FC_BALLOON_NAME,
		 b->amount_mib, b->deflate_on_oom ? "on" : "off", b->stats_polling_interval_s,
		 b->free_page_reporting ? "on" : "off");
	return add_device(v, "balloon", spec, "balloon", err, errlen);
}

static int add_devices(struct fc_vmm *v, const struct vmconfig *cfg, char *err,
		       size_t errlen)
{
	char spec[2 * PATH_MAX + 64], path[2 * PATH_MAX], what[96];
	int ret;

	for (unsigned int i = 0; i < cfg->nr_drives; i++) {
		const struct vmconfig_drive *d = &cfg->drives[i];

		snprintf(what, sizeof(what), "drive %s", d->id);
		/* The spec separates attributes with commas: the path's are doubled. */
		if (vdpa_mgmt_escape(d->path_on_host, path, sizeof(path))) {
			snprintf(err, errlen, "%s: path_on_host too long", what);
			return -EINVAL;
		}
		/*
		 * Named, so a drive update finds its device; an empty file is a
		 * 0-sector disk, as the placeholder drives orchestrators attach.
		 */
		snprintf(spec, sizeof(spec), "vdpa,type=file-blk,path=%s%s,allow_empty=on,name=fcd%u",
			 path, d->is_read_only ? ",ro=on" : "", i);
		ret = add_device(v, "device", spec, what, err, errlen);
		if (!ret)
			ret = label_device(v, d->id, what, err, errlen);
		if (ret)
			return ret;
		snprintf(v->drive_ids[i], sizeof(v->drive_ids[i]), "%s", d->id);
		v->nr_drives = i + 1;
	}
	for (unsigned int i = 0; i < cfg->nr_nets; i++) {
		const struct vmconfig_net *n = &cfg->nets[i];
		int len;

		/* A Linux interface name may hold a ',' too. */
		if (vdpa_mgmt_escape(n->host_dev_name, path, sizeof(path))) {
			snprintf(err, errlen, "interface %s: host_dev_name too long", n->id);
			return -EINVAL;
		}
		len = snprintf(spec, sizeof(spec), "tap=%s", path);

		if (n->has_mac)
			len += snprintf(spec + len, sizeof(spec) - len,
					",mac=%02x:%02x:%02x:%02x:%02x:%02x",
					n->guest_mac[0], n->guest_mac[1], n->guest_mac[2],
					n->guest_mac[3], n->guest_mac[4], n->guest_mac[5]);
		if (n->mtu)
			len += snprintf(spec + len, sizeof(spec) - len, ",mtu=%u", n->mtu);
		/* Named, so a rate limiter update finds its device. */
		snprintf(spec + len, sizeof(spec) - len, ",name=fcn%u", i);
		snprintf(what, sizeof(what), "interface %s", n->id);
		ret = add_device(v, "net", spec, what, err, errlen);
		if (!ret)
			ret = label_device(v, n->id, what, err, errlen);
		if (ret)
			return ret;
		snprintf(v->net_ids[i], sizeof(v->net_ids[i]), "%s", n->id);
		v->nr_nets = i + 1;
	}
	if (cfg->vsock) {
		if (vdpa_mgmt_escape(cfg->vsock_uds, path, sizeof(path))) {
			snprintf(err, errlen, "vsock: uds_path too long");
			return -EINVAL;
		}
		snprintf(spec, sizeof(spec), "cid=%u,uds=%s", cfg->vsock_cid, path);
		ret = add_device(v, "vsock", spec, "vsock", err, errlen);
		if (ret)
			return ret;
	}
	if (cfg->entropy) {
		ret = add_device(v, "rng", NULL, "entropy", err, errlen);
		if (ret)
			return ret;
	}
	if (cfg->balloon.set)
		return add_balloon(cfg, v, err, errlen);
	return 0;
}

/* boot_args (or Firecracker's default) plus the root device's arguments. */
static int build_cmdline(struct fc_vmm *v, const struct vmconfig *cfg, char *err,
			 size_t errlen)
{
	const struct vmconfig_drive *root = cfg->nr_drives && cfg->drives[0].is_root_device ?
					    &cfg->drives[0] : NULL;
	const char *base = cfg->boot.boot_args ? cfg->boot.boot_args : FC_DEFAULT_CMDLINE;
	int n;

	if (!root)
		n = asprintf(&v->cmdline, "%s", base);
	else if (root->partuuid)
		n = asprintf(&v->cmdline, "%s root=PARTUUID=%s %s", base, root->partuuid,
			     root->is_read_only ? "ro" : "rw");
	else
		n = asprintf(&v->cmdline, "%s root=/dev/vda %s", base,
			     root->is_read_only ? "ro" : "rw");
	if (n < 0) {
		v->cmdline = NULL;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static void *fc_vmm_run(void *arg)
{
	struct fc_vmm *v = arg;
	u64 one = 1;

	/* Kata pins the threads it finds by this name. */
	pthread_setname_np(pthread_self(), "fc_vmm");
	/* vm_run() installs this thread's filter once the vCPUs run. */
	v->status = machine_run(v->m);
	if (write(v->stopped_fd, &one, sizeof(one)) != sizeof(one))
		pr_err("cannot tell the VMM thread the VM stopped: %s", strerror(errno));
	return NULL;
}

static void fc_vmm_release(struct fc_vmm *v)
{
	struct machine *m;

	pthread_mutex_lock(&v->m_lock);
	m = v->m;
	v->m = NULL;
	pthread_mutex_unlock(&v->m_lock);
	machine_destroy(m);
	virtio_devices_destroy(v->devs);
	v->devs = NULL;
	if (v->kernel)
		munmap(v->kernel, v->kernel_size);
	if (v->initrd)
		munmap(v->initrd, v->initrd_size);
	v->kernel = v->initrd = NULL;
	free(v->cmdline);
	v->cmdline = NULL;
}

/*
 * The device of drive or interface @id: "fcd<i>" / "fcn<i>" (add_devices()).
 * Return: the device, or NULL with @err filled.
 */
static struct vdpa_device *find_limited(struct fc_vmm *v, enum api_limiter which,
					const char *id, char *err, size_t errlen)
{
	bool drive = which == API_LIMIT_DRIVE;
	unsigned int n = drive ? v->nr_drives : v->nr_nets;
	struct vdpa_device *vdpa;
	char name[16];

	for (unsigned int i = 0; i < n; i++) {
		if (strcmp(drive ? v->drive_ids[i] : v->net_ids[i], id))
			continue;
		snprintf(name, sizeof(name), "%s%u", drive ? "fcd" : "fcn", i);
		vdpa = vdpa_find_device(name);
		if (!vdpa)
			snprintf(err, errlen, "the device of %s %s is gone",
				 drive ? "drive" : "interface", id);
		return vdpa;
	}
	snprintf(err, errlen, "no %s %s in the running microVM",
		 drive ? "drive" : "interface", id);
	return NULL;
}

static void vdpa_bucket_of(struct vdpa_bucket *out, const struct vmconfig_bucket *b)
{
	*out = (struct vdpa_bucket){ b->size, b->one_time_burst, b->refill_time_ms };
}

/*
 * Give the device of @id the buckets of @rl that are set (@all: both, as
 * at start-up). Return: 0 or -errno with @err filled.
 */
static int set_limiter(struct fc_vmm *v, enum api_limiter which, const char *id,
		       const struct vmconfig_rate_limiter *rl, bool all, char *err,
		       size_t errlen)
{
	static const enum vdpa_limit limit_of[] = {
		[API_LIMIT_DRIVE] = VDPA_LIMIT_BLK,
		[API_LIMIT_NET_RX] = VDPA_LIMIT_NET_RX,
		[API_LIMIT_NET_TX] = VDPA_LIMIT_NET_TX,
	};
	struct vdpa_device *vdpa = find_limited(v, which, id, err, errlen);
	struct vdpa_bucket bw, ops;
	int ret;

	if (!vdpa)
		return -ENOENT;
	vdpa_bucket_of(&bw, &rl->bandwidth);
	vdpa_bucket_of(&ops, &rl->ops);
	ret = vdpa_set_rate_limit(vdpa, limit_of[which],
				  all || rl->bandwidth.set ? &bw : NULL,
				  all || rl->ops.set ? &ops : NULL);
	if (ret)
		snprintf(err, errlen, "cannot set the rate limiter: %s", strerror(-ret));
	return ret;
}

/* The rate limiters of the configuration, on the devices just made. */
static int apply_rate_limiters(struct fc_vmm *v, const struct vmconfig *cfg,
			       char *err, size_t errlen)
{
	int ret = 0;

	for (unsigned int i = 0; !ret && i < cfg->nr_drives; i++)
		if (vmconfig_rate_limiter_limits(&cfg->drives[i].rate_limiter))
			ret = set_limiter(v, API_LIMIT_DRIVE, cfg->drives[i].id,
					  &cfg->drives[i].rate_limiter, true, err, errlen);
	for (unsigned int i = 0; !ret && i < cfg->nr_nets; i++) {
		const struct vmconfig_net *n = &cfg->nets[i];

		if (vmconfig_rate_limiter_limits(&n->rx_rate_limiter))
			ret = set_limiter(v, API_LIMIT_NET_RX, n->id, &n->rx_rate_limiter,
					  true, err, errlen);
		if (!ret && vmconfig_rate_limiter_limits(&n->tx_rate_limiter))
			ret = set_limiter(v, API_LIMIT_NET_TX, n->id, &n->tx_rate_limiter,
					  true, err, errlen);
	}
	return ret;
}

/* machine_run() of the built machine on the thread "fc_vmm". */
static int fc_vmm_run_thread(struct fc_vmm *v, char *err, size_t errlen)
{
	int ret = xpthread_create(&v->run_thread, NULL, fc_vmm_run, v);

	if (ret) {
		snprintf(err, errlen, "cannot start the VM thread: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

static int fc_vmm_start(struct api_vmm *vmm, const struct vmconfig *cfg, char *err,
			size_t errlen)
{
	struct fc_vmm *v = to_fc_vmm(vmm);
	struct machine_config mc;
	int ret;

	ret = machine_devices_create(&v->devs);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	/* Firecracker's devices are virtio-mmio, whatever the kernel (docs/pci.md). */
	ret = virtio_devices_parse_arg(v->devs, "transport", "mmio");
	if (!ret)
		ret = add_devices(v, cfg, err, errlen);
	if (!ret && cfg->boot.kernel_image_path)
		ret = map_image(cfg->boot.kernel_image_path, &v->kernel, &v->kernel_size,
				err, errlen);
	if (!ret && cfg->boot.initrd_path)
		ret = map_image(cfg->boot.initrd_path, &v->initrd, &v->initrd_size, err, errlen);
	if (!ret && cfg->boot.kernel_image_path)
		ret = build_cmdline(v, cfg, err, errlen);
	if (ret)
		goto err_release;

	/* Without boot-source: kestrel's built-in test guest (Firecracker refuses). */
	mc = (struct machine_config){
		.ram_size = cfg->machine.mem_size_mib << 20,
		.nr_cpus = cfg->machine.vcpu_count,
		.protected = cfg->machine.protected,
		.kernel = v->kernel,
		.kernel_size = v->kernel_size,
		.kernel_name = cfg->boot.kernel_image_path,
		.initrd = v->initrd,
		.initrd_size = v->initrd_size,
		.cmdline = v->cmdline,
		.devs = v->devs,
		.console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO,
		/* Kata pins the threads it finds by this name. */
		.vcpu_thread_name = "fc_vcpu ",
	};
	ret = machine_create(&mc, &v->m);
	if (ret) {
		snprintf(err, errlen, "cannot build the VM: %s (the log says which part)",
			 ret == -EINVAL ? "the configuration does not work here" : strerror(-ret));
		goto err_release;
	}
	/* The devices exist now; no vCPU has run yet. */
	ret = apply_rate_limiters(v, cfg, err, errlen);
	if (!ret)
		ret = fc_vmm_run_thread(v, err, errlen);
	if (ret)
		goto err_release;
	return 0;

err_release:
	fc_vmm_release(v);
	return ret;
}

static int fc_vmm_snapshot_create(struct api_vmm *vmm, const char *state_path,
				  const char *mem_path, char *err, size_t errlen)
{
	return machine_snapshot_files(to_fc_vmm(vmm)->m, state_path, mem_path, NULL, err,
				      errlen);
}

/* Firecracker's PUT /snapshot/load: the machine the snapshot describes. */
static int fc_vmm_snapshot_load(struct api_vmm *vmm, const char *state_path,
				const char *mem_path, bool resume, struct vdev_override *overrides,
				unsigned int nr_overrides, char *err, size_t errlen)
{
	struct fc_vmm *v = to_fc_vmm(vmm);
	struct machine_config mc = {
		.console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO,
		.vcpu_thread_name = "fc_vcpu ",
		.overrides = overrides,
		.nr_overrides = nr_overrides,
	};
	struct snap_reader *r;
	int ret;

	ret = snap_reader_open_files(state_path, mem_path, NULL, &r, err, errlen);
	if (ret)
		return ret;
	ret = machine_devices_create(&v->devs);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	mc.devs = v->devs;
	ret = machine_config_from_snapshot(r, &mc);
	if (ret == -ENOENT) {
		snprintf(err, errlen, "a network_overrides iface_id names no interface of the snapshot");
		fc_vmm_release(v);
		goto out;
	}
	if (ret) {
		snprintf(err, errlen, "the snapshot describes no machine kestrel can build");
		fc_vmm_release(v);
		goto out;
	}
	mc.restore = r;
	ret = machine_create(&mc, &v->m);
	if (ret) {
		snprintf(err, errlen, "cannot restore the VM: %s (the log says which part)",
			 ret == -EINVAL ? "the snapshot does not load here" : strerror(-ret));
		fc_vmm_release(v);
		goto out;
	}
	if (!resume)
		vm_pause(machine_vm(v->m));
	ret = fc_vmm_run_thread(v, err, errlen);
	if (ret)
		fc_vmm_release(v);
out:
	snap_reader_destroy(r);
	return ret;
}

static int fc_vmm_pause(struct api_vmm *vmm)
{
	return vm_pause(machine_vm(to_fc_vmm(vmm)->m));
}

static int fc_vmm_resume(struct api_vmm *vmm)
{
	vm_resume(machine_vm(to_fc_vmm(vmm)->m));
	return 0;
}

/* Firecracker's SendCtrlAltDel: the keys on the i8042's keyboard. */
static int fc_vmm_ctrl_alt_del(struct api_vmm *vmm)
{
	int ret = machine_send_ctrl_alt_del(to_fc_vmm(vmm)->m);

	if (!ret)
		pr_info("SendCtrlAltDel: Ctrl+Alt+Del pressed on the i8042's keyboard");
	return ret;
}

/* PATCH /drives/{id} with a new path_on_host: Kata's block hotplug. */
static int fc_vmm_update_drive(struct api_vmm *vmm, const struct vmconfig_drive *d,
			       char *err, size_t errlen)
{
	struct fc_vmm *v = to_fc_vmm(vmm);
	struct vdpa_device *vdpa;
	char name[16];
	int ret;

	if (!d->path_on_host)
		return 0;	/* no new file (a rate limiter goes its own way) */
	for (unsigned int i = 0; i < v->nr_drives; i++) {
		if (strcmp(v->drive_ids[i], d->id))
			continue;
		snprintf(name, sizeof(name), "fcd%u", i);
		vdpa = vdpa_find_device(name);
		ret = vdpa ? vdpa_file_blk_replace(vdpa, d->path_on_host) : -ENODEV;
		if (ret)
			snprintf(err, errlen, "cannot use path_on_host %.300s: %s (see the log)",
				 d->path_on_host, strerror(-ret));
		return ret;
	}
	snprintf(err, errlen, "no drive %s in the running microVM", d->id);
	return -ENOENT;
}

/* PATCH /drives/{id}, /network-interfaces/{id} with rate limiters. */
static int fc_vmm_set_rate_limiter(struct api_vmm *vmm, enum api_limiter which,
				   const char *id, const struct vmconfig_rate_limiter *rl,
				   char *err, size_t errlen)
{
	return set_limiter(to_fc_vmm(vmm), which, id, rl, false, err, errlen);
}

/* PATCH /balloon, /balloon/statistics on the running guest. */
static int fc_vmm_update_balloon(struct api_vmm *vmm, const struct vmconfig_balloon *b,
				 bool target, bool interval, char *err, size_t errlen)
{
	struct vdpa_device *vdpa = vdpa_find_device(FC_BALLOON_NAME);
	int ret = 0;

	if (!vdpa) {
		snprintf(err, errlen, "the running microVM has no balloon device");
		return -ENODEV;
	}
	if (target)
		ret = vdpa_balloon_set_target(vdpa, b->amount_mib * 256);	/* 4 KiB pages */
	if (!ret && interval)
		ret = vdpa_balloon_set_stats_interval(vdpa, b->stats_polling_interval_s);
	if (ret)
		snprintf(err, errlen, "the balloon device refused it: %s", strerror(-ret));
	return ret;
}

static int fc_vmm_get_balloon(struct api_vmm *vmm, struct vdpa_balloon_info *info)
{
	struct fc_vmm *v = to_fc_vmm(vmm);
	struct vdpa_device *vdpa;
	int ret = -ENODEV;

	pthread_mutex_lock(&v->m_lock);
	vdpa = v->m ? vdpa_find_device(FC_BALLOON_NAME) : NULL;
	if (vdpa)
		ret = vdpa_balloon_get_info(vdpa, info) ? -ENODEV : 0;
	pthread_mutex_unlock(&v->m_lock);
	return ret;
}

/* Add a balloon's counters. */
static void add_balloon_stats(struct vdpa_device *vdpa, struct api_vmm_stats *s)
{
	struct vdpa_balloon_info info;

	if (vdpa_balloon_get_info(vdpa, &info))
		return;
	s->balloon_inflated_pages += info.inflated_pages;
	s->balloon_deflated_pages += info.deflated_pages;
	s->balloon_refused_pfns += info.refused_pfns;
	s->balloon_released_bytes += info.released_bytes;
	s->balloon_reported_bytes += info.reported_bytes;
	s->balloon_stats_updates += info.stats_updates;
}

/* Add a device's queue counters: virtio-net (RX even, TX odd) and blk. */
static int add_device_stats(struct vdpa_device *vdpa, void *opaque)
{
	struct api_vmm_stats *s = opaque;
	u32 id = vdpa_get_device_id(vdpa);
	struct vdpa_vsock_stats v;
	struct vdpa_vq_stats q;
	u64 n;

	if (id == VIRTIO_ID_BALLOON) {
		add_balloon_stats(vdpa, s);
		return 0;
	}
	/* Devices without a limit (-EOPNOTSUPP) add nothing. */
	if (id == VIRTIO_ID_BLOCK && !vdpa_get_rate_limit_throttled(vdpa, VDPA_LIMIT_BLK, &n))
		s->block_throttled += n;
	if (id == VIRTIO_ID_NET && !vdpa_get_rate_limit_throttled(vdpa, VDPA_LIMIT_NET_RX, &n))
		s->net_rx_throttled += n;
	if (id == VIRTIO_ID_NET && !vdpa_get_rate_limit_throttled(vdpa, VDPA_LIMIT_NET_TX, &n))
		s->net_tx_throttled += n;
	if (id == VIRTIO_ID_VSOCK && !vdpa_vsock_get_stats(vdpa, &v)) {
		const u64 *from = (const u64 *)&v;
		u64 *to = (u64 *)&s->vsock;

		for (size_t k = 0; k < sizeof(v) / sizeof(u64); k++)
			to[k] += from[k];
		if (!vdpa_get_vq_stats(vdpa, 0, &q))
			s->vsock_rx_kicks += q.kicks;
		if (!vdpa_get_vq_stats(vdpa, 1, &q))
			s->vsock_tx_kicks += q.kicks;
	}
	for (u16 i = 0; i < vdpa->nvqs; i++) {
		if (vdpa_get_vq_stats(vdpa, i, &q))
			continue;
		if (id == VIRTIO_ID_BLOCK) {
			s->block_requests += q.packets;
			s->block_bytes += q.bytes;
		} else if (id == VIRTIO_ID_NET && (vdpa->nvqs % 2 == 0 || i + 1u < vdpa->nvqs)) {
			/* The last queue of an odd count is the control queue. */
			if (i % 2 == 0) {
				s->net_rx_packets += q.packets;
				s->net_rx_bytes += q.bytes;
			} else {
				s->net_tx_packets += q.packets;
				s->net_tx_bytes += q.bytes;
			}
		}
	}
	return 0;
}

static void fc_vmm_get_stats(struct api_vmm *vmm, struct api_vmm_stats *stats)
{
	struct fc_vmm *v = to_fc_vmm(vmm);
	struct vm_exit_stats e;

	*stats = (struct api_vmm_stats){ 0 };
	pthread_mutex_lock(&v->m_lock);
	if (!v->m) {
		pthread_mutex_unlock(&v->m_lock);
		return;
	}
	vm_get_exit_stats(machine_vm(v->m), &e);
	stats->vcpu_exit_io_in = e.io_in;
	stats->vcpu_exit_io_out = e.io_out;
	stats->vcpu_exit_mmio_read = e.mmio_read;
	stats->vcpu_exit_mmio_write = e.mmio_write;
	/* One VM per process in this mode: every device on the bus is ours. */
	vdpa_for_each_device(add_device_stats, stats);
	pthread_mutex_unlock(&v->m_lock);
}

static int fc_vmm_stopped_fd(struct api_vmm *vmm)
{
	return to_fc_vmm(vmm)->stopped_fd;
}

static int fc_vmm_stop(struct api_vmm *vmm, bool requested)
{
	struct fc_vmm *v = to_fc_vmm(vmm);
	int status;

	if (requested) {
		vm_request_stop(machine_vm(v->m), VM_STOP_USER, 0);
		vm_resume(machine_vm(v->m));	/* a paused vCPU honours the stop too */
	}
	pthread_join(v->run_thread, NULL);
	status = v->status;
	fc_vmm_release(v);
	return status;
}

static const struct api_vmm_ops fc_vmm_ops = {
	.start = fc_vmm_start,
	.pause = fc_vmm_pause,
	.resume = fc_vmm_resume,
	.send_ctrl_alt_del = fc_vmm_ctrl_alt_del,
	.update_drive = fc_vmm_update_drive,
	.set_rate_limiter = fc_vmm_set_rate_limiter,
	.update_balloon = fc_vmm_update_balloon,
	.get_balloon = fc_vmm_get_balloon,
	.snapshot_create = fc_vmm_snapshot_create,
	.snapshot_load = fc_vmm_snapshot_load,
	.get_stats = fc_vmm_get_stats,
	.stopped_fd = fc_vmm_stopped_fd,
	.stop = fc_vmm_stop,
};

int api_vmm_create(struct api_vmm **out)
{
	struct fc_vmm *v = xcalloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	v->vmm.ops = &fc_vmm_ops;
	pthread_mutex_init(&v->m_lock, NULL);
	v->stopped_fd = xeventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->stopped_fd < 0) {
		int ret = v->stopped_fd;

		free(v);
		return ret;
	}
	*out = &v->vmm;
	return 0;
}

void api_vmm_destroy(struct api_vmm *vmm)
{
	struct fc_vmm *v;

	if (!vmm)
		return;
	v = to_fc_vmm(vmm);
	fc_vmm_release(v);
	close(v->stopped_fd);
	pthread_mutex_destroy(&v->m_lock);
	free(v);
}
