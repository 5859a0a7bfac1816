// SPDX-License-Identifier: GPL-2.0-only
/*
 * MSI-X (PCI 3.0 §6.8.2): the capability, the vector table at offset 0 of
 * a BAR and the pending-bit array at PCI_MSIX_PBA_AT of the same BAR.
 *
 * Delivery. Each vector owns a GSI (vm_msi_route_add()) bound to an irqfd,
 * so a device thread raises it with one eventfd write and the kernel sends
 * the message: no exit, no userspace IOAPIC. The GSI's route is set to the
 * vector's message when the vector becomes deliverable (MSI-X enabled,
 * function and vector unmasked); a masked vector's raise only sets its
 * pending bit, and unmasking it sends the message once and clears the bit
 * (§6.8.2.9). Messages whose address is not the local APIC's (0xfeeXXXXX)
 * are writes to memory no device here performs: they are dropped with a
 * warning.
 *
 * Locking: msix.lock covers the table, the mask state and the PBA; device
 * threads (pci_msix_notify()) and vCPU threads (table and control writes)
 * take it. Route changes happen under it (lock order: msix.lock -> the
 * VM's routing lock).
 */
#include <kestrel/pci.h>

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/vm.h>

#define MSIX_ENTRY_SIZE		16
#define MSIX_ADDR_LO		0
#define MSIX_ADDR_HI		4
#define MSIX_DATA		8
#define MSIX_CTRL		12
#define MSIX_CTRL_MASKED	1u
#define MSI_ADDR_LAPIC_MASK	0xfff00000ULL
#define MSI_ADDR_LAPIC		0xfee00000ULL

_Static_assert(PCI_MSIX_PBA_AT >= PCI_MSIX_MAX_VECTORS * MSIX_ENTRY_SIZE,
	       "the PBA follows the whole table");
_Static_assert(PCI_MSIX_MAX_VECTORS <= 64, "one u64 of pending bits");

/* Is vector @v deliverable right now? Lock held. */
static bool msix_vec_open(const struct pci_msix *m, unsigned int v)
{
	return m->enabled && !m->fn_masked && !(m->vec[v].ctrl & MSIX_CTRL_MASKED);
}

static void msix_send(struct pci_msix *m, unsigned int v)
{
	eventfd_write(m->vec[v].irqfd, 1);
}

/*
 * Re-evaluate vector @v after a change of its entry or of the mask state:
 * route it if it is open, send what it kept pending. Lock held.
 */
static void msix_vec_update(struct pci_msix *m, unsigned int v)
{
	struct pci_msix_vector *vec = &m->vec[v];
	int ret;

	if (!msix_vec_open(m, v))
		return;
	if ((vec->addr & MSI_ADDR_LAPIC_MASK) != MSI_ADDR_LAPIC) {
		if (vec->routed)
			vm_msi_route_set(m->vm, vec->gsi, false, 0, 0);
		vec->routed = false;
		if ((m->pending & (1ULL << v)) && ratelimit_allow(&m->pd->rl))
			pr_warn("%s: MSI-X vector %u: address 0x%llx is not the local APIC's: not sent",
				m->pd->name, v, (unsigned long long)vec->addr);
		m->pending &= ~(1ULL << v);
		return;
	}
	ret = vm_msi_route_set(m->vm, vec->gsi, true, vec->addr, vec->data);
	if (ret) {
		if (ratelimit_allow(&m->pd->rl))
			pr_warn("%s: MSI-X vector %u: cannot route it: %s", m->pd->name, v,
				strerror(-ret));
		vec->routed = false;
		return;
	}
	vec->routed = true;
	if (m->pending & (1ULL << v)) {
		m->pending &= ~(1ULL << v);
		msix_send(m, v);
	}
}

