// SPDX-License-Identifier: GPL-2.0-only
/*
 * The measured launch's cost (docs/protected.md): the time from nothing
 * to the end of a guest whose image is IMAGE bytes (default 1 MiB), for
 * two guests: one that ends at its first instruction (null), and one
 * that first reads one word in each 4 KiB page of its image (touching),
 * as a real guest reads its whole image. Variants:
 *
 *   plain       machine_create() + vm_run() of a null Multiboot image of
 *               that size (the ordinary loader copies it into RAM): the
 *               null guest's anchor;
 *   plain-touch the touching Multiboot image: its entry goes to ring 3
 *               (2 MiB pages, its tables in the image) and reads one word
 *               per 4 KiB of the image there, natively, as a guest's own
 *               code does; then ends. The touching guest's anchor;
 *   stub-boot   kestrel's launch stub booted as an ordinary guest with no
 *               boot window (it refuses: status 85): the fixed cost of its
 *               supervisor start-up (guest/x86/launch-entry.S), emulated on
 *               PVM hosts;
 *   protected   the null image with --protected (RAM from 64 MiB in
 *               guest_memfd, the image still in shared RAM, no measurement);
 *   measured    --protected --measured with a null payload of the same
 *               size: the window filled by kestrel, the launch stub booted,
 *               the payload copied into private RAM and measured in ring 3
 *               (with x86's SHA extensions where CPUID offers them), the
 *               window zeroed and removed, the guest sealed, the payload
 *               run;
 *   measured-touch  the same with a payload that reads one word per 4 KiB
 *               of itself (in private RAM) before it returns;
 *   measured-8M the null payload at 8 MiB, and
 *   sealed-8M   an 8 MiB sealed image (AES-256-GCM decrypted in ring 3):
 *               from the differences to "measured", the guest's rate of
 *               copy + SHA-256 and of AES-256-GCM.
 *
 * Their anchors, measured in the same run on the host: OpenSSL's SHA-256
 * and AES-256-GCM over 8 MiB (memory speed, what "plus the hashing of the
 * image at memory speed" means), and the guest's own code
 * (guest/lib/sha256.c, sha256-x86.c, aes-gcm.c) built for the host. The
 * target of docs/protected.md, measured <= 1.2 x plain + the SHA-256 of
 * the image at OpenSSL's rate (best of 10 runs), is printed with both
 * sides for each guest: measured against plain, measured-touch against
 * plain-touch; and once more on the minima, which on a loaded host are
 * the least disturbed runs. Variants run alternately ITERATIONS times
 * (default 15); medians, and the page faults KVM took for the guest in
 * the last run (its pf_taken statistic: what the touching guests and the
 * copy into private RAM cost, and independent of the host's load).
 * Figures only.
 *
 *   launch_bench [ITERATIONS]
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <kestrel/compiler.h>
#include <kestrel/launch.h>
#include <kestrel/log.h>
#include <kestrel/machine.h>
#include <kestrel/vm.h>

#include "../guest/lib/crypto.h"
#include "../src/core/internal.h"

#define RAM_SIZE	(256ULL << 20)
#define SMALL		(1u << 20)
#define LARGE		(8u << 20)
#define LOAD_GPA	0x100000u

enum variant {
	PLAIN, PLAIN_TOUCH, STUB_BOOT, PROTECTED, MEASURED, MEASURED_TOUCH, MEASURED_8M, SEALED_8M,
	NR_VARIANTS
};

static const char *const names[NR_VARIANTS] = {
	"plain", "plain-touch", "stub-boot", "protected", "measured", "measured-touch",
	"measured-8M", "sealed-8M",
};

extern const unsigned char kestrel_launch_stub[];
extern const unsigned char kestrel_launch_stub_end[];

/*
 * The touching guests' code. Addresses in the assembler's terms (no C
 * suffixes): TG_* are the Multiboot image's layout, its code at TG_CODE
 * (= LOAD_GPA + 32, the a.out-kludge entry), its tables built by
 * make_touch_image().
 */
