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
 *                (across a whole batch), slow-path readers for read
 *   generation   (pub.generation) written with release under the write
 *                lock, read with acquire by the lock-free cache check
 */
#include <kestrel/iotlb.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/fault.h>

struct iotlb_node {
	struct iotlb_node *left;
	struct iotlb_node *right;
	u64 start;
	u64 last;
	u64 addr;
	unsigned int perm;
	int height;
};

struct iotlb {
	struct iotlb_public pub;	/* first: generation, read inline */
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
};

/* Process-wide, so a generation is never reused by any IOTLB. */
static u64 iotlb_generation_seq;

static u64 iotlb_generation_next(void)
{
	return __atomic_add_fetch(&iotlb_generation_seq, 1, __ATOMIC_RELAXED);
}

/* ---- AVL tree ------------------------------------------------------------ */

static inline int node_height(const struct iotlb_node *n)
{
	return n ? n->height : 0;
}

static inline void node_update(struct iotlb_node *n)
{
	int l = node_height(n->left), r = node_height(n->right);

	n->height = (l > r ? l : r) + 1;
}

static struct iotlb_node *rotate_right(struct iotlb_node *n)
{
	struct iotlb_node *l = n->left;

	n->left = l->right;
	l->right = n;
	node_update(n);
	node_update(l);
	return l;
}

static struct iotlb_node *rotate_left(struct iotlb_node *n)
{
	struct iotlb_node *r = n->right;

	n->right = r->left;
	r->left = n;
	node_update(n);
	node_update(r);
	return r;
}

static struct iotlb_node *rebalance(struct iotlb_node *n)
{
	int bal;

	node_update(n);
	bal = node_height(n->left) - node_height(n->right);
	if (bal > 1) {
		if (node_height(n->left->left) < node_height(n->left->right))
			n->left = rotate_left(n->left);
		return rotate_right(n);
	}
	if (bal < -1) {
		if (node_height(n->right->right) < node_height(n->right->left))
			n->right = rotate_right(n->right);
		return rotate_left(n);
	}
	return n;
}

/* Caller guarantees @new overlaps nothing; recursion depth is the height. */
static struct iotlb_node *avl_insert(struct iotlb_node *n, struct iotlb_node *new)
{
	if (!n) {
		new->left = new->right = NULL;
		new->height = 1;
		return new;
	}
	if (new->start < n->start)
		n->left = avl_insert(n->left, new);
	else
		n->right = avl_insert(n->right, new);
	return rebalance(n);
}

/* Unlink the minimum of subtree @n; it is returned in *@min. */
static struct iotlb_node *avl_unlink_min(struct iotlb_node *n,
					 struct iotlb_node **min)
{
	if (!n->left) {
		*min = n;
		return n->right;
	}
	n->left = avl_unlink_min(n->left, min);
	return rebalance(n);
}

/* Unlink the node whose start is @start (it must exist). */
static struct iotlb_node *avl_remove(struct iotlb_node *n, u64 start)
{
	struct iotlb_node *succ;

