// SPDX-License-Identifier: GPL-2.0-only
/*
 * IOTLB: an AVL tree of non-overlapping inclusive ranges, keyed on start.
 *
 * Because entries never overlap, "the entry containing x" is "the entry
 * with the greatest start <= x, if its last >= x": a plain ordered tree
 * answers it in O(log n), no interval augmentation needed.
 *
 * Locking (see iotlb.h for the contract):
 *   update_lock  recursive mutex; serializes writers; held across a batch
 *   lock         rwlock; writers hold it for write while the tree changes
 *                (across a whole batch); lookup, find_first, count and the
 *                fallback translate path hold it for read
 *   snap         the readers' table, published at every visible change
 *                (outside a batch, or at the outermost commit): the root of
 *                that version of the tree (immutable from then on, see "AVL
 *                tree"), and an immutable sorted array of it when one was
 *                built (iotlb_publish() says when); translate reads it with
 *                no lock (see "Snapshot readers" below)
 *   generation   (pub.generation) written with release after snap is
 *                published, read with acquire by the lock-free cache check
 *
 * Snapshot readers. A translation enters a read section: it loads epoch
 * (acquire), increments readers[epoch & 1] and loads snap (both seq_cst),
 * walks the snapshot, and decrements the same counter (release). A writer
 * that replaced snap frees the old one only after iotlb_synchronize():
 * wait for readers[(e + 1) & 1] to drain, store epoch = e + 1, wait for
 * readers[e & 1] to drain. Why no reader still holds the old snapshot then:
 * a reader R that loaded the old pointer did so before the writer's seq_cst
 * store of the new one in the single total order S, and R's increment comes
 * before its load; so both of the writer's (later, seq_cst) counter loads
 * see R's increment unless R already decremented. R counted in readers[e&1]
 * is covered by the second wait; R counted in readers[(e+1)&1] (it read an
 * old epoch, e - 1, and was slow to increment) by the first. R cannot have
 * read epoch e + 1 and still loaded the old pointer: that epoch store is
 * ordered after the snap store, and R's acquire load of epoch makes the new
 * snap visible to R's later load. A wait that reads 0 reads the end of a
 * release sequence of RMWs, so it synchronizes with every decrement before
 * it: R's reads of the old snapshot happen before the free. Readers never
 * wait, and new readers count on the other parity, so each wait drains in
 * the length of one translation (longer only if a reader is preempted).
 * The nodes of a published tree are covered the same way: what a change
 * replaced (copied nodes, removed ones, a whole old tree) is freed by the
 * publication of that change, after its iotlb_synchronize(). If a
 * snapshot cannot be allocated, snap is published as IOTLB_SNAP_NONE (an
 * empty table) and translations take the read lock and walk the working
 * tree until the next change builds one.
 *
 * The snapshot's index: the IOVA span from the first entry's start to the
 * last entry's end is cut into nb = 2^k buckets (nb about 2n); ub[j] is the
 * number of entries starting at or below the first address of bucket j, so
 * the entry holding x is found by a binary search of e[ub[j] .. ub[j+1]),
 * usually zero or one step for evenly spread tables, O(log n) at worst (all
 * entries clustered in one bucket).
 */
#include <kestrel/iotlb.h>

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/fault.h>

/*
 * A tree node. Once a version of the tree is published, its nodes are
 * immutable (translations walk them with no lock): a writer changes a
 * node of an older version through a copy (node_own()), and frees the
 * original only after iotlb_synchronize().
 */
struct iotlb_node {
	struct iotlb_node *left;
	struct iotlb_node *right;
	u64 start;
	u64 last;
	u64 addr;
	unsigned int perm;
	int height;
	u64 version;			/* the tree version that made it */
	struct iotlb_node *retired;	/* retire list link */
};

/*
 * One entry of a snapshot: a copy of a tree node's payload, with the host
 * address stored as addr - start (so host = iova + delta, mod 2^64) and
 * IOTLB_SNAP_VALID or'ed into perm (e[0] is a sentinel without it).
 */
struct iotlb_snap_entry {
	u64 start;
	u64 last;
	u64 delta;
	unsigned int perm;
};

#define IOTLB_SNAP_VALID	0x10

/*
 * What readers see when no snapshot could be built (and before the first
 * change): an empty table, so the inline path always misses and the
 * general path, seeing this address, walks the tree under the read lock.
 * Never freed; zeroed sentinel and bucket bounds.
 */
#define IOTLB_SNAP_NONE_SIZE	(sizeof(struct iotlb_snap) + \
				 sizeof(struct iotlb_snap_entry) + 3 * sizeof(u32))
#define IOTLB_SNAP_NONE		(&iotlb_snap_none.s)

/* Immutable once published; freed after iotlb_synchronize(). */
struct iotlb_snap {
	u64 generation;		/* the generation this table is */
	u64 base;		/* first start (0 when empty) */
	u64 span;		/* last end - base (U64_MAX when empty) */
	unsigned int shift;	/* bucket j holds base + (j << shift) ... */
	unsigned int n;		/* entries */
	bool flat;		/* e[] holds the table; else walk @root */
	struct iotlb_node *root;	/* the tree this table is (immutable) */
	const u32 *ub;		/* nb + 1 bucket bounds (after e[]) */
	struct iotlb_snap_entry e[];	/* e[0] sentinel, e[1..n] sorted by start */
};