bool pci_msix_notify(struct pci_msix *m, unsigned int v)
{
	bool ok = true;

	pthread_mutex_lock(&m->lock);
	if (!m->enabled || v >= m->nr)
		ok = false;
	else if (!msix_vec_open(m, v) || !m->vec[v].routed)
		m->pending |= 1ULL << v;
	else
		msix_send(m, v);
	pthread_mutex_unlock(&m->lock);
	return ok;
}

bool pci_msix_enabled(struct pci_msix *m)
{
	bool on;

	pthread_mutex_lock(&m->lock);
	on = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return on;
}

void pci_msix_config_written(struct pci_msix *m, u32 off, unsigned int len)
{
	u32 ctl_off = m->cap + PCI_MSIX_FLAGS;
	u16 ctl;

	if (off + len <= ctl_off || off >= ctl_off + 2)
		return;
	ctl = (u16)pci_dev_cfg_read(m->pd, ctl_off, 2);
	pthread_mutex_lock(&m->lock);
	m->enabled = ctl & PCI_MSIX_FLAGS_ENABLE;
	m->fn_masked = ctl & PCI_MSIX_FLAGS_MASKALL;
	for (unsigned int v = 0; v < m->nr; v++)
		msix_vec_update(m, v);
	pthread_mutex_unlock(&m->lock);
}

static u32 msix_entry_read(const struct pci_msix_vector *vec, unsigned int reg)
{
	switch (reg) {
	case MSIX_ADDR_LO:
		return (u32)vec->addr;
	case MSIX_ADDR_HI:
		return (u32)(vec->addr >> 32);
	case MSIX_DATA:
		return vec->data;
	default:
		return vec->ctrl;
	}
}

static void msix_entry_write(struct pci_msix *m, unsigned int v, unsigned int reg, u32 val)
{
	struct pci_msix_vector *vec = &m->vec[v];

	switch (reg) {
	case MSIX_ADDR_LO:
		/* Bits 1:0 are reserved (dword-aligned address). */
		vec->addr = (vec->addr & ~0xffffffffULL) | (val & ~3u);
		break;
	case MSIX_ADDR_HI:
		vec->addr = (vec->addr & 0xffffffffULL) | (u64)val << 32;
		break;
	case MSIX_DATA:
		vec->data = val;
		break;
	default:
		/* Only the mask bit is defined; the rest is reserved (reads 0). */
		vec->ctrl = val & MSIX_CTRL_MASKED;
		break;
	}
	msix_vec_update(m, v);
}

/* Table and PBA take aligned dword and qword accesses (§6.8.2). */
int pci_msix_bar_read(struct pci_msix *m, u64 off, void *data, unsigned int len)
{
	u64 v = 0;

	if ((len != 4 && len != 8) || (off & (len - 1))) {
		memset(data, 0xff, len);
		return 0;
	}
	pthread_mutex_lock(&m->lock);
	if (off < (u64)m->nr * MSIX_ENTRY_SIZE) {
		unsigned int n = (unsigned int)(off / MSIX_ENTRY_SIZE), reg = off % MSIX_ENTRY_SIZE;

		v = msix_entry_read(&m->vec[n], reg);
		if (len == 8)
			v |= (u64)msix_entry_read(&m->vec[n], reg + 4) << 32;
	} else if (off == PCI_MSIX_PBA_AT) {
		v = m->pending;
	} else if (off == PCI_MSIX_PBA_AT + 4) {
		v = m->pending >> 32;
	}
	pthread_mutex_unlock(&m->lock);
	memcpy(data, &v, len);
	return 0;
}

