// SPDX-License-Identifier: GPL-2.0-only
/*
 * vDPA software-device core: queue bookkeeping, address spaces, status, the
 * worker thread, and the one ops table both simulators share. What a
 * device does with its queues lives in net.c and blk.c.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/vdpa-dev.h>

#include "swdev.h"

/* epoll data of the control eventfd; kick fds carry (gen << 32 | idx). */
#define SWDEV_EV_CTL		UINT64_MAX
/* epoll data of the throttle timer (swdev.timerfd). */
#define SWDEV_EV_TIMER		(UINT64_MAX - 1)
/* The longest a throttled queue sleeps before it is looked at again. */
#define SWDEV_THROTTLE_MAX_NS	(3600ULL * 1000000000ULL)

/* Entries an address space may hold: bounds what a peer can make us allocate. */
#define SWDEV_IOTLB_LIMIT	65536

static bool swdev_is_running(struct swdev *sw)
{
	return (sw->status & VIRTIO_CONFIG_S_DRIVER_OK) && sw->running &&
	       !vdpa_needs_reset(&sw->vdpa);
}

void swdev_schedule(struct swdev *sw)
{
	/* A full eventfd counter still wakes the worker: ignore EAGAIN. */
	for (u32 i = 0; i < swdev_nworkers(sw); i++)
		if (sw->workers[i].ctlfd >= 0)
			eventfd_write(sw->workers[i].ctlfd, 1);
}

void swdev_schedule_vq(struct swdev *sw, struct swdev_vq *vq)
{
	eventfd_write(sw->workers[vq->worker].ctlfd, 1);
}

void swdev_vq_error(struct swdev *sw, struct swdev_vq *vq, int err)
{
	vq->stats.errors++;
	vdpa_device_error(&sw->vdpa, "queue %ld: malformed ring (%s)",
			  (long)(vq - sw->vqs), strerror(-err));
}

bool swdev_vq_rearm(struct swdev *sw, struct swdev_vq *vq)
{
	int ret;

	if (__atomic_load_n(&sw->workers[vq->worker].polling, __ATOMIC_RELAXED))
		return false;
	ret = vringh_notify_enable(&vq->vring);
	if (ret == 1) {
		vringh_notify_disable(&vq->vring);
		return true;
	}
	if (ret < 0)
		swdev_vq_error(sw, vq, ret);
	return false;
}

void swdev_vq_notify(struct swdev *sw, struct swdev_vq *vq)
{
	int ret = vringh_need_notify(&vq->vring);

	if (ret > 0) {
		vq->stats.notifies++;
		vdpa_callback_call(&vq->cb);
	} else if (ret < 0) {
		swdev_vq_error(sw, vq, ret);
	}
}

bool swdev_vq_complete(struct swdev *sw, struct swdev_vq *vq,
		       const struct vringh_used_elem *used, unsigned int n)
{
	if (!swdev_vq_publish(sw, vq, used, n) || vdpa_needs_reset(&sw->vdpa))
		return false;
	swdev_vq_notify(sw, vq);
	return true;
}

/* ---- requests in flight (include/kestrel/vdpa.h) ------------------------ */