static union {
	struct iotlb_snap s;
	char b[IOTLB_SNAP_NONE_SIZE];
} iotlb_snap_none = {
	.s = {
		.span = UINT64_MAX,	/* base 0: every x lands in a bucket */
		.shift = 63,		/* 2 buckets */
		.ub = (const u32 *)(iotlb_snap_none.b + sizeof(struct iotlb_snap) +
				    sizeof(struct iotlb_snap_entry)),
	},
};

struct iotlb {
	struct iotlb_public pub;	/* first: generation, read inline */
	struct iotlb_snap *snap;	/* written by update_lock holder, read lock-free */
	unsigned int epoch;		/* written by update_lock holder */
	unsigned long readers[2];	/* read sections, by epoch parity */
	struct iotlb_node *root;	/* lock (write) */
	unsigned int count;		/* lock (write) */
	unsigned int limit;		/* constant */
	pthread_rwlock_t lock;
	pthread_mutex_t update_lock;
	unsigned int batch_depth;	/* update_lock */
	bool dirty;			/* update_lock: changed in this batch */
	u64 dirty_start;		/* update_lock */
	u64 dirty_last;			/* update_lock */
	struct iotlb_listener *listeners; /* update_lock */
	u64 version;			/* update_lock: of the working tree */
	struct iotlb_node *pool;	/* update_lock: spare nodes, by left */
	unsigned int pool_count;	/* update_lock */
	struct iotlb_node *retired;	/* update_lock: replaced nodes */
	struct iotlb_node *retired_trees; /* update_lock: replaced trees */
	unsigned int stale;		/* update_lock: entries changed since the
					   last sorted copy */
};

/* Process-wide, so a generation is never reused by any IOTLB. */
static u64 iotlb_generation_seq;

static u64 iotlb_generation_next(void)
{
	return __atomic_add_fetch(&iotlb_generation_seq, 1, __ATOMIC_RELAXED);
}

/* ---- AVL tree ------------------------------------------------------------ */

/*
 * The working tree (tlb->root) is changed by path copying: a node of the
 * current version (made since the last publication) is written in place,
 * an older one is copied first and the original retired (freed after the
 * next publication's iotlb_synchronize()), so the published tree a
 * translation walks never changes under it. An insert or a removal copies
 * O(height) nodes: the path, and beside it the nodes a rotation moves.
 * Copies come from a pool filled before a change starts, so a change
 * never fails half-way.
 */

static inline int node_height(const struct iotlb_node *n)
{
	return n ? n->height : 0;
}

static inline void node_update(struct iotlb_node *n)
{
	int l = node_height(n->left), r = node_height(n->right);

	n->height = (l > r ? l : r) + 1;
}

/* Spare nodes one insert or removal may take: three a level, and slack. */
static unsigned int avl_op_nodes(const struct iotlb *tlb)
{
	return 3 * (unsigned int)node_height(tlb->root) + 8;
}

/* Make sure @want spare nodes are there. update_lock held. */
static int pool_fill(struct iotlb *tlb, unsigned int want)
{
	while (tlb->pool_count < want) {
		struct iotlb_node *n = xmalloc(sizeof(*n));

		if (!n)
			return -ENOMEM;
		n->left = tlb->pool;
		tlb->pool = n;
		tlb->pool_count++;
	}
	return 0;
}

/* A node of the current version, from the pool (filled beforehand). */
static struct iotlb_node *node_new(struct iotlb *tlb)
{
	struct iotlb_node *n = tlb->pool;

	tlb->pool = n->left;
	tlb->pool_count--;
	n->version = tlb->version;
	return n;
}

/* Forget @n, unlinked from the working tree: readers may still see it. */
static void node_drop(struct iotlb *tlb, struct iotlb_node *n)
{
	if (n->version == tlb->version) {
		n->left = tlb->pool;	/* never published: reuse it */
		tlb->pool = n;
		tlb->pool_count++;
		return;
	}
	n->retired = tlb->retired;
	tlb->retired = n;
}

/* @n, writable: itself if this version made it, else a copy. */
static struct iotlb_node *node_own(struct iotlb *tlb, struct iotlb_node *n)
{
	struct iotlb_node *c;

	if (n->version == tlb->version)
		return n;
	c = node_new(tlb);
	*c = *n;
	c->version = tlb->version;
	node_drop(tlb, n);
	return c;
}

/* Rotations and rebalancing take an owned @n and own what they move. */
static struct iotlb_node *rotate_right(struct iotlb *tlb, struct iotlb_node *n)
{
	struct iotlb_node *l = node_own(tlb, n->left);

	n->left = l->right;
	l->right = n;
	node_update(n);
	node_update(l);
	return l;
}

static struct iotlb_node *rotate_left(struct iotlb *tlb, struct iotlb_node *n)
{
	struct iotlb_node *r = node_own(tlb, n->right);

	n->right = r->left;
	r->left = n;
	node_update(n);
	node_update(r);
	return r;
}

static struct iotlb_node *rebalance(struct iotlb *tlb, struct iotlb_node *n)
{
	int bal;

	node_update(n);
	bal = node_height(n->left) - node_height(n->right);
	if (bal > 1) {
		if (node_height(n->left->left) < node_height(n->left->right))
			n->left = rotate_left(tlb, node_own(tlb, n->left));
		return rotate_right(tlb, n);
	}
	if (bal < -1) {
		if (node_height(n->right->right) < node_height(n->right->left))
			n->right = rotate_right(tlb, node_own(tlb, n->right));
		return rotate_left(tlb, n);
	}
	return n;
}

/*
 * Caller guarantees @new (current version) overlaps nothing; recursion
 * depth is the height.
 */
