// SPDX-License-Identifier: GPL-2.0-only
/*
 * Requests in flight, read back from a region a previous instance of the
 * device wrote (the layouts and the order of writes: include/kestrel/vdpa.h,
 * struct vdpa_inflight_split and struct vdpa_inflight_packed). The region
 * lives in the front-end's memory,
 * so everything read here is hostile: each field is loaded once, checked,
 * and the region is written only after all of it added up.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/vdpa.h>
#include <kestrel/vringh.h>

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

/* ---- packed rings ------------------------------------------------------- */

size_t vdpa_inflight_packed_queue_size(u32 num)
{
	size_t n = sizeof(struct vdpa_inflight_packed) +
		   (size_t)num * sizeof(struct vdpa_inflight_pdesc);

	return ALIGN_DOWN(n + VDPA_INFLIGHT_ALIGN - 1, (size_t)VDPA_INFLIGHT_ALIGN);
}

/* Version 0: make it a region of @num free entries at the used position @used. */
static void inflight_packed_init(struct vdpa_inflight_packed *r, u16 num, u16 used,
				 u16 *next)
{
	u16 pos = used & ~VRINGH_EVENT_WRAP;
	u8 wrap = !!(used & VRINGH_EVENT_WRAP);

	memset(r->desc, 0, (size_t)num * sizeof(r->desc[0]));
	for (u32 i = 0; i < num; i++)
		next[i] = r->desc[i].next = (u16)(i + 1);
	r->features = 0;
	r->desc_num = num;
	r->free_head = r->old_free_head = 0;
	vdpa_inflight_packed_set_used(r, pos, pos, wrap, wrap);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(r->version, VDPA_INFLIGHT_VERSION);
}

/* What recovery found an entry to be. */
enum {
	ENT_UNKNOWN,	/* neither free nor in a chain: goes back on the free list */
	ENT_FREE,	/* on the free list */
	ENT_HEAD,	/* inflight = 1, off the free list: a chain starts here */
	ENT_CHAIN,	/* walked, part of a chain in flight */
};

/*
 * Walk the chain whose head entry is @h (ENT_HEAD) into @out; @ids marks
 * the buffer IDs seen. Return: 0 or -EINVAL.
 */
static int inflight_packed_chain(const struct vdpa_inflight_packed *r, u16 num,
				 u16 h, u8 *state, u8 *ids, u32 *ndescs,
				 struct vdpa_inflight_packed_recovery *out)
{
	struct vdpa_inflight_chain *c = &out->chains[out->nchains];
	u16 n = READ_ONCE(r->desc[h].num), last = READ_ONCE(r->desc[h].last), e = h;

	if (!n || n > num)
		return -EINVAL;
	c->entry = h;
	c->last = last;
	c->ndesc = n;
	c->first = *ndescs;
	for (u16 k = 0; k < n; k++) {
		struct vdpa_inflight_pdesc *d = &out->descs[*ndescs];

		/* Out of range, free, another chain's, or a loop. */
		if (e >= num || state[e] != (k ? ENT_UNKNOWN : ENT_HEAD))
			return -EINVAL;
		state[e] = ENT_CHAIN;
		d->addr = READ_ONCE(r->desc[e].addr);
		d->len = READ_ONCE(r->desc[e].len);
		d->id = READ_ONCE(r->desc[e].id);
		d->flags = READ_ONCE(r->desc[e].flags);
		(*ndescs)++;
		/* virtio 1.2 §2.8.6: NEXT on all but the last, which has the ID. */
		if (!(d->flags & VRINGH_DESC_F_NEXT) != (k + 1 == n))
			return -EINVAL;
		if (k + 1 == n) {
			if (e != last || d->id >= num || ids[d->id])
				return -EINVAL;
			ids[d->id] = 1;
			c->id = d->id;
			out->next[e] = num;	/* rewritten when it is completed */
			break;
		}
		out->next[e] = READ_ONCE(r->desc[e].next);
		e = out->next[e];
	}
	out->nchains++;
	return 0;
}

int vdpa_inflight_packed_recover(struct vdpa_inflight_packed *r, size_t size,
				 u16 num, struct vringh *vrh,
				 struct vdpa_inflight_packed_recovery *out)
{
	struct vdpa_inflight_chain *sorted = NULL;
	struct inflight_ent *ents = NULL;
	u8 *state = NULL, *ids = NULL;
	u16 version, fh, ofh, ui, oui, e;
	u8 uw, ouw;
	u32 ndescs = 0, total = 0, pos;
	u64 next = 1;
	int ret = -EINVAL;