bool swdev_vq_publish_inflight(struct swdev *sw, struct swdev_vq *vq,
			       const struct vringh_used_elem *used, unsigned int n)
{
	struct vdpa_inflight_split *r = vq->inflight;
	u16 used_idx;
	int ret;

	if (vq->pinflight)
		return swdev_vq_publish_inflight_packed(sw, vq, used, n);
	/* The batch list first: a death after the used ring finds it. */
	for (unsigned int i = 0; i < n; i++) {
		u16 id = (u16)used[i].id;

		if (id >= vq->num)
			continue;	/* vringh refuses the batch below */
		WRITE_ONCE(r->desc[id].next, READ_ONCE(r->last_batch_head));
		WRITE_ONCE(r->last_batch_head, id);
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	ret = vringh_complete_multi(&vq->vring, used, n);
	if (unlikely(ret)) {
		swdev_vq_error(sw, vq, ret);
		return false;
	}
	/* vringh wrote the used idx; its entries are no longer in flight. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (unsigned int i = 0; i < n; i++)
		WRITE_ONCE(r->desc[(u16)used[i].id].inflight, 0);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	vringh_get_state(&vq->vring, NULL, &used_idx);
	WRITE_ONCE(r->used_idx, used_idx);
	return true;
}

bool swdev_vq_inflight_recover(struct swdev *sw, struct swdev_vq *vq)
{
	u16 idx = (u16)(vq - sw->vqs), used_idx;
	u32 n = 0;
	int ret;

	vq->inflight_recover = false;
	vq->nresubmit = vq->resubmit_pos = 0;
	if (vq->pinflight)
		return swdev_vq_inflight_recover_packed(sw, vq);
	ret = vringh_read_used_idx(&vq->vring, &used_idx);
	/* Sized for this start: the queue size may differ from the last. */
	free(vq->resubmit);
	vq->resubmit = NULL;
	if (!ret) {
		vq->resubmit = xcalloc(vq->num, sizeof(*vq->resubmit));
		if (!vq->resubmit)
			ret = -ENOMEM;
	}
	if (!ret)
		ret = vdpa_inflight_recover(vq->inflight, vq->inflight_size,
					    (u16)vq->num, used_idx, vq->resubmit,
					    &n, &vq->inflight_counter);
	/* Taking resumes after the chains the previous instance took. */
	if (!ret)
		ret = vringh_set_state(&vq->vring, (u16)(used_idx + n), used_idx);
	if (ret) {
		vq->stats.errors++;
		vdpa_device_error(&sw->vdpa, "queue %u: inflight region refused (%s)",
				  idx, strerror(-ret));
		return false;
	}
	vq->nresubmit = n;
	if (n)
		pr_info("%s: queue %u: resubmitting %u requests in flight",
			sw->vdpa.name, idx, n);
	return true;
}

static int swdev_set_vq_inflight(struct vdpa_device *vdpa, u16 idx,
				 void *region, size_t size)
{
	struct swdev *sw = to_swdev(vdpa);
	struct swdev_vq *vq = &sw->vqs[idx];
	int ret = 0;

	swdev_lock(sw);
	if (!sw->attr.inflight) {
		ret = -EOPNOTSUPP;
	} else {
		vq->inflight = region;
		vq->inflight_size = region ? size : 0;
	}
	swdev_unlock(sw);
	return ret;
}

static u32 swdev_vq_group(struct swdev *sw, u16 idx)
{
	return sw->attr.get_vq_group ? sw->attr.get_vq_group(sw, idx) : 0;
}

/* Set up the ring walker of a ready queue; lock held, DRIVER_OK. */
static void swdev_vq_start(struct swdev *sw, u16 idx)
{
	struct swdev_vq *vq = &sw->vqs[idx];
	struct iotlb *tlb = sw->iotlb[sw->group_asid[swdev_vq_group(sw, idx)]];
	int ret;

	if (vq->started || !vq->ready)
		return;
	ret = vringh_init_iotlb(&vq->vring, sw->features, vq->num, true, tlb,
				vq->desc_area, vq->driver_area, vq->device_area);
	/* Without a saved position the ring starts where init puts it. */
	if (!ret && vq->has_state)
		ret = vringh_set_state(&vq->vring, vq->last_avail, vq->last_used);
	/* The region holds the packed layout: the device's copy of its lists. */
	if (!ret && vq->inflight && swdev_has_feature(sw, VIRTIO_F_RING_PACKED))
		ret = swdev_vq_inflight_start_packed(vq);
	if (ret) {
		/* virtio 1.2 §2.1.2: the driver gave us a ring we cannot use. */
		vq->stats.errors++;
		vdpa_device_error(&sw->vdpa,
				  "queue %u: cannot set up ring of %u at %#llx/%#llx/%#llx (%s)",
				  idx, vq->num,
				  (unsigned long long)vq->desc_area,
				  (unsigned long long)vq->driver_area,
				  (unsigned long long)vq->device_area,
				  strerror(-ret));
		return;
	}
	vq->started = true;
	/* Read back in the worker's first pass (guarded against SIGBUS). */
	vq->inflight_recover = vq->inflight != NULL;
}

/* Stop the ring walker and remember where it was; lock held. */
static void swdev_vq_stop(struct swdev *sw, struct swdev_vq *vq)
{
	if (!vq->started)
		return;
	vringh_get_state(&vq->vring, &vq->last_avail, &vq->last_used);
	vq->has_state = true;
	vq->started = false;
	/* Not resubmitted yet: they are still in flight in the region. */
	vq->nresubmit = vq->resubmit_pos = 0;
}

static void swdev_vq_set_kickfd(struct swdev *sw, u16 idx, int dupfd)
{
	struct swdev_vq *vq = &sw->vqs[idx];

	if (vq->kickfd >= 0) {
		epoll_ctl(swdev_vq_epfd(sw, vq), EPOLL_CTL_DEL, vq->kickfd, NULL);
		close(vq->kickfd);
	}
	vq->kickfd = dupfd;
	vq->kick_gen++;
}

/* Return one queue to its post-reset state; lock held. */
static void swdev_vq_reset(struct swdev *sw, u16 idx)
{
	struct swdev_vq *vq = &sw->vqs[idx];

	swdev_vq_set_kickfd(sw, idx, -1);
	vringh_iov_cleanup(&vq->riov);
	vringh_iov_cleanup(&vq->wiov);
	vringh_iov_init(&vq->riov, vq->rstore, SWDEV_IOV_INLINE, true);
	vringh_iov_init(&vq->wiov, vq->wstore, SWDEV_IOV_INLINE, true);
	vq->desc_area = vq->driver_area = vq->device_area = 0;
	vq->num = 0;
	vq->ready = false;
	vq->started = false;
	vq->last_avail = vq->last_used = 0;
	vq->has_state = false;
	/* Left staged only by a pass that broke the device: never published. */
	vq->nused = 0;
	vq->cb = (struct vdpa_callback){ 0 };
	memset(&vq->stats, 0, sizeof(vq->stats));
	vq->inflight = NULL;
	vq->inflight_size = 0;
	vq->inflight_recover = false;
	free(vq->resubmit);
	vq->resubmit = NULL;
	swdev_vq_inflight_free_packed(vq);
	vq->nresubmit = vq->resubmit_pos = 0;
}

/* ---- worker ------------------------------------------------------------ */

/*
 * Guest memory that vanishes under the worker. Memory a vhost-user
 * front-end shares is a file mapping; if the front-end shrinks the file,
 * touching a page past its new end raises SIGBUS. Front-ends seal their
 * memfds against shrinking (the server refuses a sealable memfd without
 * F_SEAL_SHRINK), but hugetlbfs and tmpfs files, and memfds made without
 * MFD_ALLOW_SEALING, cannot carry seals. So each pass runs under a
 * per-thread recovery point: the SIGBUS handler jumps back to it, the
 * device is marked NEEDS_RESET and the process lives. Outside a pass the
 * fault goes to the handler the process had before (a program using the
 * library may have one); with none, the default action is restored and
 * the fault, raised again, ends the process as it would have without the
 * handler.
 *
 * The jump leaves the pass wherever it was, with swdev.lock still held
 * by the worker (the recovery point is inside the locked region, and
 * work functions take no other lock around guest memory access); what
 * the pass left half-done (staged used entries, iovecs) is discarded by
 * the reset the device now needs. SA_NODEFER keeps SIGBUS unblocked in
 * the handler, so the jump need not restore the signal mask (no syscall
 * per pass) and a second fault is caught the same way.
 */
static __thread sigjmp_buf *swdev_recovery;

/* The worker this thread is (NULL on other threads): whose timer a throttle sets. */
static __thread struct swdev_worker *swdev_self;

/*
 * The handler the process had before the first device (a program using
 * libkestrel-vdpa may have its own): a SIGBUS outside a pass goes to it.
 * Written once, before any worker exists.
 */
static struct sigaction swdev_sigbus_prev;

static void swdev_sigbus(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *prev = &swdev_sigbus_prev;
	sigjmp_buf *env = swdev_recovery;

	if (env) {
		swdev_recovery = NULL;
		siglongjmp(*env, 1);
	}
	/* Not ours. */
	if (prev->sa_flags & SA_SIGINFO) {
		prev->sa_sigaction(sig, si, uc);
	} else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
		prev->sa_handler(sig);
	} else {
		struct sigaction dfl = { .sa_handler = SIG_DFL };

		sigaction(SIGBUS, &dfl, NULL);	/* fault again, die */
	}
}