int pci_msix_bar_write(struct pci_msix *m, u64 off, const void *data, unsigned int len)
{
	u64 v = 0;

	if ((len != 4 && len != 8) || (off & (len - 1)))
		return 0;
	memcpy(&v, data, len);
	pthread_mutex_lock(&m->lock);
	/* The PBA is read-only; beyond the table nothing is writable. */
	if (off < (u64)m->nr * MSIX_ENTRY_SIZE) {
		unsigned int n = (unsigned int)(off / MSIX_ENTRY_SIZE), reg = off % MSIX_ENTRY_SIZE;

		msix_entry_write(m, n, reg, (u32)v);
		if (len == 8)
			msix_entry_write(m, n, reg + 4, (u32)(v >> 32));
	}
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void pci_msix_reset(struct pci_msix *m)
{
	u32 ctl_off = m->cap + PCI_MSIX_FLAGS;

	pthread_mutex_lock(&m->lock);
	m->enabled = m->fn_masked = false;
	m->pending = 0;
	for (unsigned int v = 0; v < m->nr; v++) {
		struct pci_msix_vector *vec = &m->vec[v];

		vec->addr = 0;
		vec->data = 0;
		vec->ctrl = MSIX_CTRL_MASKED;
		if (vec->routed)
			vm_msi_route_set(m->vm, vec->gsi, false, 0, 0);
		vec->routed = false;
	}
	pci_dev_cfg_set(m->pd, ctl_off, pci_dev_cfg_read(m->pd, ctl_off, 2) & ~0xc000u, 2);
	pthread_mutex_unlock(&m->lock);
}

int pci_msix_init(struct pci_msix *m, struct pci_dev *pd, struct vm *vm, unsigned int bar,
		  unsigned int nr)
{
	u8 body[10];
	u16 ctl;
	u32 table, pba;
	int ret;

	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->pd = pd;
	m->vm = vm;
	m->bar = bar;
	for (unsigned int v = 0; v < PCI_MSIX_MAX_VECTORS; v++) {
		m->vec[v].irqfd = -1;
		m->vec[v].gsi = UINT32_MAX;
		m->vec[v].ctrl = MSIX_CTRL_MASKED;
	}
	if (!nr || nr > PCI_MSIX_MAX_VECTORS || bar >= PCI_NR_BARS ||
	    pd->bars[bar].size < PCI_MSIX_BAR_SIZE || (pd->bars[bar].flags & PCI_BAR_F_IO))
		return -EINVAL;

	ctl = (u16)(nr - 1);
	table = 0 | bar;
	pba = PCI_MSIX_PBA_AT | bar;
	memcpy(body, &ctl, 2);
	memcpy(body + 2, &table, 4);
	memcpy(body + 6, &pba, 4);
	ret = pci_dev_add_cap(pd, PCI_CAP_ID_MSIX, body, sizeof(body), &m->cap);
	if (ret)
		return ret;
	/* Enable and Function Mask are the guest's; the table size is not. */
	pd->wmask[m->cap + PCI_MSIX_FLAGS + 1] = 0xc0;

	for (unsigned int v = 0; v < nr; v++) {
		struct pci_msix_vector *vec = &m->vec[v];

		ret = vm_msi_route_add(vm, &vec->gsi);
		if (ret) {
			vec->gsi = UINT32_MAX;
			return ret;
		}
		m->nr = v + 1;
		vec->irqfd = xeventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vec->irqfd < 0) {
			ret = vec->irqfd;
			vec->irqfd = -1;
			return ret;
		}
		ret = vm_irqfd_add(vm, vec->gsi, vec->irqfd);
		if (ret) {
			close(vec->irqfd);
			vec->irqfd = -1;
			return ret;
		}
	}
	return 0;
}

void pci_msix_destroy(struct pci_msix *m)
{
	if (!m->vm)
		return;
	for (unsigned int v = 0; v < m->nr; v++) {
		struct pci_msix_vector *vec = &m->vec[v];

		if (vec->irqfd >= 0) {
			vm_irqfd_del(m->vm, vec->gsi, vec->irqfd);
			close(vec->irqfd);
		}
		if (vec->gsi != UINT32_MAX)
			vm_msi_route_del(m->vm, vec->gsi);
		vec->irqfd = -1;
		vec->gsi = UINT32_MAX;
	}
	m->nr = 0;
	pthread_mutex_destroy(&m->lock);
	m->vm = NULL;
}
