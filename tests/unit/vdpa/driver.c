// SPDX-License-Identifier: GPL-2.0-only
/*
 * In-process virtio driver, split or packed rings, for the vDPA tests (see
 * driver.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "driver.h"

bool vdrv_packed;

static void vdrv_vq_irq(void *private)
{
	struct vdrv_vq *vq = private;

	__atomic_add_fetch(&vq->irqs, 1, __ATOMIC_RELAXED);
}

static void vdrv_config_irq(void *private)
{
	struct vdrv *d = private;

	__atomic_add_fetch(&d->config_irqs, 1, __ATOMIC_RELAXED);
}

void vdrv_msleep(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int vdrv_init(struct vdrv *d, struct vdpa_device *vdpa, size_t size)
{
	struct vdpa_callback cb = { .fn = vdrv_config_irq, .private = d };

	memset(d, 0, sizeof(*d));
	d->vdpa = vdpa;
	d->size = ALIGN_UP(size, 4096);
	d->mem = aligned_alloc(4096, d->size);
	if (!d->mem)
		return -ENOMEM;
	memset(d->mem, 0, d->size);
	d->iova = VDRV_IOVA_BASE;
	for (unsigned int i = 0; i < VDRV_MAX_VQS; i++)
		d->vqs[i].kickfd = -1;
	vdpa_set_config_cb(vdpa, &cb);
	return 0;
}

void vdrv_fini(struct vdrv *d)
{
	for (unsigned int i = 0; i < VDRV_MAX_VQS; i++) {
		if (d->vqs[i].kickfd >= 0)
			close(d->vqs[i].kickfd);
		free(d->vqs[i].chain);
		free(d->vqs[i].free_ids);
		free(d->vqs[i].pending);
	}
	free(d->mem);
	memset(d, 0, sizeof(*d));
}

int vdrv_map(struct vdrv *d, u32 asid)
{
	return vdpa_dma_map(d->vdpa, asid, d->iova, d->size, d->mem,
			    VDPA_MAP_RW);
}

void *vdrv_alloc(struct vdrv *d, size_t size, size_t align)
{
	size_t start = ALIGN_UP(d->brk, align);

	if (start > d->size || size > d->size - start)
		return NULL;
	d->brk = start + size;
	/* Fresh rings and buffers: nothing left over from a previous run. */
	memset(d->mem + start, 0, size);
	return d->mem + start;
}

u64 vdrv_iova(const struct vdrv *d, const void *p)
{
	return d->iova + (u64)((const u8 *)p - d->mem);
}

