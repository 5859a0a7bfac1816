// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86_boot_setup_vcpu() on a real vCPU: for each entry mode a tiny image is
 * loaded by x86_load_guest(), the vCPU is put in the described state and run
 * until its first port write, which reports a register the boot protocol
 * promises (real mode: a marker on COM1; Multiboot: EAX magic then EBX;
 * PVH: EBX; 64-bit bzImage: RSI). Raw KVM ioctls, so this depends only on
 * memory.c and the loaders. Skips (77) without /dev/kvm.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <kestrel/memory.h>
#include <kestrel/x86/layout.h>

#include "../../../src/arch/x86/boot.h"
#include "../../../src/arch/x86/loader.h"
#include "../test.h"

#define RAM	(32ULL << 20)

static int kvm_fd = -1;
static u8 img[64 * 1024];
static struct x86_boot_entry last_entry;	/* of the last run_guest() */

struct port_write {
	u16 port;
	u8 size;
	u32 value;
};

/* Run a fresh VM until @n port writes happened (or anything else). */
static int run_guest(struct boot_config *cfg, const struct x86_boot_options *opts,
		     struct port_write *w, unsigned int n)
{
	struct kvm_userspace_memory_region mr = { 0 };
	const struct mem_region *r;
	struct address_space *as;
	struct x86_boot_entry e;
	struct kvm_cpuid2 *cpuid;
	struct kvm_run *run = MAP_FAILED;
	int vm = -1, vcpu = -1, ret = -1, mmap_size;
	unsigned int got = 0;
	char err[256];

	if (address_space_create(&as) || address_space_add_ram(as, 0, RAM, 0, NULL))
		return -1;
	if (x86_load_guest_opts(as, cfg, opts, &e, err, sizeof(err))) {
		report_info("load: %s", err);
		goto out;
	}
	last_entry = e;
	vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm < 0)
		goto out;
	ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	r = address_space_region(as, 0);
	mr.memory_size = r->size;
	mr.userspace_addr = (unsigned long)r->hva;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr))
		goto out;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || mmap_size <= 0)
		goto out;
	cpuid = calloc(1, sizeof(*cpuid) + 256 * sizeof(cpuid->entries[0]));
	cpuid->nent = 256;
	if (!ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid))
		ioctl(vcpu, KVM_SET_CPUID2, cpuid);
	free(cpuid);
	run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		goto out;
	ret = x86_boot_setup_vcpu(vcpu, &e);
	if (ret) {
		report_info("x86_boot_setup_vcpu: %s", strerror(-ret));
		goto out;
	}
	while (got < n) {
		if (ioctl(vcpu, KVM_RUN, 0) && errno != EINTR) {
			ret = -errno;
			break;
		}
		if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT) {
			report_info("exit reason %u after %u port writes", run->exit_reason, got);
			break;
		}
		w[got].port = run->io.port;
		w[got].size = run->io.size;
		w[got].value = 0;
		memcpy(&w[got].value, (u8 *)run + run->io.data_offset, run->io.size);
		got++;
	}
	ret = got;
out:
	if (run != MAP_FAILED)
		munmap(run, mmap_size);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	address_space_destroy(as);
	return ret;
}

/* mov $port,%dx; ...; out; hlt — encodings valid in every mode used here. */
static const u8 code16[] = { 0xba, 0xf8, 0x03, 0xb0, 'K', 0xee, 0xf4 };
/* Multiboot: out EAX; out EBX; out the first 4 bytes of the cmdline; out ESP */
static const u8 code32_mb[] = { 0x66, 0xba, 0xf4, 0x00, 0xef, 0x89, 0xd8, 0xef,
				0x8b, 0x43, 0x10, 0x8b, 0x00, 0xef, 0x89, 0xe0, 0xef, 0xf4 };
