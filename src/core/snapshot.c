// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VM's part of a snapshot: the architecture's VM-wide state, then each
 * vCPU's, in vCPU id order; RAM goes to the memory file at commit
 * (src/snapshot/snapshot.c). Devices are the machine's business
 * (src/arch/x86/machine.c), which calls these with the VM paused.
 */
#include <kestrel/vm.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <kestrel/fault.h>
#include <kestrel/snapshot.h>

#include "internal.h"

int vm_dirty_log_get(struct vm *vm, unsigned int region, u64 *bitmap)
{
	const struct mem_region *r = address_space_region(vm->as, region);
	struct kvm_dirty_log log = { .dirty_bitmap = bitmap };
	int ret;

	if (!vm->dirty_log || !r)
		return -EINVAL;
	log.slot = r->slot;
	ret = kvm_ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log);
	return ret < 0 ? ret : 0;
}

int vm_snapshot_save(struct vm *vm, struct snap_writer *w)
{
	int ret = vm_arch_snapshot_save(vm, w);

	for (unsigned int i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = vcpu_arch_snapshot_save(vm->vcpus[i], w);
	return ret;
}

int vm_snapshot_restore(struct vm *vm, struct snap_reader *r, char *err, size_t errlen)
{
	const void *data;
	size_t len;
	int ret;

	/* One vCPU more in the snapshot than here: the machines differ. */
	if (!snap_read_section(r, SNAP_SEC_VCPU_REGS, vm->nr_vcpus, &data, &len)) {
		snprintf(err, errlen, "the snapshot has more than %u vCPUs", vm->nr_vcpus);
		return -EINVAL;
	}
	ret = snap_reader_load_memory(r, vm->as, err, errlen);
	if (!ret)
		ret = vm_arch_snapshot_restore(vm, r, err, errlen);
	for (unsigned int i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = vcpu_arch_snapshot_restore(vm->vcpus[i], r, err, errlen);
	return ret;
}
