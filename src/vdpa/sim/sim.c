// SPDX-License-Identifier: GPL-2.0-only
/*
 * vDPA simulator core: queue bookkeeping, address spaces, status, the
 * worker thread, and the one ops table both simulators share. What a
 * device does with its queues lives in net.c and blk.c.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>

#include "internal.h"

/* epoll data of the control eventfd; kick fds carry (gen << 32 | idx). */
#define VDPASIM_EV_CTL		UINT64_MAX

/* Entries an address space may hold: bounds what a peer can make us allocate. */
#define VDPASIM_IOTLB_LIMIT	65536

static bool vdpasim_is_running(struct vdpasim *sim)
{
	return (sim->status & VIRTIO_CONFIG_S_DRIVER_OK) && sim->running &&
	       !vdpa_needs_reset(&sim->vdpa);
}

void vdpasim_schedule(struct vdpasim *sim)
{
	/* A full eventfd counter still wakes the worker: ignore EAGAIN. */
	eventfd_write(sim->ctlfd, 1);
}

void vdpasim_vq_error(struct vdpasim *sim, struct vdpasim_vq *vq, int err)
{
	vq->stats.errors++;
	vdpa_device_error(&sim->vdpa, "queue %ld: malformed ring (%s)",
			  (long)(vq - sim->vqs), strerror(-err));
}

bool vdpasim_vq_rearm(struct vdpasim *sim, struct vdpasim_vq *vq)
{
	int ret;

	if (__atomic_load_n(&sim->polling, __ATOMIC_RELAXED))
		return false;
	ret = vringh_notify_enable(&vq->vring);
	if (ret == 1) {
		vringh_notify_disable(&vq->vring);
		return true;
	}
	if (ret < 0)
		vdpasim_vq_error(sim, vq, ret);
	return false;
}

void vdpasim_vq_notify(struct vdpasim *sim, struct vdpasim_vq *vq)
{
	int ret = vringh_need_notify(&vq->vring);

	if (ret > 0) {
		vq->stats.notifies++;
		vdpa_callback_call(&vq->cb);
	} else if (ret < 0) {
		vdpasim_vq_error(sim, vq, ret);
	}
}

static u32 vdpasim_vq_group(struct vdpasim *sim, u16 idx)
{
	return sim->attr.get_vq_group ? sim->attr.get_vq_group(sim, idx) : 0;
}

/* Set up the ring walker of a ready queue; lock held, DRIVER_OK. */
static void vdpasim_vq_start(struct vdpasim *sim, u16 idx)
{
	struct vdpasim_vq *vq = &sim->vqs[idx];
	struct iotlb *tlb = sim->iotlb[sim->group_asid[vdpasim_vq_group(sim, idx)]];
	int ret;

	if (vq->started || !vq->ready)
		return;
	ret = vringh_init_iotlb(&vq->vring, sim->features, vq->num, true, tlb,
				vq->desc_area, vq->driver_area, vq->device_area);
	if (!ret)
		ret = vringh_set_state(&vq->vring, vq->last_avail, vq->last_used);
	if (ret) {
		/* virtio 1.2 §2.1.2: the driver gave us a ring we cannot use. */
		vq->stats.errors++;
		vdpa_device_error(&sim->vdpa,
				  "queue %u: cannot set up ring of %u at %#llx/%#llx/%#llx (%s)",
				  idx, vq->num,
				  (unsigned long long)vq->desc_area,
				  (unsigned long long)vq->driver_area,
				  (unsigned long long)vq->device_area,
				  strerror(-ret));
		return;
	}
	vq->started = true;
}

/* Stop the ring walker and remember where it was; lock held. */
static void vdpasim_vq_stop(struct vdpasim *sim, struct vdpasim_vq *vq)
{
	if (!vq->started)
		return;
	vringh_get_state(&vq->vring, &vq->last_avail, &vq->last_used);
	vq->started = false;
}

