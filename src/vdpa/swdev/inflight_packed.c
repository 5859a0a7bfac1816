// SPDX-License-Identifier: GPL-2.0-only
/*
 * Requests in flight on a packed ring, recorded in the front-end's region
 * as vhost-user.rst's QueueRegionPacked (the order of writes and the
 * recovery rules: include/kestrel/vdpa.h, struct vdpa_inflight_packed).
 *
 * The region is the front-end's memory: while the queue runs the device
 * only writes it. Its lists are kept in the device's own memory too
 * (struct swdev_pinflight, rebuilt from the region each time the queue
 * starts, after vdpa_inflight_packed_recover() checked it), so no index
 * the front-end could have changed is ever followed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>

#include "swdev.h"

/* Completions one region batch holds: vringh shows at most this many at once. */
#define PINFLIGHT_BATCH		64

/* A buffer ID in flight: its chain's entries in the region. */
struct swdev_pinflight_id {
	u16 entry;	/* head entry */
	u16 last;	/* last entry */
	u16 ndesc;	/* ring descriptors; 0: the ID is not in flight */
};

/*
 * struct swdev_pinflight - the device's copy of a packed region's lists
 * (queue lock)
 * @num: the queue size
 * @free_head: the region's free_head (= old_free_head between steps)
 * @next: each entry's next, as written to the region
 * @ids: per buffer ID
 * @chains: the chains to resubmit, oldest first (vq->nresubmit of them)
 * @descs: their ring descriptors (cpu-endian)
 * @take: room for one chain's ring descriptors (little-endian)
 */
struct swdev_pinflight {
	u16 num;
	u16 free_head;
	u16 *next;
	struct swdev_pinflight_id *ids;
	struct vdpa_inflight_chain *chains;
	struct vdpa_inflight_pdesc *descs;
	struct vringh_packed_desc *take;
};

void swdev_vq_inflight_free_packed(struct swdev_vq *vq)
{
	struct swdev_pinflight *pi = vq->pinflight;

	if (!pi)
		return;
	free(pi->take);
	free(pi->descs);
	free(pi->chains);
	free(pi->ids);
	free(pi->next);
	free(pi);
	vq->pinflight = NULL;
}

int swdev_vq_inflight_start_packed(struct swdev_vq *vq)
{
	struct swdev_pinflight *pi;
	u32 num = vq->num;

	swdev_vq_inflight_free_packed(vq);
	if (vq->inflight_size < vdpa_inflight_packed_queue_size(num))
		return -EINVAL;		/* too small for the packed layout */
	pi = xcalloc(1, sizeof(*pi));
	if (!pi)
		return -ENOMEM;
	vq->pinflight = pi;
	pi->num = (u16)num;
	pi->next = xcalloc(num, sizeof(*pi->next));
	pi->ids = xcalloc(num, sizeof(*pi->ids));
	pi->chains = xcalloc(num, sizeof(*pi->chains));
	pi->descs = xcalloc(num, sizeof(*pi->descs));
	pi->take = xcalloc(num, sizeof(*pi->take));
	if (!pi->next || !pi->ids || !pi->chains || !pi->descs || !pi->take) {
		swdev_vq_inflight_free_packed(vq);
		return -ENOMEM;
	}
	return 0;
}

bool swdev_vq_inflight_take_packed(struct swdev *sw, struct swdev_vq *vq, u16 id)
{
	struct swdev_pinflight *pi = vq->pinflight;
	struct vdpa_inflight_packed *r = vq->inflight_packed;
	int n = vringh_packed_last_chain(&vq->vring, id, pi->take, pi->num);
	u16 head = pi->free_head, e = head, last = head;

	if (n <= 0) {
		swdev_vq_error(sw, vq, n ? n : -EINVAL);
		return false;
	}
	/* Entries for n descriptors: there are, while at most num are in flight. */
	for (int k = 0; k < n; k++, e = pi->next[e]) {
		if (e >= pi->num) {
			swdev_vq_error(sw, vq, -ENOSPC);
			return false;
		}
		last = e;
	}
	e = head;
	for (int k = 0; k < n; k++, e = pi->next[e]) {
		struct vdpa_inflight_pdesc *d = &r->desc[e];

		WRITE_ONCE(d->addr, le64_to_cpu(pi->take[k].addr));
		WRITE_ONCE(d->len, le32_to_cpu(pi->take[k].len));
		WRITE_ONCE(d->id, le16_to_cpu(pi->take[k].id));
		WRITE_ONCE(d->flags, le16_to_cpu(pi->take[k].flags));
	}
	WRITE_ONCE(r->desc[head].num, (u16)n);
	WRITE_ONCE(r->desc[head].last, last);
	WRITE_ONCE(r->desc[head].counter, vq->inflight_counter++);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(r->desc[head].inflight, 1);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(r->free_head, e);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	/* The take is done: a restart resubmits the chain from here on. */
	WRITE_ONCE(r->old_free_head, e);
	pi->free_head = e;
	pi->ids[id] = (struct swdev_pinflight_id){ .entry = head, .last = last,
						   .ndesc = (u16)n };
	return true;
}