static struct iotlb_node *avl_insert(struct iotlb *tlb, struct iotlb_node *n,
				     struct iotlb_node *new)
{
	if (!n) {
		new->left = new->right = NULL;
		new->height = 1;
		return new;
	}
	n = node_own(tlb, n);
	if (new->start < n->start)
		n->left = avl_insert(tlb, n->left, new);
	else
		n->right = avl_insert(tlb, n->right, new);
	return rebalance(tlb, n);
}

/* Unlink the minimum of subtree @n (unchanged); it is returned in *@min. */
static struct iotlb_node *avl_unlink_min(struct iotlb *tlb, struct iotlb_node *n,
					 struct iotlb_node **min)
{
	if (!n->left) {
		*min = n;
		return n->right;
	}
	n = node_own(tlb, n);
	n->left = avl_unlink_min(tlb, n->left, min);
	return rebalance(tlb, n);
}

/*
 * Unlink the node whose start is @start (it must exist), unchanged, into
 * *@removed; the caller drops it.
 */
static struct iotlb_node *avl_remove(struct iotlb *tlb, struct iotlb_node *n,
				     u64 start, struct iotlb_node **removed)
{
	struct iotlb_node *succ, *right;

	if (start < n->start) {
		n = node_own(tlb, n);
		n->left = avl_remove(tlb, n->left, start, removed);
	} else if (start > n->start) {
		n = node_own(tlb, n);
		n->right = avl_remove(tlb, n->right, start, removed);
	} else {
		*removed = n;
		if (!n->left)
			return n->right;
		if (!n->right)
			return n->left;
		right = avl_unlink_min(tlb, n->right, &succ);
		succ = node_own(tlb, succ);
		succ->left = n->left;
		succ->right = right;
		n = succ;
	}
	return rebalance(tlb, n);
}

/* Entries of subtree @n whose start lies in [@lo, @hi], counted up to @cap. */
static unsigned int avl_count_starts(const struct iotlb_node *n, u64 lo, u64 hi,
				     unsigned int cap)
{
	unsigned int c;

	if (!n || !cap)
		return 0;
	if (n->start < lo)
		return avl_count_starts(n->right, lo, hi, cap);
	if (n->start > hi)
		return avl_count_starts(n->left, lo, hi, cap);
	c = 1 + avl_count_starts(n->left, lo, hi, cap - 1);
	if (c < cap)
		c += avl_count_starts(n->right, lo, hi, cap - c);
	return c;
}

/* A balanced tree of @v[0..@n), taking its nodes from the pool. */
static struct iotlb_node *avl_build(struct iotlb *tlb, const struct iotlb_map *v,
				    size_t n)
{
	struct iotlb_node *t;
	size_t mid = n / 2;

	if (!n)
		return NULL;
	t = node_new(tlb);
	t->start = v[mid].start;
	t->last = v[mid].last;
	t->addr = v[mid].addr;
	t->perm = v[mid].perm;
	t->left = avl_build(tlb, v, mid);
	t->right = avl_build(tlb, v + mid + 1, n - mid - 1);
	node_update(t);
	return t;
}

/* Retire the whole working tree (it stays readable until published over). */
static void avl_retire(struct iotlb *tlb)
{
	if (!tlb->root)
		return;
	tlb->root->retired = tlb->retired_trees;
	tlb->retired_trees = tlb->root;
	tlb->root = NULL;
}