#define TG_IMAGE	0x100000	/* LOAD_GPA */
#define TG_PAGES	0x100		/* SMALL / 4 KiB */
#define TG_CODE		0x100020
#define TG_PML4		0x101000
#define TG_PDPT		0x102000
#define TG_PD		0x103000
#define TG_GDT		0x104000
#define TG_GDT_DESC	0x104040
#define TG_IDT_DESC	0x104080
#define TG_TSS		0x104100
#define TG_IDT		0x104200
#define TG_KSTACK_TOP	0x106000
#define TG_USTACK_TOP	0x107000
#define XSTR(x)		STR(x)
#define STR(x)		#x

/*
 * touch_guest: from Multiboot's 32-bit entry to long mode and ring 3,
 * where it reads one word per 4 KiB of the image; its ud2 ends the run
 * through the #UD handler (status 1), any other exception with status 5.
 * touch_payload: a measured-launch payload (ring 3, anywhere) that reads
 * one word per 4 KiB of its SMALL bytes, then returns 0.
 */
__asm__(
	"	.pushsection .rodata.touch_guest, \"a\"\n"
	"	.globl touch_guest, touch_guest_ud, touch_guest_fault, touch_guest_end\n"
	"	.code32\n"
	"touch_guest:\n"
	"	lgdt	" XSTR(TG_GDT_DESC) "\n"
	"	mov	$" XSTR(TG_PML4) ", %eax\n"
	"	mov	%eax, %cr3\n"
	"	mov	$0x20, %eax\n"				/* PAE */
	"	mov	%eax, %cr4\n"
	"	mov	$0xc0000080, %ecx\n"			/* EFER.LME */
	"	mov	$0x100, %eax\n"
	"	xor	%edx, %edx\n"
	"	wrmsr\n"
	"	mov	$0x80000011, %eax\n"			/* PG | ET | PE */
	"	mov	%eax, %cr0\n"
	"	ljmp	$0x08, $(" XSTR(TG_CODE) " + .Ltg64 - touch_guest)\n"
	"	.code64\n"
	".Ltg64:\n"
	"	lidt	" XSTR(TG_IDT_DESC) "\n"
	"	mov	$0x28, %eax\n"
	"	ltr	%ax\n"
	"	mov	$" XSTR(TG_KSTACK_TOP) ", %esp\n"
	"	pushq	$0x1b\n"				/* to ring 3 */
	"	pushq	$" XSTR(TG_USTACK_TOP) "\n"
	"	pushq	$0x2\n"
	"	pushq	$0x23\n"
	"	pushq	$(" XSTR(TG_CODE) " + .Ltguser - touch_guest)\n"
	"	iretq\n"
	".Ltguser:\n"
	"	mov	$" XSTR(TG_IMAGE) ", %esi\n"
	"	mov	$" XSTR(TG_PAGES) ", %ecx\n"
	"1:	mov	(%rsi), %eax\n"
	"	add	$0x1000, %rsi\n"
	"	dec	%ecx\n"
	"	jnz	1b\n"
	"	ud2\n"
	"touch_guest_ud:\n"
	"	mov	$0, %al\n"
	"	out	%al, $0xf4\n"
	"	hlt\n"
	"touch_guest_fault:\n"
	"	mov	$2, %al\n"
	"	out	%al, $0xf4\n"
	"	hlt\n"
	"touch_guest_end:\n"
	"	.globl touch_payload, touch_payload_end\n"
	"touch_payload:\n"
	"	lea	-7(%rip), %rsi\n"			/* its own first byte */
	"	mov	$" XSTR(TG_PAGES) ", %ecx\n"
	"1:	mov	(%rsi), %eax\n"
	"	add	$0x1000, %rsi\n"
	"	dec	%ecx\n"
	"	jnz	1b\n"
	"	xor	%eax, %eax\n"
	"	ret\n"
	"touch_payload_end:\n"
	"	.popsection\n");

extern const u8 touch_guest[], touch_guest_ud[], touch_guest_fault[], touch_guest_end[];
extern const u8 touch_payload[], touch_payload_end[];

