// SPDX-License-Identifier: GPL-2.0-only
/*
 * Requests in flight, read back from a region a previous instance of the
 * device wrote (the layout and the order of writes: include/kestrel/vdpa.h,
 * struct vdpa_inflight_split). The region lives in the front-end's memory,
 * so everything read here is hostile: each field is loaded once, checked,
 * and the region is written only after all of it added up.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/vdpa.h>

size_t vdpa_inflight_queue_size(u32 num)
{
	size_t n = sizeof(struct vdpa_inflight_split) +
		   (size_t)num * sizeof(struct vdpa_inflight_desc);

	return ALIGN_DOWN(n + VDPA_INFLIGHT_ALIGN - 1, (size_t)VDPA_INFLIGHT_ALIGN);
}

/* A head in flight and when it was taken, for ordering. */
struct inflight_ent {
	u64 counter;
	u16 head;
};

/* Move @e[@i] down to its place in the max-heap @e[0..@n). */
static void inflight_sift(struct inflight_ent *e, u32 i, u32 n)
{
	for (;;) {
		u32 big = i, l = 2 * i + 1, r = l + 1;
		struct inflight_ent t;

		if (l < n && e[l].counter > e[big].counter)
			big = l;
		if (r < n && e[r].counter > e[big].counter)
			big = r;
		if (big == i)
			return;
		t = e[i];
		e[i] = e[big];
		e[big] = t;
		i = big;
	}
}

/*
 * Oldest first. A heap sort, not qsort(): glibc's asks the kernel how
 * much memory there is (sysinfo), which no device thread's seccomp list
 * has, and this runs in the server's thread and in device workers.
 */
static void inflight_sort(struct inflight_ent *e, u32 n)
{
	for (u32 i = n / 2; i-- > 0;)
		inflight_sift(e, i, n);
	for (u32 end = n; end-- > 1;) {
		struct inflight_ent t = e[0];

		e[0] = e[end];
		e[end] = t;
		inflight_sift(e, 0, end);
	}
}

/* Version 0: a region no device used yet; make it one for @num heads. */
static void inflight_init(struct vdpa_inflight_split *r, u16 num, u16 used_idx)
{
	memset(r->desc, 0, (size_t)num * sizeof(r->desc[0]));
	r->features = 0;
	r->desc_num = num;
	r->last_batch_head = 0;
	r->used_idx = used_idx;
	/* The version last: a region is only valid once the rest is. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(r->version, VDPA_INFLIGHT_VERSION);
}

int vdpa_inflight_recover(struct vdpa_inflight_split *r, size_t size, u16 num,
			  u16 used_idx, u16 *heads, u32 *nheads, u64 *counter)
{
	struct inflight_ent *ents;
	u8 *done;
	u16 version, desc_num, batch, h;
	u64 next = 1;
	u32 n = 0;
	int ret = -EINVAL;

	*nheads = 0;
	*counter = 1;
	if (!num || size < vdpa_inflight_queue_size(num))
		return -EINVAL;
	version = READ_ONCE(r->version);
	if (version == 0) {
		inflight_init(r, num, used_idx);
		return 0;
	}
	desc_num = READ_ONCE(r->desc_num);
	if (version != VDPA_INFLIGHT_VERSION || desc_num != num)
		return -EINVAL;

	ents = malloc((size_t)num * sizeof(*ents));
	done = calloc(num, 1);
	if (!ents || !done) {
		ret = -ENOMEM;
		goto out_free;
	}
	/*
	 * vhost-user.rst: the used ring is ahead of used_idx by the last
	 * batch when the device died between publishing it and clearing its
	 * entries. Those the driver saw completed: they are not resubmitted.
	 */
	batch = (u16)(used_idx - READ_ONCE(r->used_idx));
	if (batch > num)
		goto out_free;
	h = READ_ONCE(r->last_batch_head);
	for (u16 i = 0; i < batch; i++) {
		if (h >= num || done[h])	/* out of range, or a loop */
			goto out_free;
		done[h] = 1;
		h = READ_ONCE(r->desc[h].next);
	}
	for (u32 i = 0; i < num; i++) {
		u8 inflight = READ_ONCE(r->desc[i].inflight);
		u64 c = READ_ONCE(r->desc[i].counter);

		if (inflight > 1)
			goto out_free;
		if (!inflight || done[i])
			continue;
		/* A counter that cannot be followed by a larger one. */
		if (c == UINT64_MAX)
			goto out_free;
		ents[n].counter = c;
		ents[n].head = (u16)i;
		n++;
	}
	inflight_sort(ents, n);
	for (u32 i = 0; i < n; i++) {
		/* Two alike: the order they were taken in is unknown. */
		if (i && ents[i].counter == ents[i - 1].counter)
			goto out_free;
		heads[i] = ents[i].head;
		next = ents[i].counter + 1;
	}

	/* It adds up: bring the region in line with the used ring. */
	for (u32 i = 0; i < num; i++)
		if (done[i])
			WRITE_ONCE(r->desc[i].inflight, 0);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(r->used_idx, used_idx);
	*nheads = n;
	*counter = next;
	ret = 0;
out_free:
	free(done);
	free(ents);
	return ret;
}
