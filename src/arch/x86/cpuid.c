// SPDX-License-Identifier: GPL-2.0-only
/*
 * CPUID. The VM computes one filtered template from KVM_GET_SUPPORTED_CPUID
 * when it is created; every vCPU, whenever it is created (including one
 * hot-added after the others ran), copies that template and patches only
 * the fields that name the vCPU itself: its APIC ID and its place in the
 * topology. So a late vCPU sees exactly what vCPU 0 sees, apart from those.
 *
 * A VM built to restore a snapshot takes the template the snapshot saved
 * (SNAP_SEC_CPUID: the topology shift, then the kvm_cpuid2 table) instead:
 * the guest goes on seeing the CPUID it booted with, and the restore
 * saves KVM_GET_SUPPORTED_CPUID, about 0.4 ms here, a fifth of it.
 *
 * Topology: one package, one thread per core, 2^topo_shift cores per
 * package (the smallest power of two that holds vm_max_vcpus()). It does
 * not depend on how many vCPUs exist, which is what keeps it stable under
 * hot-plug.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/snapshot.h>

#include "x86.h"

#define CPUID_FIRST_ENTRIES	256
#define CPUID_MAX_ENTRIES	512
#define CPUID_1_ECX_HYPERVISOR	(1u << 31)
#define CPUID_1_EDX_HTT		(1u << 28)

#define TOPO_LEVEL_SMT		1
#define TOPO_LEVEL_CORE		2

static size_t cpuid2_size(unsigned int nent)
{
	return sizeof(struct kvm_cpuid2) + nent * sizeof(struct kvm_cpuid_entry2);
}

static void cpuid_filter(struct kvm_cpuid2 *c, unsigned int shift)
{
	u32 cores = 1u << shift;

	for (u32 i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 0x1:
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			/* EBX[23:16]: addressable logical IDs; [31:24] per vCPU */
			e->ebx &= 0x0000ffffu;
			e->ebx |= MIN(cores, 255u) << 16;
			if (cores > 1)
				e->edx |= CPUID_1_EDX_HTT;
			else
				e->edx &= ~CPUID_1_EDX_HTT;
			break;
		case 0x4: {
			u32 level = (e->eax >> 5) & 0x7;
			u32 sharing = level >= 3 ? MIN(cores, 4096u) - 1 : 0;

			if (!(e->eax & 0x1f))	/* no more caches */
				break;
			e->eax &= 0x00003fffu;
			e->eax |= sharing << 14;
			e->eax |= (MIN(cores, 64u) - 1) << 26;
			break;
		}
		case 0xb:
		case 0x1f:
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (TOPO_LEVEL_SMT << 8) | e->index;
			} else if (e->index == 1) {
				e->eax = shift;
				e->ebx = cores;
				e->ecx = (TOPO_LEVEL_CORE << 8) | e->index;
			} else {
				e->eax = 0;
				e->ebx = 0;
				e->ecx = e->index;
			}
			e->edx = 0;	/* per vCPU */
			break;
		case 0x80000008:
			/* AMD: ApicIdSize [15:12], NC (cores - 1) [7:0] */
			e->ecx &= ~0xf0ffu;
			e->ecx |= (shift << 12) | (MIN(cores, 256u) - 1);
			break;
		case 0x8000001e:
			e->eax = 0;	/* per vCPU */
			e->ebx = 0;	/* per vCPU; one thread per core */
			e->ecx = 0;	/* node 0, one node per package */
			break;
		}
	}
}

/* SNAP_SEC_CPUID's payload begins with this, the table follows. */
struct cpuid_saved {
	u32 topo_shift;
	u32 pad;
};

int x86_cpuid_snapshot_save(struct vm *vm, struct snap_writer *w)
{
	size_t len = sizeof(struct cpuid_saved) + cpuid2_size(vm->arch.cpuid->nent);
	struct cpuid_saved *s = xzalloc(len);
	int ret;

	if (!s)
		return -ENOMEM;
	s->topo_shift = vm->arch.topo_shift;
	memcpy(s + 1, vm->arch.cpuid, cpuid2_size(vm->arch.cpuid->nent));
	ret = snap_write_section(w, SNAP_SEC_CPUID, 0, s, len);
	free(s);
	return ret;
}