static void swdev_sigbus_install(void)
{
	struct sigaction sa = {
		.sa_sigaction = swdev_sigbus,
		.sa_flags = SA_SIGINFO | SA_NODEFER,
	};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &swdev_sigbus_prev);
}

/* One pass of the work hook under the recovery point; @w's lock held. */
static bool swdev_work_guarded(struct swdev *sw, struct swdev_worker *w)
{
	sigjmp_buf env;
	bool more;

	if (sigsetjmp(env, 0)) {
		vdpa_device_error(&sw->vdpa, "guest memory vanished under the device (a memory file shrank)");
		return false;
	}
	swdev_recovery = &env;
	more = sw->attr.work_on ? sw->attr.work_on(sw, w->id) : sw->attr.work(sw);
	swdev_recovery = NULL;
	return more;
}

int swdev_copy_guarded(void *dst, const void *src, size_t n)
{
	/* The pass's own point, back in place whichever way this ends. */
	sigjmp_buf *outer = swdev_recovery;
	sigjmp_buf env;

	if (sigsetjmp(env, 0)) {
		swdev_recovery = outer;
		return -EFAULT;
	}
	/*
	 * The barriers keep the stores around the copy: memcpy() reads no
	 * thread variable, so without them the compiler drops the first.
	 */
	swdev_recovery = &env;
	barrier();
	memcpy(dst, src, n);
	barrier();
	swdev_recovery = outer;
	return 0;
}

/* Drain the worker's eventfds (kicks, control). Its lock held. */
static void swdev_worker_events(struct swdev *sw, struct swdev_worker *w,
				  struct epoll_event *evs, int n)
{
	for (int i = 0; i < n; i++) {
		u64 data = evs[i].data.u64;
		eventfd_t v;

		if (data == SWDEV_EV_CTL) {
			eventfd_read(w->ctlfd, &v);
			continue;
		}
		if (data == SWDEV_EV_TIMER) {
			/* Non-blocking: a timer re-armed meanwhile reads EAGAIN. */
			if (read(w->timerfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				pr_warn_ratelimited("%s: throttle timer: %s",
						    sw->vdpa.name, strerror(errno));
			w->timer_at = 0;
			continue;
		}
		u16 idx = (u16)data;
		struct swdev_vq *vq = &sw->vqs[idx];

		/* Skip events of a kick fd replaced meanwhile. */
		if (idx >= sw->attr.nvqs || vq->worker != w->id || vq->kickfd < 0 ||
		    vq->kick_gen != (u32)(data >> 32))
			continue;
		/* Readable per epoll and only we read it: no block. */
		if (eventfd_read(vq->kickfd, &v) == 0)
			__atomic_add_fetch(&vq->stats.kicks, 1, __ATOMIC_RELAXED);
	}
}

/* Something a pass of @w did, to tell a busy pass from an idle one. */
static u64 swdev_progress(const struct swdev *sw, const struct swdev_worker *w)
{
	u64 sum = 0;

	for (u32 i = 0; i < sw->attr.nvqs; i++)
		if (sw->vqs[i].worker == w->id)
			sum += sw->vqs[i].stats.packets + sw->vqs[i].stats.drops +
			       sw->vqs[i].stats.errors;
	return sum;
}

/*
 * Busy-poll mode (poll=on). The worker runs passes back to back without
 * waiting for kicks, and the work functions leave kicks disabled while
 * @polling, so the driver never needs to notify us (it saves its own
 * syscall per burst, as against a DPDK polling PMD). Every
 * SWDEV_POLL_EVENTS passes it looks at its eventfds without blocking
 * (control, stop). After SWDEV_POLL_IDLE passes that found nothing,
 * it stops spinning: one more pass with @polling false re-arms kicks
 * (notify_enable's race check included), then it sleeps in epoll like the
 * normal worker until a kick; bounded idle cost, nothing lost.
 */
#define SWDEV_POLL_EVENTS	256
#define SWDEV_POLL_IDLE	(1u << 20)

static void *swdev_worker(void *arg)
{
	struct swdev_worker *w = arg;
	struct swdev *sw = w->sw;
	struct epoll_event evs[16];
	unsigned int idle = 0, since_events = 0;
	bool more = false, spin = false;
	char name[16];

	/* Named, so that a worker per queue pair shows in ps -L / top -H. */
	snprintf(name, sizeof(name), "vdpa-worker%u", w->id);
	pthread_setname_np(pthread_self(), name);
	swdev_self = w;
	seccomp_thread_enter(sw->attr.seccomp);

	for (;;) {
		int n = 0;

		if (!spin || ++since_events >= SWDEV_POLL_EVENTS) {
			since_events = 0;
			n = epoll_wait(w->epfd, evs, ARRAY_SIZE(evs),
				       more || spin ? 0 : -1);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				pr_err("%s: worker epoll_wait: %s", sw->vdpa.name,
				       strerror(errno));
				break;
			}
		}
		if (__atomic_load_n(&sw->stop, __ATOMIC_ACQUIRE))
			break;
		/* A poll-mode device spins again on any wake-up. */
		if (sw->poll && !spin && n > 0) {
			spin = true;
			idle = 0;
		}

		pthread_mutex_lock(w->lock);
		swdev_worker_events(sw, w, evs, n);
		/*
		 * Destroy sets @stop, then writes the control eventfd. If that
		 * write landed after the check above, the drain just consumed
		 * it: look again, or the next epoll_wait() sleeps forever.
		 */
		if (__atomic_load_n(&sw->stop, __ATOMIC_ACQUIRE)) {
			pthread_mutex_unlock(w->lock);
			break;
		}
		if (swdev_is_running(sw)) {
			u64 before = spin ? swdev_progress(sw, w) : 0;

			__atomic_store_n(&w->polling, spin, __ATOMIC_RELAXED);
			more = swdev_work_guarded(sw, w);
			if (spin) {
				if (more || swdev_progress(sw, w) != before)
					idle = 0;
				else if (++idle >= SWDEV_POLL_IDLE)
					spin = false;	/* next pass re-arms */
				more |= !spin;
			}
		} else {
			more = false;
			spin = false;
			/* Atomic: several workers may note it at once. */
			if (n > 0 && (sw->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
			    !sw->running)
				__atomic_store_n(&sw->pending_kick, true,
						 __ATOMIC_RELAXED);
		}
		pthread_mutex_unlock(w->lock);
		/* Ops waiting for the lock go first (it is not fair). */
		while (spin && __atomic_load_n(&sw->lock_waiters, __ATOMIC_RELAXED))
			sched_yield();
	}
	return NULL;
}

/* ---- rate limits -------------------------------------------------------- */

u64 swdev_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

int swdev_timerfd_at(int fd, u64 at_ns)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(at_ns / 1000000000ULL),
			      .tv_nsec = (long)(at_ns % 1000000000ULL) },
	};

	return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