static void vdpasim_vq_set_kickfd(struct vdpasim *sim, u16 idx, int dupfd)
{
	struct vdpasim_vq *vq = &sim->vqs[idx];

	if (vq->kickfd >= 0) {
		epoll_ctl(sim->epfd, EPOLL_CTL_DEL, vq->kickfd, NULL);
		close(vq->kickfd);
	}
	vq->kickfd = dupfd;
	vq->kick_gen++;
}

/* Return one queue to its post-reset state; lock held. */
static void vdpasim_vq_reset(struct vdpasim *sim, u16 idx)
{
	struct vdpasim_vq *vq = &sim->vqs[idx];

	vdpasim_vq_set_kickfd(sim, idx, -1);
	vringh_iov_cleanup(&vq->riov);
	vringh_iov_cleanup(&vq->wiov);
	vringh_iov_init(&vq->riov, vq->rstore, VDPASIM_IOV_INLINE, true);
	vringh_iov_init(&vq->wiov, vq->wstore, VDPASIM_IOV_INLINE, true);
	vq->desc_area = vq->driver_area = vq->device_area = 0;
	vq->num = 0;
	vq->ready = false;
	vq->started = false;
	vq->last_avail = vq->last_used = 0;
	vq->cb = (struct vdpa_callback){ 0 };
	memset(&vq->stats, 0, sizeof(vq->stats));
}

/* ---- worker ------------------------------------------------------------ */

/* Drain the worker's eventfds (kicks, control). Lock held. */
static void vdpasim_worker_events(struct vdpasim *sim, struct epoll_event *evs,
				  int n)
{
	for (int i = 0; i < n; i++) {
		u64 data = evs[i].data.u64;
		eventfd_t v;

		if (data == VDPASIM_EV_CTL) {
			eventfd_read(sim->ctlfd, &v);
			continue;
		}
		u16 idx = (u16)data;
		struct vdpasim_vq *vq = &sim->vqs[idx];

		/* Skip events of a kick fd replaced meanwhile. */
		if (idx >= sim->attr.nvqs || vq->kickfd < 0 ||
		    vq->kick_gen != (u32)(data >> 32))
			continue;
		/* Readable per epoll and only we read it: no block. */
		if (eventfd_read(vq->kickfd, &v) == 0)
			__atomic_add_fetch(&vq->stats.kicks, 1, __ATOMIC_RELAXED);
	}
}

/* Something a pass did, to tell a busy pass from an idle one. Lock held. */
static u64 vdpasim_progress(const struct vdpasim *sim)
{
	u64 sum = 0;

	for (u32 i = 0; i < sim->attr.nvqs; i++)
		sum += sim->vqs[i].stats.packets + sim->vqs[i].stats.drops +
		       sim->vqs[i].stats.errors;
	return sum;
}

/*
 * Busy-poll mode (poll=on). The worker runs passes back to back without
 * waiting for kicks, and the work functions leave kicks disabled while
 * @polling, so the driver never needs to notify us (it saves its own
 * syscall per burst, as against a DPDK polling PMD). Every
 * VDPASIM_POLL_EVENTS passes it looks at its eventfds without blocking
 * (control, stop). After VDPASIM_POLL_IDLE passes that found nothing,
 * it stops spinning: one more pass with @polling false re-arms kicks
 * (notify_enable's race check included), then it sleeps in epoll like the
 * normal worker until a kick; bounded idle cost, nothing lost.
 */
#define VDPASIM_POLL_EVENTS	256
#define VDPASIM_POLL_IDLE	(1u << 20)

