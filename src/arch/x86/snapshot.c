// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86 snapshot hooks: every vCPU's architectural state as KVM exposes it,
 * the VM's clock, irqchip and PIT. Called with the vCPUs parked outside
 * KVM_RUN (vm_pause()) or never started (a restore before vm_run()).
 *
 * Restore order (what KVM needs of it): SREGS before the LAPIC (the APIC
 * base says how KVM_SET_LAPIC reads the ID), the LAPIC before the MSRs
 * (TSC_DEADLINE is only accepted in TSC-deadline mode), the TSC among the
 * MSRs (a host-initiated write sets the offset: the guest's TSC continues
 * from its saved value), events and MP state last.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/snapshot.h>

#include "x86.h"

static int save_ioctl(struct snap_writer *w, int fd, unsigned long req, u32 type, u32 inst,
		      void *buf, size_t len)
{
	int ret = kvm_ioctl(fd, req, buf);

	if (ret < 0)
		return ret;
	return snap_write_section(w, type, inst, buf, len);
}

/* The section @type/@inst of exactly @len bytes into @buf. */
static int load_exact(struct snap_reader *r, u32 type, u32 inst, void *buf, size_t len,
		      char *err, size_t errlen)
{
	const void *data;
	size_t got;

	if (snap_read_section(r, type, inst, &data, &got) || got != len) {
		snprintf(err, errlen, "state file: section %#x of vCPU/instance %u %s", type, inst,
			 got != len ? "has the wrong size" : "is missing");
		return -EINVAL;
	}
	memcpy(buf, data, len);
	return 0;
}

/*
 * The MSRs of KVM_GET_MSR_INDEX_LIST this vCPU lets us read: KVM_GET_MSRS
 * stops at the first it refuses, which is dropped, and the rest retried.
 */
static int vcpu_save_msrs(struct vcpu *vcpu, struct snap_writer *w)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list = NULL;
	struct kvm_msrs *tmp = NULL;
	struct kvm_msr_entry *got = NULL;
	u32 n = 0;
	int ret;

	ret = kvm_ioctl(vcpu->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe);
	if (ret < 0 && ret != -E2BIG)
		return ret;
	list = xzalloc(sizeof(*list) + (probe.nmsrs + 1) * sizeof(list->indices[0]));
	tmp = xzalloc(sizeof(*tmp) + (probe.nmsrs + 1) * sizeof(tmp->entries[0]));
	got = xzalloc((probe.nmsrs + 1) * sizeof(*got));
	if (!list || !tmp || !got) {
		ret = -ENOMEM;
		goto out;
	}
	list->nmsrs = probe.nmsrs;
	ret = kvm_ioctl(vcpu->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list);
	if (ret < 0)
		goto out;
	for (u32 i = 0; i < list->nmsrs;) {
		tmp->nmsrs = list->nmsrs - i;
		for (u32 j = 0; j < tmp->nmsrs; j++)
			tmp->entries[j] = (struct kvm_msr_entry){ .index = list->indices[i + j] };
		ret = kvm_ioctl(vcpu->fd, KVM_GET_MSRS, tmp);
		if (ret < 0)
			goto out;
		memcpy(got + n, tmp->entries, (size_t)ret * sizeof(*got));
		n += (u32)ret;
		i += (u32)ret + 1;	/* past the one refused */
	}
	ret = snap_write_section(w, SNAP_SEC_VCPU_MSRS, vcpu->id, got, n * sizeof(*got));
out:
	free(list);
	free(tmp);
	free(got);
	return ret;
}

/* One vCPU's state as the KVM_GET_* ioctls give it, one section each. */
struct x86_vcpu_snap {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_debugregs dregs;
	struct kvm_mp_state mp;
	struct kvm_xcrs xcrs;
	struct kvm_fpu fpu;
};