	out->nchains = 0;
	out->counter = 1;
	if (!num || num > VRINGH_NUM_MAX || size < vdpa_inflight_packed_queue_size(num))
		return -EINVAL;
	version = READ_ONCE(r->version);
	if (version == 0) {
		u16 avail = 0, used = VRINGH_EVENT_WRAP;

		if (vrh) {
			vringh_get_state(vrh, &avail, &used);
			inflight_packed_init(r, num, used, out->next);
		}
		out->free_head = 0;
		out->last_avail = avail;
		out->last_used = used;
		return 0;
	}
	if (version != VDPA_INFLIGHT_VERSION || READ_ONCE(r->desc_num) != num)
		return -EINVAL;
	fh = READ_ONCE(r->free_head);
	ofh = READ_ONCE(r->old_free_head);
	ui = READ_ONCE(r->used_idx);
	oui = READ_ONCE(r->old_used_idx);
	uw = READ_ONCE(r->used_wrap_counter);
	ouw = READ_ONCE(r->old_used_wrap_counter);
	if (fh > num || ofh > num || ui >= num || oui >= num || uw > 1 || ouw > 1)
		return -EINVAL;
	if (ui != oui || uw != ouw) {
		/*
		 * Died inside a batch. The first used descriptor is written
		 * last: at old_used_idx, still available in that lap, the
		 * driver saw none of it; used, all of it.
		 */
		u16 flags, bits, avail = ouw ? VRINGH_DESC_F_AVAIL : VRINGH_DESC_F_USED,
			   used = ouw ? VRINGH_DESC_F_AVAIL | VRINGH_DESC_F_USED : 0;

		if (vrh) {
			ret = vringh_packed_read_flags(vrh, oui, &flags);
			if (ret)
				return ret;
			bits = flags & (VRINGH_DESC_F_AVAIL | VRINGH_DESC_F_USED);
			if (bits == used) {
				ofh = fh;
				oui = ui;
				ouw = uw;
			} else if (bits != avail) {
				return -EINVAL;
			}
		}
	}
	/* Roll back what was cut short (a take, or a batch not shown). */
	fh = ofh;
	ui = oui;
	uw = ouw;

	ret = -ENOMEM;
	state = calloc(num, 1);
	ids = calloc(num, 1);
	ents = malloc((size_t)num * sizeof(*ents));
	sorted = malloc((size_t)num * sizeof(*sorted));
	if (!state || !ids || !ents || !sorted)
		goto out_free;
	ret = -EINVAL;
	for (e = fh; e != num; e = out->next[e]) {
		if (state[e])			/* a loop */
			goto out_free;
		state[e] = ENT_FREE;
		out->next[e] = READ_ONCE(r->desc[e].next);
		if (out->next[e] > num)		/* out of range */
			goto out_free;
	}
	for (u32 i = 0; i < num; i++) {
		u8 inflight = READ_ONCE(r->desc[i].inflight);

		if (inflight > 1)
			goto out_free;
		if (inflight && state[i] != ENT_FREE)
			state[i] = ENT_HEAD;
	}
	for (u32 i = 0; i < num; i++) {
		u64 c;

		if (state[i] != ENT_HEAD)
			continue;
		c = READ_ONCE(r->desc[i].counter);
		if (c == UINT64_MAX)
			goto out_free;
		ents[out->nchains].counter = c;
		ents[out->nchains].head = (u16)out->nchains;
		if (inflight_packed_chain(r, num, (u16)i, state, ids, &ndescs, out))
			goto out_free;
		total += out->chains[out->nchains - 1].ndesc;
	}
	inflight_sort(ents, out->nchains);
	for (u32 i = 0; i < out->nchains; i++) {
		/* Two alike: the order they were taken in is unknown. */
		if (i && ents[i].counter == ents[i - 1].counter)
			goto out_free;
		sorted[i] = out->chains[ents[i].head];
		next = ents[i].counter + 1;
	}
	memcpy(out->chains, sorted, out->nchains * sizeof(*sorted));
	ret = 0;
	if (!vrh)
		goto out_free;

	/*
	 * It adds up. Entries neither free nor in flight (none in a region
	 * this device wrote) are linked in front of the free list before
	 * they are reachable; the free entries are not in flight; then the
	 * heads and positions (a death in between repeats the same choice).
	 */
	for (u32 i = num; i-- > 0;) {
		if (state[i] != ENT_UNKNOWN)
			continue;
		out->next[i] = fh;
		WRITE_ONCE(r->desc[i].next, fh);
		fh = (u16)i;
	}
	for (u32 i = 0; i < num; i++)
		if (state[i] != ENT_CHAIN && READ_ONCE(r->desc[i].inflight))
			WRITE_ONCE(r->desc[i].inflight, 0);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(r->old_free_head, fh);
	WRITE_ONCE(r->free_head, fh);
	vdpa_inflight_packed_set_used(r, ui, ui, uw, uw);

	out->free_head = fh;
	out->last_used = (u16)(ui | (uw ? VRINGH_EVENT_WRAP : 0));
	/* Taking resumes past every chain in flight (total <= num: disjoint). */
	pos = ui + total;
	if (pos >= num)
		out->last_avail = (u16)((pos - num) | (uw ? 0 : VRINGH_EVENT_WRAP));
	else
		out->last_avail = (u16)(pos | (uw ? VRINGH_EVENT_WRAP : 0));
	out->counter = next;
out_free:
	free(sorted);
	free(ents);
	free(ids);
	free(state);
	if (ret)
		out->nchains = 0;
	return ret;
}