static u8 *multiboot, *multiboot_touch, *payload, *payload_touch, *payload_8m, *sealed_8m;
static const u8 key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

/* Page faults KVM took for vCPU 0 in each variant's last run (-1: unknown). */
static s64 faults[NR_VARIANTS];

/*
 * KVM's pf_taken for @vcpu (its binary statistics, KVM_GET_STATS_FD):
 * how many guest page faults reached KVM's MMU. -1 if KVM has no such
 * statistic.
 */
static s64 vcpu_faults(const struct vcpu *vcpu)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	s64 ret = -1;
	size_t dsz;
	char *descs;
	int fd = ioctl(vcpu->fd, KVM_GET_STATS_FD, NULL);

	if (fd < 0)
		return -1;
	if (pread(fd, &h, sizeof(h), 0) != sizeof(h))
		goto out;
	dsz = sizeof(*d) + h.name_size;
	descs = malloc(dsz * h.num_desc);
	if (!descs)
		goto out;
	if (pread(fd, descs, dsz * h.num_desc, h.desc_offset) == (ssize_t)(dsz * h.num_desc)) {
		for (u32 i = 0; i < h.num_desc; i++) {
			u64 v;

			d = (struct kvm_stats_desc *)(descs + i * dsz);
			if (strncmp(d->name, "pf_taken", h.name_size))
				continue;
			if (pread(fd, &v, sizeof(v), h.data_offset + d->offset) == sizeof(v))
				ret = (s64)v;
			break;
		}
	}
	free(descs);
out:
	close(fd);
	return ret;
}

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

static void put64(u8 *image, u32 gpa, u64 v)
{
	memcpy(image + (gpa - TG_IMAGE), &v, sizeof(v));
}

/* A 64-bit interrupt gate to touch_guest's @handler, DPL 0. */
static void put_gate(u8 *image, unsigned int vec, const u8 *handler)
{
	u64 addr = TG_CODE + (u64)(handler - touch_guest);

	put64(image, TG_IDT + 16 * vec,
	      (addr & 0xffff) | 0x08ull << 16 | 0x8e00ull << 32 | (addr >> 16 & 0xffff) << 48);
	put64(image, TG_IDT + 16 * vec + 8, addr >> 32);
}

/*
 * The touching Multiboot image: @image holds the header; add the code and
 * its tables. Identity map of RAM in 2 MiB user pages; GDT as the launch
 * stub's (kernel code 0x08, data 0x10, user data 0x1b, user code 0x23,
 * TSS 0x28); the TSS's RSP0 where ring 3's #UD lands.
 */
static void make_touch_image(u8 *image)
{
	static const u64 gdt[5] = {
		0, 0x00af9b000000ffffull, 0x00cf93000000ffffull, 0x00cff3000000ffffull,
		0x00affb000000ffffull,
	};
	u64 tss = TG_TSS;

	memcpy(image + (TG_CODE - TG_IMAGE), touch_guest, (size_t)(touch_guest_end - touch_guest));
	put64(image, TG_PML4, TG_PDPT | 7);
	put64(image, TG_PDPT, TG_PD | 7);
	for (u64 i = 0; i < RAM_SIZE >> 21; i++)
		put64(image, TG_PD + 8 * i, i << 21 | 0x87);
	memcpy(image + (TG_GDT - TG_IMAGE), gdt, sizeof(gdt));
	/* 0x28: a 64-bit available TSS, limit 103 (Intel SDM vol. 3 §8.2.3) */
	put64(image, TG_GDT + 0x28,
	      103 | (tss & 0xffffff) << 16 | 0x89ull << 40 | (tss >> 24 & 0xff) << 56);
	put64(image, TG_GDT_DESC, (sizeof(gdt) + 16 - 1) | (u64)TG_GDT << 16);
	put64(image, TG_IDT_DESC, (32 * 16 - 1) | (u64)TG_IDT << 16);
	put64(image, TG_TSS + 4, TG_KSTACK_TOP);		/* RSP0 */
	put64(image, TG_TSS + 96, 104ull << 48);		/* no I/O bitmap */
	for (unsigned int v = 0; v < 32; v++)
		put_gate(image, v, v == 6 ? touch_guest_ud : touch_guest_fault);
}