int vcpu_arch_snapshot_save(struct vcpu *vcpu, struct snap_writer *w)
{
	struct x86_vcpu_snap st;
	unsigned int id = vcpu->id;
	int fd = vcpu->fd, ret, xsave_size, tsc_khz;

	ret = save_ioctl(w, fd, KVM_GET_REGS, SNAP_SEC_VCPU_REGS, id, &st.regs, sizeof(st.regs));
	if (!ret)
		ret = save_ioctl(w, fd, KVM_GET_SREGS, SNAP_SEC_VCPU_SREGS, id, &st.sregs,
				 sizeof(st.sregs));
	if (ret)
		return ret;
	xsave_size = ioctl(vcpu->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (xsave_size < (int)sizeof(struct kvm_xsave) &&
	    ioctl(vcpu->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0)
		xsave_size = sizeof(struct kvm_xsave);
	if (xsave_size >= (int)sizeof(struct kvm_xsave)) {
		void *xs = xzalloc((size_t)xsave_size);
		unsigned long req = xsave_size > (int)sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2
									: KVM_GET_XSAVE;

		if (!xs)
			return -ENOMEM;
		ret = save_ioctl(w, fd, req, SNAP_SEC_VCPU_XSAVE, id, xs, (size_t)xsave_size);
		free(xs);
	} else {
		ret = save_ioctl(w, fd, KVM_GET_FPU, SNAP_SEC_VCPU_FPU, id, &st.fpu, sizeof(st.fpu));
	}
	if (!ret && ioctl(vcpu->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0)
		ret = save_ioctl(w, fd, KVM_GET_XCRS, SNAP_SEC_VCPU_XCRS, id, &st.xcrs, sizeof(st.xcrs));
	if (!ret)
		ret = save_ioctl(w, fd, KVM_GET_LAPIC, SNAP_SEC_VCPU_LAPIC, id, &st.lapic,
				 sizeof(st.lapic));
	if (!ret)
		ret = vcpu_save_msrs(vcpu, w);
	if (!ret)
		ret = save_ioctl(w, fd, KVM_GET_VCPU_EVENTS, SNAP_SEC_VCPU_EVENTS, id, &st.events,
				 sizeof(st.events));
	if (!ret)
		ret = save_ioctl(w, fd, KVM_GET_DEBUGREGS, SNAP_SEC_VCPU_DEBUGREGS, id, &st.dregs,
				 sizeof(st.dregs));
	if (!ret)
		ret = save_ioctl(w, fd, KVM_GET_MP_STATE, SNAP_SEC_VCPU_MP_STATE, id, &st.mp,
				 sizeof(st.mp));
	if (ret)
		return ret;
	tsc_khz = ioctl(fd, KVM_GET_TSC_KHZ);
	if (tsc_khz > 0) {
		u32 khz = (u32)tsc_khz;

		ret = snap_write_section(w, SNAP_SEC_VCPU_TSC_KHZ, id, &khz, sizeof(khz));
	}
	return ret;
}

static int restore_ioctl(int fd, unsigned long req, void *buf, const char *what,
			 unsigned int id, char *err, size_t errlen)
{
	int ret = kvm_ioctl(fd, req, buf);

	if (ret < 0)
		snprintf(err, errlen, "vCPU %u: KVM refused the saved %s: %s", id, what,
			 strerror(-ret));
	return ret < 0 ? ret : 0;
}

static int vcpu_restore_msrs(struct vcpu *vcpu, struct snap_reader *r, char *err,
			     size_t errlen)
{
	const void *data;
	struct kvm_msrs *msrs;
	size_t len;
	u32 n;
	int ret;

	if (snap_read_section(r, SNAP_SEC_VCPU_MSRS, vcpu->id, &data, &len) ||
	    len % sizeof(struct kvm_msr_entry) || len > 4096 * sizeof(struct kvm_msr_entry)) {
		snprintf(err, errlen, "state file: the MSRs of vCPU %u are missing or malformed",
			 vcpu->id);
		return -EINVAL;
	}
	n = (u32)(len / sizeof(struct kvm_msr_entry));
	msrs = xzalloc(sizeof(*msrs) + len);
	if (!msrs)
		return -ENOMEM;
	msrs->nmsrs = n;
	memcpy(msrs->entries, data, len);
	for (u32 i = 0; i < n; i++)
		msrs->entries[i].reserved = 0;
	ret = kvm_ioctl(vcpu->fd, KVM_SET_MSRS, msrs);
	if (ret >= 0 && (u32)ret != n) {
		snprintf(err, errlen, "vCPU %u: KVM refused the saved MSR %#x", vcpu->id,
			 msrs->entries[ret].index);
		ret = -EINVAL;
	} else if (ret < 0) {
		snprintf(err, errlen, "vCPU %u: KVM_SET_MSRS: %s", vcpu->id, strerror(-ret));
	} else {
		ret = 0;
	}
	free(msrs);
	return ret;
}

int vcpu_arch_snapshot_restore(struct vcpu *vcpu, struct snap_reader *r, char *err,
			       size_t errlen)
{
	struct x86_vcpu_snap st;
	const void *data;
	size_t len;
	unsigned int id = vcpu->id;
	int fd = vcpu->fd, ret;

	ret = load_exact(r, SNAP_SEC_VCPU_SREGS, id, &st.sregs, sizeof(st.sregs), err, errlen);
	if (!ret)
		ret = load_exact(r, SNAP_SEC_VCPU_REGS, id, &st.regs, sizeof(st.regs), err, errlen);
	if (!ret)
		ret = load_exact(r, SNAP_SEC_VCPU_LAPIC, id, &st.lapic, sizeof(st.lapic), err, errlen);
	if (!ret)
		ret = load_exact(r, SNAP_SEC_VCPU_EVENTS, id, &st.events, sizeof(st.events), err, errlen);
	if (!ret)
		ret = load_exact(r, SNAP_SEC_VCPU_DEBUGREGS, id, &st.dregs, sizeof(st.dregs), err,
				 errlen);
	if (!ret)
		ret = load_exact(r, SNAP_SEC_VCPU_MP_STATE, id, &st.mp, sizeof(st.mp), err, errlen);
	if (ret)
		return ret;

	ret = restore_ioctl(fd, KVM_SET_SREGS, &st.sregs, "special registers", id, err, errlen);
	if (!ret)
		ret = restore_ioctl(fd, KVM_SET_REGS, &st.regs, "registers", id, err, errlen);
	if (ret)
		return ret;
	if (!snap_read_section(r, SNAP_SEC_VCPU_XSAVE, id, &data, &len)) {
		int size = ioctl(vcpu->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
		void *xs;

		if (size < (int)sizeof(struct kvm_xsave))
			size = sizeof(struct kvm_xsave);
		if (len < sizeof(struct kvm_xsave) || len > (size_t)size) {
			snprintf(err, errlen, "vCPU %u: saved XSAVE area of %zu bytes, this host takes %d",
				 id, len, size);
			return -EINVAL;
		}
		xs = xzalloc((size_t)size);
		if (!xs)
			return -ENOMEM;
		memcpy(xs, data, len);
		ret = restore_ioctl(fd, KVM_SET_XSAVE, xs, "XSAVE area", id, err, errlen);
		free(xs);
	} else {
		ret = load_exact(r, SNAP_SEC_VCPU_FPU, id, &st.fpu, sizeof(st.fpu), err, errlen);
		if (!ret)
			ret = restore_ioctl(fd, KVM_SET_FPU, &st.fpu, "FPU state", id, err, errlen);
	}
	if (!ret && !snap_read_section(r, SNAP_SEC_VCPU_XCRS, id, &data, &len)) {
		ret = load_exact(r, SNAP_SEC_VCPU_XCRS, id, &st.xcrs, sizeof(st.xcrs), err, errlen);
		if (!ret)
			ret = restore_ioctl(fd, KVM_SET_XCRS, &st.xcrs, "XCRs", id, err, errlen);
	}
	if (!ret)
		ret = restore_ioctl(fd, KVM_SET_LAPIC, &st.lapic, "local APIC", id, err, errlen);
	if (!ret)
		ret = vcpu_restore_msrs(vcpu, r, err, errlen);
	if (!ret) {
		/* What GET gives is valid; NMI and SIPI state are too. */
		st.events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
		ret = restore_ioctl(fd, KVM_SET_VCPU_EVENTS, &st.events, "pending events", id, err,
				    errlen);
	}
	if (!ret)
		ret = restore_ioctl(fd, KVM_SET_DEBUGREGS, &st.dregs, "debug registers", id, err,
				    errlen);
	if (!ret)
		ret = restore_ioctl(fd, KVM_SET_MP_STATE, &st.mp, "MP state", id, err, errlen);
	return ret;
}

int vm_arch_snapshot_save(struct vm *vm, struct snap_writer *w)
{
	struct kvm_clock_data clock = { 0 };
	int ret;

	ret = save_ioctl(w, vm->vm_fd, KVM_GET_CLOCK, SNAP_SEC_CLOCK, 0, &clock, sizeof(clock));
	if (!ret)
		ret = x86_cpuid_snapshot_save(vm, w);
	if (ret)
		return ret;
	if (vm->arch.ioapic)
		return x86_ioapic_snapshot_save(vm->arch.ioapic, w);
	for (u32 chip = 0; chip < 3; chip++) {
		struct kvm_irqchip c = { .chip_id = chip };

		ret = save_ioctl(w, vm->vm_fd, KVM_GET_IRQCHIP, SNAP_SEC_IRQCHIP, chip, &c,
				 sizeof(c));
		if (ret)
			return ret;
	}
	if (vm->arch.has_pit) {
		struct kvm_pit_state2 pit;

		ret = save_ioctl(w, vm->vm_fd, KVM_GET_PIT2, SNAP_SEC_PIT, 0, &pit, sizeof(pit));
	}
	return ret;
}

int vm_arch_snapshot_restore(struct vm *vm, struct snap_reader *r, char *err, size_t errlen)
{
	struct kvm_clock_data clock;
	int ret;

	ret = load_exact(r, SNAP_SEC_CLOCK, 0, &clock, sizeof(clock), err, errlen);
	if (ret)
		return ret;
	/* The clock value only: the host's realtime pairing is not ours to keep. */
	clock = (struct kvm_clock_data){ .clock = clock.clock };
	ret = restore_ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock, "kvmclock", 0, err, errlen);
	if (ret)
		return ret;
	if (vm->arch.ioapic)
		return x86_ioapic_snapshot_restore(vm->arch.ioapic, r, err, errlen);
	for (u32 chip = 0; chip < 3; chip++) {
		struct kvm_irqchip c;

		ret = load_exact(r, SNAP_SEC_IRQCHIP, chip, &c, sizeof(c), err, errlen);
		if (!ret && c.chip_id != chip)
			ret = -EINVAL;
		if (!ret)
			ret = restore_ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &c, "irqchip", chip, err,
					    errlen);
		if (ret)
			return ret;
	}
	if (vm->arch.has_pit) {
		struct kvm_pit_state2 pit;

		ret = load_exact(r, SNAP_SEC_PIT, 0, &pit, sizeof(pit), err, errlen);
		if (!ret)
			ret = restore_ioctl(vm->vm_fd, KVM_SET_PIT2, &pit, "PIT", 0, err, errlen);
	}
	return ret;
}