/* Wake worker @w at @at_ns (CLOCK_MONOTONIC), unless it wakes earlier. */
static void swdev_wake_at(struct swdev *sw, struct swdev_worker *w, u64 at_ns)
{
	if (w->timer_at && w->timer_at <= at_ns)
		return;
	if (swdev_timerfd_at(w->timerfd, at_ns) < 0) {
		/* Cannot happen with a valid time; a pass at once then. */
		pr_warn_ratelimited("%s: throttle timer: %s", sw->vdpa.name,
				    strerror(errno));
		swdev_schedule(sw);
		return;
	}
	w->timer_at = at_ns;
}

bool __swdev_limit(struct swdev *sw, struct swdev_limiter *l, u64 bytes)
{
	/* The caller is a worker of @sw (its pass holds only its own lock). */
	struct swdev_worker *w = swdev_self && swdev_self->sw == sw ?
				 swdev_self : &sw->workers[0];
	u64 now = swdev_now_ns();
	u64 wait;

	/* The limits are the device's: every worker takes from them. */
	pthread_mutex_lock(&sw->limit_lock);
	wait = swdev_limiter_take(l, bytes, now);
	pthread_mutex_unlock(&sw->limit_lock);
	if (!wait)
		return true;
	if (wait < SWDEV_THROTTLE_MIN_NS)
		wait = SWDEV_THROTTLE_MIN_NS;
	/*
	 * A wait of centuries (a huge refill time): look again in an hour,
	 * a time every timerfd takes. A needless pass costs nothing.
	 */
	if (wait > SWDEV_THROTTLE_MAX_NS)
		wait = SWDEV_THROTTLE_MAX_NS;
	swdev_wake_at(sw, w, now + wait);
	return false;
}

/* Each worker's throttle timer, made the first time a limit is set. Locks held. */
static int swdev_timer_create(struct swdev *sw)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = SWDEV_EV_TIMER };

	for (u32 i = 0; i < swdev_nworkers(sw); i++) {
		struct swdev_worker *w = &sw->workers[i];
		int fd;

		if (w->timerfd >= 0)
			continue;
		fd = xtimerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (fd < 0)
			return fd;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		w->timerfd = fd;
	}
	return 0;
}

int swdev_set_limit(struct swdev *sw, unsigned int slot,
		    const struct vdpa_bucket *bw, const struct vdpa_bucket *ops)
{
	u64 now = swdev_now_ns();
	struct swdev_limiter *l;
	int ret;

	if (slot >= sw->attr.nlimits)
		return -EINVAL;
	l = &sw->limiter[slot];
	swdev_lock(sw);
	ret = swdev_timer_create(sw);
	if (!ret) {
		pthread_mutex_lock(&sw->limit_lock);
		/* Firecracker's rule too: a new bucket starts full. */
		if (bw)
			tbucket_init(&l->bw, bw, now);
		if (ops)
			tbucket_init(&l->ops, ops, now);
		l->on = tbucket_limits(&l->bw) || tbucket_limits(&l->ops);
		pthread_mutex_unlock(&sw->limit_lock);
	}
	swdev_unlock(sw);
	/* A queue waiting for tokens may go now. */
	if (!ret)
		swdev_schedule(sw);
	return ret;
}

static bool bucket_is_set(const struct vdpa_bucket *b)
{
	return b->size || b->one_time_burst || b->refill_ms;
}