/*
 * Multiboot v1 images of SMALL bytes, a.out-kludge addresses (loaded as
 * is at 1 MiB), whose code ends the run (mov $0, %al; out %al, $0xf4) or
 * first touches the image (make_touch_image()); the payloads likewise.
 */
static void make_images(void)
{
	static const u32 mb[8] = {
		0x1badb002u, 1u << 16, (u32)-(0x1badb002u + (1u << 16)),
		LOAD_GPA, LOAD_GPA, 0, 0, LOAD_GPA + 32,
	};
	static const u8 code[] = { 0xb0, 0x00, 0xe6, 0xf4, 0xf4, 0xeb, 0xfe };
	/* The payload: xor %eax, %eax; ret (the stub ends the run with it). */
	static const u8 ret0[] = { 0x31, 0xc0, 0xc3 };

	_Static_assert(TG_IMAGE == LOAD_GPA && TG_CODE == LOAD_GPA + 32 && TG_PAGES == SMALL >> 12,
		       "the touching guest's layout");
	multiboot = calloc(1, SMALL);
	multiboot_touch = calloc(1, SMALL);
	payload = calloc(1, SMALL);
	payload_touch = calloc(1, SMALL);
	payload_8m = calloc(1, LARGE);
	sealed_8m = calloc(1, LARGE + sizeof(struct sealed_header));
	if (!multiboot || !multiboot_touch || !payload || !payload_touch || !payload_8m ||
	    !sealed_8m)
		exit(1);
	memcpy(multiboot, mb, sizeof(mb));
	memcpy(multiboot + 32, code, sizeof(code));
	memcpy(multiboot_touch, mb, sizeof(mb));
	make_touch_image(multiboot_touch);
	memcpy(payload, ret0, sizeof(ret0));
	memcpy(payload_touch, touch_payload, (size_t)(touch_payload_end - touch_payload));
	memcpy(payload_8m, ret0, sizeof(ret0));
	for (u32 i = sizeof(ret0); i < LARGE; i++)
		payload_8m[i] = (u8)(i * 7);
	if (launch_seal_image(key, payload_8m, LARGE, sealed_8m))
		exit(1);
}

/* One run to the guest's end; ns, or a negative errno. */
static s64 run_one(enum variant v)
{
	static const struct {
		u8 **image;
		size_t size;
		bool protected, measured;
	} def[NR_VARIANTS] = {
		[PLAIN] = { &multiboot, SMALL, false, false },
		[PLAIN_TOUCH] = { &multiboot_touch, SMALL, false, false },
		[STUB_BOOT] = { NULL, 0, false, false },
		[PROTECTED] = { &multiboot, SMALL, true, false },
		[MEASURED] = { &payload, SMALL, true, true },
		[MEASURED_TOUCH] = { &payload_touch, SMALL, true, true },
		[MEASURED_8M] = { &payload_8m, LARGE, true, true },
		[SEALED_8M] = { &sealed_8m, LARGE + sizeof(struct sealed_header), true, true },
	};
	struct machine_config cfg = {
		.ram_size = RAM_SIZE, .nr_cpus = 1, .console_in = -1, .console_out = -1,
		.protected = def[v].protected, .measured = def[v].measured,
		.kernel = def[v].image ? *def[v].image : kestrel_launch_stub,
		.kernel_size = def[v].image ? def[v].size :
			       (size_t)(kestrel_launch_stub_end - kestrel_launch_stub),
		.image_key = v == SEALED_8M ? key : NULL,
		.kernel_name = names[v],
	};
	struct machine *m;
	u64 t0 = now_ns();
	int status, want = v == STUB_BOOT ? LAUNCH_EXIT_STATUS(LAUNCH_REFUSE_MALFORMED) : 1;
	s64 ret;

	ret = machine_create(&cfg, &m);
	if (ret)
		return ret;
	status = machine_run(m);
	ret = (s64)(now_ns() - t0);
	faults[v] = vcpu_faults(machine_vm(m)->vcpus[0]);
	machine_destroy(m);
	if (status != want) {
		fprintf(stderr, "launch_bench: %s ended with status %d, not %d\n", names[v], status,
			want);
		return -EIO;
	}
	return ret;
}

