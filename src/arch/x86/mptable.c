// SPDX-License-Identifier: GPL-2.0-only
/*
 * Intel MultiProcessor Specification 1.4 table, for guests without ACPI:
 * floating pointer at X86_BOOT_MPTABLE_GPA (in the 0xf0000 BIOS area, where
 * §4 says to search), configuration table right after it. One processor
 * entry per vCPU (APIC ID = index, vCPU 0 the BSP), one ISA bus, the IOAPIC
 * (ID nr_cpus, as in the MADT), ISA IRQs 0-15 routed as the MADT says (IRQ0
 * to INTIN2, ExtINT on INTIN0, IRQ2 is the cascade and absent, others
 * identity), ExtINT on LINT0 and NMI on LINT1 of every local APIC.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/vm.h>
#include <kestrel/x86/layout.h>

#include "loader.h"

struct mpf_intel {
	char signature[4];	/* "_MP_" */
	le32 physptr;
	u8 length;		/* in 16-byte units */
	u8 spec_rev;
	u8 checksum;
	u8 feature[5];
} __packed;
_Static_assert(sizeof(struct mpf_intel) == 16, "MP floating pointer");

struct mpc_table {
	char signature[4];	/* "PCMP" */
	le16 length;
	u8 spec_rev;
	u8 checksum;
	char oem[8];
	char product[12];
	le32 oem_ptr;
	le16 oem_size;
	le16 entry_count;
	le32 lapic;
	le16 ext_length;
	u8 ext_checksum;
	u8 reserved;
} __packed;
_Static_assert(sizeof(struct mpc_table) == 44, "MP configuration table header");

struct mpc_cpu {
	u8 type, apic_id, apic_ver, cpu_flags;
	le32 signature, feature_flags;
	le32 reserved[2];
} __packed;
_Static_assert(sizeof(struct mpc_cpu) == 20, "MP processor entry");

struct mpc_bus {
	u8 type, bus_id;
	char bus_type[6];
} __packed;
_Static_assert(sizeof(struct mpc_bus) == 8, "MP bus entry");

struct mpc_ioapic {
	u8 type, apic_id, apic_ver, flags;
	le32 address;
} __packed;
_Static_assert(sizeof(struct mpc_ioapic) == 8, "MP I/O APIC entry");

struct mpc_intsrc {
	u8 type, irq_type;
	le16 flags;
	u8 src_bus, src_irq, dst_apic, dst_pin;
} __packed;
_Static_assert(sizeof(struct mpc_intsrc) == 8, "MP interrupt assignment entry");

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };
#define MP_CPU_EN		(1u << 0)
#define MP_CPU_BP		(1u << 1)
#define MP_APIC_ALL		0xff

int x86_mptable_build(unsigned int nr_cpus, u64 base, u8 *buf, size_t bufsize,
		      size_t *len)
{
	size_t need = sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
		      nr_cpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
		      sizeof(struct mpc_ioapic) + 16 * sizeof(struct mpc_intsrc) +
		      2 * sizeof(struct mpc_intsrc);
	struct mpf_intel mpf = { .signature = "_MP_" };
	struct mpc_table mpc = { .signature = "PCMP" };
	u8 *p, *tbl;
	unsigned int i, count = 0;

	if (!nr_cpus || nr_cpus > VM_MAX_VCPUS || need > bufsize)
		return -EINVAL;
	memset(buf, 0, need);
	tbl = buf + sizeof(mpf);
	p = tbl + sizeof(mpc);

#define MP_EMIT(e) do { memcpy(p, &(e), sizeof(e)); p += sizeof(e); count++; } while (0)
	for (i = 0; i < nr_cpus; i++) {
		struct mpc_cpu c = {
			.type = MP_PROCESSOR, .apic_id = i, .apic_ver = 0x14,
			.cpu_flags = MP_CPU_EN | (i == 0 ? MP_CPU_BP : 0),
			.signature = 0x600, .feature_flags = 0x201,	/* FPU, APIC */
		};
		MP_EMIT(c);
	}
	{
		struct mpc_bus bus = { MP_BUS, 0, "ISA   " };
		struct mpc_ioapic io = { MP_IOAPIC, nr_cpus, 0x11, 1, X86_IOAPIC_GPA };

		MP_EMIT(bus);
		MP_EMIT(io);
	}
	for (i = 0; i < 16; i++) {
		struct mpc_intsrc s = { MP_INTSRC, MP_INT, 0, 0, i, nr_cpus, i };

		if (i == 2)
			continue;		/* the 8259 cascade */
		if (i == 0) {
			struct mpc_intsrc ext = { MP_INTSRC, MP_EXTINT, 0, 0, 0, nr_cpus, 0 };

			MP_EMIT(ext);
			s.dst_pin = 2;		/* the PIT: IRQ0 -> INTIN2, as the MADT override */
		}
		MP_EMIT(s);
	}
	{
		struct mpc_intsrc l0 = { MP_LINTSRC, MP_EXTINT, 0, 0, 0, MP_APIC_ALL, 0 };
		struct mpc_intsrc l1 = { MP_LINTSRC, MP_NMI, 0, 0, 0, MP_APIC_ALL, 1 };

		MP_EMIT(l0);
		MP_EMIT(l1);
	}
#undef MP_EMIT

	memcpy(mpc.oem, "KESTREL ", 8);
	memcpy(mpc.product, "KESTREL-VM  ", 12);
	mpc.length = p - tbl;
	mpc.spec_rev = 4;
	mpc.entry_count = count;
	mpc.lapic = X86_LAPIC_GPA;
	memcpy(tbl, &mpc, sizeof(mpc));
	tbl[offsetof(struct mpc_table, checksum)] = x86_acpi_checksum(tbl, mpc.length);

	mpf.physptr = base + sizeof(mpf);
	mpf.length = 1;
	mpf.spec_rev = 4;
	mpf.checksum = x86_acpi_checksum(&mpf, sizeof(mpf));
	memcpy(buf, &mpf, sizeof(mpf));
	*len = p - buf;
	return 0;
}

int x86_mptable_write(struct x86_loader *l)
{
	u8 *buf = xmalloc(X86_BOOT_MPTABLE_SIZE);
	size_t len;
	int ret;

	if (!buf)
		return x86_loader_fail(l, -ENOMEM, "out of memory for the MP table");
	ret = x86_mptable_build(l->cfg->nr_cpus, X86_BOOT_MPTABLE_GPA, buf,
				X86_BOOT_MPTABLE_SIZE - 0x1000 /* IRET stub page */, &len);
	if (ret)
		ret = x86_loader_fail(l, ret, "MP table: %u vCPUs do not fit", l->cfg->nr_cpus);
	else
		ret = x86_loader_write(l, X86_BOOT_MPTABLE_GPA, buf, len, "MP table");
	free(buf);
	return ret;
}
