// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-balloon (virtio 1.2 §5.5): the host sets a target (num_pages),
 * the driver gives pages back through inflateq, takes them again through
 * deflateq, sends memory statistics through statsq when the device asks
 * (VIRTIO_BALLOON_F_STATS_VQ), and reports free pages through reporting_vq
 * (VIRTIO_BALLOON_F_REPORTING).
 *
 * Releasing memory. The device reaches guest memory only through its
 * IOTLB: a guest PFN is an IOVA (PFN << 12), translated to a host address
 * that must be mapped device-writable (giving a page away is a write).
 * The page is then dropped with madvise(MADV_REMOVE), which frees the
 * backing of a shared mapping (a memfd, or a vhost-user front-end's
 * memory fd: the same as FALLOC_FL_PUNCH_HOLE on the file at that
 * offset), and, where the mapping is private (MADV_REMOVE says EINVAL for
 * anonymous memory, EACCES for a private file mapping), with MADV_DONTNEED. Either way the next guest access finds a
 * zero page, which is what a deflated or reused page may hold. So the
 * device never needs to know which fd or offset backs an address.
 *
 * A PFN that does not translate (outside RAM, an MMIO hole, the private
 * RAM of a protected guest, which the IOTLB never holds) or that is not
 * writable is refused: counted, logged (rate-limited) and skipped; the
 * rest of the request is served. Hugepage-backed RAM cannot give back
 * 4 KiB pieces; madvise() refuses them and they are counted as not
 * released.
 *
 * Statistics follow §5.5.6.3: the driver's first buffer arrives with
 * statistics; the device keeps (holds) it, and every stats_interval_s
 * seconds gives it back, which asks the driver for fresh figures in a new
 * buffer. A one-shot timerfd in the worker's epoll set brings the worker
 * back when the buffer is due.
 *
 * Queue indexes depend on the negotiated features (§5.5.2): 0 inflateq,
 * 1 deflateq, then statsq if STATS_VQ, then reporting_vq if REPORTING
 * (free_page_vq is never offered).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/vdpa-dev.h>

#include "devices.h"

#include "swdev/swdev.h"

/* Feature bits (virtio 1.2 §5.5.3). */
#define BALLOON_F_STATS_VQ		1
#define BALLOON_F_DEFLATE_ON_OOM	2
#define BALLOON_F_REPORTING		5

#define BALLOON_PFN_SHIFT	12
#define BALLOON_PAGE_SIZE	(1ULL << BALLOON_PFN_SHIFT)

/* Config space (§5.5.4): num_pages, actual, free_page_hint_cmd_id, poison_val. */
#define BALLOON_CFG_NUM_PAGES	0
#define BALLOON_CFG_ACTUAL	4
#define BALLOON_CFG_SIZE	16

/* Queues at most: inflateq, deflateq, statsq, reporting_vq. */
#define BALLOON_NVQS		4

/* PFNs read from a request at once. */
#define BALLOON_PFN_BATCH	256

/* One statistic as the driver lays it out: le16 tag, le64 value, packed. */
struct balloon_stat {
	le16 tag;
	le64 val;
} __attribute__((packed));
_Static_assert(sizeof(struct balloon_stat) == 10, "virtio 1.2 §5.5.6.3");

enum balloon_vq_role {
	BALLOON_VQ_INFLATE,
	BALLOON_VQ_DEFLATE,
	BALLOON_VQ_STATS,
	BALLOON_VQ_REPORTING,
	BALLOON_VQ_NONE,
};

/**
 * struct balloon_config - creation attributes ("balloon,amount_mib=...")
 * @args: the part every type has
 * @amount_mib: the first target
 * @deflate_on_oom: offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM
 * @stats_polling_interval_s: seconds between statistics; 0: no statsq
 * @free_page_reporting: offer VIRTIO_BALLOON_F_REPORTING
 */
struct balloon_config {
	struct vdpa_dev_args args;
	u32 amount_mib;
	bool deflate_on_oom;
	u32 stats_polling_interval_s;
	bool free_page_reporting;
};

/**
 * struct vdpa_balloon - the device (everything under sw.lock)
 * @sw: the core (first: freed through it)
 * @info: counters and the last statistics, as vdpa_balloon_get_info() gives
 * @timerfd: the statistics timer, -1 without statsq
 * @stats_held: the driver's statistics buffer is held
 * @stats_head: its head
 * @stats_vq: the queue it came from
 * @stats_due_ns: when it goes back (CLOCK_MONOTONIC)
 * @stats_rearm: the interval changed: the worker re-arms the timer
 * @run_addr: start of the pages gathered for one madvise() (0: none)
 * @run_len: their bytes
 */