static void *vdpasim_worker(void *arg)
{
	struct vdpasim *sim = arg;
	struct epoll_event evs[16];
	unsigned int idle = 0, since_events = 0;
	bool more = false, spin = false;

	for (;;) {
		int n = 0;

		if (!spin || ++since_events >= VDPASIM_POLL_EVENTS) {
			since_events = 0;
			n = epoll_wait(sim->epfd, evs, ARRAY_SIZE(evs),
				       more || spin ? 0 : -1);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				pr_err("%s: worker epoll_wait: %s", sim->vdpa.name,
				       strerror(errno));
				break;
			}
		}
		if (__atomic_load_n(&sim->stop, __ATOMIC_ACQUIRE))
			break;
		/* A poll-mode device spins again on any wake-up. */
		if (sim->poll && !spin && n > 0) {
			spin = true;
			idle = 0;
		}

		pthread_mutex_lock(&sim->lock);
		vdpasim_worker_events(sim, evs, n);
		/*
		 * Destroy sets @stop, then writes the control eventfd. If that
		 * write landed after the check above, the drain just consumed
		 * it: look again, or the next epoll_wait() sleeps forever.
		 */
		if (__atomic_load_n(&sim->stop, __ATOMIC_ACQUIRE)) {
			pthread_mutex_unlock(&sim->lock);
			break;
		}
		if (vdpasim_is_running(sim)) {
			u64 before = spin ? vdpasim_progress(sim) : 0;

			__atomic_store_n(&sim->polling, spin, __ATOMIC_RELAXED);
			more = sim->attr.work(sim);
			if (spin) {
				if (more || vdpasim_progress(sim) != before)
					idle = 0;
				else if (++idle >= VDPASIM_POLL_IDLE)
					spin = false;	/* next pass re-arms */
				more |= !spin;
			}
		} else {
			more = false;
			spin = false;
			if (n > 0 && (sim->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
			    !sim->running)
				sim->pending_kick = true;
		}
		pthread_mutex_unlock(&sim->lock);
		/* Ops waiting for the lock go first (it is not fair). */
		while (spin && __atomic_load_n(&sim->lock_waiters, __ATOMIC_RELAXED))
			sched_yield();
	}
	return NULL;
}

/* ---- virtqueue ops ------------------------------------------------------ */

static int vdpasim_set_vq_address(struct vdpa_device *vdpa, u16 idx,
				  u64 desc_area, u64 driver_area,
				  u64 device_area)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	struct vdpasim_vq *vq = &sim->vqs[idx];

	vdpasim_lock(sim);
	vq->desc_area = desc_area;
	vq->driver_area = driver_area;
	vq->device_area = device_area;
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

static int vdpasim_set_vq_num(struct vdpa_device *vdpa, u16 idx, u32 num)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);

	vdpasim_lock(sim);
	sim->vqs[idx].num = num;
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

static void vdpasim_kick_vq(struct vdpa_device *vdpa, u16 idx)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);

	__atomic_add_fetch(&sim->vqs[idx].stats.kicks, 1, __ATOMIC_RELAXED);
	vdpasim_schedule(sim);
}

static int vdpasim_set_vq_kickfd(struct vdpa_device *vdpa, u16 idx, int fd)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	struct epoll_event ev = { .events = EPOLLIN };
	int dupfd = -1;

	if (fd >= 0) {
		dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (dupfd < 0)
			return -errno;
	}
	vdpasim_lock(sim);
	vdpasim_vq_set_kickfd(sim, idx, dupfd);
	if (dupfd >= 0) {
		ev.data.u64 = (u64)sim->vqs[idx].kick_gen << 32 | idx;
		if (epoll_ctl(sim->epfd, EPOLL_CTL_ADD, dupfd, &ev) < 0) {
			int err = -errno;

			vdpasim_vq_set_kickfd(sim, idx, -1);
			pthread_mutex_unlock(&sim->lock);
			return err;
		}
	}
	pthread_mutex_unlock(&sim->lock);
	/* A kick may have been written before we listened. */
	if (dupfd >= 0)
		vdpasim_schedule(sim);
	return 0;
}

static void vdpasim_set_vq_cb(struct vdpa_device *vdpa, u16 idx,
			      const struct vdpa_callback *cb)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);

	vdpasim_lock(sim);
	sim->vqs[idx].cb = *cb;
	pthread_mutex_unlock(&sim->lock);
}

