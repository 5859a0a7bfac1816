// SPDX-License-Identifier: GPL-2.0-only
/*
 * vringh: host-side split virtqueue walker (see kestrel/vringh.h for the
 * contract, the error table and the barrier pairing).
 *
 * Fast path for one packet: the ring areas are translated once per IOTLB
 * generation into host pointers; each buffer descriptor costs one cached
 * translation (no lock, no tree walk) and one iovec; nothing allocates
 * unless a chain outgrows the caller's iovec storage.
 *
 * Packed rings have the same fast path (vringh_packed_getdesc()): a list
 * of one direct descriptor, available in this lap, whose buffer the hot
 * translation covers, is taken with one flags load and one compare, and
 * the inline vringh_complete() writes its used descriptor; any other list,
 * and any doubt, goes to the general walker, which makes every check.
 */
#include <kestrel/vringh.h>

#include <kestrel/log.h>

_Static_assert(IOTLB_PERM_RO == 1 && IOTLB_PERM_WO == 2,
	       "vringh_getdesc() derives the permission from the WRITE flag");

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SMP barriers; see the pairing notes in vringh.h. */
#define smp_rmb()	__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_wmb()	__atomic_thread_fence(__ATOMIC_RELEASE)
#define smp_mb()	__atomic_thread_fence(__ATOMIC_SEQ_CST)

/* Segments one buffer descriptor is translated into per step. */
#define VRINGH_XLATE_SEGS	16

/* The driver's used_event lives after avail->ring[num] (virtio 1.2 §2.7.10). */
static inline le16 *vringh_used_event(struct vringh *vrh)
{
	return &vrh->avail->ring[vrh->num];
}

/* The device's avail_event lives after used->ring[num]. */
static inline le16 *vringh_avail_event(struct vringh *vrh)
{
	return (le16 *)&vrh->used->ring[vrh->num];
}

/*
 * vringh_bad() - the one place ring errors are reported: rate-limited,
 * never per descriptor. Marks the ring broken and returns @err.
 */
static __cold __printf(3, 4) int vringh_bad(struct vringh *vrh, int err,
					    const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_warn_ratelimited("vringh: ring (desc 0x%llx) broken: %s (%d)",
			    (unsigned long long)vrh->desc_addr, msg, err);
	vrh->broken = err;
	/*
	 * No live generation is 0 (iotlb.h; vringh_host_generation), so
	 * the one generation compare on every fast path also catches
	 * "broken" and sends the caller to the slow path that returns it.
	 */
	vrh->ring_generation = 0;
	return err;
}

/* The generation of host memory: fixed, and never 0. */
static const u64 vringh_host_generation = 1;

/*
 * The hot translation (struct vringh @hot_*): a copy of the cache entry
 * that served the last lookup, tried first by every fast path (the
 * buffers of a queue almost always share one mapping). No generation
 * compare: with ring_generation current (the caller checked) it belongs
 * to that generation, because vringh_resolve() clears it, later copies
 * come from cache entries of ring_generation (vringh_cache_find()), and
 * generations are never reused (iotlb.h).
 */
#define VRINGH_HOT_SPAN_MAX	(1ULL << 63)

static inline void vringh_hot_set(struct vringh *vrh, u64 start, u64 last,
				  u64 addr, unsigned int perm)
{
	vrh->hot_start = start;
	/* Clamped: covering less is safe, and off + len - 1 cannot wrap. */
	vrh->hot_span = MIN(last - start, VRINGH_HOT_SPAN_MAX);
	vrh->hot_addr = addr;
	vrh->hot_perm = perm;
}

static inline void vringh_hot_clear(struct vringh *vrh)
{
	vrh->hot_perm = 0;
}

/*
 * Does the hot translation cover [@addr, @addr + @len) with @perm
 * (IOTLB_PERM_RO or _WO)? *@off receives @addr - hot_start. If not, ask
 * vringh_cache_find(), then the IOTLB. @len > 0. One subtraction gives the offset; an @addr
 * below hot_start wraps it above hot_span (hot_span < 2^64 - hot_start).
 */
static inline bool vringh_hot_covers(const struct vringh *vrh, u64 addr,
				     u32 len, unsigned int perm, u64 *off)
{
	*off = addr - vrh->hot_start;
	return likely(*off <= vrh->hot_span && *off + (len - 1) <= vrh->hot_span &&
		      (vrh->hot_perm & perm));
}

static inline void *vringh_hot_xlate(const struct vringh *vrh, u64 addr,
				     u32 len, unsigned int perm)
{
	u64 off;

	if (unlikely(!vringh_hot_covers(vrh, addr, len, perm, &off)))
		return NULL;
	return (void *)(uintptr_t)(vrh->hot_addr + off);
}

/* Translate guest [addr, addr + len) for the walker, by flavour. */
static inline ssize_t vringh_xlate(struct vringh *vrh, u64 addr, u64 len,
				   unsigned int perm, struct iotlb_seg *segs,
				   unsigned int nsegs)
{
	if (vrh->mem == VRINGH_MEM_HOST) {
		if (!len)
			return 0;
		if (addr < vrh->host_start || addr > vrh->host_last ||
		    len - 1 > vrh->host_last - addr)
			return -EFAULT;
		if (!nsegs)
			return -ENOBUFS;
		segs[0].addr = (void *)(uintptr_t)addr;
		segs[0].len = len;
		return 1;
	}
	return iotlb_translate_cached(vrh->iotlb, &vrh->cache, addr, len, perm,
				      segs, nsegs);
}

/*
 * Host pointer to a ring area or indirect table that must be
 * host-contiguous. Return: 0, -EFAULT (unmapped, or split into pieces that
 * are not adjacent in host memory), -EPERM.
 */
static int vringh_map_area(struct vringh *vrh, u64 addr, u64 len,
			   unsigned int perm, void **out)
{
	struct iotlb_seg segs[8];
	ssize_t n, i;

	n = vringh_xlate(vrh, addr, len, perm, segs, ARRAY_SIZE(segs));
	if (n == -ENOBUFS)
		return -EFAULT;
	if (n <= 0)
		return n ? n : -EFAULT;
	for (i = 1; i < n; i++)
		if ((char *)segs[i - 1].addr + segs[i - 1].len != segs[i].addr)
			return -EFAULT;
	*out = segs[0].addr;
	return 0;
}

/* (Re)translate the three ring areas. */
static int vringh_resolve(struct vringh *vrh)
{
	u64 gen;
	void *desc, *avail, *used;
	size_t avail_len = vringh_avail_size(vrh->num);
	size_t used_len = vringh_used_size(vrh->num);
	/* A packed ring's descriptors are overwritten by used ones. */
	unsigned int desc_perm = IOTLB_PERM_RO;
	int ret;

	if (vrh->type == VRINGH_RING_PACKED) {
		avail_len = used_len = sizeof(struct vringh_packed_event);
		desc_perm = IOTLB_PERM_RW;
	} else if (!vrh->event_indices) {
		avail_len -= sizeof(le16);
		used_len -= sizeof(le16);
	}
	if (vrh->mem == VRINGH_MEM_IOTLB) {
		gen = iotlb_generation(vrh->iotlb);
		/*
		 * Entries of older generations go: vringh_getdesc()'s fast
		 * path relies on every cached entry being of a generation
		 * >= ring_generation (see there).
		 */
		iotlb_cache_flush(&vrh->cache);
		vringh_hot_clear(vrh);
	} else {
		gen = vringh_host_generation;
	}
	ret = vringh_map_area(vrh, vrh->desc_addr, vringh_desc_size(vrh->num),
			      desc_perm, &desc);
	if (ret)
		return vringh_bad(vrh, ret, "descriptor %s not mapped %s",
				  desc_perm == IOTLB_PERM_RW ? "ring" : "table",
				  desc_perm == IOTLB_PERM_RW ? "read-write" : "readable");
	ret = vringh_map_area(vrh, vrh->avail_addr, avail_len, IOTLB_PERM_RO, &avail);
	if (ret)
		return vringh_bad(vrh, ret, "driver area not mapped readable");
	ret = vringh_map_area(vrh, vrh->used_addr, used_len, IOTLB_PERM_WO, &used);
	if (ret)
		return vringh_bad(vrh, ret, "device area not mapped writable");
	vrh->desc = desc;
	vrh->avail = avail;
	vrh->used = used;
	vrh->pdesc = desc;
	vrh->driver_event = avail;
	vrh->device_event = used;
	vrh->ring_generation = gen;
	return 0;
}