struct vdpa_balloon {
	struct swdev sw;
	struct vdpa_balloon_info info;
	int timerfd;
	bool stats_held;
	u16 stats_head;
	struct swdev_vq *stats_vq;
	u64 stats_due_ns;
	bool stats_rearm;
	u64 run_addr;
	u64 run_len;
};

static struct vdpa_balloon *to_balloon(struct swdev *sw)
{
	return container_of(sw, struct vdpa_balloon, sw);
}

/* What queue @idx is under the negotiated features (§5.5.2). */
static enum balloon_vq_role balloon_vq_role(const struct swdev *sw, u16 idx)
{
	u16 next = 2;

	if (idx < 2)
		return idx == 0 ? BALLOON_VQ_INFLATE : BALLOON_VQ_DEFLATE;
	if (swdev_has_feature(sw, BALLOON_F_STATS_VQ) && idx == next++)
		return BALLOON_VQ_STATS;
	if (swdev_has_feature(sw, BALLOON_F_REPORTING) && idx == next)
		return BALLOON_VQ_REPORTING;
	return BALLOON_VQ_NONE;
}

/* Give [addr, addr + len) back to the host. Return: bytes released. */
static u64 balloon_discard(struct vdpa_balloon *b, u64 addr, u64 len)
{
	void *p = (void *)(uintptr_t)addr;

	if (!len)
		return 0;
	if (madvise(p, len, MADV_REMOVE) == 0)
		return len;
	/* Private memory: anonymous (EINVAL) or a private file mapping (EACCES). */
	if ((errno == EINVAL || errno == EOPNOTSUPP || errno == EACCES) &&
	    madvise(p, len, MADV_DONTNEED) == 0)
		return len;
	b->info.release_failures += len / BALLOON_PAGE_SIZE;
	pr_warn_ratelimited("%s: cannot release 0x%llx bytes of guest RAM: %s",
			    b->sw.vdpa.name, (unsigned long long)len, strerror(errno));
	return 0;
}

static void balloon_run_flush(struct vdpa_balloon *b)
{
	b->info.released_bytes += balloon_discard(b, b->run_addr, b->run_len);
	b->run_addr = b->run_len = 0;
}

/* Queue page @addr for release, merging it with its host neighbour. */
static void balloon_run_add(struct vdpa_balloon *b, u64 addr)
{
	if (b->run_len && addr == b->run_addr + b->run_len) {
		b->run_len += BALLOON_PAGE_SIZE;
		return;
	}
	balloon_run_flush(b);
	b->run_addr = addr;
	b->run_len = BALLOON_PAGE_SIZE;
}

/*
 * The host address of guest page @pfn, or 0 when the device may not give
 * it away: not mapped in the IOTLB, not device-writable, or not one host
 * page (§5.5.6: the driver hands whole 4 KiB pages).
 */
static u64 balloon_translate(struct swdev_vq *vq, u32 pfn)
{
	struct iotlb_seg seg;
	ssize_t n;

	n = iotlb_translate(vq->vring.iotlb, (u64)pfn << BALLOON_PFN_SHIFT,
			    BALLOON_PAGE_SIZE, IOTLB_PERM_WO, &seg, 1);
	if (n != 1 || !IS_ALIGNED((u64)(uintptr_t)seg.addr, BALLOON_PAGE_SIZE))
		return 0;
	return (u64)(uintptr_t)seg.addr;
}

/*
 * Shell sort of a batch (at most BALLOON_PFN_BATCH): no allocation and no
 * syscall (glibc's qsort() asks sysinfo(), which the worker's filter does
 * not allow), fast on the ascending and descending runs drivers send.
 */
static void balloon_sort(u64 *a, size_t n)
{
	static const size_t gaps[] = { 57, 23, 10, 4, 1 };

	for (size_t g = 0; g < ARRAY_SIZE(gaps); g++) {
		size_t gap = gaps[g];

		for (size_t i = gap; i < n; i++) {
			u64 v = a[i];
			size_t j = i;

			for (; j >= gap && a[j - gap] > v; j -= gap)
				a[j] = a[j - gap];
			a[j] = v;
		}
	}
}

/*
 * inflateq and deflateq: a device-readable array of le32 PFNs (§5.5.6).
 * The host addresses of each batch are sorted first, so that pages the
 * driver lists in any order are released in as few madvise() calls as
 * their adjacency allows.
 */
