// SPDX-License-Identifier: GPL-2.0-only
/*
 * QEMU's ISA test device ("pc-testdev"), for test kernels written for
 * QEMU's -device pc-testdev (kvm-unit-tests among them). docs/testdev.md is
 * the specification; in short:
 *
 *   PIO  0xe0..0xe3   a 32-bit scratch register; any access size, each
 *                     byte lane reads back what was written to it
 *   PIO  0xe4         write a guest-physical address: the host mapping of
 *                     its page is made inaccessible and accessible again,
 *                     so KVM drops its translations of it
 *   PIO  0xe8..0xeb   the same scratch register, accessed a byte at a time
 *                     (a 4-byte access is four 1-byte ones)
 *   PIO  0x2000 + n   write: raise (non-zero) or lower (zero) interrupt
 *                     line n (0..23) of the in-kernel irqchip; reads 0
 *   MMIO 0xff000000   64 KiB that reads back what was written, through
 *                     the MMIO exit path (so instruction emulation of
 *                     MMIO can be tested against memory-like contents)
 *
 * Everything the guest writes is hostile: a flush of an address that is
 * not guest RAM is ignored (rate-limited log line); accesses outside a
 * range never reach the device (the I/O bus checks).
 *
 * Locking: t->lock protects the scratch register, the window and the line
 * levels; vCPU threads take it.
 */
#include <kestrel/hw.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/memory.h>
#include <kestrel/snapshot.h>
#include <kestrel/vm.h>

struct testdev {
	struct io_dev scratch_dev;	/* TESTDEV_SCRATCH_PORT */
	struct io_dev flush_dev;	/* TESTDEV_FLUSH_PORT */
	struct io_dev byte_dev;		/* TESTDEV_SCRATCH_BYTE_PORT */
	struct io_dev irq_dev;		/* TESTDEV_IRQ_PORT */
	struct io_dev mem_dev;		/* TESTDEV_IOMEM_GPA */
	struct vm *vm;
	unsigned int registered;	/* bit per io_dev above, in order */
	pthread_mutex_t lock;
	struct ratelimit rl;

	/* Under lock. */
	u32 scratch;
	u32 irq_levels;			/* bit n: line n is raised */
	u8 *window;			/* TESTDEV_IOMEM_SIZE bytes */
};

/* ---- scratch register (0xe0 and 0xe8) ------------------------------------ */

static int scratch_read(struct testdev *t, u64 offset, void *data,
			unsigned int len)
{
	u32 v;

	pthread_mutex_lock(&t->lock);
	v = t->scratch >> (8 * offset);
	pthread_mutex_unlock(&t->lock);
	memcpy(data, &v, len);	/* little-endian host: the low bytes */
	return 0;
}