/*
 * The template a snapshot saved, if it has a sound one: 1 (taken), 0 (none
 * there: ask KVM), or -EINVAL (there but malformed: the restore fails).
 */
static int cpuid_from_snapshot(struct vm *vm, struct snap_reader *r)
{
	const struct cpuid_saved *s;
	struct kvm_cpuid2 hdr;
	const void *data;
	size_t len;

	if (!r || snap_read_section(r, SNAP_SEC_CPUID, 0, &data, &len))
		return 0;
	if (len < sizeof(*s) + sizeof(hdr)) {
		pr_err("snapshot: the CPUID section is cut short (%zu bytes)", len);
		return -EINVAL;
	}
	s = data;
	memcpy(&hdr, s + 1, sizeof(hdr));
	if (!hdr.nent || hdr.nent > CPUID_MAX_ENTRIES ||
	    len != sizeof(*s) + cpuid2_size(hdr.nent) || s->topo_shift > 8) {
		pr_err("snapshot: the CPUID section is malformed (%u entries in %zu bytes, topology shift %u)",
		       hdr.nent, len, s->topo_shift);
		return -EINVAL;
	}
	vm->arch.cpuid = xzalloc(cpuid2_size(hdr.nent));
	if (!vm->arch.cpuid)
		return -ENOMEM;
	memcpy(vm->arch.cpuid, s + 1, cpuid2_size(hdr.nent));
	vm->arch.topo_shift = s->topo_shift;
	return 1;
}

int x86_cpuid_template_create(struct vm *vm, struct snap_reader *restore)
{
	/*
	 * Room for KVM's own limit (KVM_MAX_CPUID_ENTRIES, 256) up front:
	 * each KVM_GET_SUPPORTED_CPUID costs ~0.4 ms here, and a first call
	 * that fails with E2BIG costs as much as one that succeeds. Doubling
	 * stays as the fallback for a kernel with a larger table.
	 */
	unsigned int nent = CPUID_FIRST_ENTRIES;
	struct kvm_cpuid2 *c, *shrunk;
	unsigned int shift = 0;
	int ret;

	ret = cpuid_from_snapshot(vm, restore);
	if (ret)
		return ret < 0 ? ret : 0;
	for (;;) {
		c = xzalloc(cpuid2_size(nent));
		if (!c)
			return -ENOMEM;
		c->nent = nent;
		ret = kvm_ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
		if (ret != -E2BIG || nent >= CPUID_MAX_ENTRIES)
			break;
		free(c);
		nent *= 2;
	}
	if (ret < 0) {
		free(c);
		return ret;
	}
	/* Keep only what KVM filled in; a failed shrink keeps the big one. */
	shrunk = realloc(c, cpuid2_size(c->nent));
	if (shrunk)
		c = shrunk;
	while ((1u << shift) < vm->max_vcpus)
		shift++;
	cpuid_filter(c, shift);
	vm->arch.cpuid = c;
	vm->arch.topo_shift = shift;
	return 0;
}

int x86_cpuid_set(struct vcpu *vcpu)
{
	const struct kvm_cpuid2 *tmpl = vcpu->vm->arch.cpuid;
	size_t size = cpuid2_size(tmpl->nent);
	u32 apic_id = vcpu->id;
	struct kvm_cpuid2 *c;
	int ret;

	c = xzalloc(size);
	if (!c)
		return -ENOMEM;
	memcpy(c, tmpl, size);
	for (u32 i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 0x1:
			e->ebx = (e->ebx & 0x00ffffffu) | (apic_id << 24);
			break;
		case 0xb:
		case 0x1f:
			e->edx = apic_id;
			break;
		case 0x8000001e:
			e->eax = apic_id;
			e->ebx = apic_id & 0xff;
			break;
		}
	}
	ret = kvm_ioctl(vcpu->fd, KVM_SET_CPUID2, c);
	free(c);
	return ret < 0 ? ret : 0;
}