/* Common entry check: broken? ring areas still translated right? */
static inline int vringh_ready(struct vringh *vrh)
{
	if (unlikely(vrh->broken))
		return vrh->broken;
	if (unlikely(__atomic_load_n(vrh->generation, __ATOMIC_ACQUIRE) !=
		     vrh->ring_generation))
		return vringh_resolve(vrh);
	return 0;
}

static int vringh_init_common(struct vringh *vrh, u64 features, unsigned int num,
			      bool weak_barriers, u64 desc, u64 avail, u64 used)
{
	bool packed = features & VRINGH_F_RING_PACKED;

	if (!num || num > VRINGH_NUM_MAX || (!packed && (num & (num - 1))))
		return -EINVAL;
	/*
	 * virtio 1.2 §2.7: alignment 16 / 2 / 4 for the three areas;
	 * §2.8.10.1: 16 / 4 / 4 for a packed ring.
	 */
	if (!IS_ALIGNED(desc, 16) || !IS_ALIGNED(avail, packed ? 4 : 2) ||
	    !IS_ALIGNED(used, 4))
		return -EINVAL;
	/* Not the per-ID arrays at the end: only what a packed ring uses. */
	memset(vrh, 0, offsetof(struct vringh, inflight));
	if (packed) {
		memset(vrh->inflight, 0, num * sizeof(vrh->inflight[0]));
		vrh->type = VRINGH_RING_PACKED;
		vrh->avail_wrap = vrh->used_wrap = true;
	} else {
		vrh->type = VRINGH_RING_SPLIT;
		vrh->split_num = num;
	}
	vrh->features = features;
	vrh->event_indices = !!(features & VRINGH_F_EVENT_IDX);
	vrh->indirect = !!(features & VRINGH_F_INDIRECT_DESC);
	vrh->weak_barriers = weak_barriers;
	vrh->num = num;
	vrh->mask = num - 1;
	vrh->generation = &vringh_host_generation;
	vrh->desc_addr = desc;
	vrh->avail_addr = avail;
	vrh->used_addr = used;
	iotlb_cache_init(&vrh->cache);
	return 0;
}

int vringh_init_iotlb(struct vringh *vrh, u64 features, unsigned int num,
		      bool weak_barriers, struct iotlb *iotlb,
		      u64 desc_addr, u64 avail_addr, u64 used_addr)
{
	int ret;

	if (!iotlb)
		return -EINVAL;
	ret = vringh_init_common(vrh, features, num, weak_barriers, desc_addr,
				 avail_addr, used_addr);
	if (ret)
		return ret;
	vrh->mem = VRINGH_MEM_IOTLB;
	vrh->iotlb = iotlb;
	vrh->generation = &((const struct iotlb_public *)iotlb)->generation;
	return vringh_resolve(vrh);
}

int vringh_init_host(struct vringh *vrh, u64 features, unsigned int num,
		     bool weak_barriers, void *base, size_t len,
		     struct vringh_desc *desc, struct vringh_avail *avail,
		     struct vringh_used *used)
{
	u64 start = (uintptr_t)base;
	int ret;

	if (!len || len - 1 > UINT64_MAX - start)
		return -EINVAL;
	ret = vringh_init_common(vrh, features, num, weak_barriers,
				 (uintptr_t)desc, (uintptr_t)avail, (uintptr_t)used);
	if (ret)
		return ret;
	vrh->mem = VRINGH_MEM_HOST;
	vrh->host_start = start;
	vrh->host_last = start + (len - 1);
	/*
	 * The whole window as one read-write cache entry of the fixed host
	 * generation: the buffer fast path then needs no flavour test. Only
	 * vringh fills this cache, and never for host memory.
	 */
	vrh->cache.generation = vringh_host_generation;
	vrh->cache.e[0].start = vrh->host_start;
	vrh->cache.e[0].last = vrh->host_last;
	vrh->cache.e[0].addr = vrh->host_start;
	vrh->cache.e[0].perm = IOTLB_PERM_RW;
	vringh_hot_set(vrh, vrh->host_start, vrh->host_last, vrh->host_start,
		       IOTLB_PERM_RW);
	return vringh_resolve(vrh);
}

/* ---- iov ------------------------------------------------------------------- */

void vringh_iov_init(struct vringh_iov *iov, struct iovec *storage,
		     unsigned int num, bool growable)
{
	iov->iov = storage;
	iov->max = storage ? num : 0;
	iov->limit = growable ? MAX(VRINGH_IOV_MAX, iov->max) : iov->max;
	iov->allocated = false;
	vringh_iov_reset(iov);
}

void vringh_iov_cleanup(struct vringh_iov *iov)
{
	if (iov->allocated) {
		free(iov->iov);
		iov->iov = NULL;
		iov->max = 0;
		iov->allocated = false;
	}
	vringh_iov_reset(iov);
}

/* Room for at least one more segment. Return: 0, -ENOBUFS, -ENOMEM. */
static int vringh_iov_grow(struct vringh_iov *iov)
{
	unsigned int max;
	struct iovec *p;

	if (iov->max >= iov->limit)
		return -ENOBUFS;
	max = iov->max ? MIN(iov->max * 2, iov->limit) : MIN(8u, iov->limit);
	if (iov->allocated) {
		p = realloc(iov->iov, max * sizeof(*p));
	} else {
		p = malloc(max * sizeof(*p));
		if (p && iov->used)
			memcpy(p, iov->iov, iov->used * sizeof(*p));
	}
	if (!p)
		return -ENOMEM;
	iov->iov = p;
	iov->max = max;
	iov->allocated = true;
	return 0;
}

size_t __vringh_iov_length(const struct vringh_iov *iov)
{
	size_t len = 0;
	unsigned int i;

	for (i = iov->i; i < iov->used; i++)
		len += iov->iov[i].iov_len;
	return len - (iov->i < iov->used ? iov->off : 0);
}

/*
 * memcpy() for the short pieces packets are made of: up to 64 bytes in
 * fixed-size moves (overlapping at the end), no libc call. @dst and @src
 * do not overlap (guest buffer vs. device memory).
 */
static inline void vringh_copy(void *dst, const void *src, size_t n)
{
	char *d = dst;
	const char *s = src;
	size_t k;

	if (likely(n >= 16 && n <= 64)) {
		for (k = 0; k + 16 < n; k += 16)
			__builtin_memcpy(d + k, s + k, 16);
		__builtin_memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 8 && n < 16) {
		__builtin_memcpy(d, s, 8);
		__builtin_memcpy(d + n - 8, s + n - 8, 8);
	} else if (n >= 4 && n < 8) {
		__builtin_memcpy(d, s, 4);
		__builtin_memcpy(d + n - 4, s + n - 4, 4);
	} else if (n < 4) {
		if (n) {
			d[0] = s[0];
			d[n / 2] = s[n / 2];
			d[n - 1] = s[n - 1];
		}
	} else {
		memcpy(d, s, n);
	}
}

static inline size_t vringh_iov_xfer(struct vringh_iov *iov, void *buf,
				     size_t len, bool to_iov)
{
	size_t done = 0;

	while (len && iov->i < iov->used) {
		struct iovec *v = &iov->iov[iov->i];
		size_t part = MIN(len, v->iov_len - iov->off);

		if (buf) {
			if (to_iov)
				vringh_copy((char *)v->iov_base + iov->off, buf, part);
			else
				vringh_copy(buf, (char *)v->iov_base + iov->off, part);
			buf = (char *)buf + part;
		}
		done += part;
		len -= part;
		iov->off += part;
		if (iov->off == v->iov_len) {
			iov->i++;
			iov->off = 0;
		}
	}
	return done;
}