static int vdpasim_set_vq_ready(struct vdpa_device *vdpa, u16 idx, bool ready)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	struct vdpasim_vq *vq = &sim->vqs[idx];
	int ret = 0;

	vdpasim_lock(sim);
	if (ready && !vq->ready) {
		if (!vq->num) {
			ret = -EINVAL;
			goto out_unlock;
		}
		vq->ready = true;
		/* Enabled after DRIVER_OK (vhost-user): start now. */
		if (sim->status & VIRTIO_CONFIG_S_DRIVER_OK) {
			vdpasim_vq_start(sim, idx);
			vdpasim_schedule(sim);
		}
	} else if (!ready && vq->ready) {
		vdpasim_vq_stop(sim, vq);
		vq->ready = false;
	}
out_unlock:
	pthread_mutex_unlock(&sim->lock);
	return ret;
}

static bool vdpasim_get_vq_ready(struct vdpa_device *vdpa, u16 idx)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	bool ready;

	vdpasim_lock(sim);
	ready = sim->vqs[idx].ready;
	pthread_mutex_unlock(&sim->lock);
	return ready;
}

static int vdpasim_set_vq_state(struct vdpa_device *vdpa, u16 idx,
				const struct vdpa_vq_state *state)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	struct vdpasim_vq *vq = &sim->vqs[idx];

	vdpasim_lock(sim);
	/* In-flight chains cannot be resumed: used restarts at avail. */
	vq->last_avail = state->split.avail_index;
	vq->last_used = state->split.avail_index;
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

static int vdpasim_get_vq_state(struct vdpa_device *vdpa, u16 idx,
				struct vdpa_vq_state *state)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	struct vdpasim_vq *vq = &sim->vqs[idx];
	u16 avail;

	vdpasim_lock(sim);
	avail = vq->last_avail;
	if (vq->started)
		vringh_get_state(&vq->vring, &avail, NULL);
	pthread_mutex_unlock(&sim->lock);
	memset(state, 0, sizeof(*state));
	state->split.avail_index = avail;
	return 0;
}

static int vdpasim_get_vq_stats(struct vdpa_device *vdpa, u16 idx,
				struct vdpa_vq_stats *stats)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);

	vdpasim_lock(sim);
	*stats = sim->vqs[idx].stats;
	stats->kicks = __atomic_load_n(&sim->vqs[idx].stats.kicks,
				       __ATOMIC_RELAXED);
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

static u32 vdpasim_get_vq_group(struct vdpa_device *vdpa, u16 idx)
{
	return vdpasim_vq_group(vdpa_to_sim(vdpa), idx);
}

static u32 vdpasim_get_vq_num_max(struct vdpa_device *vdpa)
{
	return VDPASIM_VQ_NUM_MAX;
}

static u32 vdpasim_get_vq_size(struct vdpa_device *vdpa, u16 idx)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);

	return sim->vqs[idx].num;
}

/* ---- device ops --------------------------------------------------------- */

static u32 vdpasim_get_vq_align(struct vdpa_device *vdpa)
{
	return VDPASIM_VQ_ALIGN;
}

static u64 vdpasim_get_device_features(struct vdpa_device *vdpa)
{
	return vdpa_to_sim(vdpa)->attr.features;
}

static int vdpasim_set_driver_features(struct vdpa_device *vdpa, u64 features)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);

	vdpasim_lock(sim);
	sim->features = features & sim->attr.features;
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

static u64 vdpasim_get_driver_features(struct vdpa_device *vdpa)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	u64 f;

	vdpasim_lock(sim);
	f = sim->features;
	pthread_mutex_unlock(&sim->lock);
	return f;
}

static void vdpasim_set_config_cb(struct vdpa_device *vdpa,
				  const struct vdpa_callback *cb)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);

	vdpasim_lock(sim);
	sim->config_cb = *cb;
	pthread_mutex_unlock(&sim->lock);
}

static u8 vdpasim_get_status(struct vdpa_device *vdpa)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	u8 status;

	vdpasim_lock(sim);
	status = sim->status;
	pthread_mutex_unlock(&sim->lock);
	return status;
}

