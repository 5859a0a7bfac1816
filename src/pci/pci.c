// SPDX-License-Identifier: GPL-2.0-only
/*
 * The PCI host bridge (docs/pci.md): bus 0 behind configuration mechanism
 * #1 and ECAM, the host bridge function at 00:00.0, BAR decoding inside
 * the bridge's windows, and the INTx lines.
 *
 * Why the bridge decodes its windows itself: the guest moves BARs with
 * configuration writes, which arrive on a vCPU thread inside the VM's bus
 * dispatch, and a bus handler must not (un)register ranges on the bus
 * that called it (src/core/iobus.c). So the bridge claims each window once
 * and keeps its own table of which BAR decodes where, as a real host
 * bridge forwards its apertures to the bus behind it.
 *
 * Locking, in this order: host.lock (configuration space of every
 * function, the CF8 address) -> host.map_lock (rwlock: BAR decode table,
 * read by window accesses) -> the device's own lock. A device handler
 * called from a window access never takes host.lock. host.intx_lock covers
 * the INTx line counts and is taken alone.
 */
#include <kestrel/pci.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pci_regs.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/vm.h>

/* Configuration mechanism #1 (PCI Local Bus 3.0 §3.2.2.3.2). */
#define PCI_CONFIG_ADDRESS	0xcf8
#define PCI_CONFIG_DATA		0xcfc
#define CF8_ENABLE		(1u << 31)

/* 00:00.0: a host bridge (class 06/00/00). */
#define PCI_HOST_VENDOR		0x8086
#define PCI_HOST_DEVICE		0x29c0

#define PCI_MAX_INTX		8
#define PCI_CLASS_HOST_BRIDGE	0x060000

/* Bits of COMMAND a type-0 function here implements. */
#define PCI_COMMAND_IMPL	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
				 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

struct pci_host {
	struct vm *vm;
	struct boot_pci cfg;
	pthread_mutex_t lock;
	pthread_rwlock_t map_lock;
	pthread_mutex_t intx_lock;

	u32 cf8;				/* lock */
	struct pci_dev *slots[PCI_SLOTS];	/* lock (and map_lock for readers) */
	struct pci_dev bridge;
	unsigned int intx_count[PCI_MAX_INTX];	/* intx_lock */

	u64 next_io, next_mem32;		/* placement, at add time */

	struct io_dev addr_dev, data_dev, ecam_dev, io_dev, mem32_dev, mem64_dev;
	bool addr_on, data_on, ecam_on, io_on, mem32_on, mem64_on;
	bool low_asserts;		/* drive INTx low to assert (vm_irq_line_has_polarity()) */
	struct ratelimit rl;
};

#define pci_warn(pd, fmt, ...)						\
	do {								\
		if (ratelimit_allow(&(pd)->rl))				\
			pr_warn("%s: " fmt, (pd)->name, ##__VA_ARGS__);	\
	} while (0)

static const struct pci_dev_ops pci_bridge_ops = { 0 };

/* ---- a function's configuration space ------------------------------------ */

u32 pci_dev_cfg_read(const struct pci_dev *pd, u32 off, unsigned int len)
{
	u32 v = 0;

	for (unsigned int i = 0; i < len && off + i < PCI_CFG_SIZE; i++)
		v |= (u32)__atomic_load_n(&pd->cfg[off + i], __ATOMIC_RELAXED) << (8 * i);
	return v;
}

void pci_dev_cfg_set(struct pci_dev *pd, u32 off, u32 val, unsigned int len)
{
	for (unsigned int i = 0; i < len && off + i < PCI_CFG_SIZE; i++)
		__atomic_store_n(&pd->cfg[off + i], (u8)(val >> (8 * i)), __ATOMIC_RELAXED);
}

static void cfg_set_mask(u8 *mask, u32 off, u32 val, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++)
		mask[off + i] = (u8)(val >> (8 * i));
}