static int cmp_s64(const void *a, const void *b)
{
	s64 x = *(const s64 *)a, y = *(const s64 *)b;

	return (x > y) - (x < y);
}

static double median_us(s64 *t, unsigned int n)
{
	qsort(t, n, sizeof(*t), cmp_s64);
	return (n % 2 ? (double)t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2.0) / 1000.0;
}

/* MB/s of @fn over LARGE bytes, best of @tries. */
static double host_rate(void (*fn)(u8 *buf), int tries)
{
	u8 *buf = malloc(LARGE);
	u64 best = ~0ull;

	if (!buf)
		exit(1);
	memcpy(buf, payload_8m, LARGE);
	for (int i = 0; i < tries; i++) {
		u64 t0 = now_ns();

		fn(buf);
		best = MIN(best, now_ns() - t0);
	}
	free(buf);
	return LARGE / (best / 1e3);
}

static void openssl_sha(u8 *buf)
{
	u8 out[32];
	unsigned int n;

	EVP_Digest(buf, LARGE, out, &n, EVP_sha256(), NULL);
}

static void guest_sha(u8 *buf)
{
	struct sha256 s;
	u8 out[32];

	sha256_init(&s);
	sha256_update(&s, buf, LARGE);
	sha256_final(&s, out);
}

static void guest_sha_x86(u8 *buf)
{
	struct sha256 s;
	u8 out[32];

	sha256_init(&s);
	s.blocks = sha256_blocks_x86;
	sha256_update(&s, buf, LARGE);
	sha256_final(&s, out);
}

static void openssl_gcm(u8 *buf)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	u8 iv[12] = { 0 }, tag[16];
	int n;

	EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv);
	EVP_EncryptUpdate(c, buf, &n, buf, LARGE);
	EVP_EncryptFinal_ex(c, buf, &n);
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
	EVP_CIPHER_CTX_free(c);
}

static void guest_gcm(u8 *buf)
{
	u8 iv[12] = { 0 }, tag[16];

	aes256_gcm_encrypt(key, iv, NULL, 0, buf, LARGE, tag);
}

/* The target for one guest: @measured <= 1.2 x @plain + SMALL at @sha MB/s. */
static void print_target(const char *guest, const char *mname, double measured,
			 const char *pname, double plain, double sha)
{
	double target = 1.2 * plain + SMALL / sha;

	printf("   target, %s: %s <= 1.2 x %s + SHA-256 of 1 MiB at OpenSSL's rate = 1.2 x %.2f + %.2f = %.2f ms; %s %.2f ms (%.2f x the target): %s\n",
	       guest, mname, pname, plain / 1e3, SMALL / sha / 1e3, target / 1e3, mname,
	       measured / 1e3, measured / target, measured <= target ? "met" : "not met");
}