static void vdpasim_set_status(struct vdpa_device *vdpa, u8 status)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	bool start;

	vdpasim_lock(sim);
	start = (status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		!(sim->status & VIRTIO_CONFIG_S_DRIVER_OK);
	sim->status = status;
	if (start) {
		for (u16 i = 0; i < sim->attr.nvqs; i++)
			vdpasim_vq_start(sim, i);
	}
	pthread_mutex_unlock(&sim->lock);
	/* Buffers may already be waiting (virtio 1.2 §3.1.1 step 8). */
	if (start)
		vdpasim_schedule(sim);
}

static int vdpasim_reset(struct vdpa_device *vdpa)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);

	vdpasim_lock(sim);
	for (u16 i = 0; i < sim->attr.nvqs; i++)
		vdpasim_vq_reset(sim, i);
	for (u32 g = 0; g < sim->attr.ngroups; g++)
		sim->group_asid[g] = 0;
	sim->features = 0;
	sim->status = 0;
	sim->running = true;
	sim->pending_kick = false;
	sim->generation++;
	if (sim->attr.reset)
		sim->attr.reset(sim);
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

static size_t vdpasim_get_config_size(struct vdpa_device *vdpa)
{
	return vdpa_to_sim(vdpa)->attr.config_size;
}

static void vdpasim_get_config(struct vdpa_device *vdpa, unsigned int offset,
			       void *buf, unsigned int len)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);

	vdpasim_lock(sim);
	if (sim->attr.update_config)
		sim->attr.update_config(sim);
	memcpy(buf, sim->config + offset, len);
	pthread_mutex_unlock(&sim->lock);
}

static void vdpasim_set_config(struct vdpa_device *vdpa, unsigned int offset,
			       const void *buf, unsigned int len)
{
	/*
	 * Neither simulator has a driver-writable config field it offers
	 * (no VIRTIO_BLK_F_CONFIG_WCE, and virtio 1.2 §5.1.4.2 keeps the net
	 * mac read-only for a modern driver): writes are ignored.
	 */
}

static u32 vdpasim_get_generation(struct vdpa_device *vdpa)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	u32 gen;

	vdpasim_lock(sim);
	gen = sim->generation;
	pthread_mutex_unlock(&sim->lock);
	return gen;
}

static u32 vdpasim_get_device_id(struct vdpa_device *vdpa)
{
	return vdpa_to_sim(vdpa)->attr.device_id;
}

static u32 vdpasim_get_vendor_id(struct vdpa_device *vdpa)
{
	return 0;
}

static int vdpasim_suspend(struct vdpa_device *vdpa)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);

	/* Taking the lock waits for a worker pass in progress to end. */
	vdpasim_lock(sim);
	sim->running = false;
	for (u16 i = 0; i < sim->attr.nvqs; i++) {
		struct vdpasim_vq *vq = &sim->vqs[i];

		if (vq->started)
			vringh_get_state(&vq->vring, &vq->last_avail,
					 &vq->last_used);
	}
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

static int vdpasim_resume(struct vdpa_device *vdpa)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	bool kick;

	vdpasim_lock(sim);
	sim->running = true;
	kick = sim->pending_kick;
	sim->pending_kick = false;
	/* Queues enabled or re-addressed while suspended start now. */
	if (sim->status & VIRTIO_CONFIG_S_DRIVER_OK)
		for (u16 i = 0; i < sim->attr.nvqs; i++)
			vdpasim_vq_start(sim, i);
	pthread_mutex_unlock(&sim->lock);
	if (kick)
		vdpasim_schedule(sim);
	return 0;
}

static int vdpasim_set_group_asid(struct vdpa_device *vdpa, u32 group,
				  u32 asid)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);

	vdpasim_lock(sim);
	sim->group_asid[group] = asid;
	/* Started queues of the group (suspended device) switch IOTLB. */
	for (u16 i = 0; i < sim->attr.nvqs; i++) {
		struct vdpasim_vq *vq = &sim->vqs[i];

		if (vq->started && vdpasim_vq_group(sim, i) == group) {
			vdpasim_vq_stop(sim, vq);
			vdpasim_vq_start(sim, i);
		}
	}
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