size_t vringh_iov_advance(struct vringh_iov *iov, size_t len)
{
	return vringh_iov_xfer(iov, NULL, len, false);
}

ssize_t __vringh_iov_pull(struct vringh_iov *riov, void *dst, size_t len)
{
	return vringh_iov_xfer(riov, dst, len, false);
}

ssize_t __vringh_iov_push(struct vringh_iov *wiov, const void *src, size_t len)
{
	return vringh_iov_xfer(wiov, (void *)src, len, true);
}

/* ---- chain walking ---------------------------------------------------------- */

/*
 * The cached entry covering [@addr, @addr + @len) with @perm, made the hot
 * translation so the next lookup tries it first. The caller has checked
 * that ring_generation is current.
 */
static inline const struct iotlb_cache_entry *
vringh_cache_find(struct vringh *vrh, u64 addr, u32 len, unsigned int perm)
{
	const struct iotlb_cache_entry *e;

	e = iotlb_cache_find(&vrh->cache, vrh->ring_generation, addr, len, perm);
	if (e)
		vringh_hot_set(vrh, e->start, e->last, e->addr, e->perm);
	return e;
}

/* Append the host segments of one buffer descriptor to @iov (slow path). */
static __attribute__((noinline)) int vringh_iov_add(struct vringh *vrh, struct vringh_iov *iov,
			  u64 addr, u32 len, unsigned int perm)
{
	struct iotlb_seg segs[VRINGH_XLATE_SEGS];
	const struct iotlb_cache_entry *e;
	ssize_t n, i;
	int ret;

	e = vringh_cache_find(vrh, addr, len, perm);
	if (e && iov->used < iov->max) {
		iov->iov[iov->used].iov_base = (void *)(uintptr_t)(e->addr + (addr - e->start));
		iov->iov[iov->used].iov_len = len;
		iov->used++;
		return 0;
	}
	for (;;) {
		n = vringh_xlate(vrh, addr, len, perm, segs, ARRAY_SIZE(segs));
		/* A single-segment translation filled the cache: make it hot. */
		if (n == 1)
			vringh_cache_find(vrh, addr, len, perm);
		if (unlikely(n < 0 && n != -ENOBUFS))
			return n;
		for (i = 0; i < (n < 0 ? VRINGH_XLATE_SEGS : n); i++) {
			if (unlikely(iov->used == iov->max)) {
				ret = vringh_iov_grow(iov);
				if (ret)
					return ret;
			}
			iov->iov[iov->used].iov_base = segs[i].addr;
			iov->iov[iov->used].iov_len = segs[i].len;
			iov->used++;
			addr += segs[i].len;
			len -= segs[i].len;
		}
		if (n >= 0)
			return 0;
	}
}

/* Read descriptor @i of an indirect table that is not host-contiguous. */
static __attribute__((noinline)) int
vringh_read_desc_slow(struct vringh *vrh, u64 table, u32 i, struct vringh_desc *d)
{
	struct iotlb_seg segs[sizeof(*d)];
	char *p = (char *)d;
	ssize_t n, k;

	n = vringh_xlate(vrh, table + (u64)i * sizeof(*d), sizeof(*d),
			 IOTLB_PERM_RO, segs, ARRAY_SIZE(segs));
	if (n < 0)
		return n;
	for (k = 0; k < n; k++) {
		memcpy(p, segs[k].addr, segs[k].len);
		p += segs[k].len;
	}
	return 0;
}

/* Where a chain's descriptors are read from. */
struct vringh_table {
	const struct vringh_desc *desc;	/* host pointer, or NULL: */
	u64 iova;			/* read piecewise from here */
	u32 size;			/* entries */
	bool indirect;
};

/* Switch @t to the indirect table @d points to (virtio 1.2 §2.7.5.3). */
static __attribute__((noinline)) int
vringh_enter_indirect(struct vringh *vrh, u64 taddr, u32 len, u16 flags, u32 i,
		      struct vringh_table *t)
{
	void *p;
	int ret;

	/* virtio 1.2 §2.7.5.3.1 */
	if (t->indirect || !vrh->indirect || (flags & VRINGH_DESC_F_NEXT))
		return vringh_bad(vrh, -EMLINK, "bad indirect descriptor %u (flags 0x%x)",
				  i, flags);
	if (!len || len % sizeof(struct vringh_desc) ||
	    len > vrh->num * sizeof(struct vringh_desc))
		return vringh_bad(vrh, -EMSGSIZE, "indirect table length %u", len);
	/* Tables usually sit in the mapping the buffers do: try it first. */
	p = vringh_hot_xlate(vrh, taddr, len, IOTLB_PERM_RO);
	ret = p ? 0 : vringh_map_area(vrh, taddr, len, IOTLB_PERM_RO, &p);
	if (!ret && IS_ALIGNED((uintptr_t)p, _Alignof(struct vringh_desc))) {
		t->desc = p;
	} else if (!ret || (ret == -EFAULT && vrh->mem == VRINGH_MEM_IOTLB)) {
		/*
		 * Misaligned (the spec asks no alignment of indirect tables),
		 * or maybe mapped but not host-contiguous: read piecewise.
		 */
		t->desc = NULL;
		t->iova = taddr;
	} else {
		return vringh_bad(vrh, ret, "indirect table not mapped");
	}
	t->indirect = true;
	t->size = len / sizeof(struct vringh_desc);
	return 0;
}

/*
 * Walk the chain at @head into @riov/@wiov (reset by the caller). Kept
 * register-friendly: each descriptor is copied field by field into locals
 * (one volatile load each: no double fetch), the current table lives in
 * locals (@t only carries it across vringh_enter_indirect()), and the
 * segment count of the iov being filled is a local written back before
 * anything else may look at it (the slow append, a direction change, the
 * return). A descriptor the hot translation covers costs no call.
 */
static __attribute__((noinline)) int
vringh_walk(struct vringh *vrh, u16 head, struct vringh_iov *riov,
	    struct vringh_iov *wiov)
{
	struct vringh_table t = { .desc = vrh->desc, .size = vrh->num };
	const struct vringh_desc *table = t.desc;
	struct vringh_iov *iov = riov;
	u32 i = head, visited = 0, total = 0, size = t.size;
	u16 dir = 0;		/* 0: readable part; VRINGH_DESC_F_WRITE after */
	unsigned int perm = IOTLB_PERM_RO;	/* what @dir needs */
	unsigned int used = riov ? riov->used : 0;
	u64 bytes = 0;
	int ret;