int main(int argc, char **argv)
{
	unsigned int n = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0) : 15;
	s64 *t[NR_VARIANTS];
	double med[NR_VARIANTS], lo[NR_VARIANTS], mb = LARGE / 1e6, extra = (LARGE - SMALL) / 1e6;
	double sha_ossl, sha_c, sha_x86, per_mb;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("   SKIP: no usable /dev/kvm (%s)\n", strerror(errno));
		return 0;
	}
	close(fd);
	if (!n || n > 10000) {
		fprintf(stderr, "usage: launch_bench [ITERATIONS (1..10000)]\n");
		return 2;
	}
	log_level_set(LOG_WARN);
	make_images();
	for (int v = 0; v < NR_VARIANTS; v++)
		if (!(t[v] = calloc(n, sizeof(s64))))
			return 1;
	/* Round 0 warms up and is not counted. */
	for (unsigned int i = 0; i <= n; i++) {
		for (int v = 0; v < NR_VARIANTS; v++) {
			s64 ns = run_one((enum variant)v);

			if (ns == -EOPNOTSUPP && !i) {
				printf("   SKIP: KVM has no guest_memfd with GUEST_MEMFD_FLAG_MMAP\n");
				return 0;
			}
			if (ns < 0) {
				fprintf(stderr, "launch_bench: %s failed: %s\n", names[v],
					strerror((int)-ns));
				return 1;
			}
			if (i)
				t[v][i - 1] = ns;
		}
	}
	for (int v = 0; v < NR_VARIANTS; v++) {
		med[v] = median_us(t[v], n);
		lo[v] = t[v][0] / 1000.0;
		printf("   %-14s median %9.1f us  (min %.1f, max %.1f)  %lld page faults\n", names[v],
		       med[v], t[v][0] / 1000.0, t[v][n - 1] / 1000.0, (long long)faults[v]);
		free(t[v]);
	}
	sha_ossl = host_rate(openssl_sha, 10);
	sha_c = host_rate(guest_sha, 3);
	sha_x86 = sha256_x86_usable(sha256_x86_host_features()) ? host_rate(guest_sha_x86, 10) : 0.0;
	per_mb = (med[MEASURED_8M] - med[MEASURED]) / extra;
	printf("   1 MiB image, start to end, median of %u: protected/plain %.2f, measured/plain %.2f, measured-touch/plain-touch %.2f; stub-boot/plain %.2f (its image: %zu KiB)\n",
	       n, med[PROTECTED] / med[PLAIN], med[MEASURED] / med[PLAIN],
	       med[MEASURED_TOUCH] / med[PLAIN_TOUCH], med[STUB_BOOT] / med[PLAIN],
	       (size_t)(kestrel_launch_stub_end - kestrel_launch_stub) >> 10);
	printf("   the guest's first read of each page of its 1 MiB image: %.2f ms in ordinary RAM the loader filled (plain-touch - plain), %.2f ms in private RAM the stub wrote (measured-touch - measured)\n",
	       (med[PLAIN_TOUCH] - med[PLAIN]) / 1e3, (med[MEASURED_TOUCH] - med[MEASURED]) / 1e3);
	print_target("null guest", "measured", med[MEASURED], "plain", med[PLAIN], sha_ossl);
	print_target("touching guest", "measured-touch", med[MEASURED_TOUCH], "plain-touch",
		     med[PLAIN_TOUCH], sha_ossl);
	printf("   the same on the least disturbed runs (minima, for a loaded host): measured %.2f ms against %.2f, measured-touch %.2f ms against %.2f\n",
	       lo[MEASURED] / 1e3, (1.2 * lo[PLAIN] + SMALL / sha_ossl) / 1e3,
	       lo[MEASURED_TOUCH] / 1e3, (1.2 * lo[PLAIN_TOUCH] + SMALL / sha_ossl) / 1e3);
	printf("   measured launch per extra MB (8M - 1M): %.2f ms (%.0f MB/s), of which %.2f ms the guest's SHA-256 at its rate on the host, the rest the window's fill and zeroing and the copy into fresh private pages\n",
	       per_mb / 1e3, 1e6 / per_mb, 1e3 / (sha_x86 ? sha_x86 : sha_c));
	printf("   AES-256-GCM in ring 3: %.1f MB/s\n",
	       mb / ((med[SEALED_8M] - med[MEASURED_8M]) / 1e6));
	printf("   anchors on the host, 8 MiB: SHA-256 OpenSSL %.0f MB/s, guest C %.0f MB/s, guest x86 SHA extensions %.0f MB/s; AES-256-GCM OpenSSL %.0f MB/s, guest C %.1f MB/s\n",
	       sha_ossl, sha_c, sha_x86, host_rate(openssl_gcm, 10), host_rate(guest_gcm, 3));
	return 0;
}