static struct vdpa_iova_range vdpasim_get_iova_range(struct vdpa_device *vdpa)
{
	return (struct vdpa_iova_range){ .first = 0, .last = UINT64_MAX };
}

/* ---- DMA ops ------------------------------------------------------------ */

static int vdpasim_set_map(struct vdpa_device *vdpa, u32 asid,
			   struct iotlb *iotlb)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	int ret;

	vdpasim_lock(sim);
	ret = iotlb_replace(sim->iotlb[asid], iotlb);
	pthread_mutex_unlock(&sim->lock);
	return ret;
}

static int vdpasim_dma_map(struct vdpa_device *vdpa, u32 asid, u64 iova,
			   u64 size, void *hva, u32 perm)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	int ret;

	_Static_assert(VDPA_MAP_READ == IOTLB_PERM_RO &&
		       VDPA_MAP_WRITE == IOTLB_PERM_WO,
		       "vdpa and iotlb permissions agree");
	vdpasim_lock(sim);
	ret = iotlb_add_range(sim->iotlb[asid], iova, iova + (size - 1),
			      (u64)(uintptr_t)hva, perm);
	pthread_mutex_unlock(&sim->lock);
	return ret;
}

static int vdpasim_dma_unmap(struct vdpa_device *vdpa, u32 asid, u64 iova,
			     u64 size)
{
	struct vdpasim *sim = vdpa_to_sim(vdpa);
	ssize_t ret;

	/* The lock also waits out a worker pass using the range. */
	vdpasim_lock(sim);
	ret = iotlb_del_range(sim->iotlb[asid], iova, iova + (size - 1));
	pthread_mutex_unlock(&sim->lock);
	return ret < 0 ? (int)ret : 0;
}

static void vdpasim_free(struct vdpa_device *vdpa)
{
	vdpasim_destroy(vdpa_to_sim(vdpa));
}

static const struct vdpa_config_ops vdpasim_config_ops = {
	/* Virtqueue ops */
	.set_vq_address		= vdpasim_set_vq_address,
	.set_vq_num		= vdpasim_set_vq_num,
	.kick_vq		= vdpasim_kick_vq,
	.set_vq_kickfd		= vdpasim_set_vq_kickfd,
	.set_vq_cb		= vdpasim_set_vq_cb,
	.set_vq_ready		= vdpasim_set_vq_ready,
	.get_vq_ready		= vdpasim_get_vq_ready,
	.set_vq_state		= vdpasim_set_vq_state,
	.get_vq_state		= vdpasim_get_vq_state,
	.get_vq_stats		= vdpasim_get_vq_stats,
	.get_vq_group		= vdpasim_get_vq_group,
	.get_vq_num_max		= vdpasim_get_vq_num_max,
	.get_vq_size		= vdpasim_get_vq_size,
	/* Device ops */
	.get_vq_align		= vdpasim_get_vq_align,
	.get_device_features	= vdpasim_get_device_features,
	.set_driver_features	= vdpasim_set_driver_features,
	.get_driver_features	= vdpasim_get_driver_features,
	.set_config_cb		= vdpasim_set_config_cb,
	.get_status		= vdpasim_get_status,
	.set_status		= vdpasim_set_status,
	.reset			= vdpasim_reset,
	.get_config_size	= vdpasim_get_config_size,
	.get_config		= vdpasim_get_config,
	.set_config		= vdpasim_set_config,
	.get_generation		= vdpasim_get_generation,
	.get_device_id		= vdpasim_get_device_id,
	.get_vendor_id		= vdpasim_get_vendor_id,
	.suspend		= vdpasim_suspend,
	.resume			= vdpasim_resume,
	.set_group_asid		= vdpasim_set_group_asid,
	.get_iova_range		= vdpasim_get_iova_range,
	/* DMA ops */
	.set_map		= vdpasim_set_map,
	.dma_map		= vdpasim_dma_map,
	.dma_unmap		= vdpasim_dma_unmap,
	/* Lifecycle */
	.free			= vdpasim_free,
};