static int balloon_pfn_chain(struct swdev *sw, struct swdev_vq *vq, bool inflate)
{
	struct vdpa_balloon *b = to_balloon(sw);
	le32 pfns[BALLOON_PFN_BATCH];
	u64 addrs[BALLOON_PFN_BATCH];
	ssize_t got;

	if (vringh_iov_length(&vq->riov) % sizeof(le32))
		return -EINVAL;	/* not an array of PFNs */
	while ((got = vringh_iov_pull(&vq->riov, pfns, sizeof(pfns))) > 0) {
		size_t n = (size_t)got / sizeof(le32), nr = 0;

		if (!inflate) {
			b->info.deflated_pages += n;
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			u32 pfn = le32_to_cpu(pfns[i]);
			u64 addr = balloon_translate(vq, pfn);

			if (!addr) {
				b->info.refused_pfns++;
				pr_warn_ratelimited("%s: inflate: PFN 0x%x is not guest RAM the device may release: refused",
						    sw->vdpa.name, pfn);
				continue;
			}
			addrs[nr++] = addr;
		}
		b->info.inflated_pages += nr;
		balloon_sort(addrs, nr);
		for (size_t i = 0; i < nr; i++)
			if (!i || addrs[i] != addrs[i - 1])	/* a PFN listed twice */
				balloon_run_add(b, addrs[i]);
	}
	balloon_run_flush(b);
	return 0;
}

static int balloon_inflate_chain(struct swdev *sw, struct swdev_vq *vq, u16 head,
				 u32 *len)
{
	return balloon_pfn_chain(sw, vq, true) ?: SWDEV_USED;
}

static int balloon_deflate_chain(struct swdev *sw, struct swdev_vq *vq, u16 head,
				 u32 *len)
{
	return balloon_pfn_chain(sw, vq, false) ?: SWDEV_USED;
}

/*
 * reporting_vq (§5.5.6.4): device-writable buffers that are the free pages
 * themselves, already translated (and permission-checked) by the ring
 * walker. Only the whole host pages inside each buffer are released.
 */
static int balloon_report_chain(struct swdev *sw, struct swdev_vq *vq, u16 head,
				u32 *len)
{
	struct vdpa_balloon *b = to_balloon(sw);

	for (unsigned int i = 0; i < vq->wiov.used; i++) {
		u64 start = (u64)(uintptr_t)vq->wiov.iov[i].iov_base;
		u64 end = start + vq->wiov.iov[i].iov_len;
		u64 first = ALIGN_UP(start, BALLOON_PAGE_SIZE);
		u64 last = end & ~(BALLOON_PAGE_SIZE - 1);

		if (last <= first)
			continue;
		b->info.reported_bytes += last - first;
		b->info.released_bytes += balloon_discard(b, first, last - first);
	}
	*len = 0;
	return SWDEV_USED;
}

/* Keep the statistics of a buffer; hold it until the next poll (§5.5.6.3). */
static int balloon_stats_chain(struct swdev *sw, struct swdev_vq *vq, u16 head,
			       u32 *len)
{
	struct vdpa_balloon *b = to_balloon(sw);
	struct balloon_stat st;

	if (b->stats_held) {
		/* A second buffer before the first went back: give it back. */
		*len = 0;
		return SWDEV_USED;
	}
	while (vringh_iov_pull(&vq->riov, &st, sizeof(st)) == sizeof(st)) {
		u16 tag = le16_to_cpu(st.tag);

		if (tag >= VDPA_BALLOON_NR_STATS)
			continue;	/* a statistic this device does not know */
		b->info.stats[tag] = le64_to_cpu(st.val);
		b->info.stats_valid |= 1U << tag;
	}
	b->info.stats_updates++;
	b->stats_held = true;
	b->stats_head = head;
	b->stats_vq = vq;
	b->stats_due_ns = swdev_now_ns() + (u64)b->info.stats_interval_s * 1000000000ULL;
	b->stats_rearm = true;
	return SWDEV_HELD;
}

/* The timer fires at @stats_due_ns (one-shot; the worker reads it off). */
static void balloon_stats_arm(struct vdpa_balloon *b)
{
	int ret;

	b->stats_rearm = false;
	/* due at once: 0 would disarm */
	ret = swdev_timerfd_at(b->timerfd, b->stats_due_ns ? b->stats_due_ns : 1);
	if (ret)
		pr_warn_ratelimited("%s: cannot arm the statistics timer: %s",
				    b->sw.vdpa.name, strerror(-ret));
}