int swdev_set_limits(struct swdev *sw, const struct vdpa_rate_limit *rl)
{
	for (u32 i = 0; i < sw->attr.nlimits; i++) {
		int ret;

		if (!bucket_is_set(&rl[i].bw) && !bucket_is_set(&rl[i].ops))
			continue;
		ret = swdev_set_limit(sw, i, &rl[i].bw, &rl[i].ops);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- virtqueue ops ------------------------------------------------------ */

static int swdev_set_vq_address(struct vdpa_device *vdpa, u16 idx,
				  u64 desc_area, u64 driver_area,
				  u64 device_area)
{
	struct swdev *sw = to_swdev(vdpa);
	struct swdev_vq *vq = &sw->vqs[idx];

	swdev_lock(sw);
	vq->desc_area = desc_area;
	vq->driver_area = driver_area;
	vq->device_area = device_area;
	swdev_unlock(sw);
	return 0;
}

static int swdev_set_vq_num(struct vdpa_device *vdpa, u16 idx, u32 num)
{
	struct swdev *sw = to_swdev(vdpa);

	swdev_lock(sw);
	sw->vqs[idx].num = num;
	swdev_unlock(sw);
	return 0;
}

static void swdev_kick_vq(struct vdpa_device *vdpa, u16 idx)
{
	struct swdev *sw = to_swdev(vdpa);

	__atomic_add_fetch(&sw->vqs[idx].stats.kicks, 1, __ATOMIC_RELAXED);
	swdev_schedule_vq(sw, &sw->vqs[idx]);
}

static int swdev_set_vq_kickfd(struct vdpa_device *vdpa, u16 idx, int fd)
{
	struct swdev *sw = to_swdev(vdpa);
	struct epoll_event ev = { .events = EPOLLIN };
	int dupfd = -1;

	if (fd >= 0) {
		dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (dupfd < 0)
			return -errno;
	}
	swdev_lock(sw);
	swdev_vq_set_kickfd(sw, idx, dupfd);
	if (dupfd >= 0) {
		ev.data.u64 = (u64)sw->vqs[idx].kick_gen << 32 | idx;
		if (epoll_ctl(swdev_vq_epfd(sw, &sw->vqs[idx]), EPOLL_CTL_ADD,
			      dupfd, &ev) < 0) {
			int err = -errno;

			swdev_vq_set_kickfd(sw, idx, -1);
			swdev_unlock(sw);
			return err;
		}
	}
	swdev_unlock(sw);
	/* A kick may have been written before we listened. */
	if (dupfd >= 0)
		swdev_schedule_vq(sw, &sw->vqs[idx]);
	return 0;
}

static void swdev_set_vq_cb(struct vdpa_device *vdpa, u16 idx,
			      const struct vdpa_callback *cb)
{
	struct swdev *sw = to_swdev(vdpa);

	swdev_lock(sw);
	sw->vqs[idx].cb = *cb;
	swdev_unlock(sw);
}

static int swdev_set_vq_ready(struct vdpa_device *vdpa, u16 idx, bool ready)
{
	struct swdev *sw = to_swdev(vdpa);
	struct swdev_vq *vq = &sw->vqs[idx];
	int ret = 0;

	swdev_lock(sw);
	if (ready && !vq->ready) {
		if (!vq->num) {
			ret = -EINVAL;
			goto out_unlock;
		}
		vq->ready = true;
		/* Enabled after DRIVER_OK (vhost-user): start now. */
		if (sw->status & VIRTIO_CONFIG_S_DRIVER_OK) {
			swdev_vq_start(sw, idx);
			swdev_schedule(sw);
		}
	} else if (!ready && vq->ready) {
		swdev_vq_stop(sw, vq);
		vq->ready = false;
	}
out_unlock:
	swdev_unlock(sw);
	return ret;
}

static bool swdev_get_vq_ready(struct vdpa_device *vdpa, u16 idx)
{
	struct swdev *sw = to_swdev(vdpa);
	bool ready;

	swdev_lock(sw);
	ready = sw->vqs[idx].ready;
	swdev_unlock(sw);
	return ready;
}

static int swdev_set_vq_state(struct vdpa_device *vdpa, u16 idx,
				const struct vdpa_vq_state *state)
{
	struct swdev *sw = to_swdev(vdpa);
	struct swdev_vq *vq = &sw->vqs[idx];

	swdev_lock(sw);
	if (sw->features & (1ULL << VIRTIO_F_RING_PACKED)) {
		const struct vdpa_vq_state_packed *p = &state->packed;

		/* Ring offsets with the wrap counter in bit 15, as vringh keeps them. */
		vq->last_avail = p->last_avail_idx |
				 (p->last_avail_counter ? VRINGH_EVENT_WRAP : 0);
		vq->last_used = p->last_used_idx |
				(p->last_used_counter ? VRINGH_EVENT_WRAP : 0);
	} else {
		/* In-flight chains cannot be resumed: used restarts at avail. */
		vq->last_avail = state->split.avail_index;
		vq->last_used = state->split.avail_index;
	}
	vq->has_state = true;
	swdev_unlock(sw);
	return 0;
}

static int swdev_get_vq_state(struct vdpa_device *vdpa, u16 idx,
				struct vdpa_vq_state *state)
{
	struct swdev *sw = to_swdev(vdpa);
	struct swdev_vq *vq = &sw->vqs[idx];
	u16 avail, used;
	bool packed;

	swdev_lock(sw);
	packed = sw->features & (1ULL << VIRTIO_F_RING_PACKED);
	avail = vq->last_avail;
	used = vq->last_used;
	if (vq->started)
		vringh_get_state(&vq->vring, &avail, &used);
	else if (!vq->has_state && packed)
		/* Never started: where a packed ring starts (wrap counters 1). */
		avail = used = VRINGH_EVENT_WRAP;
	swdev_unlock(sw);
	memset(state, 0, sizeof(*state));
	if (packed) {
		state->packed.last_avail_idx = avail & ~VRINGH_EVENT_WRAP;
		state->packed.last_avail_counter = !!(avail & VRINGH_EVENT_WRAP);
		state->packed.last_used_idx = used & ~VRINGH_EVENT_WRAP;
		state->packed.last_used_counter = !!(used & VRINGH_EVENT_WRAP);
	} else {
		state->split.avail_index = avail;
	}
	return 0;
}

static int swdev_get_vq_stats(struct vdpa_device *vdpa, u16 idx,
				struct vdpa_vq_stats *stats)
{
	struct swdev *sw = to_swdev(vdpa);

	swdev_lock(sw);
	*stats = sw->vqs[idx].stats;
	stats->kicks = __atomic_load_n(&sw->vqs[idx].stats.kicks,
				       __ATOMIC_RELAXED);
	swdev_unlock(sw);
	return 0;
}

static u32 swdev_get_vq_group(struct vdpa_device *vdpa, u16 idx)
{
	return swdev_vq_group(to_swdev(vdpa), idx);
}

static u32 swdev_get_vq_num_max(struct vdpa_device *vdpa)
{
	return SWDEV_VQ_NUM_MAX;
}

static u32 swdev_get_vq_size(struct vdpa_device *vdpa, u16 idx)
{
	struct swdev *sw = to_swdev(vdpa);

	return sw->vqs[idx].num;
}

/* ---- device ops --------------------------------------------------------- */

static u32 swdev_get_vq_align(struct vdpa_device *vdpa)
{
	return SWDEV_VQ_ALIGN;
}

static u64 swdev_get_device_features(struct vdpa_device *vdpa)
{
	return to_swdev(vdpa)->attr.features;
}

static int swdev_set_driver_features(struct vdpa_device *vdpa, u64 features)
{
	struct swdev *sw = to_swdev(vdpa);

	swdev_lock(sw);
	sw->features = features & sw->attr.features;
	swdev_unlock(sw);
	return 0;
}

static u64 swdev_get_driver_features(struct vdpa_device *vdpa)
{
	struct swdev *sw = to_swdev(vdpa);
	u64 f;

	swdev_lock(sw);
	f = sw->features;
	swdev_unlock(sw);
	return f;
}

void swdev_config_changed(struct swdev *sw)
{
	struct vdpa_callback cb;

	swdev_lock(sw);
	cb = sw->config_cb;
	swdev_unlock(sw);
	vdpa_callback_call(&cb);
}

static void swdev_set_config_cb(struct vdpa_device *vdpa,
				  const struct vdpa_callback *cb)
{
	struct swdev *sw = to_swdev(vdpa);

	swdev_lock(sw);
	sw->config_cb = *cb;
	swdev_unlock(sw);
}

static u8 swdev_get_status(struct vdpa_device *vdpa)
{
	struct swdev *sw = to_swdev(vdpa);
	u8 status;

	swdev_lock(sw);
	status = sw->status;
	swdev_unlock(sw);
	return status;
}

static void swdev_set_status(struct vdpa_device *vdpa, u8 status)
{
	struct swdev *sw = to_swdev(vdpa);
	bool start;

	swdev_lock(sw);
	start = (status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		!(sw->status & VIRTIO_CONFIG_S_DRIVER_OK);
	sw->status = status;
	if (start) {
		for (u16 i = 0; i < sw->attr.nvqs; i++)
			swdev_vq_start(sw, i);
	}
	swdev_unlock(sw);
	/* Buffers may already be waiting (virtio 1.2 §3.1.1 step 8). */
	if (start)
		swdev_schedule(sw);
}

static int swdev_reset(struct vdpa_device *vdpa)
{
	struct swdev *sw = to_swdev(vdpa);

	swdev_lock(sw);
	for (u16 i = 0; i < sw->attr.nvqs; i++)
		swdev_vq_reset(sw, i);
	for (u32 g = 0; g < sw->attr.ngroups; g++)
		sw->group_asid[g] = 0;
	sw->features = 0;
	sw->status = 0;
	sw->running = true;
	sw->pending_kick = false;
	sw->generation++;
	if (sw->attr.reset)
		sw->attr.reset(sw);
	swdev_unlock(sw);
	return 0;
}

static size_t swdev_get_config_size(struct vdpa_device *vdpa)
{
	return to_swdev(vdpa)->attr.config_size;
}

static void swdev_get_config(struct vdpa_device *vdpa, unsigned int offset,
			       void *buf, unsigned int len)
{
	struct swdev *sw = to_swdev(vdpa);

	swdev_lock(sw);
	if (sw->attr.update_config)
		sw->attr.update_config(sw);
	memcpy(buf, sw->config + offset, len);
	swdev_unlock(sw);
}

static void swdev_set_config(struct vdpa_device *vdpa, unsigned int offset,
			       const void *buf, unsigned int len)
{
	struct swdev *sw = to_swdev(vdpa);

	/*
	 * Only a type with a driver-writable field takes writes (the
	 * balloon's actual); blk offers no VIRTIO_BLK_F_CONFIG_WCE and
	 * virtio 1.2 §5.1.4.2 keeps the net mac read-only for a modern driver.
	 */
	if (!sw->attr.write_config)
		return;
	swdev_lock(sw);
	sw->attr.write_config(sw, offset, buf, len);
	swdev_unlock(sw);
}

static u32 swdev_get_generation(struct vdpa_device *vdpa)
{
	struct swdev *sw = to_swdev(vdpa);
	u32 gen;

	swdev_lock(sw);
	gen = sw->generation;
	swdev_unlock(sw);
	return gen;
}

static u32 swdev_get_device_id(struct vdpa_device *vdpa)
{
	return to_swdev(vdpa)->attr.device_id;
}

static u32 swdev_get_vendor_id(struct vdpa_device *vdpa)
{
	return 0;
}

static int swdev_suspend(struct vdpa_device *vdpa)
{
	struct swdev *sw = to_swdev(vdpa);

	/* Taking the lock waits for a worker pass in progress to end. */
	swdev_lock(sw);
	sw->running = false;
	for (u16 i = 0; i < sw->attr.nvqs; i++) {
		struct swdev_vq *vq = &sw->vqs[i];

		if (vq->started)
			vringh_get_state(&vq->vring, &vq->last_avail,
					 &vq->last_used);
	}
	swdev_unlock(sw);
	return 0;
}

static int swdev_resume(struct vdpa_device *vdpa)
{
	struct swdev *sw = to_swdev(vdpa);
	bool kick;

	swdev_lock(sw);
	sw->running = true;
	kick = __atomic_load_n(&sw->pending_kick, __ATOMIC_RELAXED);
	sw->pending_kick = false;
	/* Queues enabled or re-addressed while suspended start now. */
	if (sw->status & VIRTIO_CONFIG_S_DRIVER_OK)
		for (u16 i = 0; i < sw->attr.nvqs; i++)
			swdev_vq_start(sw, i);
	swdev_unlock(sw);
	if (kick)
		swdev_schedule(sw);
	return 0;
}

static int swdev_set_group_asid(struct vdpa_device *vdpa, u32 group,
				  u32 asid)
{
	struct swdev *sw = to_swdev(vdpa);

	swdev_lock(sw);
	sw->group_asid[group] = asid;
	/* Started queues of the group (suspended device) switch IOTLB. */
	for (u16 i = 0; i < sw->attr.nvqs; i++) {
		struct swdev_vq *vq = &sw->vqs[i];

		if (vq->started && swdev_vq_group(sw, i) == group) {
			swdev_vq_stop(sw, vq);
			swdev_vq_start(sw, i);
		}
	}
	swdev_unlock(sw);
	return 0;
}

static struct vdpa_iova_range swdev_get_iova_range(struct vdpa_device *vdpa)
{
	return (struct vdpa_iova_range){ .first = 0, .last = UINT64_MAX };
}

static ssize_t swdev_get_dev_state(struct vdpa_device *vdpa, void *buf,
				   size_t size)
{
	struct swdev *sw = to_swdev(vdpa);
	ssize_t ret;

	if (!sw->attr.save_state)
		return 0;
	swdev_lock(sw);
	ret = sw->attr.save_state(sw, buf, size);
	swdev_unlock(sw);
	return ret;
}

static int swdev_set_dev_state(struct vdpa_device *vdpa, const void *buf,
			       size_t len)
{
	struct swdev *sw = to_swdev(vdpa);
	int ret;

	if (!sw->attr.load_state)
		return -EOPNOTSUPP;
	swdev_lock(sw);
	ret = sw->attr.load_state(sw, buf, len);
	swdev_unlock(sw);
	/* Queues the state turned on may hold chains already. */
	if (!ret)
		swdev_schedule(sw);
	return ret;
}

/* ---- DMA ops ------------------------------------------------------------ */

static int swdev_set_map(struct vdpa_device *vdpa, u32 asid,
			   struct iotlb *iotlb)
{
	struct swdev *sw = to_swdev(vdpa);
	int ret;

	swdev_lock(sw);
	ret = iotlb_replace(sw->iotlb[asid], iotlb);
	swdev_unlock(sw);
	return ret;
}

static int swdev_dma_map(struct vdpa_device *vdpa, u32 asid, u64 iova,
			   u64 size, void *hva, u32 perm)
{
	struct swdev *sw = to_swdev(vdpa);
	int ret;

	_Static_assert(VDPA_MAP_READ == IOTLB_PERM_RO &&
		       VDPA_MAP_WRITE == IOTLB_PERM_WO,
		       "vdpa and iotlb permissions agree");
	swdev_lock(sw);
	ret = iotlb_add_range(sw->iotlb[asid], iova, iova + (size - 1),
			      (u64)(uintptr_t)hva, perm);
	swdev_unlock(sw);
	return ret;
}

static int swdev_dma_unmap(struct vdpa_device *vdpa, u32 asid, u64 iova,
			     u64 size)
{
	struct swdev *sw = to_swdev(vdpa);
	ssize_t ret;

	/* The lock also waits out a worker pass using the range. */
	swdev_lock(sw);
	ret = iotlb_del_range(sw->iotlb[asid], iova, iova + (size - 1));
	swdev_unlock(sw);
	return ret < 0 ? (int)ret : 0;
}

static void swdev_free(struct vdpa_device *vdpa)
{
	swdev_destroy(to_swdev(vdpa));
}

static const struct vdpa_config_ops swdev_config_ops = {
	/* Virtqueue ops */
	.set_vq_address		= swdev_set_vq_address,
	.set_vq_num		= swdev_set_vq_num,
	.kick_vq		= swdev_kick_vq,
	.set_vq_kickfd		= swdev_set_vq_kickfd,
	.set_vq_cb		= swdev_set_vq_cb,
	.set_vq_ready		= swdev_set_vq_ready,
	.get_vq_ready		= swdev_get_vq_ready,
	.set_vq_state		= swdev_set_vq_state,
	.get_vq_state		= swdev_get_vq_state,
	.get_vq_stats		= swdev_get_vq_stats,
	.get_vq_group		= swdev_get_vq_group,
	.get_vq_num_max		= swdev_get_vq_num_max,
	.get_vq_size		= swdev_get_vq_size,
	.set_vq_inflight	= swdev_set_vq_inflight,
	/* Device ops */
	.get_vq_align		= swdev_get_vq_align,
	.get_device_features	= swdev_get_device_features,
	.set_driver_features	= swdev_set_driver_features,
	.get_driver_features	= swdev_get_driver_features,
	.set_config_cb		= swdev_set_config_cb,
	.get_status		= swdev_get_status,
	.set_status		= swdev_set_status,
	.reset			= swdev_reset,
	.get_config_size	= swdev_get_config_size,
	.get_config		= swdev_get_config,
	.set_config		= swdev_set_config,
	.get_generation		= swdev_get_generation,
	.get_device_id		= swdev_get_device_id,
	.get_vendor_id		= swdev_get_vendor_id,
	.suspend		= swdev_suspend,
	.resume			= swdev_resume,
	.set_group_asid		= swdev_set_group_asid,
	.get_iova_range		= swdev_get_iova_range,
	.get_dev_state		= swdev_get_dev_state,
	.set_dev_state		= swdev_set_dev_state,
	/* DMA ops */
	.set_map		= swdev_set_map,
	.dma_map		= swdev_dma_map,
	.dma_unmap		= swdev_dma_unmap,
	/* Lifecycle */
	.free			= swdev_free,
};

/* The slot of public limit @which on @vdpa, or -EOPNOTSUPP. */
static int swdev_limit_slot(struct vdpa_device *vdpa, enum vdpa_limit which)
{
	struct swdev *sw;

	/* Only software devices have limits. */
	if (!vdpa || vdpa->config != &swdev_config_ops)
		return -EOPNOTSUPP;
	sw = to_swdev(vdpa);
	for (u32 i = 0; i < sw->attr.nlimits; i++)
		if (sw->attr.limits[i] == which)
			return (int)i;
	return -EOPNOTSUPP;
}

int vdpa_set_rate_limit(struct vdpa_device *vdpa, enum vdpa_limit which,
			const struct vdpa_bucket *bw, const struct vdpa_bucket *ops)
{
	int slot = swdev_limit_slot(vdpa, which);

	if (slot < 0)
		return slot;
	return swdev_set_limit(to_swdev(vdpa), (unsigned int)slot, bw, ops);
}

int vdpa_get_rate_limit_throttled(struct vdpa_device *vdpa, enum vdpa_limit which,
				  u64 *count)
{
	int slot = swdev_limit_slot(vdpa, which);
	struct swdev *sw;

	if (slot < 0)
		return slot;
	sw = to_swdev(vdpa);
	swdev_lock(sw);
	pthread_mutex_lock(&sw->limit_lock);
	*count = sw->limiter[slot].throttled;
	pthread_mutex_unlock(&sw->limit_lock);
	swdev_unlock(sw);
	return 0;
}

/* ---- construction ------------------------------------------------------- */

/* Worker @i's lock, eventfd and epoll set (its thread comes at register). */
static int swdev_worker_init(struct swdev *sw, u32 i)
{
	struct swdev_worker *w = &sw->workers[i];
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = SWDEV_EV_CTL };

	w->epfd = xepoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return w->epfd;
	w->ctlfd = xeventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->ctlfd < 0)
		return w->ctlfd;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->ctlfd, &ev) < 0)
		return -errno;
	return 0;
}

