// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86 guest loading: format detection, the pieces every loader shares
 * (claims on guest RAM, GDT, identity page tables, command line) and the
 * boot vCPU's initial register state.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include <kestrel/log.h>
#include <kestrel/vm.h>
#include <kestrel/x86/layout.h>

#include "loader.h"


int x86_loader_fail(struct x86_loader *l, int err, const char *fmt, ...)
{
	va_list ap;

	if (l->err && l->errlen) {
		va_start(ap, fmt);
		vsnprintf(l->err, l->errlen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* The lowest claim overlapping [start, end) (the one an error names), or NULL. */
static const struct x86_claim *x86_loader_overlap(const struct x86_loader *l, u64 start, u64 end)
{
	const struct x86_claim *lowest = NULL;
	unsigned int i;

	for (i = 0; i < l->nr_claims; i++)
		if (start < l->claims[i].end && l->claims[i].start < end &&
		    (!lowest || l->claims[i].start < lowest->start))
			lowest = &l->claims[i];
	return lowest;
}

/*
 * Reserve [start, start + size) of low RAM for @what. Everything a loader
 * places goes through here, so an image that asks for boot data's place, for
 * bytes past RAM or for a wrapping range is refused with a reason.
 */
int x86_loader_claim(struct x86_loader *l, u64 start, u64 size, const char *what)
{
	const struct x86_claim *c;
	u64 end = start + size;

	if (end < start)
		return x86_loader_fail(l, -ENOEXEC, "%s: range 0x%llx+0x%llx wraps",
				       what, (unsigned long long)start,
				       (unsigned long long)size);
	if (end > l->low_ram_end)
		return x86_loader_fail(l, -ENOSPC,
				       "%s [0x%llx-0x%llx) does not fit in RAM below 0x%llx",
				       what, (unsigned long long)start,
				       (unsigned long long)end,
				       (unsigned long long)l->low_ram_end);
	if (!size)
		return 0;
	c = x86_loader_overlap(l, start, end);
	if (c)
		return x86_loader_fail(l, -ENOEXEC,
				       "%s [0x%llx-0x%llx) overlaps %s [0x%llx-0x%llx)",
				       what, (unsigned long long)start,
				       (unsigned long long)end, c->what,
				       (unsigned long long)c->start,
				       (unsigned long long)c->end);
	if (l->nr_claims == X86_MAX_CLAIMS)
		return x86_loader_fail(l, -ENOEXEC, "%s: too many pieces to load", what);
	l->claims[l->nr_claims++] = (struct x86_claim){ start, end, what };
	return 0;
}

/*
 * Claim @size bytes, page aligned, at the lowest free address from page 1
 * up: where boot data goes once the image, which may load anywhere from
 * 0x1000, has taken its place. The fixed claims (page 0, EBDA/ACPI/MP up to
 * 1 MiB) keep it out of the legacy VGA/BIOS hole. Candidates are page 1 and
 * the page after each claim: the lowest gap starts at one of them.
 */
int x86_loader_claim_free(struct x86_loader *l, u64 size, const char *what, u64 *gpa)
{
	u64 best = ~0ULL;
	unsigned int i;

	for (i = 0; i <= l->nr_claims; i++) {
		u64 at = i == l->nr_claims ? X86_BOOT_PAGE0_END : ALIGN_UP(l->claims[i].end, 4096);

		if (at >= best || at > l->low_ram_end || size > l->low_ram_end - at)
			continue;
		if (!x86_loader_overlap(l, at, at + size))
			best = at;
	}
	if (best == ~0ULL)
		return x86_loader_fail(l, -ENOSPC,
				       "%s (0x%llx bytes) does not fit in RAM below 0x%llx beside the image",
				       what, (unsigned long long)size,
				       (unsigned long long)l->low_ram_end);
	*gpa = best;
	return x86_loader_claim(l, best, size, what);
}

/*
 * A page-aligned area for a boot stack and @payload bytes of boot info,
 * claimed at the lowest free address, and marked reserved with page 0 in
 * the memory map the loader hands over (l->e820): the guest must not take
 * either for free RAM while it still reads them.
 */
int x86_info_area_claim(struct x86_loader *l, struct x86_info_area *a, size_t payload,
			const char *what)
{
	size_t size = ALIGN_UP(X86_BOOT_STACK_SIZE + payload, 4096);
	int ret;

	memset(a, 0, sizeof(*a));
	a->buf = xzalloc(size);
	if (!a->buf)
		return x86_loader_fail(l, -ENOMEM, "out of memory for the %s", what);
	a->size = size;
	a->used = X86_BOOT_STACK_SIZE;
	ret = x86_loader_claim_free(l, size, what, &a->gpa);
	if (!ret)
		ret = x86_e820_reserve(l, 0, X86_BOOT_PAGE0_END);
	if (!ret)
		ret = x86_e820_reserve(l, a->gpa, a->gpa + size);
	a->stack_top = a->gpa + X86_BOOT_STACK_SIZE - 16;
	return ret;
}

/* Bytes of every module string, NULs not counted (for sizing an info area). */
size_t x86_loader_module_strings(const struct boot_config *cfg)
{
	size_t n = 0;
	unsigned int i;

	for (i = 0; i < cfg->nr_modules; i++)
		if (cfg->modules[i].cmdline)
			n += strlen(cfg->modules[i].cmdline);
	return n;
}

int x86_info_area_write(struct x86_loader *l, struct x86_info_area *a, const char *what)
{
	return x86_loader_write(l, a->gpa, a->buf, a->size, what);
}

void x86_info_area_release(struct x86_info_area *a)
{
	free(a->buf);
	a->buf = NULL;
}

/* The highest end of any claim below @limit (where to put the next thing). */
u64 x86_loader_highest_claim_below(struct x86_loader *l, u64 limit)
{
	u64 hi = 0;
	unsigned int i;

	for (i = 0; i < l->nr_claims; i++)
		if (l->claims[i].end <= limit && l->claims[i].end > hi)
			hi = l->claims[i].end;
	return hi;
}

int x86_loader_write(struct x86_loader *l, u64 gpa, const void *buf, size_t len,
		     const char *what)
{
	int ret = address_space_write(l->as, gpa, buf, len);

	if (ret)
		return x86_loader_fail(l, ret, "%s: cannot write 0x%zx bytes at 0x%llx: %s",
				       what, len, (unsigned long long)gpa, strerror(-ret));
	return 0;
}

int x86_loader_zero(struct x86_loader *l, u64 gpa, u64 len, const char *what)
{
	while (len) {
		u64 n = len;
		void *p = address_space_map(l->as, gpa, &n, true);

		if (!p)
			return x86_loader_fail(l, -EFAULT, "%s: 0x%llx is not RAM", what,
					       (unsigned long long)gpa);
		memset(p, 0, n);
		address_space_unmap(l->as, p, n, true, n);
		gpa += n;
		len -= n;
	}
	return 0;
}

/*
 * The guest command line: @argv0 (a Multiboot kernel's path) if not NULL,
 * cfg->cmdline, then for Linux guests one
 * "virtio_mmio.device=<size>@<base>:<irq>" per device (the form
 * drivers/virtio/virtio_mmio.c parses when CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES
 * is set; kernels without it find the devices in the DSDT instead), words
 * separated by one space. @limit is the longest string the guest accepts,
 * without the NUL. On success *@out is the NUL-terminated string (the
 * caller frees it) and *@len its length.
 */
int x86_loader_cmdline(struct x86_loader *l, const char *argv0, bool add_mmio, size_t limit,
		       char **out, size_t *len)
{
	const struct boot_config *cfg = l->cfg;
	size_t cap = X86_BOOT_CMDLINE_MAX, n = 0;
	unsigned int i;
	char *buf;
	int ret;

	if (limit > cap - 1)
		limit = cap - 1;
	buf = xmalloc(cap);
	if (!buf)
		return x86_loader_fail(l, -ENOMEM, "out of memory for the command line");
	for (i = 0; i < 2; i++) {
		const char *s = i ? cfg->cmdline : argv0;
		size_t sl, sep;

		if (!s || !*s)
			continue;
		sl = strnlen(s, cap);
		sep = n ? 1 : 0;
		if (sl >= cap - n - sep) {
			ret = x86_loader_fail(l, -EINVAL,
					      "command line too long (at least %zu bytes, at most %zu)",
					      n + sep + sl, limit);
			goto out_free;
		}
		if (sep)
			buf[n++] = ' ';
		memcpy(buf + n, s, sl);
		n += sl;
	}
	for (i = 0; add_mmio && i < cfg->nr_mmio_devs; i++) {
		const struct boot_mmio_dev *d = &cfg->mmio_devs[i];
		int w;

		if (d->size % 1024 == 0)
			w = snprintf(buf + n, cap - n, "%svirtio_mmio.device=%lluK@0x%llx:%u",
				     n ? " " : "", (unsigned long long)d->size / 1024,
				     (unsigned long long)d->base, d->irq);
		else
			w = snprintf(buf + n, cap - n, "%svirtio_mmio.device=%llu@0x%llx:%u",
				     n ? " " : "", (unsigned long long)d->size,
				     (unsigned long long)d->base, d->irq);
		if (w < 0 || (size_t)w >= cap - n) {
			n = cap;
			break;
		}
		n += w;
	}
	if (n > limit) {
		ret = x86_loader_fail(l, -EINVAL,
				      "command line too long: %zu bytes%s, the kernel accepts %zu",
				      n, add_mmio && cfg->nr_mmio_devs ?
				      " with virtio_mmio.device= arguments" : "", limit);
		goto out_free;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
out_free:
	free(buf);
	return ret;
}

/* One flat GDT serves every entry mode (selectors in boot.h). */
static int x86_write_gdt(struct x86_loader *l)
{
	static const le64 gdt[] = {
		0,
		0x00cf9b000000ffffULL,	/* 0x08 code32: base 0, 4 GiB, R/X, accessed */
		0x00af9b000000ffffULL,	/* 0x10 code64: L=1 */
		0x00cf93000000ffffULL,	/* 0x18 data: base 0, 4 GiB, R/W, accessed */
		0x00008b0000000067ULL,	/* 0x20 TSS: 32-bit busy, base 0, limit 0x67 */
	};

	return x86_loader_write(l, X86_BOOT_GDT_GPA, gdt, sizeof(gdt), "GDT");
}

static void x86_entry_common(struct x86_boot_entry *e)
{
	e->rflags = 0x2;
	e->rsp = X86_BOOT_STACK_TOP;
	e->gdt_base = X86_BOOT_GDT_GPA;
	e->gdt_limit = 5 * 8 - 1;
}

/* 32-bit protected mode, flat, paging off (Multiboot §3.2, PVH). */
void x86_entry_prot32(struct x86_boot_entry *e)
{
	x86_entry_common(e);
	e->mode = X86_BOOT_PROT32;
	e->cs_sel = X86_BOOT_SEL_CODE32;
	e->ds_sel = X86_BOOT_SEL_DATA;
	e->cr0 = 0x11;			/* PE | ET */
}

/*
 * The entry Multiboot and PVH share: 32-bit protected mode, EBX = the info
 * at @info_off in @a, ESP = the top of @a's stack.
 */
void x86_entry_prot32_info(struct x86_boot_entry *e, const struct x86_info_area *a,
			   long info_off)
{
	x86_entry_prot32(e);
	e->rbx = x86_info_gpa(a, info_off);
	e->rsp = a->stack_top;
	e->data_start = a->gpa;
	e->data_end = a->gpa + a->size;
}

/* 64-bit mode with 0-4 GiB identity-mapped by 2 MiB pages (Linux boot protocol §64-bit). */
int x86_entry_long64(struct x86_loader *l, struct x86_boot_entry *e)
{
	enum { PAGES = (X86_BOOT_PGTABLE_END - X86_BOOT_PML4_GPA) / 4096 };
	le64 *pt = xcalloc(PAGES, 4096);
	le64 *pml4, *pdpt, *pd;
	unsigned int i;
	int ret;

	_Static_assert(PAGES == 6, "PML4 + PDPT + 4 PDs");
	if (!pt)
		return x86_loader_fail(l, -ENOMEM, "out of memory for page tables");
	pml4 = pt;
	pdpt = pt + 512;
	pd = pt + 1024;
	pml4[0] = (X86_BOOT_PML4_GPA + 0x1000) | 0x3;		/* P | RW */
	for (i = 0; i < 4; i++)
		pdpt[i] = (X86_BOOT_PML4_GPA + 0x2000 + i * 0x1000ULL) | 0x3;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((u64)i << 21) | 0x83;			/* P | RW | PS */
	ret = x86_loader_write(l, X86_BOOT_PML4_GPA, pt, PAGES * 4096, "page tables");
	free(pt);
	if (ret)
		return ret;

	x86_entry_common(e);
	e->mode = X86_BOOT_LONG64;
	e->cs_sel = X86_BOOT_SEL_CODE64;
	e->ds_sel = X86_BOOT_SEL_DATA;
	e->cr0 = 0x80050033;		/* PG | AM | WP | NE | ET | MP | PE */
	e->cr3 = X86_BOOT_PML4_GPA;
	e->cr4 = 0x20;			/* PAE */
	e->efer = 0x500;		/* LME | LMA */
	return 0;
}

static int x86_check_config(struct x86_loader *l)
{
	const struct boot_config *cfg = l->cfg;
	unsigned int i;

	if (!cfg->kernel || !cfg->kernel_size)
		return x86_loader_fail(l, -ENOEXEC, "empty kernel image");
	if (cfg->nr_cpus < 1 || cfg->nr_cpus > VM_MAX_VCPUS)
		return x86_loader_fail(l, -EINVAL, "%u vCPUs: the boot tables describe 1..%u",
				       cfg->nr_cpus, VM_MAX_VCPUS);
	if (cfg->initrd_size && !cfg->initrd)
		return x86_loader_fail(l, -EINVAL, "initrd size without data");
	if (cfg->nr_modules && !cfg->modules)
		return x86_loader_fail(l, -EINVAL, "module count without modules");
	for (i = 0; i < cfg->nr_modules; i++)
		if (cfg->modules[i].size && !cfg->modules[i].data)
			return x86_loader_fail(l, -EINVAL, "module %u: size without data", i);
	if (cfg->nr_mmio_devs > X86_VIRTIO_MMIO_MAX || (cfg->nr_mmio_devs && !cfg->mmio_devs))
		return x86_loader_fail(l, -EINVAL, "bad virtio-mmio device list (%u devices, at most %u)",
				       cfg->nr_mmio_devs, X86_VIRTIO_MMIO_MAX);
	for (i = 0; i < cfg->nr_mmio_devs; i++) {
		const struct boot_mmio_dev *d = &cfg->mmio_devs[i];

		if (!d->size || d->base + d->size < d->base ||
		    d->base + d->size > 0x100000000ULL || d->irq >= 24)
			return x86_loader_fail(l, -EINVAL,
					       "virtio-mmio device %u: 0x%llx+0x%llx irq %u is not a 32-bit window on GSI 0..23",
					       i, (unsigned long long)d->base,
					       (unsigned long long)d->size, d->irq);
	}
	return 0;
}

static void x86_find_low_ram(struct x86_loader *l)
{
	unsigned int i, n = address_space_nr_regions(l->as);
	u64 end = 0;

	for (i = 0; i < n; i++) {
		const struct mem_region *r = address_space_region(l->as, i);

		/* Boot data goes where kestrel can write: not private RAM. */
		if (r->gpa != end || (r->flags & MEM_F_PRIVATE))
			break;
		end = r->gpa + r->size;
	}
	l->low_ram_end = MIN(end, (u64)X86_HIGH_RAM_START);
}

int x86_load_guest_opts(struct address_space *as, const struct boot_config *cfg,
			const struct x86_boot_options *opts,
			struct x86_boot_entry *entry, char *err, size_t errlen)
{
	static const struct x86_boot_options defaults;
	struct x86_loader *l;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	l = xzalloc(sizeof(*l));
	if (!l) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->as = as;
	l->cfg = cfg;
	l->opts = opts ? opts : &defaults;
	l->err = err;
	l->errlen = errlen;
	memset(entry, 0, sizeof(*entry));

	ret = x86_check_config(l);
	if (ret)
		goto out_free;
	x86_find_low_ram(l);
	if (l->low_ram_end < 2 * X86_BOOT_KERNEL_GPA) {
		ret = x86_loader_fail(l, -EFAULT,
				      "guest RAM must start at 0 and cover at least 2 MiB (have 0x%llx)",
				      (unsigned long long)l->low_ram_end);
		goto out_free;
	}
	ret = x86_e820_build(l);
	if (ret)
		goto out_free;
	/* What every format leaves to kestrel; the rest is the loader's to place. */
	ret = x86_loader_claim(l, 0, X86_BOOT_PAGE0_END, "boot data (IVT, BDA, GDT)");
	if (!ret)
		ret = x86_loader_claim(l, X86_BOOT_EBDA_GPA,
				       X86_BOOT_KERNEL_GPA - X86_BOOT_EBDA_GPA,
				       "EBDA/ACPI/MP tables");
	if (ret)
		goto out_free;
	ret = x86_loader_zero(l, 0, X86_BOOT_PAGE0_END, "boot data");
	if (!ret)
		ret = x86_write_gdt(l);
	if (!ret)
		ret = x86_acpi_write(l);
	if (!ret)
		ret = x86_mptable_write(l);
	if (ret)
		goto out_free;

	if (x86_bzimage_detect(cfg->kernel, cfg->kernel_size))
		ret = x86_bzimage_load(l, entry);
	else if (x86_multiboot_detect(cfg->kernel, cfg->kernel_size))
		ret = x86_multiboot_load(l, entry);
	else if (x86_pvh_detect(cfg->kernel, cfg->kernel_size))
		ret = x86_pvh_load(l, entry);
	else if (x86_elf_is_elf(cfg->kernel, cfg->kernel_size)) {
		struct x86_elf_info info;

		ret = x86_elf_parse(l, cfg->kernel, cfg->kernel_size, &info);
		if (!ret)
			ret = x86_loader_fail(l, -ENOEXEC,
					      "ELF image has neither a Multiboot header nor a PVH entry note");
	}
	else
		ret = x86_loader_fail(l, -ENOEXEC,
				      "not a bzImage, Multiboot or PVH ELF image");
	if (!ret)
		pr_debug("x86: loaded %s, entry 0x%llx (%s)", entry->format,
			 (unsigned long long)entry->rip,
			 entry->mode == X86_BOOT_LONG64 ? "64-bit" :
			 entry->mode == X86_BOOT_PROT32 ? "32-bit" : "real mode");
out_free:
	if (ret && err && errlen && !err[0])
		snprintf(err, errlen, "%s", strerror(-ret));
	free(l);
	return ret;
}

int x86_load_guest(struct address_space *as, const struct boot_config *cfg,
		   struct x86_boot_entry *entry, char *err, size_t errlen)
{
	return x86_load_guest_opts(as, cfg, NULL, entry, err, errlen);
}

/* ---- boot vCPU state ---- */

static int x86_vcpu_ioctl(int fd, unsigned long req, void *arg)
{
	int ret = kvm_ioctl(fd, req, arg);

	return ret < 0 ? ret : 0;
}

static void x86_seg_set(struct kvm_segment *s, const struct x86_boot_entry *e,
			u16 sel, u64 base, bool code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = base;
	s->present = 1;
	s->s = 1;
	s->type = code ? 0xb : 0x3;	/* execute/read or read/write, accessed */
	if (e->mode == X86_BOOT_REAL16) {
		s->limit = 0xffff;
		return;
	}
	s->limit = 0xffffffff;
	s->g = 1;
	if (code && e->mode == X86_BOOT_LONG64)
		s->l = 1;
	else
		s->db = 1;
}

int x86_boot_setup_vcpu(int vcpu_fd, const struct x86_boot_entry *e)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	int ret;

	ret = x86_vcpu_ioctl(vcpu_fd, KVM_GET_SREGS, &sregs);
	if (ret)
		return ret;
	x86_seg_set(&sregs.cs, e, e->cs_sel, e->cs_base, true);
	x86_seg_set(&sregs.ds, e, e->ds_sel, e->ds_base, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	if (e->mode != X86_BOOT_REAL16) {
		/* PVH wants a 32-bit busy TSS, base 0, limit 0x67; harmless for the others */
		memset(&sregs.tr, 0, sizeof(sregs.tr));
		sregs.tr.selector = X86_BOOT_SEL_TSS;
		sregs.tr.limit = 0x67;
		sregs.tr.type = 0xb;
		sregs.tr.present = 1;
		sregs.cr0 = e->cr0;
		sregs.cr3 = e->cr3;
		sregs.cr4 = e->cr4;
		sregs.efer = e->efer;
	}
	if (e->gdt_limit) {
		sregs.gdt.base = e->gdt_base;
		sregs.gdt.limit = e->gdt_limit;
	}
	ret = x86_vcpu_ioctl(vcpu_fd, KVM_SET_SREGS, &sregs);
	if (ret)
		return ret;

	memset(&regs, 0, sizeof(regs));
	regs.rip = e->rip;
	regs.rsp = e->rsp;
	regs.rsi = e->rsi;
	regs.rbx = e->rbx;
	regs.rax = e->rax;
	regs.rflags = e->rflags | 0x2;
	ret = x86_vcpu_ioctl(vcpu_fd, KVM_SET_REGS, &regs);
	if (ret)
		return ret;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	return x86_vcpu_ioctl(vcpu_fd, KVM_SET_FPU, &fpu);
}

bool boot_image_is_linux(const void *img, size_t size)
{
	if (!img)
		return false;
	return x86_bzimage_detect(img, size) ||
	       (!x86_multiboot_detect(img, size) && x86_pvh_detect(img, size));
}