/* Give the held statistics buffer back once it is due: a new request. */
static void balloon_stats_poll(struct vdpa_balloon *b)
{
	struct vringh_used_elem used;
	u64 expirations;

	if (!b->stats_held)
		return;
	if (swdev_now_ns() < b->stats_due_ns) {
		if (b->stats_rearm)
			balloon_stats_arm(b);
		return;
	}
	/*
	 * Edge-triggered: an unread expiry would not wake the worker again,
	 * but the next one does. Read it off here, not on every pass.
	 */
	if (read(b->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		pr_warn_ratelimited("%s: statistics timer: %s", b->sw.vdpa.name,
				    strerror(errno));
	b->stats_held = false;
	used = (struct vringh_used_elem){ .id = b->stats_head, .len = 0 };
	swdev_vq_complete(&b->sw, b->stats_vq, &used, 1);
}

static bool balloon_work(struct swdev *sw)
{
	struct vdpa_balloon *b = to_balloon(sw);
	bool more = false;

	for (u16 i = 0; i < sw->attr.nvqs; i++) {
		struct swdev_vq *vq = &sw->vqs[i];

		switch (balloon_vq_role(sw, i)) {
		case BALLOON_VQ_INFLATE:
			more |= swdev_vq_service(sw, vq, SWDEV_CHAIN_IN,
						 balloon_inflate_chain);
			break;
		case BALLOON_VQ_DEFLATE:
			more |= swdev_vq_service(sw, vq, SWDEV_CHAIN_IN,
						 balloon_deflate_chain);
			break;
		case BALLOON_VQ_STATS:
			more |= swdev_vq_service(sw, vq, SWDEV_CHAIN_IN,
						 balloon_stats_chain);
			break;
		case BALLOON_VQ_REPORTING:
			more |= swdev_vq_service(sw, vq, SWDEV_CHAIN_OUT,
						 balloon_report_chain);
			break;
		case BALLOON_VQ_NONE:
			break;
		}
	}
	balloon_stats_poll(b);
	return more;
}

static void balloon_update_config(struct swdev *sw)
{
	struct vdpa_balloon *b = to_balloon(sw);
	le32 v = cpu_to_le32(b->info.target_pages);

	memcpy(sw->config + BALLOON_CFG_NUM_PAGES, &v, sizeof(v));
}

/* The driver writes actual (§5.5.4); the other fields are the device's. */
static void balloon_write_config(struct swdev *sw, unsigned int offset,
				 const void *buf, unsigned int len)
{
	struct vdpa_balloon *b = to_balloon(sw);
	le32 actual;

	if (offset < BALLOON_CFG_ACTUAL || offset + len > BALLOON_CFG_ACTUAL + 4)
		return;
	memcpy(sw->config + offset, buf, len);
	memcpy(&actual, sw->config + BALLOON_CFG_ACTUAL, sizeof(actual));
	b->info.actual_pages = le32_to_cpu(actual);
}

/* Reset (§5.5.6): the driver starts again with an empty balloon. */
static void balloon_reset(struct swdev *sw)
{
	struct vdpa_balloon *b = to_balloon(sw);

	b->stats_held = false;
	b->stats_vq = NULL;
	b->info.actual_pages = 0;
	memset(sw->config + BALLOON_CFG_ACTUAL, 0, 4);
}

static void balloon_free(struct swdev *sw)
{
	struct vdpa_balloon *b = to_balloon(sw);

	if (b->timerfd >= 0)
		close(b->timerfd);
	free(b);
}

/* @vdpa as a balloon, or NULL: made by this type's management device. */
static struct vdpa_balloon *vdpa_to_balloon(struct vdpa_device *vdpa)
{
	if (!vdpa || vdpa->mdev != &vdpa_balloon_mgmt_dev)
		return NULL;
	return to_balloon(to_swdev(vdpa));
}

int vdpa_balloon_set_target(struct vdpa_device *vdpa, u32 pages)
{
	struct vdpa_balloon *b = vdpa_to_balloon(vdpa);
	bool running;

	if (!b)
		return -EINVAL;
	swdev_lock(&b->sw);
	b->info.target_pages = pages;
	balloon_update_config(&b->sw);
	running = b->sw.status & VIRTIO_CONFIG_S_DRIVER_OK;
	pthread_mutex_unlock(&b->sw.lock);
	/* §5.5.6.1: the driver reads num_pages again on a config change. */
	if (running)
		swdev_config_changed(&b->sw);
	return 0;
}

int vdpa_balloon_set_stats_interval(struct vdpa_device *vdpa, u32 seconds)
{
	struct vdpa_balloon *b = vdpa_to_balloon(vdpa);

	if (!b)
		return -EINVAL;
	if (b->timerfd < 0 || !seconds)
		return -EOPNOTSUPP;	/* statistics are on or off from creation */
	swdev_lock(&b->sw);
	b->info.stats_interval_s = seconds;
	/* The next statistics are asked for at once, then every @seconds. */
	b->stats_due_ns = 0;
	b->stats_rearm = true;
	pthread_mutex_unlock(&b->sw.lock);
	swdev_schedule(&b->sw);
	return 0;
}

int vdpa_balloon_get_info(struct vdpa_device *vdpa, struct vdpa_balloon_info *out)
{
	struct vdpa_balloon *b = vdpa_to_balloon(vdpa);

	if (!b)
		return -EINVAL;
	swdev_lock(&b->sw);
	*out = b->info;
	pthread_mutex_unlock(&b->sw.lock);
	return 0;
}

static int balloon_dev_add(struct vdpa_mgmt_dev *mdev, const void *config,
			   struct vdpa_device **out)
{
	const struct balloon_config *cfg = config;
	bool stats = cfg->stats_polling_interval_s != 0;
	struct swdev_attr attr = {
		.device_id = VIRTIO_ID_BALLOON,
		.nvqs = 2 + stats + cfg->free_page_reporting,
		.ngroups = 1,
		.nas = 1,
		.config_size = BALLOON_CFG_SIZE,
		.features = SWDEV_FEATURES,
		.work = balloon_work,
		.reset = balloon_reset,
		.update_config = balloon_update_config,
		.write_config = balloon_write_config,
		.free = balloon_free,
		.seccomp = SECCOMP_THREAD_DEV_BALLOON,
	};
	struct vdpa_balloon *b;
	int ret;

	if (stats)
		attr.features |= 1ULL << BALLOON_F_STATS_VQ;
	if (cfg->deflate_on_oom)
		attr.features |= 1ULL << BALLOON_F_DEFLATE_ON_OOM;
	if (cfg->free_page_reporting)
		attr.features |= 1ULL << BALLOON_F_REPORTING;
	b = xzalloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->timerfd = -1;
	b->info.target_pages = cfg->amount_mib * (u32)(1024 * 1024 / BALLOON_PAGE_SIZE);
	b->info.stats_interval_s = cfg->stats_polling_interval_s;
	b->info.deflate_on_oom = cfg->deflate_on_oom;
	b->info.free_page_reporting = cfg->free_page_reporting;
	ret = swdev_init(&b->sw, &attr);
	if (ret)
		goto err_destroy;
	balloon_update_config(&b->sw);
	if (stats) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET,
					  .data.u64 = SWDEV_EV_BACKEND };

		b->timerfd = xtimerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (b->timerfd < 0 ||
		    epoll_ctl(b->sw.epfd, EPOLL_CTL_ADD, b->timerfd, &ev) < 0) {
			ret = -errno;
			goto err_destroy;
		}
	}
	ret = swdev_register(&b->sw, cfg->args.name);
	if (ret)
		goto err_destroy;
	*out = &b->sw.vdpa;
	return 0;

err_destroy:
	pr_debug("vdpa: cannot create balloon: %s", strerror(-ret));
	swdev_destroy(&b->sw);
	return ret;
}

static const struct vdpa_attr balloon_attrs[] = {
	VDPA_ATTR_UINT(struct balloon_config, amount_mib, "amount_mib", 0, 16777215,
		       "target balloon size in MiB (the host may change it later)"),
	VDPA_ATTR_BOOL(struct balloon_config, deflate_on_oom, "deflate_on_oom",
		       "the guest may deflate the balloon when it runs out of memory"),
	VDPA_ATTR_UINT(struct balloon_config, stats_polling_interval_s,
		       "stats_polling_interval_s", 0, 86400,
		       "seconds between guest memory statistics (0: no statistics)"),
	VDPA_ATTR_BOOL(struct balloon_config, free_page_reporting, "free_page_reporting",
		       "the guest reports free pages, which the host releases"),
};

static const struct balloon_config balloon_defaults;

struct vdpa_mgmt_dev vdpa_balloon_mgmt_dev = {
	.type = "balloon",
	.description = "virtio-balloon: guest memory given back to the host",
	.device_id = VIRTIO_ID_BALLOON,
	.attrs = balloon_attrs,
	.nattrs = ARRAY_SIZE(balloon_attrs),
	.config_size = sizeof(struct balloon_config),
	.defaults = &balloon_defaults,
	.dev_add = balloon_dev_add,
};