	for (;;) {
		u16 flags, next;
		u32 len;
		u64 addr, off;

		if (unlikely(++visited > size)) {
			ret = vringh_bad(vrh, -ELOOP, "descriptor loop at %u", i);
			goto out;
		}
		if (likely(table)) {
			const struct vringh_desc *src = &table[i];

			addr = le64_to_cpu(READ_ONCE(src->addr));
			len = le32_to_cpu(READ_ONCE(src->len));
			flags = le16_to_cpu(READ_ONCE(src->flags));
			next = le16_to_cpu(READ_ONCE(src->next));
		} else {
			struct vringh_desc d;

			ret = vringh_read_desc_slow(vrh, t.iova, i, &d);
			if (ret) {
				ret = vringh_bad(vrh, ret, "indirect table unreadable");
				goto out;
			}
			addr = le64_to_cpu(d.addr);
			len = le32_to_cpu(d.len);
			flags = le16_to_cpu(d.flags);
			next = le16_to_cpu(d.next);
		}

		if (unlikely(flags & VRINGH_DESC_F_INDIRECT)) {
			ret = vringh_enter_indirect(vrh, addr, len, flags, i, &t);
			if (ret)
				goto out;
			table = t.desc;
			size = t.size;
			visited = 0;
			i = 0;
			continue;
		}

		/* Buffer descriptors only count toward the chain length. */
		if (unlikely(++total > vrh->num)) {
			ret = vringh_bad(vrh, -E2BIG, "chain longer than ring");
			goto out;
		}
		if (unlikely((flags & VRINGH_DESC_F_WRITE) != dir)) {
			/* virtio 1.2 §2.7.4.2: readable before writable */
			if (dir) {
				ret = vringh_bad(vrh, -EPROTO, "readable after writable");
				goto out;
			}
			dir = VRINGH_DESC_F_WRITE;
			perm = IOTLB_PERM_WO;
			if (iov)
				iov->used = used;
			iov = wiov;
			used = wiov ? wiov->used : 0;
		}
		if (unlikely(!iov)) {
			ret = vringh_bad(vrh, -EACCES, "unexpected %s buffer",
					 dir ? "writable" : "readable");
			goto out;
		}
		bytes += len;
		if (unlikely(bytes > UINT32_MAX)) {
			ret = vringh_bad(vrh, -EOVERFLOW, "chain longer than 4 GiB");
			goto out;
		}
		if (likely(len) &&
		    likely(vringh_hot_covers(vrh, addr, len, perm, &off) &&
			   used < iov->max)) {
			struct iovec *v = &iov->iov[used++];

			v->iov_base = (void *)(uintptr_t)(vrh->hot_addr + off);
			v->iov_len = len;
		} else if (len) {
			iov->used = used;
			ret = vringh_iov_add(vrh, iov, addr, len, perm);
			used = iov->used;
			if (unlikely(ret)) {
				if (ret != -ENOMEM)
					ret = vringh_bad(vrh, ret, "buffer 0x%llx+%u unusable",
							 (unsigned long long)addr, len);
				goto out;
			}
		}
		if (!(flags & VRINGH_DESC_F_NEXT)) {
			ret = 0;
			goto out;
		}
		i = next;
		if (unlikely(i >= size)) {
			ret = vringh_bad(vrh, -ENXIO, "next index %u >= %u", i, size);
			goto out;
		}
	}
out:
	if (iov)
		iov->used = used;
	return ret;
}

/* Take the chain at *@head (a head index < num): reset the iovs, walk it, consume it. */
static __attribute__((noinline)) int
vringh_getdesc_walk(struct vringh *vrh, struct vringh_iov *riov,
		    struct vringh_iov *wiov, u16 *head)
{
	u16 h = *head;
	int ret;

	if (riov)
		vringh_iov_reset(riov);
	if (wiov)
		vringh_iov_reset(wiov);
	ret = vringh_walk(vrh, h, riov, wiov);
	if (unlikely(ret))
		return ret;
	vrh->last_avail_idx++;
	return 1;
}

/*
 * Everything vringh_getdesc() does, from any state: the entry check
 * (broken, ring areas re-translated after an IOTLB change), the avail
 * index and the head, then the full walker.
 */
static __attribute__((noinline)) int
vringh_getdesc_slow(struct vringh *vrh, struct vringh_iov *riov,
		    struct vringh_iov *wiov, u16 *head)
{
	u16 avail_idx, slot, h;
	int ret;

	ret = vringh_ready(vrh);
	if (unlikely(ret))
		return ret;

	avail_idx = vrh->avail_idx_shadow;
	if (avail_idx == vrh->last_avail_idx) {
		avail_idx = le16_to_cpu(READ_ONCE(vrh->avail->idx));
		/* virtio 1.2 §2.7.13.3: at most num buffers outstanding */
		if (unlikely((u16)(avail_idx - vrh->last_avail_idx) > vrh->num))
			return vringh_bad(vrh, -EILSEQ, "avail idx moved %u -> %u",
					  vrh->last_avail_idx, avail_idx);
		vrh->avail_idx_shadow = avail_idx;
		if (avail_idx == vrh->last_avail_idx) {
			if (riov)
				vringh_iov_reset(riov);
			if (wiov)
				vringh_iov_reset(wiov);
			return 0;
		}
		/* Pairs with the driver's wmb before its avail->idx store. */
		smp_rmb();
	}

	slot = vrh->last_avail_idx & vrh->mask;
	h = le16_to_cpu(READ_ONCE(vrh->avail->ring[slot]));
	if (unlikely(h >= vrh->num))
		return vringh_bad(vrh, -ERANGE, "head %u >= ring size %u", h, vrh->num);
	*head = h;
	return vringh_getdesc_walk(vrh, riov, wiov, head);
}

/* Reset @iov to hold one segment [@base, @base + @len) (max >= 1). */
static inline void vringh_iov_set1(struct vringh_iov *iov, void *base, u32 len)
{
	struct iovec *v = iov->iov;

	v->iov_base = base;
	v->iov_len = len;
	iov->used = 1;
	iov->i = 0;
	iov->off = 0;
}

/*
 * vringh_getdesc()'s one-descriptor chain, direct, its direction decided
 * (@iov receives it, @other gets reset) and the hot translation's
 * permission checked: take it if @iov has room and the hot translation
 * covers the buffer. Inlined once per direction, so neither pays for
 * choosing. Return: true if taken; false: nothing consumed, walk it.
 */
static inline __attribute__((always_inline)) bool
vringh_take_one(struct vringh *vrh, struct vringh_iov *iov,
		struct vringh_iov *other, const struct vringh_desc *src, u16 last)
{
	u64 addr, off;
	u32 len;

	if (unlikely(!iov || !iov->max))
		return false;
	/* Harmless if we end up walking: the walker resets both. */
	if (other)
		vringh_iov_reset(other);
	addr = le64_to_cpu(READ_ONCE(src->addr));
	len = le32_to_cpu(READ_ONCE(src->len));
	/* The hot range (the caller checked the permission). */
	off = addr - vrh->hot_start;
	if (unlikely(!len || off > vrh->hot_span || off + (len - 1) > vrh->hot_span))
		return false;
	vringh_iov_set1(iov, (void *)(uintptr_t)(vrh->hot_addr + off), len);
	vrh->last_avail_idx = last + 1;
	return true;
}

/* ---- packed ring (virtio 1.2 §2.8) ---------------------------------------- */

/* The flags a descriptor made available in the lap of wrap counter @w has. */
static inline u16 vringh_packed_avail_bits(bool w)
{
	return w ? VRINGH_DESC_F_AVAIL : VRINGH_DESC_F_USED;
}

/* ... and the ones a used descriptor of that lap has. */
static inline u16 vringh_packed_used_bits(bool w)
{
	return __vringh_packed_used_bits(w);
}

#define VRINGH_PACKED_BITS	(VRINGH_DESC_F_AVAIL | VRINGH_DESC_F_USED)

/*
 * Is the descriptor with @flags available in the lap of @w? 1 yes, 0 no
 * (a used or stale descriptor of an earlier lap: AVAIL differs from @w),
 * -EBADMSG when AVAIL and USED both equal @w (a used descriptor of this
 * lap, which the device has not written here).
 */
static inline int vringh_packed_state(u16 flags, bool w)
{
	u16 bits = flags & VRINGH_PACKED_BITS;

	if (likely(bits == vringh_packed_avail_bits(w)))
		return 1;
	if (bits == vringh_packed_used_bits(w))
		return -EBADMSG;
	return 0;
}

/*
 * Where a packed chain's buffers go: the iov being filled and the
 * direction so far (readable ones first, virtio 1.2 §2.8.16).
 */
struct vringh_packed_walk {
	struct vringh_iov *riov, *wiov, *iov;
	u16 dir;
	unsigned int perm;
	u32 total;
	u64 bytes;
};