	if (start < n->start) {
		n->left = avl_remove(n->left, start);
	} else if (start > n->start) {
		n->right = avl_remove(n->right, start);
	} else {
		if (!n->left)
			return n->right;
		if (!n->right)
			return n->left;
		n->right = avl_unlink_min(n->right, &succ);
		succ->left = n->left;
		succ->right = n->right;
		n = succ;
	}
	return rebalance(n);
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

/* ---- locking and change publication --------------------------------------- */

static void iotlb_write_begin(struct iotlb *tlb)
{
	pthread_mutex_lock(&tlb->update_lock);
	if (!tlb->batch_depth) {
		pthread_rwlock_wrlock(&tlb->lock);
		tlb->dirty = false;
	}
}

static void iotlb_mark_dirty(struct iotlb *tlb, u64 start, u64 last)
{
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
			__atomic_store_n(&tlb->pub.generation, iotlb_generation_next(),
					 __ATOMIC_RELEASE);
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
	if (!tlb)
		return;
	avl_free(tlb->root);
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
	n = xmalloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->start = start;
	n->last = last;
	n->addr = addr;
	n->perm = perm;
	tlb->root = avl_insert(tlb->root, n);
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

static ssize_t __iotlb_del_range(struct iotlb *tlb, u64 start, u64 last)
{
	struct iotlb_node *n, *spare = NULL;
	ssize_t touched = 0;

	/*
	 * The only step that adds an entry is cutting a hole in the middle
	 * of one entry; check limit and memory before changing anything.
	 */
	n = avl_floor(tlb->root, last);
	if (n && n->start < start && n->last > last) {
		if (tlb->limit && tlb->count >= tlb->limit)
			return -ENOSPC;
		spare = malloc(sizeof(*spare));
		if (!spare)
			return -ENOMEM;
	}

	while ((n = avl_floor(tlb->root, last)) && n->last >= start) {
		struct iotlb_node e = *n, *keep = n;

		/* avl_remove() unlinks this very node: it can be reused. */
		tlb->root = avl_remove(tlb->root, e.start);
		touched++;
		if (e.start < start) {
			/* Keep [e.start, start - 1]. */
			keep->last = start - 1;
			tlb->root = avl_insert(tlb->root, keep);
			keep = NULL;
		}
		if (e.last > last) {
			/* Keep [last + 1, e.last]. */
			struct iotlb_node *r = keep;

			if (!r) {
				r = spare;
				spare = NULL;
				tlb->count++;
			}
			keep = NULL;
			r->start = last + 1;
			r->last = e.last;
			r->addr = e.addr + (last + 1 - e.start);
			r->perm = e.perm;
			tlb->root = avl_insert(tlb->root, r);
		}
		if (keep) {
			free(keep);
			tlb->count--;
		}
		iotlb_mark_dirty(tlb, MAX(e.start, start), MIN(e.last, last));
	}
	free(spare);
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
		avl_free(tlb->root);
		tlb->root = NULL;
		tlb->count = 0;
		iotlb_mark_dirty(tlb, 0, UINT64_MAX);
	}
	iotlb_write_end(tlb);
}

static struct iotlb_node *avl_clone(const struct iotlb_node *n, bool *fail)
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
	c->left = avl_clone(n->left, fail);
	c->right = avl_clone(n->right, fail);
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
	copy = (dst->limit && count > dst->limit) ? NULL : avl_clone(src->root, &fail);
	iotlb_read_end(src, locked);
	if (dst->limit && count > dst->limit) {
		ret = -ENOSPC;
	} else if (fail) {
		avl_free(copy);
		ret = -ENOMEM;
	} else {
		avl_free(dst->root);
		dst->root = copy;
		dst->count = count;
		iotlb_mark_dirty(dst, 0, UINT64_MAX);
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

static void iotlb_cache_fill(struct iotlb_cache *cache, const struct iotlb_node *n)
{
	struct iotlb_cache_entry *e = &cache->e[cache->victim];

	cache->victim = (cache->victim + 1) % IOTLB_CACHE_ENTRIES;
	e->start = n->start;
	e->last = n->last;
	e->addr = n->addr;
	e->perm = n->perm;
}

/* The tree walk; caller holds the read lock (or the write lock). */
static ssize_t __iotlb_translate(struct iotlb *tlb, struct iotlb_cache *cache,
				 u64 iova, u64 len, unsigned int perm,
				 struct iotlb_seg *segs, unsigned int nsegs)
{
	unsigned int count = 0;
	u64 left = len;

	while (left) {
		struct iotlb_node *n = avl_floor(tlb->root, iova);
		u64 here;

		if (!n || n->last < iova)
			return -EFAULT;
		if ((n->perm & perm) != perm)
			return -EPERM;
		if (count == nsegs)
			return -ENOBUFS;
		if (cache)
			iotlb_cache_fill(cache, n);
		/* Bytes from iova to the end of the entry, minus one. */
		here = n->last - iova;
		segs[count].addr = (void *)(uintptr_t)(n->addr + (iova - n->start));
		if (left - 1 <= here) {
			segs[count].len = left;
			return count + 1;
		}
		segs[count].len = here + 1;
		count++;
		left -= here + 1;
		if (n->last == UINT64_MAX)
			return -EFAULT;	/* the rest would wrap */
		iova = n->last + 1;
	}
	return count;
}

static __attribute__((noinline)) ssize_t
iotlb_translate_slow(struct iotlb *tlb, struct iotlb_cache *cache, u64 iova,
		     u64 len, unsigned int perm, struct iotlb_seg *segs,
		     unsigned int nsegs)
{
	bool locked;
	ssize_t ret;
	u64 gen;

	locked = iotlb_read_begin(tlb);
	gen = __atomic_load_n(&tlb->pub.generation, __ATOMIC_RELAXED);
	if (cache->generation != gen) {
		iotlb_cache_flush(cache);
		cache->generation = gen;
	}
	ret = __iotlb_translate(tlb, cache, iova, len, perm, segs, nsegs);
	iotlb_read_end(tlb, locked);
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

ssize_t iotlb_translate(struct iotlb *tlb, u64 iova, u64 len, unsigned int perm,
			struct iotlb_seg *segs, unsigned int nsegs)
{
	/* Per thread; generations are process-wide, so sharing it between
	 * IOTLBs is safe (a switch just misses). */
	static __thread struct iotlb_cache thread_cache;
	const struct iotlb_cache_entry *e;

	if (likely(len && nsegs)) {
		e = iotlb_cache_find(&thread_cache, iotlb_generation(tlb), iova, len, perm);
		if (likely(e)) {
			segs[0].addr = (void *)(uintptr_t)(e->addr + (iova - e->start));
			segs[0].len = len;
			return 1;
		}
	} else if (!len) {
		return 0;
	}
	return iotlb_translate_slow(tlb, &thread_cache, iova, len, perm, segs, nsegs);
}
