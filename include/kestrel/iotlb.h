/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * IOTLB: the one place a device learns where the memory it may touch is.
 *
 * An IOTLB maps inclusive IOVA ranges [start, last] (u64, so a mapping can
 * reach U64_MAX without a size overflowing) to host virtual addresses, each
 * with a permission seen from the device: IOTLB_PERM_RO (the device may read),
 * IOTLB_PERM_WO (the device may write), IOTLB_PERM_RW (both).
 *
 * Rules of the table:
 *  - Entries never overlap. iotlb_add_range() of a range that overlaps any
 *    existing entry is refused with -EEXIST and changes nothing; callers that
 *    want to replace a mapping delete first (inside one batch, see below).
 *  - iotlb_del_range() removes exactly the given range: entries that straddle
 *    its ends are split and their outer parts kept (with their host address
 *    adjusted). Deleting a range that holds no mapping is not an error.
 *  - A mapping whose host address would wrap (addr + (last - start) > U64_MAX)
 *    is refused with -EINVAL.
 *  - Lookups and updates are O(log n) (an AVL tree keyed on start, changed
 *    by path copying so translations can walk a published version with no
 *    lock). Translations are fastest through a sorted copy of the table
 *    with a bucket index; that copy costs O(n) and is rebuilt at a visible
 *    change (an update outside a batch, or a commit) only for tables of at
 *    most 256 entries, after a whole-table change (reset, replace, a
 *    delete of many entries), and once the entries changed since the last
 *    copy exceed a quarter of the table. So n updates one at a time cost
 *    O(n log n) in all; until the next copy, translations walk the tree
 *    (O(log n), no lock either). An iotlb_del_range() over more than four
 *    entries rebuilds the tree: O(n).
 *
 * Concurrency. Updates are serialized by a (recursive) update mutex and
 * applied to the tree under the write side of a pthread rwlock;
 * iotlb_lookup(), iotlb_find_first() and iotlb_count() read the tree under
 * the read side. Translations take no lock: they read an immutable snapshot
 * the writer publishes after each change and frees only once no
 * translation can still be reading it (iotlb.c gives the ordering
 * argument). iotlb_batch_begin() takes the mutex and the write lock and
 * keeps them until iotlb_batch_commit(), and the snapshot is rebuilt only
 * at the commit, so a device never walks a half-applied table: it sees
 * either the table before the batch or the table after it. Updates made by
 * the batch owner between begin and commit join the batch; updates from
 * other threads wait for the commit; lookups from other threads wait too,
 * the owner's lookups see its own updates, and every thread's
 * translations (the owner's included) see the table before the batch until
 * the commit.
 *
 * Generations and invalidation. Each IOTLB carries a generation number,
 * drawn from one process-wide counter (so two IOTLBs never share a
 * generation, and a freed-and-reallocated IOTLB never repeats one). It
 * changes with every applied change: each add or effective delete outside a
 * batch, once per batch commit that changed something, on iotlb_reset() and
 * iotlb_replace(). The value is published (release) while the write lock is
 * still held. What a device that keeps translations must do:
 *  - on a mapping change (add/delete of a range): drop cached translations
 *    overlapping the changed range. A device that only compares generations
 *    (struct iotlb_cache does) drops everything, which is a superset; a
 *    listener (struct iotlb_listener) is told the changed range.
 *  - on a whole-address-space change (iotlb_reset(), iotlb_replace(), the
 *    device switched to another IOTLB, an ASID re-bind): drop everything
 *    (iotlb_cache_flush(); a generation compare also catches it).
 *  - on a driver request (e.g. a vhost-user IOTLB invalidate message, or a
 *    device reset): iotlb_cache_invalidate() for the range, or
 *    iotlb_cache_flush() for everything.
 * Host pointers a device derived from the table (ring pointers, iovecs of an
 * in-flight request) stay valid only while their mapping does: the code that
 * removes a mapping must quiesce the device (vDPA suspend, or wait for its
 * in-flight requests) before the memory behind it is unmapped or reused. The
 * IOTLB itself never frees guest memory.
 *
 * Fast path. iotlb_translate_cached() first checks a small per-user cache
 * (struct iotlb_cache, owned by one thread: e.g. one per virtqueue) whose
 * entries are valid only for the generation they were filled at; a hit
 * costs one generation load and a few compares. iotlb_translate() has no
 * cache: it looks the snapshot up directly (a bucket index over the IOVA
 * span, then a binary search within the bucket, usually of zero or one
 * entry).
 */
#ifndef KESTREL_IOTLB_H
#define KESTREL_IOTLB_H

#include <errno.h>
#include <stdbool.h>
#include <sys/types.h>

#include <kestrel/compiler.h>
#include <kestrel/types.h>

/* Permissions, from the device's point of view. */
#define IOTLB_PERM_RO		0x1	/* device may read */
#define IOTLB_PERM_WO		0x2	/* device may write */
#define IOTLB_PERM_RW		(IOTLB_PERM_RO | IOTLB_PERM_WO)

/** struct iotlb - an IOVA -> host address table (opaque; see iotlb.c) */
struct iotlb;

/**
 * struct iotlb_map - one entry of the table, as reported to callers
 * @start: first IOVA of the entry
 * @last: last IOVA of the entry (inclusive)
 * @addr: host virtual address @start maps to
 * @perm: IOTLB_PERM_*
 */
struct iotlb_map {
	u64 start;
	u64 last;
	u64 addr;
	unsigned int perm;
};

/**
 * struct iotlb_seg - one host-contiguous piece of a translated range
 * @addr: host virtual address
 * @len: bytes at @addr (never 0)
 */
struct iotlb_seg {
	void *addr;
	u64 len;
};

#define IOTLB_CACHE_ENTRIES	4

/**
 * struct iotlb_cache_entry - one cached translation
 * @start: first IOVA covered
 * @last: last IOVA covered (inclusive); @start > @last marks an empty slot
 * @addr: host address of @start
 * @perm: IOTLB_PERM_* of the entry
 */
struct iotlb_cache_entry {
	u64 start;
	u64 last;
	u64 addr;
	unsigned int perm;
};

/**
 * struct iotlb_cache - a small per-user translation cache
 * @generation: the IOTLB generation the entries belong to; 0 means empty
 * @victim: slot the next fill replaces (round robin)
 * @e: cached entries, each a copy of a whole IOTLB entry
 *
 * Owned by one thread at a time (no locking inside). Valid only while the
 * IOTLB's generation equals @generation; the translate functions check.
 */
struct iotlb_cache {
	u64 generation;
	unsigned int victim;
	struct iotlb_cache_entry e[IOTLB_CACHE_ENTRIES];
};

/**
 * struct iotlb_listener - a device's hook on table changes
 * @changed: called after a change became visible (after the commit, for a
 *	batch), with the smallest range covering everything that changed. Called
 *	with the update mutex held: it must not update this IOTLB. Must not sleep
 *	for long.
 * @next: list link, owned by the IOTLB
 */
struct iotlb_listener {
	void (*changed)(struct iotlb_listener *l, struct iotlb *tlb,
			u64 start, u64 last);
	struct iotlb_listener *next;
};

/**
 * iotlb_create() - allocate an empty IOTLB
 * @limit: maximum number of entries (0: no limit)
 * @out: where to store the new IOTLB
 *
 * Return: 0, or -ENOMEM.
 */
int iotlb_create(unsigned int limit, struct iotlb **out);

/**
 * iotlb_destroy() - free an IOTLB and all its entries
 * @tlb: the IOTLB (NULL is accepted)
 *
 * Nobody may use @tlb any more; listeners are not called.
 */
void iotlb_destroy(struct iotlb *tlb);

/**
 * iotlb_add_range() - map [@start, @last] to host address @addr
 * @tlb: the IOTLB
 * @start: first IOVA
 * @last: last IOVA (inclusive, >= @start)
 * @addr: host virtual address of @start
 * @perm: IOTLB_PERM_RO, _WO or _RW
 *
 * Return: 0; -EINVAL if @last < @start, @perm is not one of the three, or
 * @addr + (@last - @start) wraps; -EEXIST if the range overlaps an existing
 * entry (nothing changed); -ENOSPC if the entry limit is reached; -ENOMEM.
 */
int iotlb_add_range(struct iotlb *tlb, u64 start, u64 last, u64 addr,
		    unsigned int perm);

/**
 * iotlb_del_range() - unmap exactly [@start, @last]
 * @tlb: the IOTLB
 * @start: first IOVA
 * @last: last IOVA (inclusive, >= @start)
 *
 * Entries inside the range are removed; entries straddling an end are cut
 * down to the part outside the range (an entry covering the whole range
 * becomes two). Nothing mapped in the range is not an error (and does not
 * change the generation).
 *
 * Return: the number of entries removed or cut (>= 0); -EINVAL if
 * @last < @start; -ENOSPC if splitting one entry in two would exceed the
 * limit; -ENOMEM. On error nothing changed.
 */
ssize_t iotlb_del_range(struct iotlb *tlb, u64 start, u64 last);

/**
 * iotlb_reset() - remove every entry
 * @tlb: the IOTLB
 *
 * A whole-address-space change: users must drop everything they cached.
 */
void iotlb_reset(struct iotlb *tlb);

/**
 * iotlb_replace() - make @dst a copy of @src in one visible step
 * @dst: the IOTLB to overwrite
 * @src: the table to copy (read-locked while copied; may not be @dst)
 *
 * For "set the whole map" style callers (vDPA set_map).
 *
 * Return: 0; -ENOSPC if @src has more entries than @dst's limit; -ENOMEM.
 * On error @dst is unchanged.
 */
int iotlb_replace(struct iotlb *dst, struct iotlb *src);

/**
 * iotlb_lookup() - the entry containing @iova
 * @tlb: the IOTLB
 * @iova: the address
 * @out: filled with the entry on success
 *
 * Return: 0, or -ENOENT if @iova is not mapped.
 */
int iotlb_lookup(struct iotlb *tlb, u64 iova, struct iotlb_map *out);

/**
 * iotlb_find_first() - the lowest entry overlapping [@start, @last]
 * @tlb: the IOTLB
 * @start: first IOVA of the range
 * @last: last IOVA of the range (inclusive)
 * @out: filled with the entry on success
 *
 * Iterate a table with: for (a = 0; !iotlb_find_first(t, a, U64_MAX, &m);
 * a = m.last + 1) { ...; if (m.last == U64_MAX) break; }
 *
 * Return: 0, or -ENOENT if nothing overlaps.
 */
int iotlb_find_first(struct iotlb *tlb, u64 start, u64 last,
		     struct iotlb_map *out);

/**
 * iotlb_count() - number of entries in the table
 * @tlb: the IOTLB
 *
 * Return: the entry count (a snapshot).
 */
unsigned int iotlb_count(struct iotlb *tlb);

/**
 * iotlb_translate() - turn [@iova, @iova + @len) into host segments
 * @tlb: the IOTLB
 * @iova: first address
 * @len: bytes (0 gives 0 segments)
 * @perm: permission every byte needs (IOTLB_PERM_RO to read, _WO to write)
 * @segs: caller's array, filled from index 0
 * @nsegs: entries in @segs
 *
 * One segment per IOTLB entry crossed (adjacent entries are not merged).
 * The range is checked from @iova upwards; the first problem met decides the
 * error. Safe at the top of the address space: a range running past U64_MAX
 * is a hole. Takes no lock and never waits (not even for a batch: it
 * then sees the table before the batch).
 *
 * Return: number of segments (>= 1 for @len > 0); -EFAULT if a byte is not
 * mapped (or the range wraps); -EPERM if an entry lacks @perm; -ENOBUFS if
 * more than @nsegs segments would be needed (then @segs holds the first
 * @nsegs segments, so a caller may consume them and continue from the
 * address after them). @segs contents are undefined on other errors.
 */
ssize_t iotlb_translate(struct iotlb *tlb, u64 iova, u64 len,
			unsigned int perm, struct iotlb_seg *segs,
			unsigned int nsegs);

/**
 * iotlb_translate_cached() - iotlb_translate() through a caller's cache
 * @tlb: the IOTLB
 * @cache: the caller's cache (one thread at a time)
 * @iova: first address
 * @len: bytes
 * @perm: permission needed
 * @segs: caller's array
 * @nsegs: entries in @segs
 *
 * Same results as iotlb_translate(). Entries found on the slow path are
 * added to @cache; a generation change empties it first.
 *
 * Return: as iotlb_translate().
 */
ssize_t iotlb_translate_cached(struct iotlb *tlb, struct iotlb_cache *cache,
			       u64 iova, u64 len, unsigned int perm,
			       struct iotlb_seg *segs, unsigned int nsegs);

/**
 * struct iotlb_public - the part of struct iotlb read inline on fast paths
 * @generation: see iotlb_generation(); always the first member of
 *	struct iotlb, so it is reachable without knowing the rest
 */
struct iotlb_public {
	u64 generation;
};

/**
 * iotlb_generation() - the current generation of @tlb
 * @tlb: the IOTLB
 *
 * An acquire load: what a translation done after reading generation G
 * returns reflects the table at G or later.
 *
 * Return: a non-zero value that changes whenever the table changes (see the
 * rules at the top of this header).
 */
static inline u64 iotlb_generation(const struct iotlb *tlb)
{
	const struct iotlb_public *pub = (const struct iotlb_public *)tlb;

	return __atomic_load_n(&pub->generation, __ATOMIC_ACQUIRE);
}

/**
 * iotlb_cache_find() - the cached entry covering [@iova, @iova + @len)
 * @cache: the cache
 * @generation: the IOTLB's current generation (iotlb_generation())
 * @iova: first address
 * @len: bytes (> 0)
 * @perm: permission needed
 *
 * The lock-free fast path of iotlb_translate_cached(), for callers that
 * read the generation once per batch of translations (vringh does, once per
 * call). A miss (NULL) says nothing: ask iotlb_translate_cached().
 *
 * Return: the entry, or NULL.
 */
static inline const struct iotlb_cache_entry *
iotlb_cache_find(const struct iotlb_cache *cache, u64 generation, u64 iova,
		 u64 len, unsigned int perm)
{
	unsigned int i;

	if (unlikely(cache->generation != generation))
		return NULL;
	for (i = 0; i < IOTLB_CACHE_ENTRIES; i++) {
		const struct iotlb_cache_entry *e = &cache->e[i];

		if (iova >= e->start && iova <= e->last) {
			if (len - 1 <= e->last - iova && (e->perm & perm) == perm)
				return e;
			return NULL;
		}
	}
	return NULL;
}

/**
 * iotlb_batch_begin() - start a batch of updates
 * @tlb: the IOTLB
 *
 * Takes the update mutex and the write lock until iotlb_batch_commit(). The
 * calling thread's add/del/reset calls join the batch; other threads'
 * lookups wait; translations (cached or not, any thread) keep seeing the
 * old table until the commit. Batches nest (only the outermost commit
 * publishes). Keep batches short.
 */
void iotlb_batch_begin(struct iotlb *tlb);

/**
 * iotlb_batch_commit() - publish a batch
 * @tlb: the IOTLB, with a batch begun by this thread
 *
 * Bumps the generation once if anything changed, calls listeners, releases
 * the locks.
 *
 * Return: 0, or -EINVAL if no batch was open.
 */
int iotlb_batch_commit(struct iotlb *tlb);

/**
 * iotlb_listener_add() - call @l->changed after every visible change
 * @tlb: the IOTLB
 * @l: the listener, with @changed set; stays owned by the caller
 */
void iotlb_listener_add(struct iotlb *tlb, struct iotlb_listener *l);

/**
 * iotlb_listener_del() - stop calling @l (no-op if not registered)
 * @tlb: the IOTLB
 * @l: the listener
 */
void iotlb_listener_del(struct iotlb *tlb, struct iotlb_listener *l);

/**
 * iotlb_cache_init() - make @cache empty
 * @cache: the cache
 */
void iotlb_cache_init(struct iotlb_cache *cache);

/**
 * iotlb_cache_flush() - drop every cached translation
 * @cache: the cache
 */
void iotlb_cache_flush(struct iotlb_cache *cache);

/**
 * iotlb_cache_invalidate() - drop cached translations overlapping a range
 * @cache: the cache
 * @start: first IOVA
 * @last: last IOVA (inclusive)
 */
void iotlb_cache_invalidate(struct iotlb_cache *cache, u64 start, u64 last);

#endif /* KESTREL_IOTLB_H */