void pci_dev_init(struct pci_dev *pd, const struct pci_dev_ops *ops, u16 vendor,
		  u16 device, u32 class, u8 revision, u16 subsys_vendor, u16 subsys)
{
	memset(pd, 0, sizeof(*pd));
	pd->ops = ops;
	pd->rl = (struct ratelimit)RATELIMIT_INIT;
	snprintf(pd->name, sizeof(pd->name), "pci");
	pci_dev_cfg_set(pd, PCI_VENDOR_ID, vendor, 2);
	pci_dev_cfg_set(pd, PCI_DEVICE_ID, device, 2);
	pci_dev_cfg_set(pd, PCI_CLASS_REVISION, class << 8 | revision, 4);
	pci_dev_cfg_set(pd, PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL, 1);
	pci_dev_cfg_set(pd, PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor, 2);
	pci_dev_cfg_set(pd, PCI_SUBSYSTEM_ID, subsys, 2);
	/* COMMAND: set per BAR kind in pci_dev_add_bar(); BME, SERR, INTx disable. */
	cfg_set_mask(pd->wmask, PCI_COMMAND,
		     PCI_COMMAND_MASTER | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE, 2);
	/* STATUS: the error bits are write-1-to-clear, nothing else is writable. */
	cfg_set_mask(pd->w1cmask, PCI_STATUS,
		     PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT |
		     PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT |
		     PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY, 2);
	pd->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	pd->wmask[PCI_LATENCY_TIMER] = 0xff;
	pd->wmask[PCI_INTERRUPT_LINE] = 0xff;
	pd->cap_end = 0x40;
}