int vdrv_negotiate(struct vdrv *d, u64 wanted)
{
	int ret;

	ret = vdpa_reset(d->vdpa);
	if (ret)
		return ret;
	for (unsigned int i = 0; i < VDRV_MAX_VQS; i++) {
		if (d->vqs[i].kickfd >= 0)
			close(d->vqs[i].kickfd);
		free(d->vqs[i].chain);
		free(d->vqs[i].free_ids);
		free(d->vqs[i].pending);
		memset(&d->vqs[i], 0, sizeof(d->vqs[i]));
		d->vqs[i].kickfd = -1;
	}
	d->brk = 0;
	ret = vdpa_set_status(d->vdpa, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	if (!ret)
		ret = vdpa_set_status(d->vdpa, VIRTIO_CONFIG_S_ACKNOWLEDGE |
					       VIRTIO_CONFIG_S_DRIVER);
	if (ret)
		return ret;
	if (vdrv_packed)
		wanted |= VRINGH_F_RING_PACKED;
	d->features = vdpa_get_device_features(d->vdpa) & wanted;
	if (vdrv_packed && !(d->features & VRINGH_F_RING_PACKED))
		return -EPROTONOSUPPORT;
	ret = vdpa_set_features(d->vdpa, d->features);
	if (ret)
		return ret;
	return vdpa_features_ok(d->vdpa);
}

int vdrv_vq_setup(struct vdrv *d, u16 idx, u32 num)
{
	struct vdrv_vq *vq = &d->vqs[idx];
	struct vdpa_callback cb = { .fn = vdrv_vq_irq, .private = vq };
	int ret;

	if (idx >= VDRV_MAX_VQS)
		return -EINVAL;
	vq->idx = idx;
	vq->num = num;
	vq->packed = d->features & VRINGH_F_RING_PACKED;
	vq->desc = vdrv_alloc(d, vringh_desc_size(num), 4096);
	if (vq->packed) {
		vq->avail = vdrv_alloc(d, sizeof(struct vringh_packed_event), 64);
		vq->used = vdrv_alloc(d, sizeof(struct vringh_packed_event), 64);
		vq->free_ids = calloc(num, sizeof(*vq->free_ids));
		vq->pending = calloc(num, sizeof(*vq->pending));
		if (!vq->free_ids || !vq->pending)
			return -ENOMEM;
		for (u32 i = 0; i < num; i++)
			vq->free_ids[i] = (u16)(num - 1 - i);
		vq->nfree_ids = (u16)num;
		vq->npending = vq->added = 0;
		vq->avail_wrap = vq->used_wrap = true;
	} else {
		vq->avail = vdrv_alloc(d, vringh_avail_size(num), 64);
		vq->used = vdrv_alloc(d, vringh_used_size(num), 4096);
	}
	vq->chain = calloc(num, sizeof(*vq->chain));
	if (!vq->desc || !vq->avail || !vq->used || !vq->chain)
		return -ENOMEM;
	for (u32 i = 0; i < num && !vq->packed; i++)
		vq->desc[i].next = cpu_to_le16((u16)(i + 1));
	vq->free_head = 0;
	vq->num_free = (u16)MIN(num, 0xffff);
	vq->avail_idx = 0;
	vq->last_used = 0;

	ret = vdpa_set_vq_num(d->vdpa, idx, num);
	if (!ret)
		ret = vdpa_set_vq_address(d->vdpa, idx, vdrv_iova(d, vq->desc),
					  vdrv_iova(d, vq->avail),
					  vdrv_iova(d, vq->used));
	if (!ret)
		ret = vdpa_set_vq_cb(d->vdpa, idx, &cb);
	if (!ret)
		ret = vdpa_set_vq_ready(d->vdpa, idx, true);
	return ret;
}

int vdrv_vq_use_kickfd(struct vdrv *d, u16 idx)
{
	struct vdrv_vq *vq = &d->vqs[idx];
	int fd = eventfd(0, EFD_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = vdpa_set_vq_kickfd(d->vdpa, idx, fd);
	if (ret) {
		close(fd);
		return ret;
	}
	vq->kickfd = fd;
	return 0;
}

int vdrv_driver_ok(struct vdrv *d)
{
	return vdpa_set_status(d->vdpa, VIRTIO_CONFIG_S_ACKNOWLEDGE |
				       VIRTIO_CONFIG_S_DRIVER |
				       VIRTIO_CONFIG_S_FEATURES_OK |
				       VIRTIO_CONFIG_S_DRIVER_OK);
}

/*
 * Packed (virtio 1.2 §2.8.21): the list from the avail position on, every
 * descriptor's flags but the first one's, which vdrv_publish() stores.
 */
static int vdrv_add_packed(struct vdrv *d, struct vdrv_vq *vq,
			   const struct vdrv_sg *sg, unsigned int n)
{
	struct vringh_packed_desc *ring = (void *)vq->desc;
	u16 id = vq->free_ids[--vq->nfree_ids];

	for (unsigned int k = 0; k < n; k++) {
		struct vringh_packed_desc *desc = &ring[vq->avail_idx];
		u16 flags = (sg[k].write ? VRINGH_DESC_F_WRITE : 0) |
			    (vq->avail_wrap ? VRINGH_DESC_F_AVAIL : VRINGH_DESC_F_USED);

		if (k + 1 < n)
			flags |= VRINGH_DESC_F_NEXT;
		desc->addr = cpu_to_le64(vdrv_iova(d, sg[k].addr));
		desc->len = cpu_to_le32(sg[k].len);
		desc->id = cpu_to_le16(id);
		if (k)
			__atomic_store_n(&desc->flags, cpu_to_le16(flags), __ATOMIC_RELAXED);
		else
			vq->pending[vq->npending++] =
				(typeof(*vq->pending)){ vq->avail_idx, flags };
		if (++vq->avail_idx == vq->num) {
			vq->avail_idx = 0;
			vq->avail_wrap = !vq->avail_wrap;
		}
	}
	vq->num_free -= (u16)n;
	vq->added += (u16)n;
	vq->chain[id] = (u16)n;
	return id;
}

int vdrv_add(struct vdrv *d, u16 q, const struct vdrv_sg *sg, unsigned int n)
{
	struct vdrv_vq *vq = &d->vqs[q];
	u16 head, i;

	if (!n || n > vq->num_free)
		return -ENOSPC;
	if (vq->packed)
		return vdrv_add_packed(d, vq, sg, n);
	head = vq->free_head;
	i = head;
	for (unsigned int k = 0; k < n; k++) {
		struct vringh_desc *desc = &vq->desc[i];
		u16 flags = sg[k].write ? VRINGH_DESC_F_WRITE : 0;

		if (k + 1 < n)
			flags |= VRINGH_DESC_F_NEXT;
		desc->addr = cpu_to_le64(vdrv_iova(d, sg[k].addr));
		desc->len = cpu_to_le32(sg[k].len);
		i = le16_to_cpu(desc->next);
		desc->flags = cpu_to_le16(flags);
	}
	/* The free list continues after the chain's last descriptor. */
	vq->free_head = i;
	vq->num_free -= (u16)n;
	vq->chain[head] = (u16)n;
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = cpu_to_le16(head);
	vq->avail_idx++;
	return head;
}

void vdrv_publish(struct vdrv *d, u16 q)
{
	struct vdrv_vq *vq = &d->vqs[q];

	if (vq->packed) {
		struct vringh_packed_desc *ring = (void *)vq->desc;

		/* The rest of each list before its first flags (release). */
		for (u16 k = 0; k < vq->npending; k++)
			__atomic_store_n(&ring[vq->pending[k].pos].flags,
					 cpu_to_le16(vq->pending[k].flags), __ATOMIC_RELEASE);
		vq->npending = 0;
		return;
	}
	/* Ring entries and descriptors before the index (virtio 1.2 §2.7.13). */
	__atomic_store_n(&vq->avail->idx, cpu_to_le16(vq->avail_idx),
			 __ATOMIC_RELEASE);
}

void vdrv_kick(struct vdrv *d, u16 q)
{
	struct vdrv_vq *vq = &d->vqs[q];
	bool need;

	/* Index store before the suppression read (pairs with notify_enable). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->packed) {
		struct vringh_packed_event *ev = (void *)vq->used;
		u16 flags = le16_to_cpu(__atomic_load_n(&ev->flags, __ATOMIC_RELAXED));
		u16 off_wrap = le16_to_cpu(__atomic_load_n(&ev->off_wrap, __ATOMIC_RELAXED));
		u16 event = off_wrap & ~VRINGH_EVENT_WRAP;
		u16 new = vq->avail_idx, old = (u16)(new - vq->added);

		/* §2.8.10: an event in the other lap is a ring behind. */
		if (!!(off_wrap & VRINGH_EVENT_WRAP) != vq->avail_wrap)
			event -= (u16)vq->num;
		if (flags == VRINGH_EVENT_F_DESC && (d->features & VRINGH_F_EVENT_IDX))
			need = (u16)(new - event - 1) < (u16)(new - old);
		else
			need = flags != VRINGH_EVENT_F_DISABLE;
		vq->added = 0;
	} else if (d->features & VRINGH_F_EVENT_IDX) {
		u16 event = le16_to_cpu(__atomic_load_n(
				(le16 *)&vq->used->ring[vq->num], __ATOMIC_RELAXED));
		u16 new = vq->avail_idx, old = vq->kick_idx;

		/* virtio 1.2 §2.7.10: did avail->idx pass avail_event? */
		need = (u16)(new - event - 1) < (u16)(new - old);
		vq->kick_idx = new;
	} else {
		need = !(le16_to_cpu(__atomic_load_n(&vq->used->flags,
					__ATOMIC_RELAXED)) &
			 VRINGH_USED_F_NO_NOTIFY);
	}
	if (!need) {
		vq->suppressed++;
		return;
	}
	vq->kicks++;
	if (vq->kickfd >= 0)
		eventfd_write(vq->kickfd, 1);
	else
		vdpa_kick_vq(d->vdpa, q);
}

static int vdrv_get_used_packed(struct vdrv *d, struct vdrv_vq *vq, u16 *head,
				u32 *len)
{
	struct vringh_packed_desc *desc = &((struct vringh_packed_desc *)vq->desc)[vq->last_used];
	struct vringh_packed_event *ev = (void *)vq->avail;
	u16 flags = le16_to_cpu(__atomic_load_n(&desc->flags, __ATOMIC_ACQUIRE));
	u16 id;

	if (!!(flags & VRINGH_DESC_F_USED) != vq->used_wrap ||
	    !!(flags & VRINGH_DESC_F_AVAIL) != vq->used_wrap)
		return 0;
	id = le16_to_cpu(desc->id);
	*head = id;
	*len = le32_to_cpu(desc->len);
	if (id >= vq->num || !vq->chain[id])
		return 1;	/* the test sees the bad ID; nothing to free */
	vq->last_used += vq->chain[id];
	if (vq->last_used >= vq->num) {
		vq->last_used -= (u16)vq->num;
		vq->used_wrap = !vq->used_wrap;
	}
	vq->num_free += vq->chain[id];
	vq->chain[id] = 0;
	vq->free_ids[vq->nfree_ids++] = id;
	/* Ask for an interrupt at the next used descriptor. */
	if (d->features & VRINGH_F_EVENT_IDX) {
		__atomic_store_n(&ev->off_wrap,
				 cpu_to_le16(vq->last_used | (vq->used_wrap ? VRINGH_EVENT_WRAP : 0)),
				 __ATOMIC_RELAXED);
		__atomic_store_n(&ev->flags, cpu_to_le16(VRINGH_EVENT_F_DESC), __ATOMIC_RELEASE);
	}
	return 1;
}

int vdrv_get_used(struct vdrv *d, u16 q, u16 *head, u32 *len)
{
	struct vdrv_vq *vq = &d->vqs[q];
	struct vringh_used_elem *e;
	u16 idx, id, n;

	if (vq->packed)
		return vdrv_get_used_packed(d, vq, head, len);

	idx = le16_to_cpu(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
	if (idx == vq->last_used)
		return 0;
	e = &vq->used->ring[vq->last_used & (vq->num - 1)];
	id = (u16)le32_to_cpu(e->id);
	*head = id;
	*len = le32_to_cpu(e->len);
	vq->last_used++;
	/* Ask for an interrupt at the next entry (used_event). */
	__atomic_store_n(&vq->avail->ring[vq->num], cpu_to_le16(vq->last_used),
			 __ATOMIC_RELAXED);
	/* Return the chain to the free list. */
	if (id < vq->num && vq->chain[id]) {
		u16 i = id;

		n = vq->chain[id];
		for (u16 k = 1; k < n; k++)
			i = le16_to_cpu(vq->desc[i].next);
		vq->desc[i].next = cpu_to_le16(vq->free_head);
		vq->free_head = id;
		vq->num_free += n;
		vq->chain[id] = 0;
	}
	return 1;
}

int vdrv_wait_used(struct vdrv *d, u16 q, u16 *head, u32 *len,
		   int timeout_ms)
{
	for (int waited = 0;; waited++) {
		if (vdrv_get_used(d, q, head, len))
			return 1;
		if (waited >= timeout_ms * 10)
			return 0;
		struct timespec ts = { .tv_nsec = 100000 };

		nanosleep(&ts, NULL);
	}
}

/* A small file of /proc/self/task/@tid into @buf; Return: bytes, or -1. */
static ssize_t vdrv_read_task(const char *tid, const char *file, char *buf, size_t size)
{
	char path[96];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%s/%s", tid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/**
 * struct vdrv_workers - one look at the process's other threads: the
 *	device workers (a new one carries our name until it names itself,
 *	so every thread but the caller counts)
 * @asleep: every one was sleeping (state S: in epoll, or a lock)
 * @runtime: the CPU time they have had, in ns (schedstat), summed
 * @nthreads: how many there were
 */
struct vdrv_workers {
	bool asleep;
	unsigned long long runtime;
	unsigned int nthreads;
};

static void vdrv_workers_look(struct vdrv_workers *w)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *e;
	char self[24];

	snprintf(self, sizeof(self), "%d", (int)gettid());
	*w = (struct vdrv_workers){ .asleep = true };
	if (!dir) {
		w->asleep = false;
		return;
	}
	while ((e = readdir(dir))) {
		char buf[512];
		const char *state;
		unsigned long long ns;

		if (e->d_name[0] == '.' || !strcmp(e->d_name, self))
			continue;
		w->nthreads++;
		/* The state follows the last ')' (the name may hold one). */
		if (vdrv_read_task(e->d_name, "stat", buf, sizeof(buf)) <= 0 ||
		    !(state = strrchr(buf, ')')) || state[1] != ' ' || state[2] != 'S')
			w->asleep = false;
		if (vdrv_read_task(e->d_name, "schedstat", buf, sizeof(buf)) <= 0 ||
		    sscanf(buf, "%llu", &ns) != 1)
			w->asleep = false;	/* no way to tell: never idle */
		else
			w->runtime += ns;
	}
	closedir(dir);
}

/*
 * Whether the device workers are idle for good: asleep at two looks, with
 * no CPU time had in between. No thread then ran between the two, so none
 * woke another, and nothing the driver waits for can still be on its way
 * (it kicks before it waits). A worker that was woken shows as running
 * (R) even before it gets a CPU, so a slow machine only looks busy.
 */
static bool vdrv_workers_idle(struct vdrv_workers *prev)
{
	struct vdrv_workers now;
	bool idle;

	vdrv_workers_look(&now);
	idle = prev->asleep && now.asleep && now.runtime == prev->runtime &&
	       now.nthreads == prev->nthreads;
	*prev = now;
	return idle;
}

/* Worker CPU time after which a device that never sleeps counts as stuck. */
#define VDRV_AWAIT_CPU_NS	(30ULL * 1000000000ULL)

/*
 * Wait until @done(@d, @q, @arg) holds, or the workers went idle without
 * it, or spun VDRV_AWAIT_CPU_NS without it. Return: whether it holds.
 */
static bool vdrv_await(struct vdrv *d, u16 q, void *arg,
		       bool (*done)(struct vdrv *d, u16 q, void *arg))
{
	struct vdrv_workers w;
	unsigned long long start;

	vdrv_workers_look(&w);
	start = w.runtime;
	for (unsigned int i = 0;; i++) {
		if (done(d, q, arg))
			return true;
		/* Every 1 ms or so; the condition every 0.1 ms. */
		if (i % 10 == 9) {
			if (vdrv_workers_idle(&w))
				return done(d, q, arg);
			if (w.runtime - start > VDRV_AWAIT_CPU_NS)
				return done(d, q, arg);
		}
		struct timespec ts = { .tv_nsec = 100000 };

		nanosleep(&ts, NULL);
	}
}

struct vdrv_used_arg {
	u16 *head;
	u32 *len;
};

static bool vdrv_used_done(struct vdrv *d, u16 q, void *arg)
{
	struct vdrv_used_arg *a = arg;

	return vdrv_get_used(d, q, a->head, a->len) == 1;
}

int vdrv_await_used(struct vdrv *d, u16 q, u16 *head, u32 *len)
{
	struct vdrv_used_arg a = { head, len };

	return vdrv_await(d, q, &a, vdrv_used_done);
}

static bool vdrv_status_done(struct vdrv *d, u16 q, void *arg)
{
	u8 bits = *(u8 *)arg;

	return (vdpa_get_status(d->vdpa) & bits) == bits;
}

bool vdrv_await_status(struct vdrv *d, u8 bits)
{
	return vdrv_await(d, 0, &bits, vdrv_status_done);
}

bool vdrv_wait_status(struct vdrv *d, u8 bits, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited++) {
		if ((vdpa_get_status(d->vdpa) & bits) == bits)
			return true;
		vdrv_msleep(1);
	}
	return false;
}

u8 vdrv_net_ctrl(struct vdrv *d, u16 cvq, u8 class, u8 cmd, const void *data,
		 u32 dlen, bool ack_buf)
{
	u8 *hdr = vdrv_alloc(d, 2 + dlen, 8), *ack = vdrv_alloc(d, 1, 1);
	struct vdrv_sg sg[3];
	unsigned int n = 0;
	u16 head;
	u32 len;

	hdr[0] = class;
	hdr[1] = cmd;
	if (dlen)
		memcpy(hdr + 2, data, dlen);
	*ack = 0xee;
	/* Header and payload in descriptors of their own, as Linux does. */
	sg[n++] = (struct vdrv_sg){ hdr, 2, false };
	if (dlen)
		sg[n++] = (struct vdrv_sg){ hdr + 2, dlen, false };
	if (ack_buf)
		sg[n++] = (struct vdrv_sg){ ack, 1, true };
	vdrv_add(d, cvq, sg, n);
	vdrv_publish(d, cvq);
	vdrv_kick(d, cvq);
	if (!vdrv_await_used(d, cvq, &head, &len))
		return 0xfe;
	return len == 1 ? *ack : 0xff;
}