static int scratch_write(struct testdev *t, u64 offset, const void *data,
			 unsigned int len)
{
	u32 v = 0, mask = len == 4 ? ~0u : ((1u << (8 * len)) - 1);

	memcpy(&v, data, len);
	pthread_mutex_lock(&t->lock);
	t->scratch = (t->scratch & ~(mask << (8 * offset))) |
		     ((v & mask) << (8 * offset));
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static int testdev_scratch_read(struct io_dev *dev, u64 offset, void *data,
				unsigned int len)
{
	return scratch_read(container_of(dev, struct testdev, scratch_dev),
			    offset, data, len);
}

static int testdev_scratch_write(struct io_dev *dev, u64 offset,
				 const void *data, unsigned int len)
{
	return scratch_write(container_of(dev, struct testdev, scratch_dev),
			     offset, data, len);
}

/* The byte-wide alias: wider accesses are split into byte lanes. */
static int testdev_byte_read(struct io_dev *dev, u64 offset, void *data,
			     unsigned int len)
{
	struct testdev *t = container_of(dev, struct testdev, byte_dev);

	for (unsigned int i = 0; i < len; i++)
		scratch_read(t, offset + i, (u8 *)data + i, 1);
	return 0;
}

static int testdev_byte_write(struct io_dev *dev, u64 offset,
			      const void *data, unsigned int len)
{
	struct testdev *t = container_of(dev, struct testdev, byte_dev);

	for (unsigned int i = 0; i < len; i++)
		scratch_write(t, offset + i, (const u8 *)data + i, 1);
	return 0;
}

static const struct io_ops testdev_scratch_ops = {
	.read = testdev_scratch_read,
	.write = testdev_scratch_write,
	.min_access = 1,
	.max_access = 4,
	.unaligned = true,
};

static const struct io_ops testdev_byte_ops = {
	.read = testdev_byte_read,
	.write = testdev_byte_write,
	.min_access = 1,
	.max_access = 4,
	.unaligned = true,
};

/* ---- page flush (0xe4) --------------------------------------------------- */

/* The write-only ranges (flush, interrupt lines) read as zero. */
static int testdev_read_zero(struct io_dev *dev, u64 offset, void *data,
			     unsigned int len)
{
	memset(data, 0, len);
	return 0;
}

static int testdev_flush_write(struct io_dev *dev, u64 offset,
			       const void *data, unsigned int len)
{
	struct testdev *t = container_of(dev, struct testdev, flush_dev);
	struct address_space *as = vm_address_space(t->vm);
	long page = sysconf(_SC_PAGESIZE);
	u64 want = (u64)page, got = want;
	u32 gpa;
	void *host;

	memcpy(&gpa, data, sizeof(gpa));
	host = address_space_map(as, gpa & ~((u64)page - 1), &got, false);
	if (!host || got != want || ((uintptr_t)host & (uintptr_t)(page - 1))) {
		if (ratelimit_allow(&t->rl))
			pr_warn("testdev: flush of %#x: not a page of guest RAM",
				gpa);
		if (host)
			address_space_unmap(as, host, got, false, 0);
		return 0;
	}
	/*
	 * Revoking access and giving it back changes nothing for the guest,
	 * but the kernel's MMU notifiers make KVM drop what it had mapped
	 * of this page: the next guest access faults it in anew.
	 */
	mprotect(host, want, PROT_NONE);
	mprotect(host, want, PROT_READ | PROT_WRITE);
	address_space_unmap(as, host, got, false, 0);
	return 0;
}

static const struct io_ops testdev_flush_ops = {
	.read = testdev_read_zero,
	.write = testdev_flush_write,
	.min_access = 4,
	.max_access = 4,
};

/* ---- interrupt lines (0x2000 + n) ---------------------------------------- */

static int testdev_irq_write(struct io_dev *dev, u64 offset, const void *data,
			     unsigned int len)
{
	struct testdev *t = container_of(dev, struct testdev, irq_dev);
	bool level = *(const u8 *)data != 0;
	u32 bit = 1u << offset;
	int ret;

	pthread_mutex_lock(&t->lock);
	ret = vm_set_irq_line(t->vm, (u32)offset, level);
	if (!ret)
		t->irq_levels = level ? t->irq_levels | bit : t->irq_levels & ~bit;
	pthread_mutex_unlock(&t->lock);
	if (ret && ratelimit_allow(&t->rl))
		pr_warn("testdev: line %u: %s", (unsigned int)offset, strerror(-ret));
	return 0;
}

static const struct io_ops testdev_irq_ops = {
	.read = testdev_read_zero,
	.write = testdev_irq_write,
	.min_access = 1,
	.max_access = 1,
};

/* ---- memory-like MMIO window (0xff000000) -------------------------------- */

static int testdev_mem_read(struct io_dev *dev, u64 offset, void *data,
			    unsigned int len)
{
	struct testdev *t = container_of(dev, struct testdev, mem_dev);

	pthread_mutex_lock(&t->lock);
	memcpy(data, t->window + offset, len);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static int testdev_mem_write(struct io_dev *dev, u64 offset, const void *data,
			     unsigned int len)
{
	struct testdev *t = container_of(dev, struct testdev, mem_dev);

	pthread_mutex_lock(&t->lock);
	memcpy(t->window + offset, data, len);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static const struct io_ops testdev_mem_ops = {
	.read = testdev_mem_read,
	.write = testdev_mem_write,
	.min_access = 1,
	.max_access = 8,
	.unaligned = true,
};

/* ---- life cycle ---------------------------------------------------------- */

static const struct {
	size_t dev_off;
	const struct io_ops *ops;
	const char *name;
	enum io_space space;
	u64 base;
	u64 len;
} testdev_ranges[] = {
	{ offsetof(struct testdev, scratch_dev), &testdev_scratch_ops,
	  "testdev-scratch", IO_SPACE_PIO, TESTDEV_SCRATCH_PORT, 4 },
	{ offsetof(struct testdev, flush_dev), &testdev_flush_ops,
	  "testdev-flush", IO_SPACE_PIO, TESTDEV_FLUSH_PORT, 4 },
	{ offsetof(struct testdev, byte_dev), &testdev_byte_ops,
	  "testdev-scratch-byte", IO_SPACE_PIO, TESTDEV_SCRATCH_BYTE_PORT, 4 },
	{ offsetof(struct testdev, irq_dev), &testdev_irq_ops,
	  "testdev-irq", IO_SPACE_PIO, TESTDEV_IRQ_PORT, TESTDEV_NR_IRQS },
	{ offsetof(struct testdev, mem_dev), &testdev_mem_ops,
	  "testdev-iomem", IO_SPACE_MMIO, TESTDEV_IOMEM_GPA, TESTDEV_IOMEM_SIZE },
};

/*
 * The SNAP_SEC_TESTDEV payload: the scratch register and the lines raised
 * (bit n: line n); SNAP_SEC_TESTDEV_WINDOW holds the memory window (from
 * the device's own buffer: nothing is allocated while a snapshot is
 * written).
 */
struct testdev_snap {
	u32 scratch;
	u32 irq_levels;
};

int testdev_snapshot_save(struct testdev *t, struct snap_writer *w)
{
	struct testdev_snap st;
	int ret;

	pthread_mutex_lock(&t->lock);
	st = (struct testdev_snap){ .scratch = t->scratch, .irq_levels = t->irq_levels };
	ret = snap_write_section(w, SNAP_SEC_TESTDEV, 0, &st, sizeof(st));
	if (!ret)
		ret = snap_write_section(w, SNAP_SEC_TESTDEV_WINDOW, 0, t->window,
					 TESTDEV_IOMEM_SIZE);
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int testdev_snapshot_restore(struct testdev *t, struct snap_reader *r)
{
	const struct testdev_snap *st;
	const void *data, *window;
	size_t len;
	int ret = 0;

	if (snap_read_section(r, SNAP_SEC_TESTDEV, 0, &data, &len) || len != sizeof(*st) ||
	    snap_read_section(r, SNAP_SEC_TESTDEV_WINDOW, 0, &window, &len) ||
	    len != TESTDEV_IOMEM_SIZE)
		return -EINVAL;
	st = data;
	if (st->irq_levels >> TESTDEV_NR_IRQS)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	t->scratch = st->scratch;
	memcpy(t->window, window, TESTDEV_IOMEM_SIZE);
	/* The lines go back up as the guest left them. */
	for (u32 n = 0; !ret && n < TESTDEV_NR_IRQS; n++) {
		if (!(st->irq_levels & (1u << n)) || (t->irq_levels & (1u << n)))
			continue;
		ret = vm_set_irq_line(t->vm, n, true);
		if (!ret)
			t->irq_levels |= 1u << n;
	}
	pthread_mutex_unlock(&t->lock);
	return ret ? -EINVAL : 0;
}

int testdev_create(struct vm *vm, struct testdev **out)
{
	struct testdev *t;
	int ret;

	t = xzalloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->vm = vm;
	t->rl = (struct ratelimit)RATELIMIT_INIT;
	pthread_mutex_init(&t->lock, NULL);
	t->window = xzalloc(TESTDEV_IOMEM_SIZE);
	if (!t->window) {
		ret = -ENOMEM;
		goto err_destroy;
	}
	for (size_t i = 0; i < ARRAY_SIZE(testdev_ranges); i++) {
		struct io_dev *dev = (void *)((u8 *)t + testdev_ranges[i].dev_off);

		dev->ops = testdev_ranges[i].ops;
		dev->name = testdev_ranges[i].name;
		ret = iobus_register(vm_iobus(vm), testdev_ranges[i].space,
				     testdev_ranges[i].base, testdev_ranges[i].len,
				     dev);
		if (ret) {
			pr_err("testdev: cannot claim %s at %#llx: %s",
			       dev->name, (unsigned long long)testdev_ranges[i].base,
			       strerror(-ret));
			goto err_destroy;
		}
		t->registered |= 1u << i;
	}
	*out = t;
	return 0;

err_destroy:
	testdev_destroy(t);
	return ret;
}

void testdev_destroy(struct testdev *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(testdev_ranges); i++)
		if (t->registered & (1u << i))
			iobus_unregister(vm_iobus(t->vm), testdev_ranges[i].space,
					 testdev_ranges[i].base);
	for (u32 n = 0; n < TESTDEV_NR_IRQS; n++)
		if (t->irq_levels & (1u << n))
			vm_set_irq_line(t->vm, n, false);
	pthread_mutex_destroy(&t->lock);
	free(t->window);
	free(t);
}