int pci_dev_add_bar(struct pci_dev *pd, unsigned int bar, u64 size, unsigned int flags)
{
	bool io = flags & PCI_BAR_F_IO, is64 = flags & PCI_BAR_F_MEM64;
	u32 low;

	if (bar >= PCI_NR_BARS || (is64 && (io || bar + 1 >= PCI_NR_BARS)) ||
	    !size || (size & (size - 1)) || size < (io ? 4 : 4096) ||
	    (io && size > 256) || pd->bars[bar].size || (is64 && pd->bars[bar + 1].size))
		return -EINVAL;
	pd->bars[bar] = (struct pci_bar){ .size = size, .flags = flags };
	if (io) {
		low = PCI_BASE_ADDRESS_SPACE_IO;
		pd->wmask[PCI_COMMAND] |= PCI_COMMAND_IO;
	} else {
		low = (is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) |
		      ((flags & PCI_BAR_F_PREFETCH) ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
		pd->wmask[PCI_COMMAND] |= PCI_COMMAND_MEMORY;
	}
	pci_dev_cfg_set(pd, PCI_BASE_ADDRESS_0 + 4 * bar, low, 4);
	return 0;
}

int pci_dev_add_cap(struct pci_dev *pd, u8 id, const void *body, unsigned int len, u8 *off)
{
	unsigned int at = ALIGN_UP((unsigned int)pd->cap_end, 4u);

	if (at + 2 + len > 0x100)
		return -ENOSPC;
	pd->cfg[at] = id;
	pd->cfg[at + 1] = 0;
	memcpy(&pd->cfg[at + 2], body, len);
	if (pd->cap_last)
		pd->cfg[pd->cap_last + 1] = (u8)at;
	else
		pd->cfg[PCI_CAPABILITY_LIST] = (u8)at;
	pd->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	pd->cap_last = (u8)at;
	pd->cap_end = (u8)MIN(at + 2 + len, 0xffu);
	if (off)
		*off = (u8)at;
	return 0;
}

bool pci_dev_bus_master(const struct pci_dev *pd)
{
	return pci_dev_cfg_read(pd, PCI_COMMAND, 2) & PCI_COMMAND_MASTER;
}

/* ---- INTx ------------------------------------------------------------------ */

/* Drive the line of @pd as its level and INTx Disable say. intx_lock held. */
static void intx_update(struct pci_host *h, struct pci_dev *pd, bool was, bool now)
{
	unsigned int line = pd->gsi - h->cfg.intx_gsi0;

	if (was == now || line >= h->cfg.nr_intx)
		return;
	if (now)
		h->intx_count[line]++;
	else
		h->intx_count[line]--;
	/*
	 * Active low: idle high, low while anyone asserts, where the irqchip
	 * applies the polarity; where it does not, asserted is level 1.
	 */
	if (h->intx_count[line] == (now ? 1u : 0u))
		vm_set_irq_line(h->vm, pd->gsi, h->low_asserts ? !now : now);
}

static bool intx_driven(const struct pci_dev *pd, bool level)
{
	return level && !(pci_dev_cfg_read(pd, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE);
}

void pci_dev_set_intx(struct pci_dev *pd, bool level)
{
	struct pci_host *h = pd->host;
	u16 status;

	if (!h)
		return;
	pthread_mutex_lock(&h->intx_lock);
	intx_update(h, pd, intx_driven(pd, pd->intx), intx_driven(pd, level));
	pd->intx = level;
	status = (u16)pci_dev_cfg_read(pd, PCI_STATUS, 2);
	status = level ? status | PCI_STATUS_INTERRUPT : status & ~PCI_STATUS_INTERRUPT;
	pci_dev_cfg_set(pd, PCI_STATUS, status, 2);
	pthread_mutex_unlock(&h->intx_lock);
}

/* ---- BARs ------------------------------------------------------------------ */

static u64 bar_addr_from_cfg(const struct pci_dev *pd, unsigned int bar)
{
	const struct pci_bar *b = &pd->bars[bar];
	u64 v = pci_dev_cfg_read(pd, PCI_BASE_ADDRESS_0 + 4 * bar, 4);

	if (b->flags & PCI_BAR_F_IO)
		return v & PCI_BASE_ADDRESS_IO_MASK;
	v &= PCI_BASE_ADDRESS_MEM_MASK;
	if (b->flags & PCI_BAR_F_MEM64)
		v |= (u64)pci_dev_cfg_read(pd, PCI_BASE_ADDRESS_0 + 4 * (bar + 1), 4) << 32;
	return v;
}

/* Does [addr, addr + size) lie in one of the windows of the BAR's kind? */
static bool bar_in_window(const struct pci_host *h, const struct pci_bar *b, u64 addr)
{
	const struct boot_pci *c = &h->cfg;
	u64 end = addr + b->size;

	if (end < addr)
		return false;
	if (b->flags & PCI_BAR_F_IO)
		return addr >= c->io_base && end <= (u64)c->io_base + c->io_size;
	return (addr >= c->mmio32_base && end <= c->mmio32_base + c->mmio32_size) ||
	       (c->mmio64_size && addr >= c->mmio64_base &&
		end <= c->mmio64_base + c->mmio64_size);
}

/* Bring every BAR's decoding in line with COMMAND and the BAR registers. host.lock held. */
static void pci_dev_update_bars(struct pci_host *h, struct pci_dev *pd, bool plugged)
{
	u16 cmd = (u16)pci_dev_cfg_read(pd, PCI_COMMAND, 2);

	for (unsigned int i = 0; i < PCI_NR_BARS; i++) {
		struct pci_bar *b = &pd->bars[i];
		bool io = b->flags & PCI_BAR_F_IO;
		u64 addr;
		bool on;

		if (!b->size)
			continue;
		addr = bar_addr_from_cfg(pd, i);
		b->addr = addr;
		on = plugged && (cmd & (io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)) && addr &&
		     bar_in_window(h, b, addr);
		if (on == b->mapped && (!on || addr == b->mapped_addr))
			continue;
		if (on && addr && !bar_in_window(h, b, addr))
			pci_warn(pd, "BAR%u at 0x%llx is outside the host bridge's windows: not decoded",
				 i, (unsigned long long)addr);
		pthread_rwlock_wrlock(&h->map_lock);
		b->mapped = on;
		b->mapped_addr = addr;
		pthread_rwlock_unlock(&h->map_lock);
		if (pd->ops->bar_moved)
			pd->ops->bar_moved(pd, i, addr, on);
	}
}

/*
 * A write to the BAR registers: each BAR keeps only the address bits its
 * size allows (so all ones read back as the size mask, PCI 3.0 §6.2.5.1)
 * and its read-only type bits. Unused BARs stay 0. host.lock held.
 */
static void pci_dev_write_bar(struct pci_dev *pd, unsigned int reg, u32 val)
{
	unsigned int bar = reg;
	struct pci_bar *b;
	bool high = false;
	u32 v;

	if (bar >= PCI_NR_BARS)
		return;
	if (!pd->bars[bar].size && bar > 0 && (pd->bars[bar - 1].flags & PCI_BAR_F_MEM64)) {
		bar--;
		high = true;
	}
	b = &pd->bars[bar];
	if (!b->size)
		return;
	if (high) {
		v = val & (u32)(~(b->size - 1) >> 32);
	} else if (b->flags & PCI_BAR_F_IO) {
		v = (val & (u32)~(b->size - 1) & PCI_BASE_ADDRESS_IO_MASK) |
		    PCI_BASE_ADDRESS_SPACE_IO;
	} else {
		v = (val & (u32)~(b->size - 1) & (u32)PCI_BASE_ADDRESS_MEM_MASK) |
		    (pci_dev_cfg_read(pd, PCI_BASE_ADDRESS_0 + 4 * bar, 4) & 0xf);
	}
	pci_dev_cfg_set(pd, PCI_BASE_ADDRESS_0 + 4 * reg, v, 4);
}

/* ---- configuration access ---------------------------------------------------- */

static bool cfg_is_bar(u32 off)
{
	return off >= PCI_BASE_ADDRESS_0 && off < PCI_BASE_ADDRESS_5 + 4;
}

/* One guest write of @len bytes at @off (within one dword). host.lock held. */
static void pci_dev_cfg_write(struct pci_host *h, struct pci_dev *pd, u32 off, u32 val,
			      unsigned int len)
{
	u16 old_cmd = (u16)pci_dev_cfg_read(pd, PCI_COMMAND, 2);
	bool bars = false;

	for (unsigned int i = 0; i < len; i++) {
		u32 o = off + i;
		u8 b = (u8)(val >> (8 * i)), cur = pd->cfg[o];

		if (cfg_is_bar(o)) {
			bars = true;
			continue;
		}
		cur = (u8)((cur & ~pd->wmask[o]) | (b & pd->wmask[o]));
		cur &= (u8)~(b & pd->w1cmask[o]);
		__atomic_store_n(&pd->cfg[o], cur, __ATOMIC_RELAXED);
	}
	if (bars) {
		u32 reg = (off & ~3u) - PCI_BASE_ADDRESS_0, cur;
		unsigned int shift = 8 * (off & 3);
		u32 mask = len == 4 ? UINT32_MAX : ((1u << (8 * len)) - 1) << shift;

		cur = pci_dev_cfg_read(pd, off & ~3u, 4);
		cur = (cur & ~mask) | ((val << shift) & mask);
		pci_dev_write_bar(pd, reg / 4, cur);
	}
	if (bars || old_cmd != (u16)pci_dev_cfg_read(pd, PCI_COMMAND, 2)) {
		u16 cmd = (u16)pci_dev_cfg_read(pd, PCI_COMMAND, 2);

		pci_dev_update_bars(h, pd, true);
		if ((old_cmd ^ cmd) & PCI_COMMAND_INTX_DISABLE) {
			pthread_mutex_lock(&h->intx_lock);
			intx_update(h, pd, pd->intx && !(old_cmd & PCI_COMMAND_INTX_DISABLE),
				    intx_driven(pd, pd->intx));
			pthread_mutex_unlock(&h->intx_lock);
		}
	}
	if (pd->ops->config_written && off >= PCI_CAPABILITY_LIST + 4)
		pd->ops->config_written(pd, off, len);
}

static struct pci_dev *pci_host_fn(struct pci_host *h, u32 bus, u32 dev, u32 fn)
{
	if (bus || fn || dev >= PCI_SLOTS)
		return NULL;
	return h->slots[dev];
}

/* A configuration access of @len at @reg of bus/dev/fn; reads of nothing are all ones. */
static void pci_host_cfg_access(struct pci_host *h, u32 bus, u32 dev, u32 fn, u32 reg,
				void *data, unsigned int len, bool is_write)
{
	struct pci_dev *pd;
	u32 v = 0;

	if (is_write)
		memcpy(&v, data, len);
	pthread_mutex_lock(&h->lock);
	pd = pci_host_fn(h, bus, dev, fn);
	if (!pd || reg + len > PCI_CFG_SIZE || (reg & (len - 1))) {
		if (!is_write)
			memset(data, 0xff, len);
	} else if (is_write) {
		pci_dev_cfg_write(h, pd, reg, v, len);
	} else {
		if (pd->ops->config_read)
			pd->ops->config_read(pd, reg, len);
		v = pci_dev_cfg_read(pd, reg, len);
		memcpy(data, &v, len);
	}
	pthread_mutex_unlock(&h->lock);
}

static int pci_addr_read(struct io_dev *dev, u64 off, void *data, unsigned int len)
{
	struct pci_host *h = container_of(dev, struct pci_host, addr_dev);

	if (len != 4) {
		memset(data, 0xff, len);
		return 0;
	}
	pthread_mutex_lock(&h->lock);
	memcpy(data, &h->cf8, 4);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static int pci_addr_write(struct io_dev *dev, u64 off, const void *data, unsigned int len)
{
	struct pci_host *h = container_of(dev, struct pci_host, addr_dev);
	u32 v;

	if (len != 4)
		return 0;
	memcpy(&v, data, 4);
	pthread_mutex_lock(&h->lock);
	/* Bits 30:24 (and AMD's extended register bits 27:24) are reserved here; 1:0 read 0. */
	h->cf8 = v & (CF8_ENABLE | 0x00fffffc);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

/*
 * CONFIG_ADDRESS is a dword register: narrower accesses are not
 * configuration cycles (on a PC they reach other registers, such as the
 * reset control at 0xcf9) and Linux's type-1 probe writes a byte to 0xcfb
 * first. They read all ones and are ignored, quietly, as unclaimed ports.
 */
static const struct io_ops pci_addr_ops = {
	.read = pci_addr_read,
	.write = pci_addr_write,
	.min_access = 1,
	.max_access = 4,
};

static int pci_data_access(struct io_dev *dev, u64 off, void *data, unsigned int len,
			   bool is_write)
{
	struct pci_host *h = container_of(dev, struct pci_host, data_dev);
	u32 cf8;

	pthread_mutex_lock(&h->lock);
	cf8 = h->cf8;
	pthread_mutex_unlock(&h->lock);
	/* Any size at any offset of the data port, within its four bytes. */
	if (!(cf8 & CF8_ENABLE) || off + len > 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return 0;
	}
	if ((off & (len - 1)) != 0) {
		/* Unaligned within the dword: one byte at a time. */
		for (unsigned int i = 0; i < len; i++)
			pci_host_cfg_access(h, (cf8 >> 16) & 0xff, (cf8 >> 11) & 0x1f,
					    (cf8 >> 8) & 7, (cf8 & 0xfc) + (u32)off + i,
					    (u8 *)data + i, 1, is_write);
		return 0;
	}
	pci_host_cfg_access(h, (cf8 >> 16) & 0xff, (cf8 >> 11) & 0x1f, (cf8 >> 8) & 7,
			    (cf8 & 0xfc) + (u32)off, data, len, is_write);
	return 0;
}

static int pci_data_read(struct io_dev *dev, u64 off, void *data, unsigned int len)
{
	return pci_data_access(dev, off, data, len, false);
}

static int pci_data_write(struct io_dev *dev, u64 off, const void *data, unsigned int len)
{
	return pci_data_access(dev, off, (void *)data, len, true);
}

static const struct io_ops pci_data_ops = {
	.read = pci_data_read,
	.write = pci_data_write,
	.min_access = 1,
	.max_access = 4,
	.unaligned = true,
};

static int pci_ecam_access(struct io_dev *dev, u64 off, void *data, unsigned int len,
			   bool is_write)
{
	struct pci_host *h = container_of(dev, struct pci_host, ecam_dev);

	pci_host_cfg_access(h, (u32)(off >> 20), (u32)(off >> 15) & 0x1f, (u32)(off >> 12) & 7,
			    (u32)off & 0xfff, data, len, is_write);
	return 0;
}

static int pci_ecam_read(struct io_dev *dev, u64 off, void *data, unsigned int len)
{
	return pci_ecam_access(dev, off, data, len, false);
}

static int pci_ecam_write(struct io_dev *dev, u64 off, const void *data, unsigned int len)
{
	return pci_ecam_access(dev, off, (void *)data, len, true);
}

static const struct io_ops pci_ecam_ops = {
	.read = pci_ecam_read,
	.write = pci_ecam_write,
	.min_access = 1,
	.max_access = 4,
};

/* ---- the windows ------------------------------------------------------------- */

static int pci_window_access(struct pci_host *h, bool io, u64 addr, void *data,
			     unsigned int len, bool is_write)
{
	int ret = -ENOENT;

	pthread_rwlock_rdlock(&h->map_lock);
	for (unsigned int s = 0; s < PCI_SLOTS && ret == -ENOENT; s++) {
		struct pci_dev *pd = h->slots[s];

		for (unsigned int i = 0; pd && i < PCI_NR_BARS; i++) {
			const struct pci_bar *b = &pd->bars[i];
			u64 off;

			if (!b->mapped || !!(b->flags & PCI_BAR_F_IO) != io ||
			    addr < b->mapped_addr || addr - b->mapped_addr >= b->size)
				continue;
			off = addr - b->mapped_addr;
			if (off + len > b->size) {
				ret = -EINVAL;
			} else if (is_write) {
				ret = pd->ops->bar_write ? pd->ops->bar_write(pd, i, off, data, len) : 0;
			} else {
				ret = pd->ops->bar_read ? pd->ops->bar_read(pd, i, off, data, len)
							: -ENOENT;
			}
			break;
		}
	}
	pthread_rwlock_unlock(&h->map_lock);
	if (ret && !is_write)
		memset(data, 0xff, len);
	return 0;
}

#define PCI_WINDOW_OPS(name, field, io, basefn)					\
static int name##_read(struct io_dev *dev, u64 off, void *data, unsigned int len) \
{										\
	struct pci_host *h = container_of(dev, struct pci_host, field);		\
	return pci_window_access(h, io, basefn + off, data, len, false);	\
}										\
static int name##_write(struct io_dev *dev, u64 off, const void *data, unsigned int len) \
{										\
	struct pci_host *h = container_of(dev, struct pci_host, field);		\
	return pci_window_access(h, io, basefn + off, (void *)data, len, true);	\
}										\
static const struct io_ops name##_ops = {					\
	.read = name##_read, .write = name##_write,				\
	.min_access = 1, .max_access = 8,					\
}

PCI_WINDOW_OPS(pci_io, io_dev, true, h->cfg.io_base);
PCI_WINDOW_OPS(pci_mem32, mem32_dev, false, h->cfg.mmio32_base);
PCI_WINDOW_OPS(pci_mem64, mem64_dev, false, h->cfg.mmio64_base);

/* ---- the host ------------------------------------------------------------------ */

static int pci_host_claim(struct pci_host *h, enum io_space space, u64 base, u64 len,
			  struct io_dev *dev, const struct io_ops *ops, const char *name,
			  bool *on)
{
	int ret;

	dev->ops = ops;
	dev->name = name;
	ret = iobus_register(vm_iobus(h->vm), space, base, len, dev);
	if (!ret)
		*on = true;
	return ret;
}

int pci_host_create(struct vm *vm, const struct boot_pci *cfg, struct pci_host **out)
{
	struct pci_host *h;
	int ret;

	if (!cfg->io_size || cfg->io_base + (u64)cfg->io_size > 0x10000 ||
	    !cfg->mmio32_size || cfg->mmio32_base + cfg->mmio32_size > (1ULL << 32) ||
	    cfg->mmio64_base + cfg->mmio64_size < cfg->mmio64_base ||
	    !cfg->nr_intx || cfg->nr_intx > PCI_MAX_INTX)
		return -EINVAL;
	h = xzalloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->vm = vm;
	h->cfg = *cfg;
	h->rl = (struct ratelimit)RATELIMIT_INIT;
	pthread_mutex_init(&h->lock, NULL);
	pthread_rwlock_init(&h->map_lock, NULL);
	pthread_mutex_init(&h->intx_lock, NULL);
	h->next_io = cfg->io_base;
	h->next_mem32 = cfg->mmio32_base;

	pci_dev_init(&h->bridge, &pci_bridge_ops, PCI_HOST_VENDOR, PCI_HOST_DEVICE,
		     PCI_CLASS_HOST_BRIDGE, 0, PCI_HOST_VENDOR, PCI_HOST_DEVICE);
	snprintf(h->bridge.name, sizeof(h->bridge.name), "pci 00:00.0");
	h->bridge.host = h;
	h->bridge.gsi = UINT32_MAX;
	h->slots[0] = &h->bridge;

	ret = pci_host_claim(h, IO_SPACE_PIO, PCI_CONFIG_ADDRESS, 4, &h->addr_dev,
			     &pci_addr_ops, "pci-config-address", &h->addr_on);
	if (!ret)
		ret = pci_host_claim(h, IO_SPACE_PIO, PCI_CONFIG_DATA, 4, &h->data_dev,
				     &pci_data_ops, "pci-config-data", &h->data_on);
	if (!ret)
		ret = pci_host_claim(h, IO_SPACE_MMIO, cfg->ecam_base, PCI_ECAM_BUS_SIZE,
				     &h->ecam_dev, &pci_ecam_ops, "pci-ecam", &h->ecam_on);
	if (!ret)
		ret = pci_host_claim(h, IO_SPACE_PIO, cfg->io_base, cfg->io_size, &h->io_dev,
				     &pci_io_ops, "pci-io-window", &h->io_on);
	if (!ret)
		ret = pci_host_claim(h, IO_SPACE_MMIO, cfg->mmio32_base, cfg->mmio32_size,
				     &h->mem32_dev, &pci_mem32_ops, "pci-mmio32-window",
				     &h->mem32_on);
	if (!ret && cfg->mmio64_size)
		ret = pci_host_claim(h, IO_SPACE_MMIO, cfg->mmio64_base, cfg->mmio64_size,
				     &h->mem64_dev, &pci_mem64_ops, "pci-mmio64-window",
				     &h->mem64_on);
	if (ret)
		goto err_destroy;
	/* INTx lines are active low: idle high (where the irqchip sees polarity). */
	h->low_asserts = vm_irq_line_has_polarity(vm);
	for (unsigned int i = 0; i < cfg->nr_intx; i++)
		vm_set_irq_line(vm, cfg->intx_gsi0 + i, h->low_asserts);
	*out = h;
	return 0;

err_destroy:
	pci_host_destroy(h);
	return ret;
}

void pci_host_destroy(struct pci_host *h)
{
	struct iobus *bus;

	if (!h)
		return;
	bus = vm_iobus(h->vm);
	if (h->mem64_on)
		iobus_unregister(bus, IO_SPACE_MMIO, h->cfg.mmio64_base);
	if (h->mem32_on)
		iobus_unregister(bus, IO_SPACE_MMIO, h->cfg.mmio32_base);
	if (h->io_on)
		iobus_unregister(bus, IO_SPACE_PIO, h->cfg.io_base);
	if (h->ecam_on)
		iobus_unregister(bus, IO_SPACE_MMIO, h->cfg.ecam_base);
	if (h->data_on)
		iobus_unregister(bus, IO_SPACE_PIO, PCI_CONFIG_DATA);
	if (h->addr_on)
		iobus_unregister(bus, IO_SPACE_PIO, PCI_CONFIG_ADDRESS);
	pthread_mutex_destroy(&h->intx_lock);
	pthread_rwlock_destroy(&h->map_lock);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

struct vm *pci_host_vm(const struct pci_host *h)
{
	return h->vm;
}

/* Place BAR @b of @size at the next free, aligned spot of [*next, end). */
static int pci_place(u64 *next, u64 end, u64 size, u64 *addr)
{
	u64 at = ALIGN_UP(*next, size);

	if (at < *next || at + size < at || at + size > end)
		return -ENOSPC;
	*addr = at;
	*next = at + size;
	return 0;
}

int pci_host_add_dev(struct pci_host *h, struct pci_dev *pd, const char *name)
{
	u64 io_next = h->next_io, mem_next = h->next_mem32, addr;
	unsigned int slot;
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	for (slot = 1; slot < PCI_SLOTS && h->slots[slot]; slot++)
		;
	if (slot == PCI_SLOTS) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	for (unsigned int i = 0; i < PCI_NR_BARS && !ret; i++) {
		struct pci_bar *b = &pd->bars[i];

		if (!b->size)
			continue;
		if (b->flags & PCI_BAR_F_IO)
			ret = pci_place(&io_next, (u64)h->cfg.io_base + h->cfg.io_size, b->size, &addr);
		else
			ret = pci_place(&mem_next, h->cfg.mmio32_base + h->cfg.mmio32_size, b->size,
					&addr);
		if (ret)
			break;
		pci_dev_write_bar(pd, i, (u32)addr);
		if (b->flags & PCI_BAR_F_MEM64)
			pci_dev_write_bar(pd, i + 1, (u32)(addr >> 32));
		b->addr = addr;
	}
	if (ret)
		goto out_unlock;
	h->next_io = io_next;
	h->next_mem32 = mem_next;
	pd->host = h;
	pd->slot = slot;
	/* INTA#, swizzled by slot over the lines (the _PRT says the same). */
	pd->gsi = h->cfg.intx_gsi0 + slot % h->cfg.nr_intx;
	pd->cfg[PCI_INTERRUPT_PIN] = 1;
	pd->cfg[PCI_INTERRUPT_LINE] = (u8)pd->gsi;
	snprintf(pd->name, sizeof(pd->name), "%.24s 00:%02x.0", name, slot);
	pthread_rwlock_wrlock(&h->map_lock);
	h->slots[slot] = pd;
	pthread_rwlock_unlock(&h->map_lock);
out_unlock:
	pthread_mutex_unlock(&h->lock);
	return ret;
}

void pci_host_del_dev(struct pci_host *h, struct pci_dev *pd)
{
	if (!h || !pd || pd->host != h)
		return;
	pci_dev_set_intx(pd, false);
	pthread_mutex_lock(&h->lock);
	pci_dev_update_bars(h, pd, false);
	pthread_rwlock_wrlock(&h->map_lock);
	h->slots[pd->slot] = NULL;
	pthread_rwlock_unlock(&h->map_lock);
	pthread_mutex_unlock(&h->lock);
	pd->host = NULL;
}