int swdev_init(struct swdev *sw, const struct swdev_attr *attr)
{
	u32 nworkers = attr->nworkers ? attr->nworkers : 1;
	int ret;

	sw->attr = *attr;
	sw->epfd = -1;
	sw->running = true;
	pthread_mutex_init(&sw->lock, NULL);
	pthread_mutex_init(&sw->limit_lock, NULL);
	/* Before anything can fail: destroy closes every fd >= 0. */
	for (u32 i = 0; i < SWDEV_WORKERS_MAX; i++) {
		struct swdev_worker *w = &sw->workers[i];

		w->sw = sw;
		w->id = i;
		w->lock = i ? &w->own_lock : &sw->lock;
		if (i)
			pthread_mutex_init(&w->own_lock, NULL);
		w->epfd = w->ctlfd = w->timerfd = -1;
	}
	if (attr->config_size > SWDEV_CONFIG_MAX || !attr->nvqs ||
	    nworkers > SWDEV_WORKERS_MAX ||
	    !(nworkers == 1 ? attr->work || attr->work_on : attr->work_on != NULL) ||
	    attr->burst > SWDEV_BURST || attr->nlimits > SWDEV_LIMITS_MAX) {
		sw->attr.nworkers = 1;
		return -EINVAL;
	}

	sw->vqs = xcalloc(attr->nvqs, sizeof(*sw->vqs));
	if (!sw->vqs)
		return -ENOMEM;
	/* Before anything else can fail: destroy closes every kickfd >= 0. */
	for (u32 i = 0; i < attr->nvqs; i++) {
		struct swdev_vq *vq = &sw->vqs[i];

		vq->kickfd = -1;
		vringh_iov_init(&vq->riov, vq->rstore, SWDEV_IOV_INLINE, true);
		vringh_iov_init(&vq->wiov, vq->wstore, SWDEV_IOV_INLINE, true);
		vq->worker = attr->get_vq_worker ? attr->get_vq_worker(sw, (u16)i) : 0;
		if (vq->worker >= nworkers)
			return -EINVAL;
	}
	sw->iotlb = xcalloc(attr->nas, sizeof(*sw->iotlb));
	sw->group_asid = xcalloc(attr->ngroups, sizeof(*sw->group_asid));
	if (!sw->iotlb || !sw->group_asid)
		return -ENOMEM;
	for (u32 as = 0; as < attr->nas; as++) {
		ret = iotlb_create(SWDEV_IOTLB_LIMIT, &sw->iotlb[as]);
		if (ret)
			return ret;
	}
	for (u32 i = 0; i < nworkers; i++) {
		ret = swdev_worker_init(sw, i);
		if (ret)
			return ret;
	}
	sw->epfd = sw->workers[0].epfd;
	return 0;
}

