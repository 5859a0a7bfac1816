// SPDX-License-Identifier: GPL-2.0-only
/*
 * Boot MSR values, the same for every vCPU: what firmware would have left
 * behind, set at creation and again at each reset (vcpu_arch_reset()).
 * Only MSRs KVM lists in KVM_GET_MSR_INDEX_LIST are set, so a host that
 * lacks one (PVM lists fewer than VMX/SVM) is not an error.
 */
#include <errno.h>
#include <stdlib.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>

#include "x86.h"

#define MSR_IA32_SYSENTER_CS		0x00000174
#define MSR_IA32_SYSENTER_ESP		0x00000175
#define MSR_IA32_SYSENTER_EIP		0x00000176
#define MSR_IA32_MISC_ENABLE		0x000001a0
#define MSR_MTRR_DEF_TYPE		0x000002ff
#define MSR_STAR			0xc0000081
#define MSR_LSTAR			0xc0000082
#define MSR_CSTAR			0xc0000083
#define MSR_SYSCALL_MASK		0xc0000084
#define MSR_KERNEL_GS_BASE		0xc0000102
/* KVM's paravirtual MSRs (Documentation/virt/kvm/x86/msr.rst) */
#define MSR_KVM_SYSTEM_TIME		0x00000012
#define MSR_KVM_SYSTEM_TIME_NEW		0x4b564d01
#define MSR_KVM_ASYNC_PF_EN		0x4b564d02
#define MSR_KVM_STEAL_TIME		0x4b564d03
#define MSR_KVM_PV_EOI_EN		0x4b564d04
#define MSR_KVM_POLL_CONTROL		0x4b564d05
#define MSR_KVM_ASYNC_PF_INT		0x4b564d06

#define MISC_ENABLE_FAST_STRING		(1ULL << 0)
#define MTRR_DEF_TYPE_ENABLE		(1ULL << 11)
#define MTRR_TYPE_WRBACK		6ULL

static const struct kvm_msr_entry boot_msrs[] = {
	{ .index = MSR_IA32_SYSENTER_CS },
	{ .index = MSR_IA32_SYSENTER_ESP },
	{ .index = MSR_IA32_SYSENTER_EIP },
	{ .index = MSR_STAR },
	{ .index = MSR_LSTAR },
	{ .index = MSR_CSTAR },
	{ .index = MSR_SYSCALL_MASK },
	{ .index = MSR_KERNEL_GS_BASE },
	{ .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING },
	{ .index = MSR_MTRR_DEF_TYPE, .data = MTRR_DEF_TYPE_ENABLE | MTRR_TYPE_WRBACK },
	/*
	 * Off, as at power-on: after a reset KVM must stop updating the guest
	 * memory these name until the guest enables them again. (Not the wall
	 * clock MSRs: a write makes KVM write the clock at that address.)
	 */
	{ .index = MSR_KVM_SYSTEM_TIME },
	{ .index = MSR_KVM_SYSTEM_TIME_NEW },
	{ .index = MSR_KVM_ASYNC_PF_EN },
	{ .index = MSR_KVM_STEAL_TIME },
	{ .index = MSR_KVM_PV_EOI_EN },
	{ .index = MSR_KVM_ASYNC_PF_INT },
	{ .index = MSR_KVM_POLL_CONTROL, .data = 1 },	/* host-side polling allowed */
};

static bool msr_is_listed(const struct kvm_msr_list *l, u32 index)
{
	for (u32 i = 0; i < l->nmsrs; i++)
		if (l->indices[i] == index)
			return true;
	return false;
}

int x86_msrs_template_create(struct vm *vm)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;
	struct kvm_msrs *msrs;
	int ret;

	/* The first call fails with E2BIG and tells how many there are. */
	ret = kvm_ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe);
	if (ret < 0 && ret != -E2BIG)
		return ret;
	list = xzalloc(sizeof(*list) + (probe.nmsrs + 1) * sizeof(list->indices[0]));
	if (!list)
		return -ENOMEM;
	list->nmsrs = probe.nmsrs;
	ret = kvm_ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list);
	if (ret < 0)
		goto out_free_list;

	msrs = xzalloc(sizeof(*msrs) + ARRAY_SIZE(boot_msrs) * sizeof(msrs->entries[0]));
	if (!msrs) {
		ret = -ENOMEM;
		goto out_free_list;
	}
	for (size_t i = 0; i < ARRAY_SIZE(boot_msrs); i++)
		if (msr_is_listed(list, boot_msrs[i].index))
			msrs->entries[msrs->nmsrs++] = boot_msrs[i];
	vm->arch.boot_msrs = msrs;
	ret = 0;
out_free_list:
	free(list);
	return ret;
}

int x86_msrs_set(struct vcpu *vcpu)
{
	struct kvm_msrs *msrs = vcpu->vm->arch.boot_msrs;
	int ret;

	if (!msrs->nmsrs)
		return 0;
	ret = kvm_ioctl(vcpu->fd, KVM_SET_MSRS, msrs);
	if (ret < 0)
		return ret;
	if ((u32)ret != msrs->nmsrs) {
		pr_err("vcpu%u: KVM refused MSR 0x%x", vcpu->id,
		       msrs->entries[ret].index);
		return -EINVAL;
	}
	return 0;
}