/* Append one buffer descriptor of a packed chain (ring or indirect). */
static int vringh_packed_buf(struct vringh *vrh, struct vringh_packed_walk *w,
			     u64 addr, u32 len, u16 flags)
{
	struct vringh_iov *iov;
	u64 off;
	int ret;

	if (unlikely(++w->total > vrh->num))
		return vringh_bad(vrh, -E2BIG, "chain longer than ring");
	if (unlikely((flags & VRINGH_DESC_F_WRITE) != w->dir)) {
		if (w->dir)
			return vringh_bad(vrh, -EPROTO, "readable after writable");
		w->dir = VRINGH_DESC_F_WRITE;
		w->perm = IOTLB_PERM_WO;
		w->iov = w->wiov;
	}
	iov = w->iov;
	if (unlikely(!iov))
		return vringh_bad(vrh, -EACCES, "unexpected %s buffer",
				  w->dir ? "writable" : "readable");
	w->bytes += len;
	if (unlikely(w->bytes > UINT32_MAX))
		return vringh_bad(vrh, -EOVERFLOW, "chain longer than 4 GiB");
	if (!len)
		return 0;
	if (likely(vringh_hot_covers(vrh, addr, len, w->perm, &off) &&
		   iov->used < iov->max)) {
		struct iovec *v = &iov->iov[iov->used++];

		v->iov_base = (void *)(uintptr_t)(vrh->hot_addr + off);
		v->iov_len = len;
		return 0;
	}
	ret = vringh_iov_add(vrh, iov, addr, len, w->perm);
	if (unlikely(ret) && ret != -ENOMEM)
		ret = vringh_bad(vrh, ret, "buffer 0x%llx+%u unusable",
				 (unsigned long long)addr, len);
	return ret;
}