int swdev_register(struct swdev *sw, const char *name)
{
	struct vdpa_device_attr dattr = {
		.name = name,
		.nvqs = sw->attr.nvqs,
		.ngroups = sw->attr.ngroups,
		.nas = sw->attr.nas,
		.inflight = sw->attr.inflight,
	};
	static pthread_once_t sigbus_once = PTHREAD_ONCE_INIT;
	int ret;

	pthread_once(&sigbus_once, swdev_sigbus_install);
	for (u32 i = 0; i < swdev_nworkers(sw); i++) {
		struct swdev_worker *w = &sw->workers[i];

		ret = xpthread_create(&w->thread, NULL, swdev_worker, w);
		if (ret)
			return ret;
		w->started = true;
	}
	return vdpa_register_device(&sw->vdpa, &swdev_config_ops, &dattr);
}

void swdev_destroy(struct swdev *sw)
{
	if (!sw)
		return;
	__atomic_store_n(&sw->stop, 1, __ATOMIC_RELEASE);
	swdev_schedule(sw);
	for (u32 i = 0; i < swdev_nworkers(sw); i++)
		if (sw->workers[i].started)
			pthread_join(sw->workers[i].thread, NULL);
	if (sw->vqs) {
		for (u32 i = 0; i < sw->attr.nvqs; i++) {
			struct swdev_vq *vq = &sw->vqs[i];

			if (vq->kickfd >= 0)
				close(vq->kickfd);
			vringh_iov_cleanup(&vq->riov);
			vringh_iov_cleanup(&vq->wiov);
			free(vq->resubmit);
		}
	}
	if (sw->iotlb)
		for (u32 as = 0; as < sw->attr.nas; as++)
			iotlb_destroy(sw->iotlb[as]);
	for (u32 i = 0; i < SWDEV_WORKERS_MAX; i++) {
		struct swdev_worker *w = &sw->workers[i];

		if (w->ctlfd >= 0)
			close(w->ctlfd);
		if (w->timerfd >= 0)
			close(w->timerfd);
		if (w->epfd >= 0)
			close(w->epfd);
		if (i)
			pthread_mutex_destroy(&w->own_lock);
	}
	free(sw->group_asid);
	free(sw->iotlb);
	free(sw->vqs);
	pthread_mutex_destroy(&sw->limit_lock);
	pthread_mutex_destroy(&sw->lock);
	if (sw->attr.free)
		sw->attr.free(sw);
	else
		free(sw);
}