static const u8 code32_pvh[] = { 0x66, 0xba, 0xf4, 0x00, 0x89, 0xd8, 0xef, 0xf4 };
static const u8 code64[] = { 0x48, 0x89, 0xf0, 0x66, 0xba, 0xf4, 0x00, 0xef, 0xf4 };

static size_t mk_bz(bool is64)
{
	struct setup_header h = { 0 };
	size_t setup = 5 * 512, payload = 4096;

	memset(img, 0xf4, setup + payload);
	h.setup_sects = 4;
	h.syssize = payload / 16;
	h.boot_flag = SETUP_BOOT_FLAG;
	h.jump = 0xeb | ((0x26c - 0x202) << 8);
	h.header = SETUP_HDR_MAGIC;
	h.version = 0x020f;
	h.loadflags = LOADFLAG_LOADED_HIGH;
	h.code32_start = 0x100000;
	h.initrd_addr_max = 0x7fffffff;
	h.kernel_alignment = 0x200000;
	h.relocatable_kernel = 1;
	h.xloadflags = is64 ? XLF_KERNEL_64 : 0;
	h.cmdline_size = 255;
	memcpy(img + 0x1f1, &h, sizeof(h));
	memcpy(img + 0x26c, code16, sizeof(code16));
	/* jmp from 0x200 to 0x26c */
	img[0x200] = 0xeb;
	img[0x201] = 0x26c - 0x202;
	memcpy(img + setup + 0x200, code64, sizeof(code64));
	return setup + payload;
}

static void test_modes(void)
{
	struct boot_config cfg = { .nr_cpus = 1, .kernel = img };
	struct x86_boot_options real = { .bzimage_real_mode = true };
	struct port_write w[2];
	int n;

	cfg.kernel_size = mk_bz(false);
	n = run_guest(&cfg, NULL, w, 1);
	report(n == 1 && w[0].port == 0x3f8 && w[0].value == 'K',
	       "real mode: setup code writes to COM1");

	cfg.kernel_size = mk_bz(true);
	n = run_guest(&cfg, NULL, w, 1);
	report(n == 1 && w[0].port == 0xf4 && w[0].size == 4 &&
	       w[0].value == X86_BOOT_ZERO_PAGE_GPA, "64-bit bzImage: RSI = zero page (0x%x)",
	       n == 1 ? w[0].value : 0);
	n = run_guest(&cfg, &real, w, 1);
	report(n == 1 && w[0].port == 0x3f8 && w[0].value == 'K',
	       "64-bit bzImage entered in real mode on request");

	/*
	 * Multiboot a.out kludge, code right after the 32-byte header: linked
	 * at 1 MiB, and at 0x1000 where kestrel's boot data used to be.
	 */
	for (unsigned int i = 0; i < 2; i++) {
		u32 at = i ? 0x1000 : 0x100000, flags = 0x10003;
		u32 h[8] = { 0x1badb002, flags, -(0x1badb002u + flags), at, at, 0, 0, at + 32 };
		struct port_write mw[4];

		memset(img, 0xf4, 4096);
		memcpy(img, h, sizeof(h));
		memcpy(img + 32, code32_mb, sizeof(code32_mb));
		cfg.kernel_size = 4096;
		cfg.kernel_path = "/boot/mb.elf";
		cfg.cmdline = "arg";
		n = run_guest(&cfg, NULL, mw, 4);
		report(n == 4 && mw[0].value == 0x2badb002 && mw[1].value == last_entry.rbx &&
		       mw[1].value >= last_entry.data_start && mw[1].value < last_entry.data_end &&
		       (last_entry.data_start >= at + 4096 || last_entry.data_end <= at) &&
		       !memcmp(&mw[2].value, "/boo", 4) &&
		       mw[3].value > last_entry.data_start && mw[3].value <= last_entry.data_end,
		       "Multiboot at 0x%x runs: EAX magic, EBX info at 0x%x clear of the image, "
		       "cmdline begins with the path, ESP in the boot data", at,
		       n == 4 ? mw[1].value : 0);
		cfg.kernel_path = NULL;
		cfg.cmdline = NULL;
	}

	/* PVH: ELF32 with the entry note */
	{
		struct {
			u8 e_ident[16];
			u16 e_type, e_machine;
			u32 e_version, e_entry, e_phoff, e_shoff, e_flags;
			u16 e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
		} __packed eh = { { 0x7f, 'E', 'L', 'F', 1, 1, 1 }, 2, 3, 1, 0x1000000, 52, 0, 0,
				  52, 32, 2, 0, 0, 0 };
		u32 ph[2][8] = {
			{ 1 /* PT_LOAD */, 0x1000, 0x1000000, 0x1000000, 4096, 4096, 5, 4096 },
			{ 4 /* PT_NOTE */, 0x800, 0, 0, 20, 20, 4, 4 },
		};
		u32 note[5] = { 4, 4, 18, 0x006e6558 /* "Xen\0" */, 0x1000000 };

		memset(img, 0, 8192);
		memcpy(img, &eh, sizeof(eh));
		memcpy(img + 52, ph, sizeof(ph));
		memcpy(img + 0x800, note, sizeof(note));
		memset(img + 0x1000, 0xf4, 4096);
		memcpy(img + 0x1000, code32_pvh, sizeof(code32_pvh));
		cfg.kernel_size = 8192;
		n = run_guest(&cfg, NULL, w, 1);
		report(n == 1 && w[0].value == last_entry.rbx && w[0].value >= last_entry.data_start &&
		       w[0].value < last_entry.data_end, "PVH: EBX = start_info");
	}
}