/* ---- construction ------------------------------------------------------- */

int vdpasim_init(struct vdpasim *sim, const struct vdpasim_dev_attr *attr)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = VDPASIM_EV_CTL };
	int ret;

	sim->attr = *attr;
	sim->epfd = -1;
	sim->ctlfd = -1;
	sim->running = true;
	pthread_mutex_init(&sim->lock, NULL);
	if (attr->config_size > VDPASIM_CONFIG_MAX || !attr->nvqs ||
	    !attr->work)
		return -EINVAL;

	sim->vqs = xcalloc(attr->nvqs, sizeof(*sim->vqs));
	if (!sim->vqs)
		return -ENOMEM;
	/* Before anything else can fail: destroy closes every kickfd >= 0. */
	for (u32 i = 0; i < attr->nvqs; i++) {
		struct vdpasim_vq *vq = &sim->vqs[i];

		vq->kickfd = -1;
		vringh_iov_init(&vq->riov, vq->rstore, VDPASIM_IOV_INLINE, true);
		vringh_iov_init(&vq->wiov, vq->wstore, VDPASIM_IOV_INLINE, true);
	}
	sim->iotlb = xcalloc(attr->nas, sizeof(*sim->iotlb));
	sim->group_asid = xcalloc(attr->ngroups, sizeof(*sim->group_asid));
	if (!sim->iotlb || !sim->group_asid)
		return -ENOMEM;
	for (u32 as = 0; as < attr->nas; as++) {
		ret = iotlb_create(VDPASIM_IOTLB_LIMIT, &sim->iotlb[as]);
		if (ret)
			return ret;
	}

	sim->epfd = xepoll_create1(EPOLL_CLOEXEC);
	if (sim->epfd < 0)
		return sim->epfd;
	sim->ctlfd = xeventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sim->ctlfd < 0)
		return sim->ctlfd;
	if (epoll_ctl(sim->epfd, EPOLL_CTL_ADD, sim->ctlfd, &ev) < 0)
		return -errno;
	return 0;
}

int vdpasim_register(struct vdpasim *sim, const char *name)
{
	struct vdpa_device_attr dattr = {
		.name = name,
		.nvqs = sim->attr.nvqs,
		.ngroups = sim->attr.ngroups,
		.nas = sim->attr.nas,
	};
	int ret;

	ret = xpthread_create(&sim->worker, NULL, vdpasim_worker, sim);
	if (ret)
		return ret;
	sim->worker_started = true;
	return vdpa_register_device(&sim->vdpa, &vdpasim_config_ops, &dattr);
}

void vdpasim_destroy(struct vdpasim *sim)
{
	if (!sim)
		return;
	if (sim->worker_started) {
		__atomic_store_n(&sim->stop, 1, __ATOMIC_RELEASE);
		vdpasim_schedule(sim);
		pthread_join(sim->worker, NULL);
	}
	if (sim->vqs) {
		for (u32 i = 0; i < sim->attr.nvqs; i++) {
			struct vdpasim_vq *vq = &sim->vqs[i];

			if (vq->kickfd >= 0)
				close(vq->kickfd);
			vringh_iov_cleanup(&vq->riov);
			vringh_iov_cleanup(&vq->wiov);
		}
	}
	if (sim->iotlb)
		for (u32 as = 0; as < sim->attr.nas; as++)
			iotlb_destroy(sim->iotlb[as]);
	if (sim->ctlfd >= 0)
		close(sim->ctlfd);
	if (sim->epfd >= 0)
		close(sim->epfd);
	free(sim->group_asid);
	free(sim->iotlb);
	free(sim->vqs);
	pthread_mutex_destroy(&sim->lock);
	if (sim->attr.free)
		sim->attr.free(sim);
	else
		free(sim);
}