/* The buffers of the indirect table at [@taddr, @taddr + @len). */
static __attribute__((noinline)) int
vringh_packed_indirect(struct vringh *vrh, struct vringh_packed_walk *w,
		       u64 taddr, u32 len, u16 flags, u16 pos)
{
	struct vringh_table t = { .indirect = false };
	u32 i;
	int ret;

	ret = vringh_enter_indirect(vrh, taddr, len, flags, pos, &t);
	if (ret)
		return ret;
	for (i = 0; i < t.size; i++) {
		struct vringh_packed_desc d;

		if (likely(t.desc)) {
			const struct vringh_packed_desc *src =
				(const struct vringh_packed_desc *)&t.desc[i];

			d.addr = READ_ONCE(src->addr);
			d.len = READ_ONCE(src->len);
			d.flags = READ_ONCE(src->flags);
		} else {
			ret = vringh_read_desc_slow(vrh, t.iova, i, (struct vringh_desc *)&d);
			if (ret)
				return vringh_bad(vrh, ret, "indirect table unreadable");
		}
		flags = le16_to_cpu(d.flags);
		/*
		 * §2.8.19: only WRITE is valid in a table; NEXT and the ID
		 * are ignored (the length bounds the list), a nested table
		 * is refused.
		 */
		if (unlikely(flags & VRINGH_DESC_F_INDIRECT))
			return vringh_bad(vrh, -EMLINK, "indirect descriptor %u in a table", i);
		ret = vringh_packed_buf(vrh, w, le64_to_cpu(d.addr),
					le32_to_cpu(d.len), flags);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Take the packed chain whose first descriptor, at the next avail position,
 * is available with @flags (already loaded, with acquire). Reads each
 * descriptor once into locals, at most ring size of them (plus one table
 * of at most ring size); nothing of the vringh changes unless it succeeds.
 */
static __attribute__((noinline)) int
vringh_packed_walk(struct vringh *vrh, struct vringh_iov *riov,
		   struct vringh_iov *wiov, u16 *head, u16 flags)
{
	struct vringh_packed_walk w = {
		.riov = riov, .wiov = wiov, .iov = riov, .perm = IOTLB_PERM_RO,
	};
	u32 pos = vrh->last_avail_idx, count = 0;
	bool wrap = vrh->avail_wrap;
	u16 id;
	int ret;

	if (riov)
		vringh_iov_reset(riov);
	if (wiov)
		vringh_iov_reset(wiov);
	for (;;) {
		const struct vringh_packed_desc *src = &vrh->pdesc[pos];
		u64 addr = le64_to_cpu(READ_ONCE(src->addr));
		u32 len = le32_to_cpu(READ_ONCE(src->len));

		id = le16_to_cpu(READ_ONCE(src->id));
		count++;
		if (unlikely(flags & VRINGH_DESC_F_INDIRECT)) {
			/* §2.8.19: an indirect descriptor is alone in its list. */
			if (count > 1)
				return vringh_bad(vrh, -EMLINK,
						  "indirect descriptor %u after NEXT", pos);
			ret = vringh_packed_indirect(vrh, &w, addr, len, flags, pos);
		} else {
			ret = vringh_packed_buf(vrh, &w, addr, len, flags);
		}
		if (unlikely(ret))
			return ret;
		if (!(flags & VRINGH_DESC_F_NEXT))
			break;
		if (unlikely(count >= vrh->num))
			return vringh_bad(vrh, -E2BIG, "chain longer than ring");
		if (++pos == vrh->num) {
			pos = 0;
			wrap = !wrap;
		}
		flags = le16_to_cpu(READ_ONCE(vrh->pdesc[pos].flags));
		ret = vringh_packed_state(flags, wrap);
		if (unlikely(ret <= 0))
			return ret ? vringh_bad(vrh, ret, "descriptor %u of a chain marked used", pos)
				   : vringh_bad(vrh, -EILSEQ,
						"descriptor %u of a chain not available (flags 0x%x, wrap %u)",
						pos, flags, wrap);
	}
	/* §2.8.6: the buffer ID is in the last descriptor of the list. */
	if (unlikely(id >= vrh->num))
		return vringh_bad(vrh, -ERANGE, "buffer id %u >= ring size %u", id, vrh->num);
	if (unlikely(vrh->inflight[id]))
		return vringh_bad(vrh, -EALREADY, "buffer id %u already in flight", id);
	vrh->inflight[id] = VRINGH_INFLIGHT | (count - 1);
	vrh->log[pos] = id;
	if (++pos == vrh->num) {
		pos = 0;
		wrap = !wrap;
	}
	vrh->last_avail_idx = pos;
	vrh->avail_wrap = wrap;
	*head = id;
	return 1;
}

/*
 * Everything vringh_getdesc() does on a packed ring, from any state: the
 * entry check (broken, ring areas re-translated), the flags at the avail
 * position (empty, or -EBADMSG), then the walker.
 */
static __attribute__((noinline)) int
vringh_packed_getdesc_slow(struct vringh *vrh, struct vringh_iov *riov,
			   struct vringh_iov *wiov, u16 *head)
{
	u16 flags;
	int ret;

	ret = vringh_ready(vrh);
	if (unlikely(ret))
		return ret;
	/*
	 * Acquire: pairs with the driver's write barrier before it stores
	 * the first descriptor's flags (the rest of the list, and the
	 * buffers, are read after).
	 */
	flags = le16_to_cpu(__atomic_load_n(&vrh->pdesc[vrh->last_avail_idx].flags,
					    __ATOMIC_ACQUIRE));
	ret = vringh_packed_state(flags, vrh->avail_wrap);
	if (unlikely(ret <= 0)) {
		if (ret)
			return vringh_bad(vrh, ret, "descriptor %u at the avail position marked used",
					  vrh->last_avail_idx);
		if (riov)
			vringh_iov_reset(riov);
		if (wiov)
			vringh_iov_reset(wiov);
		return 0;
	}
	return vringh_packed_walk(vrh, riov, wiov, head, flags);
}

/*
 * vringh_packed_getdesc()'s one-descriptor chain, its direction decided
 * (@iov receives it, @other gets reset) and the hot translation's
 * permission checked: take it if @iov has room, the buffer ID is free and
 * in range and the hot translation covers the buffer. Reads addr, len and
 * id once each (the flags were loaded by the caller, with acquire).
 * Inlined once per direction, as vringh_take_one() is. Return: true if
 * taken; false: nothing consumed or written, the walker decides (and
 * reports -ERANGE/-EALREADY itself).
 */
static inline __attribute__((always_inline)) bool
vringh_packed_take_one(struct vringh *vrh, struct vringh_iov *iov,
		       struct vringh_iov *other,
		       const struct vringh_packed_desc *src, u16 *head)
{
	u32 pos = vrh->last_avail_idx, len;
	u64 addr, off;
	u16 id;

	if (unlikely(!iov || !iov->max))
		return false;
	addr = le64_to_cpu(READ_ONCE(src->addr));
	len = le32_to_cpu(READ_ONCE(src->len));
	id = le16_to_cpu(READ_ONCE(src->id));
	off = addr - vrh->hot_start;
	if (unlikely(id >= vrh->num || vrh->inflight[id] || !len ||
		     off > vrh->hot_span || off + (len - 1) > vrh->hot_span))
		return false;
	if (other)
		vringh_iov_reset(other);
	vringh_iov_set1(iov, (void *)(uintptr_t)(vrh->hot_addr + off), len);
	/* One ring descriptor: the count field is 0 (see @inflight). */
	vrh->inflight[id] = VRINGH_INFLIGHT;
	vrh->log[pos] = id;
	if (unlikely(++pos == vrh->num)) {
		pos = 0;
		vrh->avail_wrap = !vrh->avail_wrap;
	}
	vrh->last_avail_idx = pos;
	*head = id;
	return true;
}

/*
 * The packed fast path (virtio 1.2 §2.8.6, §2.8.21): ring current and not
 * broken (one generation compare), then the flags of the descriptor at the
 * avail position, loaded once with acquire, decide with one compare each
 * whether it is a chain of one direct descriptor available in this lap,
 * readable or writable; such a chain whose buffer the hot translation
 * covers is taken inline. Every check of the walker that applies to it is
 * made (AVAIL/USED against the wrap counter, ID in range and not in
 * flight, direction against the iovs, the buffer inside a mapping with
 * the needed permission). Anything else -- NEXT, INDIRECT, an empty ring,
 * AVAIL/USED games, a doubtful ID or buffer -- goes to the walker (flags
 * available) or to vringh_packed_getdesc_slow(), which re-reads the ring
 * and decides alone: nothing was consumed or written yet.
 */
static __attribute__((noinline)) int
vringh_packed_getdesc(struct vringh *vrh, struct vringh_iov *riov,
		      struct vringh_iov *wiov, u16 *head)
{
	const struct vringh_packed_desc *src;
	u16 flags, avail;

	if (unlikely(__atomic_load_n(vrh->generation, __ATOMIC_ACQUIRE) !=
		     vrh->ring_generation))
		goto slow;
	src = &vrh->pdesc[vrh->last_avail_idx];
	/*
	 * Acquire: pairs with the driver's write barrier before it stores
	 * the first descriptor's flags (the descriptor's other fields and
	 * the buffer are read after).
	 */
	flags = le16_to_cpu(__atomic_load_n(&src->flags, __ATOMIC_ACQUIRE));
	avail = vringh_packed_avail_bits(vrh->avail_wrap);
	switch ((flags & (VRINGH_PACKED_BITS | VRINGH_DESC_F_NEXT |
			  VRINGH_DESC_F_WRITE | VRINGH_DESC_F_INDIRECT)) ^ avail) {
	case 0:
		if (likely(vrh->hot_perm & IOTLB_PERM_RO) &&
		    vringh_packed_take_one(vrh, riov, wiov, src, head))
			return 1;
		break;
	case VRINGH_DESC_F_WRITE:
		if (likely(vrh->hot_perm & IOTLB_PERM_WO) &&
		    vringh_packed_take_one(vrh, wiov, riov, src, head))
			return 1;
		break;
	}
	/* Not available in this lap (empty, or -EBADMSG): decided there. */
	if (unlikely((flags & VRINGH_PACKED_BITS) != avail))
		goto slow;
	return vringh_packed_walk(vrh, riov, wiov, head, flags);
slow:
	return vringh_packed_getdesc_slow(vrh, riov, wiov, head);
}

static void vringh_packed_abandon(struct vringh *vrh, unsigned int n)
{
	while (n--) {
		u16 id, count;

		/* The chain taken last ends just before the avail position. */
		id = vrh->log[(vrh->last_avail_idx ? vrh->last_avail_idx : vrh->num) - 1];
		count = (vrh->inflight[id] & ~VRINGH_INFLIGHT) + 1;
		vrh->inflight[id] = 0;
		if (vrh->last_avail_idx < count) {
			vrh->last_avail_idx += vrh->num;
			vrh->avail_wrap = !vrh->avail_wrap;
		}
		vrh->last_avail_idx -= count;
	}
}

/*
 * Write @n used descriptors from the used position on: every one but the
 * first completely, then the first one's id and len, a write barrier, its
 * flags (virtio 1.2 §2.8.21: the driver sees the batch at once). The IDs
 * were checked and released by the caller; @counts[k] is the ring
 * descriptors of elems[k]'s chain.
 */
static void vringh_packed_write_used(struct vringh *vrh,
				     const struct vringh_used_elem *elems,
				     const u16 *counts, unsigned int n)
{
	/* Locals: the ring stores below may alias the vringh's fields. */
	struct vringh_packed_desc *ring = vrh->pdesc;
	u32 pos = vrh->last_used_idx, first = pos, num = vrh->num, total = 0;
	bool wrap = vrh->used_wrap;
	u16 bits = vringh_packed_used_bits(wrap), first_flags = 0;
	unsigned int k;

	for (k = 0; k < n; k++) {
		struct vringh_packed_desc *d = &ring[pos];
		u32 len = elems[k].len;
		u16 flags = bits | (len ? VRINGH_DESC_F_WRITE : 0);

		WRITE_ONCE(d->id, cpu_to_le16((u16)elems[k].id));
		WRITE_ONCE(d->len, cpu_to_le32(len));
		if (likely(k))
			WRITE_ONCE(d->flags, cpu_to_le16(flags));
		else
			first_flags = flags;
		total += counts[k];
		pos += counts[k];
		if (unlikely(pos >= num)) {
			pos -= num;
			wrap = !wrap;
			bits = vringh_packed_used_bits(wrap);
		}
	}
	/* Pairs with the driver's rmb after it sees the first one's USED flip. */
	smp_wmb();
	WRITE_ONCE(ring[first].flags, cpu_to_le16(first_flags));
	vrh->completed += total;
	vrh->last_used_idx = pos;
	vrh->used_wrap = wrap;
}

static int vringh_packed_complete(struct vringh *vrh,
				  const struct vringh_used_elem *elems, unsigned int n)
{
	u16 counts[64], *inflight = vrh->inflight;
	unsigned int k, done, num = vrh->num;

	/* In pieces of what @counts holds; each piece is checked first. */
	for (done = 0; done < n; done += k) {
		unsigned int part = MIN(n - done, ARRAY_SIZE(counts));

		for (k = 0; k < part; k++) {
			u32 id = elems[done + k].id;
			u16 taken;

			if (unlikely(id >= num))
				break;
			taken = inflight[id];
			if (unlikely(!(taken & VRINGH_INFLIGHT)))
				break;
			counts[k] = (taken & ~VRINGH_INFLIGHT) + 1;
			/* Released now: the same ID twice in @elems fails. */
			inflight[id] = 0;
		}
		if (k < part) {
			while (k--)
				inflight[elems[done + k].id] =
					VRINGH_INFLIGHT | (counts[k] - 1);
			return -EINVAL;
		}
		vringh_packed_write_used(vrh, elems + done, counts, part);
	}
	return 0;
}

static int vringh_packed_need_notify(struct vringh *vrh, u32 completed)
{
	u16 flags, off_wrap;
	int off, new, old;

	/*
	 * Pairs with the driver's full barrier between publishing its event
	 * suppression and re-checking the ring.
	 */
	smp_mb();
	flags = le16_to_cpu(READ_ONCE(vrh->driver_event->flags)) & 3;
	if (flags == VRINGH_EVENT_F_DISABLE)
		return 0;
	/* ENABLE, or DESC without EVENT_IDX, or the reserved 3: notify. */
	if (flags != VRINGH_EVENT_F_DESC || !vrh->event_indices || completed >= vrh->num)
		return 1;
	/* Pairs with the driver's wmb between off_wrap and flags. */
	smp_rmb();
	off_wrap = le16_to_cpu(READ_ONCE(vrh->driver_event->off_wrap));
	off = off_wrap & ~VRINGH_EVENT_WRAP;
	/* An event in the lap before the used position's: one ring back. */
	if (!!(off_wrap & VRINGH_EVENT_WRAP) != vrh->used_wrap)
		off -= vrh->num;
	new = vrh->last_used_idx;
	old = new - (int)completed;
	/* virtio 1.2 §2.8.10: notify if the event position is in [old, new). */
	return off >= old && off < new;
}

/* 1: the descriptor at the avail position has AVAIL of this lap (taken or refused). */
static int vringh_packed_notify_enable(struct vringh *vrh)
{
	u16 flags;

	if (vrh->event_indices) {
		WRITE_ONCE(vrh->device_event->off_wrap,
			   cpu_to_le16(vrh->last_avail_idx |
				       (vrh->avail_wrap ? VRINGH_EVENT_WRAP : 0)));
		smp_wmb();
		vrh->event_flags = VRINGH_EVENT_F_DESC;
	} else {
		vrh->event_flags = VRINGH_EVENT_F_ENABLE;
	}
	WRITE_ONCE(vrh->device_event->flags, cpu_to_le16(vrh->event_flags));
	/*
	 * Pairs with the driver's full barrier between exposing a descriptor
	 * and loading the device event suppression: one of us sees the other.
	 */
	smp_mb();
	flags = le16_to_cpu(READ_ONCE(vrh->pdesc[vrh->last_avail_idx].flags));
	return !!(flags & VRINGH_DESC_F_AVAIL) == vrh->avail_wrap;
}

static void vringh_packed_notify_disable(struct vringh *vrh)
{
	if (vrh->event_flags == VRINGH_EVENT_F_DISABLE)
		return;
	vrh->event_flags = VRINGH_EVENT_F_DISABLE;
	WRITE_ONCE(vrh->device_event->flags, cpu_to_le16(vrh->event_flags));
}

/*
 * The fast path: ring current and not broken (one generation compare:
 * vringh_bad() zeroes ring_generation), avail index and head checked here,
 * then a chain of one direct, non-empty descriptor whose buffer the hot
 * translation covers is taken inline. Every check of the walker that
 * applies to such a chain is made (direction vs. the iovs, address +
 * length inside a mapping with the needed permission); any other chain
 * goes to the walker, and any doubt about the ring state to
 * vringh_getdesc_slow(), which re-reads the ring and decides alone
 * (nothing was consumed or written yet, except the avail index shadow,
 * which it re-validates).
 */
int vringh_getdesc(struct vringh *vrh, struct vringh_iov *riov,
		   struct vringh_iov *wiov, u16 *head)
{
	const struct vringh_desc *src;
	u16 last, avail_idx, h, flags;

	if (unlikely(vrh->type != VRINGH_RING_SPLIT))
		return vringh_packed_getdesc(vrh, riov, wiov, head);
	if (unlikely(__atomic_load_n(vrh->generation, __ATOMIC_ACQUIRE) !=
		     vrh->ring_generation))
		goto slow;

	last = vrh->last_avail_idx;
	if (vrh->avail_idx_shadow == last) {
		/*
		 * Acquire: pairs with the driver's wmb before its avail->idx
		 * store (the read barrier before avail->ring[] and the
		 * descriptors).
		 */
		avail_idx = le16_to_cpu(__atomic_load_n(&vrh->avail->idx,
							__ATOMIC_ACQUIRE));
		/*
		 * One compare for "empty" (0 - 1 wraps past num) and for a
		 * jump of more than num (virtio 1.2 §2.7.13.3): the slow path
		 * re-reads the index and returns 0 or reports it.
		 */
		if (unlikely((u16)(avail_idx - last - 1) >= vrh->num))
			goto slow;
		vrh->avail_idx_shadow = avail_idx;
	}

	h = le16_to_cpu(READ_ONCE(vrh->avail->ring[last & vrh->mask]));
	if (unlikely(h >= vrh->num))
		goto slow;
	/* Early, so h need not stay live (written even if the walk fails). */
	*head = h;
	/* One private copy of the fields used (no double fetch). */
	src = &vrh->desc[h];
	flags = le16_to_cpu(READ_ONCE(src->flags));
	switch (flags & (VRINGH_DESC_F_NEXT | VRINGH_DESC_F_WRITE |
			 VRINGH_DESC_F_INDIRECT)) {
	case 0:
		if (likely(vrh->hot_perm & IOTLB_PERM_RO) &&
		    vringh_take_one(vrh, riov, wiov, src, last))
			return 1;
		break;
	case VRINGH_DESC_F_WRITE:
		if (likely(vrh->hot_perm & IOTLB_PERM_WO) &&
		    vringh_take_one(vrh, wiov, riov, src, last))
			return 1;
		break;
	}
	/* Any other chain, or one the fast path could not serve. */
	return vringh_getdesc_walk(vrh, riov, wiov, head);
slow:
	return vringh_getdesc_slow(vrh, riov, wiov, head);
}

void vringh_abandon(struct vringh *vrh, unsigned int n)
{
	if (vrh->type == VRINGH_RING_PACKED)
		vringh_packed_abandon(vrh, n);
	else
		vrh->last_avail_idx -= n;
}

static int __vringh_complete(struct vringh *vrh,
			     const struct vringh_used_elem *elems, unsigned int n)
{
	u16 idx = vrh->last_used_idx;
	unsigned int k;

	for (k = 0; k < n; k++) {
		struct vringh_used_elem *u = &vrh->used->ring[(u16)(idx + k) & vrh->mask];

		WRITE_ONCE(u->id, cpu_to_le32(elems[k].id));
		WRITE_ONCE(u->len, cpu_to_le32(elems[k].len));
	}
	/* Pairs with the driver's rmb after it loads used->idx. */
	smp_wmb();
	WRITE_ONCE(vrh->used->idx, cpu_to_le16((u16)(idx + n)));
	vrh->last_used_idx = idx + n;
	vrh->completed += n;
	return 0;
}

int __vringh_complete_one(struct vringh *vrh, u16 head, u32 len)
{
	struct vringh_used_elem e = { .id = head, .len = len };
	int ret;

	ret = vringh_ready(vrh);
	if (ret)
		return ret;
	if (vrh->type == VRINGH_RING_PACKED)
		return vringh_packed_complete(vrh, &e, 1);
	if (head >= vrh->num)
		return -EINVAL;
	return __vringh_complete(vrh, &e, 1);
}

int vringh_complete_multi(struct vringh *vrh,
			  const struct vringh_used_elem *elems, unsigned int n)
{
	unsigned int k;
	int ret;

	ret = vringh_ready(vrh);
	if (ret)
		return ret;
	if (n > vrh->num)
		return -EINVAL;
	if (vrh->type == VRINGH_RING_PACKED)
		return vringh_packed_complete(vrh, elems, n);
	for (k = 0; k < n; k++)
		if (elems[k].id >= vrh->num)
			return -EINVAL;
	if (!n)
		return 0;
	return __vringh_complete(vrh, elems, n);
}

int vringh_need_notify(struct vringh *vrh)
{
	u16 new, old, event;
	u32 completed;
	int ret;

	ret = vringh_ready(vrh);
	if (ret)
		return ret;
	completed = vrh->completed;
	if (!completed)
		return 0;
	vrh->completed = 0;
	if (vrh->type == VRINGH_RING_PACKED)
		return vringh_packed_need_notify(vrh, completed);
	/*
	 * Pairs with the driver's full barrier between publishing used_event
	 * (or clearing NO_INTERRUPT) and re-checking used->idx.
	 */
	smp_mb();
	if (!vrh->event_indices)
		return !(le16_to_cpu(READ_ONCE(vrh->avail->flags)) &
			 VRINGH_AVAIL_F_NO_INTERRUPT);
	/* More than 65535 since the last check: the window test can't tell. */
	if (completed > 0xffff)
		return 1;
	new = vrh->last_used_idx;
	old = new - (u16)completed;
	event = le16_to_cpu(READ_ONCE(*vringh_used_event(vrh)));
	/* virtio 1.2 §2.7.10: notify if event is in [old, new). */
	return (u16)(new - event - 1) < (u16)(new - old);
}

int vringh_notify_enable(struct vringh *vrh)
{
	int ret;

	ret = vringh_ready(vrh);
	if (ret)
		return ret;
	if (vrh->type == VRINGH_RING_PACKED)
		return vringh_packed_notify_enable(vrh);
	if (vrh->event_indices) {
		WRITE_ONCE(*vringh_avail_event(vrh), cpu_to_le16(vrh->last_avail_idx));
	} else {
		vrh->used_flags &= ~VRINGH_USED_F_NO_NOTIFY;
		WRITE_ONCE(vrh->used->flags, cpu_to_le16(vrh->used_flags));
	}
	/*
	 * Pairs with the driver's full barrier between its avail->idx store
	 * and its load of avail_event / used->flags: one of us sees the other.
	 */
	smp_mb();
	return le16_to_cpu(READ_ONCE(vrh->avail->idx)) != vrh->last_avail_idx;
}

void vringh_notify_disable(struct vringh *vrh)
{
	if (vringh_ready(vrh))
		return;
	if (vrh->type == VRINGH_RING_PACKED) {
		vringh_packed_notify_disable(vrh);
		return;
	}
	/*
	 * Already told (the shadow is what used->flags holds): no store, so
	 * a device that disables kicks on every pass does not keep pulling
	 * the line with used->idx away from a polling driver.
	 */
	if (vrh->event_indices || (vrh->used_flags & VRINGH_USED_F_NO_NOTIFY))
		return;
	vrh->used_flags |= VRINGH_USED_F_NO_NOTIFY;
	WRITE_ONCE(vrh->used->flags, cpu_to_le16(vrh->used_flags));
}

void vringh_get_state(const struct vringh *vrh, u16 *last_avail_idx,
		      u16 *last_used_idx)
{
	bool packed = vrh->type == VRINGH_RING_PACKED;

	if (last_avail_idx)
		*last_avail_idx = vrh->last_avail_idx |
				  (packed && vrh->avail_wrap ? VRINGH_EVENT_WRAP : 0);
	if (last_used_idx)
		*last_used_idx = vrh->last_used_idx |
				 (packed && vrh->used_wrap ? VRINGH_EVENT_WRAP : 0);
}

int vringh_set_state(struct vringh *vrh, u16 last_avail_idx, u16 last_used_idx)
{
	if (vrh->broken)
		return vrh->broken;
	if (vrh->type == VRINGH_RING_PACKED) {
		u16 avail = last_avail_idx & ~VRINGH_EVENT_WRAP;
		u16 used = last_used_idx & ~VRINGH_EVENT_WRAP;

		if (avail >= vrh->num || used >= vrh->num)
			return -EINVAL;
		vrh->last_avail_idx = avail;
		vrh->avail_wrap = last_avail_idx & VRINGH_EVENT_WRAP;
		vrh->last_used_idx = used;
		vrh->used_wrap = last_used_idx & VRINGH_EVENT_WRAP;
		vrh->completed = 0;
		memset(vrh->inflight, 0, vrh->num * sizeof(vrh->inflight[0]));
		return 0;
	}
	vrh->last_avail_idx = last_avail_idx;
	vrh->avail_idx_shadow = last_avail_idx;
	vrh->last_used_idx = last_used_idx;
	vrh->completed = 0;
	return 0;
}

int vringh_getdesc_at(struct vringh *vrh, u16 head, struct vringh_iov *riov,
		      struct vringh_iov *wiov)
{
	int ret = vringh_ready(vrh);

	if (unlikely(ret))
		return ret;
	if (unlikely(head >= vrh->num))
		return vringh_bad(vrh, -ERANGE, "head %u >= ring size %u", head, vrh->num);
	if (riov)
		vringh_iov_reset(riov);
	if (wiov)
		vringh_iov_reset(wiov);
	ret = vringh_walk(vrh, head, riov, wiov);
	return ret ? ret : 1;
}

int vringh_read_used_idx(struct vringh *vrh, u16 *idx)
{
	int ret = vringh_ready(vrh);

	if (ret)
		return ret;
	*idx = le16_to_cpu(READ_ONCE(vrh->used->idx));
	return 0;
}

/* ---- packed chains kept outside the ring (vhost-user inflight) ----------- */

int vringh_packed_read_flags(struct vringh *vrh, u16 pos, u16 *flags)
{
	int ret = vringh_ready(vrh);

	if (ret)
		return ret;
	if (vrh->type != VRINGH_RING_PACKED || pos >= vrh->num)
		return -EINVAL;
	*flags = le16_to_cpu(__atomic_load_n(&vrh->pdesc[pos].flags, __ATOMIC_ACQUIRE));
	return 0;
}

int vringh_packed_last_chain(const struct vringh *vrh, u16 id,
			     struct vringh_packed_desc *descs, unsigned int max)
{
	u32 end, pos, count;

	if (vrh->type != VRINGH_RING_PACKED || id >= vrh->num ||
	    !(vrh->inflight[id] & VRINGH_INFLIGHT))
		return -EINVAL;
	end = vrh->last_avail_idx ? vrh->last_avail_idx : vrh->num;
	count = (vrh->inflight[id] & ~VRINGH_INFLIGHT) + 1u;
	/* Only the chain taken last ends just before the avail position. */
	if (vrh->log[end - 1] != id || count > max)
		return -EINVAL;
	pos = (end + vrh->num - count) % vrh->num;
	for (u32 k = 0; k < count; k++) {
		const struct vringh_packed_desc *src = &vrh->pdesc[pos];

		descs[k].addr = READ_ONCE(src->addr);
		descs[k].len = READ_ONCE(src->len);
		descs[k].id = READ_ONCE(src->id);
		descs[k].flags = READ_ONCE(src->flags);
		if (++pos == vrh->num)
			pos = 0;
	}
	return (int)count;
}

int vringh_packed_set_inflight(struct vringh *vrh, u16 id, u16 ndesc)
{
	if (vrh->broken)
		return vrh->broken;
	if (vrh->type != VRINGH_RING_PACKED || id >= vrh->num || !ndesc ||
	    ndesc > vrh->num || vrh->inflight[id])
		return -EINVAL;
	vrh->inflight[id] = VRINGH_INFLIGHT | (ndesc - 1);
	return 0;
}

int vringh_getdesc_packed_copy(struct vringh *vrh, const struct vringh_packed_desc *descs,
			       unsigned int n, struct vringh_iov *riov,
			       struct vringh_iov *wiov, u16 *id)
{
	struct vringh_packed_walk w = {
		.riov = riov, .wiov = wiov, .iov = riov, .perm = IOTLB_PERM_RO,
	};
	int ret = vringh_ready(vrh);

	if (unlikely(ret))
		return ret;
	if (vrh->type != VRINGH_RING_PACKED || !n || n > vrh->num)
		return -EINVAL;
	*id = le16_to_cpu(descs[n - 1].id);
	/* Only a chain marked in flight, with as many ring descriptors. */
	if (unlikely(*id >= vrh->num || vrh->inflight[*id] != (VRINGH_INFLIGHT | (n - 1))))
		return vringh_bad(vrh, -EINVAL, "kept chain of buffer id %u not in flight as %u descriptors",
				  *id, n);
	if (riov)
		vringh_iov_reset(riov);
	if (wiov)
		vringh_iov_reset(wiov);
	for (unsigned int k = 0; k < n; k++) {
		u16 flags = le16_to_cpu(descs[k].flags);
		u64 addr = le64_to_cpu(descs[k].addr);
		u32 len = le32_to_cpu(descs[k].len);

		/* As the ring walker: NEXT on all but the last, INDIRECT alone. */
		if (unlikely(!(flags & VRINGH_DESC_F_NEXT) != (k + 1 == n)))
			return vringh_bad(vrh, -EILSEQ, "kept chain: NEXT on descriptor %u of %u", k, n);
		if (flags & VRINGH_DESC_F_INDIRECT) {
			if (unlikely(n > 1))
				return vringh_bad(vrh, -EMLINK, "kept chain: indirect descriptor in a list");
			ret = vringh_packed_indirect(vrh, &w, addr, len, flags, 0);
		} else {
			ret = vringh_packed_buf(vrh, &w, addr, len, flags);
		}
		if (unlikely(ret))
			return ret;
	}
	return 1;
}