/* The boot benchmark's image: marker on COM1, then the i8042 reset. */
static void test_nullkernel(void)
{
	static const char *const scripts[] = {
		"../shared/peers/boot/mk-nullkernel.sh",
		"/work/shared/peers/boot/mk-nullkernel.sh",
	};
	static const char marker[] = "GUEST-INIT-REACHED\n";
	struct boot_config cfg = { .nr_cpus = 1, .kernel = img };
	char dir[] = "/tmp/kestrel-nullkvm.XXXXXX", cmd[1024], path[512], got[64];
	struct port_write w[sizeof(marker)];
	const char *script = NULL;
	unsigned int i;
	FILE *f;
	int n;

	for (i = 0; i < ARRAY_SIZE(scripts); i++)
		if (!access(scripts[i], R_OK))
			script = scripts[i];
	if (!script || !mkdtemp(dir)) {
		report_skip("null kernel: mk-nullkernel.sh not found");
		return;
	}
	snprintf(path, sizeof(path), "%s/null.bzImage", dir);
	snprintf(cmd, sizeof(cmd), "OUT=%s sh %s >/dev/null 2>&1", path, script);
	f = system(cmd) ? NULL : fopen(path, "rb");
	if (f) {
		cfg.kernel_size = fread(img, 1, sizeof(img), f);
		fclose(f);
		n = run_guest(&cfg, NULL, w, ARRAY_SIZE(w));
		memset(got, 0, sizeof(got));
		for (i = 0; n > 0 && i < (unsigned int)n - 1 && i < sizeof(got) - 1; i++)
			got[i] = w[i].port == X86_COM1_PORT ? (char)w[i].value : '?';
		report(n == (int)ARRAY_SIZE(w) && !strcmp(got, marker) &&
		       w[n - 1].port == X86_I8042_CMD_PORT && w[n - 1].value == 0xfe,
		       "null kernel prints its marker and resets through the i8042");
	} else {
		report_skip("null kernel: as/ld/objcopy missing?");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		report_info("could not remove %s", dir);
}

int main(void)
{
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) {
		report_skip("/dev/kvm: %s", strerror(errno));
		return report_summary();
	}
	test_modes();
	test_nullkernel();
	close(kvm_fd);
	return report_summary();
}