/* The entry with the greatest start <= @x, or NULL. */
static inline struct iotlb_node *avl_floor(struct iotlb_node *n, u64 x)
{
	struct iotlb_node *best = NULL;

	while (n) {
		if (n->start <= x) {
			best = n;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	return best;
}

/* The entry with the smallest start >= @x, or NULL. */
static struct iotlb_node *avl_ceil(struct iotlb_node *n, u64 x)
{
	struct iotlb_node *best = NULL;

	while (n) {
		if (n->start >= x) {
			best = n;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	return best;
}

static void avl_free(struct iotlb_node *n)
{
	if (!n)
		return;
	avl_free(n->left);
	avl_free(n->right);
	free(n);
}

/* Free what no reader can see any more (after iotlb_synchronize()). */
static void iotlb_free_retired(struct iotlb *tlb)
{
	struct iotlb_node *n;

	while ((n = tlb->retired)) {
		tlb->retired = n->retired;
		free(n);
	}
	while ((n = tlb->retired_trees)) {
		tlb->retired_trees = n->retired;
		avl_free(n);
	}
}

/* ---- snapshots ------------------------------------------------------------- */

static struct iotlb_snap_entry *avl_flatten(const struct iotlb_node *n,
					    struct iotlb_snap_entry *out)
{
	if (!n)
		return out;
	out = avl_flatten(n->left, out);
	out->start = n->start;
	out->last = n->last;
	out->delta = n->addr - n->start;
	out->perm = n->perm | IOTLB_SNAP_VALID;
	return avl_flatten(n->right, out + 1);
}

/* Buckets of the index: about 2 per entry, a power of two, at most 2^20. */
#define IOTLB_SNAP_MAX_BUCKETS	(1u << 20)

/*
 * What readers see of the working tree, which becomes immutable: with
 * @flat, a sorted copy with its index (O(n)); without, only the root, for
 * translations to walk (O(1)). NULL on allocation failure. update_lock
 * held.
 */
static struct iotlb_snap *iotlb_snap_build(struct iotlb *tlb, bool flat)
{
	unsigned int n = flat ? tlb->count : 0, target = 2, nb, i, j;
	struct iotlb_snap *s;
	u64 span = UINT64_MAX, base = 0;
	unsigned int shift = 0;
	u32 *ub;

	while (target < IOTLB_SNAP_MAX_BUCKETS && target < 2 * (u64)n)
		target <<= 1;
	/*
	 * Plain malloc(), not an injection point: a failure here fails
	 * nothing (readers fall back to the locked tree), and injection
	 * points are for creation paths that must fail cleanly.
	 */
	s = malloc(sizeof(*s) + ((size_t)n + 1) * sizeof(s->e[0]) +
		    ((size_t)target + 1) * sizeof(u32));
	if (!s)
		return NULL;
	memset(&s->e[0], 0, sizeof(s->e[0]));	/* sentinel: perm has no VALID */
	if (flat)
		avl_flatten(tlb->root, &s->e[1]);
	s->flat = flat;
	s->root = tlb->root;
	if (n) {
		base = s->e[1].start;
		span = s->e[n].last - base;
	}
	while ((span >> shift) >= target)
		shift++;
	nb = (unsigned int)(span >> shift) + 1;	/* <= target */
	ub = (u32 *)&s->e[n + 1];
	/* ub[j]: entries with start <= base + (j << shift); no overflow, as
	 * j << shift <= span for j < nb. */
	for (i = 0, j = 0; j < nb; j++) {
		u64 b = base + ((u64)j << shift);

		while (i < n && s->e[i + 1].start <= b)
			i++;
		ub[j] = i;
	}
	ub[nb] = n;
	s->base = base;
	s->span = span;
	s->shift = shift;
	s->n = n;
	s->ub = ub;
	return s;
}

/*
 * The entry with the greatest start <= @x, or the sentinel e[0] if there is
 * none (or @x lies outside the table's span). The caller still checks that
 * the entry is valid and reaches @x. Any thread, inside a read section.
 */
static inline const struct iotlb_snap_entry *
iotlb_snap_floor(const struct iotlb_snap *s, u64 x)
{
	u64 d = x - s->base;
	u32 lo, hi;

	if (unlikely(d > s->span))
		return &s->e[0];
	lo = s->ub[d >> s->shift];
	hi = s->ub[(d >> s->shift) + 1];
	/* e[i + 1] for i < lo starts <= x, for i >= hi starts > x. */
	while (lo < hi) {
		u32 mid = (lo + hi) / 2;

		if (s->e[mid + 1].start <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return &s->e[lo];
}

/* Enter a read section; returns the parity to pass to iotlb_snap_put(). */
static inline unsigned int iotlb_snap_get(struct iotlb *tlb,
					  const struct iotlb_snap **s)
{
	unsigned int idx = __atomic_load_n(&tlb->epoch, __ATOMIC_ACQUIRE) & 1;

	__atomic_fetch_add(&tlb->readers[idx], 1, __ATOMIC_SEQ_CST);
	*s = __atomic_load_n(&tlb->snap, __ATOMIC_SEQ_CST);
	return idx;
}

static inline void iotlb_snap_put(struct iotlb *tlb, unsigned int idx)
{
	__atomic_fetch_sub(&tlb->readers[idx], 1, __ATOMIC_RELEASE);
}

static void iotlb_readers_drain(unsigned long *count)
{
	while (__atomic_load_n(count, __ATOMIC_SEQ_CST))
		sched_yield();
}

/*
 * Wait until no read section can still hold a snapshot unpublished before
 * this call (the argument is at the top of this file). update_lock held.
 */
static void iotlb_synchronize(struct iotlb *tlb)
{
	unsigned int e = tlb->epoch;

	iotlb_readers_drain(&tlb->readers[(e + 1) & 1]);
	__atomic_store_n(&tlb->epoch, e + 1, __ATOMIC_SEQ_CST);
	iotlb_readers_drain(&tlb->readers[e & 1]);
}

/* Tables this small get their sorted copy at every change (a few us). */
#define IOTLB_FLAT_ALWAYS	256

/*
 * Make the working tree what readers see, under a new generation. The
 * sorted copy with its bucket index (O(n)) is rebuilt for a small table,
 * and for a larger one once the entries changed since the last copy add
 * up to more than a quarter of it (a whole-table change always), so it
 * costs O(1) amortized per change; until then translations walk the
 * published tree (O(log n), still without a lock). Then what the change
 * replaced is freed once no reader can hold it. The caller holds
 * update_lock (and the write lock).
 */
static void iotlb_publish(struct iotlb *tlb)
{
	struct iotlb_snap *old = tlb->snap, *new;
	u64 gen = iotlb_generation_next();
	bool flat;

	flat = tlb->count <= IOTLB_FLAT_ALWAYS || (u64)tlb->stale * 4 > tlb->count;
	new = iotlb_snap_build(tlb, flat);
	if (new) {
		new->generation = gen;
		if (flat)
			tlb->stale = 0;
	} else {	/* no memory: readers fall back to the tree, under the lock */
		new = IOTLB_SNAP_NONE;
	}
	__atomic_store_n(&tlb->snap, new, __ATOMIC_SEQ_CST);
	/* Pairs with the acquire in iotlb_generation(): G new => snap new. */
	__atomic_store_n(&tlb->pub.generation, gen, __ATOMIC_RELEASE);
	if (old != IOTLB_SNAP_NONE || tlb->retired || tlb->retired_trees)
		iotlb_synchronize(tlb);
	if (old != IOTLB_SNAP_NONE)
		free(old);
	iotlb_free_retired(tlb);
	/* What is published is immutable: the next change copies. */
	tlb->version++;
}

/* ---- locking and change publication --------------------------------------- */

static void iotlb_write_begin(struct iotlb *tlb)
{
	pthread_mutex_lock(&tlb->update_lock);
	if (!tlb->batch_depth) {
		pthread_rwlock_wrlock(&tlb->lock);
		tlb->dirty = false;
	}
}

/* Changes the sorted copy is behind by; IOTLB_STALE_ALL: rebuild it. */
#define IOTLB_STALE_ALL		(1u << 30)

static void iotlb_mark_dirty(struct iotlb *tlb, u64 start, u64 last)
{
	if (tlb->stale < IOTLB_STALE_ALL)
		tlb->stale++;
	if (!tlb->dirty) {
		tlb->dirty = true;
		tlb->dirty_start = start;
		tlb->dirty_last = last;
		return;
	}
	tlb->dirty_start = MIN(tlb->dirty_start, start);
	tlb->dirty_last = MAX(tlb->dirty_last, last);
}

/* Publish (outside a batch), drop the write lock, tell listeners. */
static void iotlb_write_end(struct iotlb *tlb)
{
	struct iotlb_listener *l;

	if (!tlb->batch_depth) {
		bool changed = tlb->dirty;

		if (changed)
			iotlb_publish(tlb);
		tlb->dirty = false;
		pthread_rwlock_unlock(&tlb->lock);
		if (changed)
			for (l = tlb->listeners; l; l = l->next)
				l->changed(l, tlb, tlb->dirty_start, tlb->dirty_last);
	}
	pthread_mutex_unlock(&tlb->update_lock);
}

/*
 * Read side of the slow path. The batch owner already holds the write lock;
 * glibc reports that as EDEADLK and the owner may then read unlocked.
 */
static bool iotlb_read_begin(struct iotlb *tlb)
{
	return pthread_rwlock_rdlock(&tlb->lock) == 0;
}

static void iotlb_read_end(struct iotlb *tlb, bool locked)
{
	if (locked)
		pthread_rwlock_unlock(&tlb->lock);
}

/* ---- public API ------------------------------------------------------------ */

int iotlb_create(unsigned int limit, struct iotlb **out)
{
	pthread_mutexattr_t attr;
	struct iotlb *tlb;

	tlb = xzalloc(sizeof(*tlb));
	if (!tlb)
		return -ENOMEM;
	if (pthread_rwlock_init(&tlb->lock, NULL))
		goto err_free;
	if (pthread_mutexattr_init(&attr))
		goto err_destroy_rwlock;
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	if (pthread_mutex_init(&tlb->update_lock, &attr))
		goto err_destroy_attr;
	pthread_mutexattr_destroy(&attr);
	tlb->limit = limit;
	tlb->snap = IOTLB_SNAP_NONE;
	tlb->pub.generation = iotlb_generation_next();
	*out = tlb;
	return 0;

err_destroy_attr:
	pthread_mutexattr_destroy(&attr);
err_destroy_rwlock:
	pthread_rwlock_destroy(&tlb->lock);
err_free:
	free(tlb);
	return -ENOMEM;
}

void iotlb_destroy(struct iotlb *tlb)
{
	struct iotlb_node *n;

	if (!tlb)
		return;
	avl_free(tlb->root);
	iotlb_free_retired(tlb);
	while ((n = tlb->pool)) {
		tlb->pool = n->left;
		free(n);
	}
	if (tlb->snap != IOTLB_SNAP_NONE)
		free(tlb->snap);
	pthread_mutex_destroy(&tlb->update_lock);
	pthread_rwlock_destroy(&tlb->lock);
	free(tlb);
}

static bool iotlb_perm_valid(unsigned int perm)
{
	return perm == IOTLB_PERM_RO || perm == IOTLB_PERM_WO ||
	       perm == IOTLB_PERM_RW;
}

static int __iotlb_add_range(struct iotlb *tlb, u64 start, u64 last, u64 addr,
			     unsigned int perm)
{
	struct iotlb_node *n;

	n = avl_floor(tlb->root, last);
	if (n && n->last >= start)
		return -EEXIST;
	if (tlb->limit && tlb->count >= tlb->limit)
		return -ENOSPC;
	if (pool_fill(tlb, avl_op_nodes(tlb) + 1))
		return -ENOMEM;
	n = node_new(tlb);
	n->start = start;
	n->last = last;
	n->addr = addr;
	n->perm = perm;
	tlb->root = avl_insert(tlb, tlb->root, n);
	tlb->count++;
	iotlb_mark_dirty(tlb, start, last);
	return 0;
}

int iotlb_add_range(struct iotlb *tlb, u64 start, u64 last, u64 addr,
		    unsigned int perm)
{
	int ret;

	if (last < start || !iotlb_perm_valid(perm) ||
	    addr > UINT64_MAX - (last - start))
		return -EINVAL;
	iotlb_write_begin(tlb);
	ret = __iotlb_add_range(tlb, start, last, addr, perm);
	iotlb_write_end(tlb);
	return ret;
}

/* Entries one iotlb_del_range() removes or cuts one by one; more: a rebuild. */
#define IOTLB_DEL_STEPS		4

/* Add @v (one piece of an entry) to the list being built. */
static void map_push(struct iotlb_map *v, size_t *n, u64 start, u64 last,
		     u64 addr, unsigned int perm)
{
	v[*n] = (struct iotlb_map){ .start = start, .last = last, .addr = addr,
				    .perm = perm };
	(*n)++;
}

/* What is left of subtree @n without [@start, @last], in order; counts cuts. */
static void avl_collect(const struct iotlb_node *n, struct iotlb_map *v,
			u64 start, u64 last, size_t *out, ssize_t *touched)
{
	if (!n)
		return;
	avl_collect(n->left, v, start, last, out, touched);
	if (n->last < start || n->start > last) {
		map_push(v, out, n->start, n->last, n->addr, n->perm);
	} else {
		(*touched)++;
		if (n->start < start)
			map_push(v, out, n->start, start - 1, n->addr, n->perm);
		if (n->last > last)
			map_push(v, out, last + 1, n->last,
				 n->addr + (last + 1 - n->start), n->perm);
	}
	avl_collect(n->right, v, start, last, out, touched);
}

/*
 * Many entries in the range: a new tree of what is left, O(n) (each
 * removal alone would copy O(log n) nodes, and this is what a removal of
 * that many costs anyway).
 */
static ssize_t iotlb_del_rebuild(struct iotlb *tlb, u64 start, u64 last)
{
	ssize_t touched = 0;
	struct iotlb_map *v;
	size_t n = 0;

	v = malloc(((size_t)tlb->count + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	avl_collect(tlb->root, v, start, last, &n, &touched);
	if (pool_fill(tlb, (unsigned int)n)) {
		free(v);
		return -ENOMEM;
	}
	avl_retire(tlb);
	tlb->root = avl_build(tlb, v, n);
	tlb->count = (unsigned int)n;
	free(v);
	iotlb_mark_dirty(tlb, start, last);
	tlb->stale = IOTLB_STALE_ALL;
	return touched;
}

static ssize_t __iotlb_del_range(struct iotlb *tlb, u64 start, u64 last)
{
	struct iotlb_node *n, *removed;
	unsigned int k;
	ssize_t touched = 0;

	/*
	 * How many entries change: the one holding @start, if it begins
	 * below it, and every one beginning in the range.
	 */
	n = avl_floor(tlb->root, start);
	k = (n && n->start < start && n->last >= start) +
	    avl_count_starts(tlb->root, start, last, IOTLB_DEL_STEPS + 1);
	if (!k)
		return 0;
	/* The only step that adds an entry is cutting a hole in one. */
	n = avl_floor(tlb->root, last);
	if (n && n->start < start && n->last > last && tlb->limit &&
	    tlb->count >= tlb->limit)
		return -ENOSPC;
	if (k > IOTLB_DEL_STEPS)
		return iotlb_del_rebuild(tlb, start, last);
	/* Each entry: one removal and up to two inserts, and their nodes. */
	if (pool_fill(tlb, k * (3 * avl_op_nodes(tlb) + 2)))
		return -ENOMEM;

	while ((n = avl_floor(tlb->root, last)) && n->last >= start) {
		struct iotlb_node e = *n, *p;

		tlb->root = avl_remove(tlb, tlb->root, e.start, &removed);
		node_drop(tlb, removed);
		tlb->count--;
		touched++;
		if (e.start < start) {
			/* Keep [e.start, start - 1]. */
			p = node_new(tlb);
			p->start = e.start;
			p->last = start - 1;
			p->addr = e.addr;
			p->perm = e.perm;
			tlb->root = avl_insert(tlb, tlb->root, p);
			tlb->count++;
		}
		if (e.last > last) {
			/* Keep [last + 1, e.last]. */
			p = node_new(tlb);
			p->start = last + 1;
			p->last = e.last;
			p->addr = e.addr + (last + 1 - e.start);
			p->perm = e.perm;
			tlb->root = avl_insert(tlb, tlb->root, p);
			tlb->count++;
		}
		iotlb_mark_dirty(tlb, MAX(e.start, start), MIN(e.last, last));
	}
	return touched;
}

ssize_t iotlb_del_range(struct iotlb *tlb, u64 start, u64 last)
{
	ssize_t ret;

	if (last < start)
		return -EINVAL;
	iotlb_write_begin(tlb);
	ret = __iotlb_del_range(tlb, start, last);
	iotlb_write_end(tlb);
	return ret;
}

void iotlb_reset(struct iotlb *tlb)
{
	iotlb_write_begin(tlb);
	if (tlb->root) {
		avl_retire(tlb);
		tlb->count = 0;
		iotlb_mark_dirty(tlb, 0, UINT64_MAX);
		tlb->stale = IOTLB_STALE_ALL;
	}
	iotlb_write_end(tlb);
}

/* A copy of subtree @n made of nodes of @version. */
static struct iotlb_node *avl_clone(const struct iotlb_node *n, u64 version,
				    bool *fail)
{
	struct iotlb_node *c;

	if (!n)
		return NULL;
	c = xmalloc(sizeof(*c));
	if (!c) {
		*fail = true;
		return NULL;
	}
	*c = *n;
	c->version = version;
	c->left = avl_clone(n->left, version, fail);
	c->right = avl_clone(n->right, version, fail);
	return c;
}

int iotlb_replace(struct iotlb *dst, struct iotlb *src)
{
	struct iotlb_node *copy;
	bool locked, fail = false;
	unsigned int count;
	int ret = 0;

	if (dst == src)
		return -EINVAL;
	iotlb_write_begin(dst);
	locked = iotlb_read_begin(src);
	count = src->count;
	copy = (dst->limit && count > dst->limit) ? NULL : avl_clone(src->root, dst->version, &fail);
	iotlb_read_end(src, locked);
	if (dst->limit && count > dst->limit) {
		ret = -ENOSPC;
	} else if (fail) {
		avl_free(copy);
		ret = -ENOMEM;
	} else {
		avl_retire(dst);
		dst->root = copy;
		dst->count = count;
		iotlb_mark_dirty(dst, 0, UINT64_MAX);
		dst->stale = IOTLB_STALE_ALL;
	}
	iotlb_write_end(dst);
	return ret;
}

static void node_to_map(const struct iotlb_node *n, struct iotlb_map *out)
{
	out->start = n->start;
	out->last = n->last;
	out->addr = n->addr;
	out->perm = n->perm;
}

int iotlb_lookup(struct iotlb *tlb, u64 iova, struct iotlb_map *out)
{
	struct iotlb_node *n;
	bool locked = iotlb_read_begin(tlb);
	int ret = -ENOENT;

	n = avl_floor(tlb->root, iova);
	if (n && n->last >= iova) {
		node_to_map(n, out);
		ret = 0;
	}
	iotlb_read_end(tlb, locked);
	return ret;
}

int iotlb_find_first(struct iotlb *tlb, u64 start, u64 last,
		     struct iotlb_map *out)
{
	struct iotlb_node *n;
	bool locked = iotlb_read_begin(tlb);
	int ret = -ENOENT;

	if (last < start)
		goto out_unlock;
	n = avl_floor(tlb->root, start);
	if (!n || n->last < start)
		n = avl_ceil(tlb->root, start);
	if (n && n->start <= last && n->last >= start) {
		node_to_map(n, out);
		ret = 0;
	}
out_unlock:
	iotlb_read_end(tlb, locked);
	return ret;
}

unsigned int iotlb_count(struct iotlb *tlb)
{
	bool locked = iotlb_read_begin(tlb);
	unsigned int n = tlb->count;

	iotlb_read_end(tlb, locked);
	return n;
}

void iotlb_batch_begin(struct iotlb *tlb)
{
	pthread_mutex_lock(&tlb->update_lock);
	if (!tlb->batch_depth++) {
		pthread_rwlock_wrlock(&tlb->lock);
		tlb->dirty = false;
	}
}

int iotlb_batch_commit(struct iotlb *tlb)
{
	pthread_mutex_lock(&tlb->update_lock);
	if (!tlb->batch_depth) {
		pthread_mutex_unlock(&tlb->update_lock);
		return -EINVAL;
	}
	tlb->batch_depth--;
	/* Publishes if this was the outermost commit, drops our lock. */
	iotlb_write_end(tlb);
	/* ... and the one iotlb_batch_begin() took. */
	pthread_mutex_unlock(&tlb->update_lock);
	return 0;
}

void iotlb_listener_add(struct iotlb *tlb, struct iotlb_listener *l)
{
	pthread_mutex_lock(&tlb->update_lock);
	l->next = tlb->listeners;
	tlb->listeners = l;
	pthread_mutex_unlock(&tlb->update_lock);
}

void iotlb_listener_del(struct iotlb *tlb, struct iotlb_listener *l)
{
	struct iotlb_listener **p;

	pthread_mutex_lock(&tlb->update_lock);
	for (p = &tlb->listeners; *p; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			break;
		}
	}
	pthread_mutex_unlock(&tlb->update_lock);
}

/* ---- translation -------------------------------------------------------- */

void iotlb_cache_init(struct iotlb_cache *cache)
{
	iotlb_cache_flush(cache);
}

void iotlb_cache_flush(struct iotlb_cache *cache)
{
	unsigned int i;

	cache->generation = 0;
	cache->victim = 0;
	for (i = 0; i < IOTLB_CACHE_ENTRIES; i++) {
		cache->e[i].start = 1;
		cache->e[i].last = 0;
	}
}

void iotlb_cache_invalidate(struct iotlb_cache *cache, u64 start, u64 last)
{
	unsigned int i;

	for (i = 0; i < IOTLB_CACHE_ENTRIES; i++) {
		struct iotlb_cache_entry *e = &cache->e[i];

		if (e->start <= e->last && e->start <= last && e->last >= start) {
			e->start = 1;
			e->last = 0;
		}
	}
}

static void iotlb_cache_fill(struct iotlb_cache *cache, u64 start, u64 last,
			     u64 addr, unsigned int perm)
{
	struct iotlb_cache_entry *e = &cache->e[cache->victim];

	cache->victim = (cache->victim + 1) % IOTLB_CACHE_ENTRIES;
	e->start = start;
	e->last = last;
	e->addr = addr;
	e->perm = perm;
}

/*
 * The walk, over a snapshot (tree == NULL, inside a read section) or over
 * the tree (s == NULL, read lock held: the fallback when no snapshot could
 * be built). Fills @cache if given.
 */
static inline ssize_t __iotlb_translate(const struct iotlb_snap *s,
					struct iotlb_node *tree,
					struct iotlb_cache *cache, u64 iova,
					u64 len, unsigned int perm,
					struct iotlb_seg *segs, unsigned int nsegs)
{
	unsigned int count = 0;
	u64 left = len;

	while (left) {
		u64 start, last, addr, here;
		unsigned int eperm;

		if (s) {
			const struct iotlb_snap_entry *e = iotlb_snap_floor(s, iova);

			if (!(e->perm & IOTLB_SNAP_VALID) || e->last < iova)
				return -EFAULT;
			start = e->start;
			last = e->last;
			addr = e->start + e->delta;
			eperm = e->perm & ~IOTLB_SNAP_VALID;
		} else {
			struct iotlb_node *n = avl_floor(tree, iova);

			if (!n || n->last < iova)
				return -EFAULT;
			start = n->start;
			last = n->last;
			addr = n->addr;
			eperm = n->perm;
		}
		if ((eperm & perm) != perm)
			return -EPERM;
		if (count == nsegs)
			return -ENOBUFS;
		if (cache)
			iotlb_cache_fill(cache, start, last, addr, eperm);
		/* Bytes from iova to the end of the entry, minus one. */
		here = last - iova;
		segs[count].addr = (void *)(uintptr_t)(addr + (iova - start));
		if (left - 1 <= here) {
			segs[count].len = left;
			return count + 1;
		}
		segs[count].len = here + 1;
		count++;
		left -= here + 1;
		if (last == UINT64_MAX)
			return -EFAULT;	/* the rest would wrap */
		iova = last + 1;
	}
	return count;
}

/* No snapshot (allocation failed): walk the tree under the read lock. */
static __attribute__((noinline)) ssize_t
iotlb_translate_locked(struct iotlb *tlb, struct iotlb_cache *cache, u64 iova,
		       u64 len, unsigned int perm, struct iotlb_seg *segs,
		       unsigned int nsegs)
{
	bool locked;
	ssize_t ret;
	u64 gen;

	locked = iotlb_read_begin(tlb);
	if (cache) {
		gen = __atomic_load_n(&tlb->pub.generation, __ATOMIC_RELAXED);
		if (cache->generation != gen) {
			iotlb_cache_flush(cache);
			cache->generation = gen;
		}
	}
	ret = __iotlb_translate(NULL, tlb->root, cache, iova, len, perm, segs, nsegs);
	iotlb_read_end(tlb, locked);
	return ret;
}

static __attribute__((noinline)) ssize_t
iotlb_translate_slow(struct iotlb *tlb, struct iotlb_cache *cache, u64 iova,
		     u64 len, unsigned int perm, struct iotlb_seg *segs,
		     unsigned int nsegs)
{
	const struct iotlb_snap *s;
	unsigned int idx;
	ssize_t ret;

	idx = iotlb_snap_get(tlb, &s);
	if (unlikely(s == IOTLB_SNAP_NONE)) {
		iotlb_snap_put(tlb, idx);
		return iotlb_translate_locked(tlb, cache, iova, len, perm, segs, nsegs);
	}
	/* Entries are tagged with the generation of the table they came from. */
	if (cache && cache->generation != s->generation) {
		iotlb_cache_flush(cache);
		cache->generation = s->generation;
	}
	/* No sorted copy since the last changes: the published tree. */
	ret = s->flat ? __iotlb_translate(s, NULL, cache, iova, len, perm, segs, nsegs) :
			__iotlb_translate(NULL, s->root, cache, iova, len, perm, segs, nsegs);
	iotlb_snap_put(tlb, idx);
	return ret;
}

ssize_t iotlb_translate_cached(struct iotlb *tlb, struct iotlb_cache *cache,
			       u64 iova, u64 len, unsigned int perm,
			       struct iotlb_seg *segs, unsigned int nsegs)
{
	const struct iotlb_cache_entry *e;

	if (likely(len && nsegs)) {
		e = iotlb_cache_find(cache, iotlb_generation(tlb), iova, len, perm);
		if (likely(e)) {
			segs[0].addr = (void *)(uintptr_t)(e->addr + (iova - e->start));
			segs[0].len = len;
			return 1;
		}
	} else if (!len) {
		return 0;
	}
	return iotlb_translate_slow(tlb, cache, iova, len, perm, segs, nsegs);
}

/* Six arguments, like iotlb_translate(): the call below stays a tail call. */
static __attribute__((noinline)) ssize_t
iotlb_translate_general(struct iotlb *tlb, u64 iova, u64 len, unsigned int perm,
			struct iotlb_seg *segs, unsigned int nsegs)
{
	return iotlb_translate_slow(tlb, NULL, iova, len, perm, segs, nsegs);
}

/*
 * No cache here: a snapshot lookup costs about what a cache probe would.
 * The inline part serves the common case, one whole segment; anything else
 * (several segments, holes, errors, no snapshot) goes the general way.
 */
ssize_t iotlb_translate(struct iotlb *tlb, u64 iova, u64 len, unsigned int perm,
			struct iotlb_seg *segs, unsigned int nsegs)
{
	const struct iotlb_snap_entry *e;
	const struct iotlb_snap *s;
	unsigned int idx;

	if (unlikely(!len))
		return 0;
	if (likely(nsegs)) {
		u64 d;
		u32 lo, hi;

		idx = iotlb_snap_get(tlb, &s);
		/*
		 * iotlb_snap_floor() when its bucket holds at most one start
		 * (the usual case: about two buckets per entry); else the
		 * general path searches.
		 */
		d = iova - s->base;
		if (unlikely(d > s->span))
			goto general;
		lo = s->ub[d >> s->shift];
		hi = s->ub[(d >> s->shift) + 1];
		if (unlikely(hi - lo > 1))
			goto general;
		e = &s->e[hi];
		if (e->start > iova)
			e = &s->e[lo];
		if (likely((e->perm & (perm | IOTLB_SNAP_VALID)) == (perm | IOTLB_SNAP_VALID) &&
			   iova + (len - 1) >= iova && iova + (len - 1) <= e->last)) {
			segs[0].addr = (void *)(uintptr_t)(iova + e->delta);
			segs[0].len = len;
			iotlb_snap_put(tlb, idx);
			return 1;
		}
general:
		iotlb_snap_put(tlb, idx);
	}
	return iotlb_translate_general(tlb, iova, len, perm, segs, nsegs);
}