void swdev_vq_inflight_untake_packed(struct swdev_vq *vq, u16 id)
{
	struct swdev_pinflight *pi = vq->pinflight;
	struct vdpa_inflight_packed *r = vq->inflight_packed;
	struct swdev_pinflight_id *c = &pi->ids[id];

	/* Its entries back in front of the free list, where they came from. */
	WRITE_ONCE(r->desc[c->last].next, pi->free_head);
	pi->next[c->last] = pi->free_head;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(r->free_head, c->entry);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(r->old_free_head, c->entry);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(r->desc[c->entry].inflight, 0);
	pi->free_head = c->entry;
	c->ndesc = 0;
}

/* One batch of at most PINFLIGHT_BATCH: the region's steps around vringh's. */
static bool pinflight_publish(struct swdev *sw, struct swdev_vq *vq,
			      const struct vringh_used_elem *used, unsigned int n)
{
	struct swdev_pinflight *pi = vq->pinflight;
	struct vdpa_inflight_packed *r = vq->inflight_packed;
	u16 heads[PINFLIGHT_BATCH], fh = pi->free_head, enc, pos, npos;
	u32 total = 0;
	bool wrap, nwrap;
	int ret;

	for (unsigned int k = 0; k < n; k++) {
		struct swdev_pinflight_id *c;

		/* Not taken, or twice in the batch: vringh would refuse it too. */
		if (used[k].id >= pi->num || !pi->ids[used[k].id].ndesc) {
			swdev_vq_error(sw, vq, -EINVAL);
			return false;
		}
		c = &pi->ids[used[k].id];
		WRITE_ONCE(r->desc[c->last].next, fh);
		pi->next[c->last] = fh;
		fh = c->entry;
		heads[k] = c->entry;
		total += c->ndesc;
		c->ndesc = 0;
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(r->free_head, fh);
	vringh_get_state(&vq->vring, NULL, &enc);
	pos = enc & ~VRINGH_EVENT_WRAP;
	wrap = enc & VRINGH_EVENT_WRAP;
	npos = (u16)(pos + total);	/* total <= num: what is in flight */
	nwrap = wrap;
	if (npos >= pi->num) {
		npos = (u16)(npos - pi->num);
		nwrap = !wrap;
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	vdpa_inflight_packed_set_used(r, npos, pos, nwrap, wrap);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	ret = vringh_complete_multi(&vq->vring, used, n);
	if (unlikely(ret)) {
		swdev_vq_error(sw, vq, ret);
		return false;
	}
	/* Shown to the driver: the heads are no longer in flight. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (unsigned int k = 0; k < n; k++)
		WRITE_ONCE(r->desc[heads[k]].inflight, 0);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(r->old_free_head, fh);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	vdpa_inflight_packed_set_used(r, npos, npos, nwrap, nwrap);
	pi->free_head = fh;
	return true;
}

bool swdev_vq_publish_inflight_packed(struct swdev *sw, struct swdev_vq *vq,
				      const struct vringh_used_elem *used, unsigned int n)
{
	for (unsigned int done = 0, m; done < n; done += m) {
		m = MIN(n - done, PINFLIGHT_BATCH);
		if (!pinflight_publish(sw, vq, used + done, m))
			return false;
	}
	return true;
}

int swdev_vq_getdesc_resubmit_packed(struct swdev_vq *vq, struct vringh_iov *riov,
				     struct vringh_iov *wiov, u16 *head)
{
	struct swdev_pinflight *pi = vq->pinflight;
	const struct vdpa_inflight_chain *c = &pi->chains[vq->resubmit_pos];
	const struct vdpa_inflight_pdesc *d = &pi->descs[c->first];

	for (u16 k = 0; k < c->ndesc; k++)
		pi->take[k] = (struct vringh_packed_desc){
			.addr = cpu_to_le64(d[k].addr), .len = cpu_to_le32(d[k].len),
			.id = cpu_to_le16(d[k].id), .flags = cpu_to_le16(d[k].flags),
		};
	return vringh_getdesc_packed_copy(&vq->vring, pi->take, c->ndesc, riov, wiov, head);
}

bool swdev_vq_inflight_recover_packed(struct swdev *sw, struct swdev_vq *vq)
{
	struct swdev_pinflight *pi = vq->pinflight;
	struct vdpa_inflight_packed_recovery out = {
		.chains = pi->chains, .descs = pi->descs, .next = pi->next,
	};
	u16 idx = (u16)(vq - sw->vqs);
	int ret;

	memset(pi->ids, 0, pi->num * sizeof(*pi->ids));
	ret = vdpa_inflight_packed_recover(vq->inflight_packed, vq->inflight_size,
					   pi->num, &vq->vring, &out);
	/* Taking resumes past the chains in flight; those are taken already. */
	if (!ret)
		ret = vringh_set_state(&vq->vring, out.last_avail, out.last_used);
	for (u32 i = 0; !ret && i < out.nchains; i++) {
		const struct vdpa_inflight_chain *c = &out.chains[i];

		ret = vringh_packed_set_inflight(&vq->vring, c->id, c->ndesc);
		pi->ids[c->id] = (struct swdev_pinflight_id){
			.entry = c->entry, .last = c->last, .ndesc = c->ndesc,
		};
	}
	if (ret) {
		vq->stats.errors++;
		vdpa_device_error(&sw->vdpa, "queue %u: inflight region refused (%s)",
				  idx, strerror(-ret));
		return false;
	}
	pi->free_head = out.free_head;
	vq->inflight_counter = out.counter;
	vq->nresubmit = out.nchains;
	if (out.nchains)
		pr_info("%s: queue %u: resubmitting %u requests in flight",
			sw->vdpa.name, idx, out.nchains);
	return true;
}
