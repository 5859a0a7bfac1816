// SPDX-License-Identifier: GPL-2.0-only
/*
 * The launch stub of a protected guest's measured launch
 * (docs/protected.md), embedded in kestrel (src/launch-stub.S) and loaded
 * like any Multiboot guest into shared RAM. kestrel puts the payload, its
 * command line, initrd, the expected measurement and a sealed image's key
 * into the boot window (struct launch_window, include/kestrel/launch.h).
 *
 * In ring 3 (native on every host; supervisor code is emulated on PVM and
 * cannot reach private RAM), on a stack in private RAM, the stub copies
 * all of it into private RAM, computes the launch measurement over the
 * copies, compares it with the expected one, and for a sealed image
 * authenticates and decrypts it in place. Refusals end the guest through
 * debug-exit (LAUNCH_REFUSE_*). Then it tells kestrel through the launch
 * port, and kestrel zeroes and removes the window and seals the guest
 * before this vCPU runs again. Last, the payload: entered at its first
 * byte in ring 3 with a struct launch_info (or at CPL 0 with
 * LAUNCH_F_SUPERVISOR, for VMX/SVM hosts, where every access is native);
 * what it returns is the guest's exit code.
 */
#include "crypto.h"
#include "guest.h"
#include "x86/desc.h"
#include "x86/multiboot.h"
#include "x86/processor.h"
#include "x86/smp.h"

#define LAUNCH_FORMATS_ONLY
#include <kestrel/launch.h>
#include <kestrel/x86/layout.h>

#define SZ_2M		0x200000ull
#define ALIGN_2M(x)	(((x) + SZ_2M - 1) & ~(SZ_2M - 1))

u64 __run_in_user(u64 (*fn)(void *), void *arg, u64 user_rsp, u64 *rsp0, unsigned int cpu);

/*
 * What ring 3 needs from supervisor code and gives back: nothing secret
 * (this is shared RAM): the measurement is public, the key stays in
 * private RAM.
 */
static struct launch_ctx {
	u64 ram_end;
	u64 flags;
	u8 measurement[SHA256_LEN];
	int refuse;
	const char *why;
} ctx;

/* The private launch area: struct launch_info, then the window's header. */
#define INFO		((struct launch_info *)X86_LAUNCH_AREA_GPA)
#define HDR		((struct launch_window *)(X86_LAUNCH_AREA_GPA + 0x1000))
#define SEALED_HDR	((struct sealed_header *)(X86_LAUNCH_AREA_GPA + 0x2000))
#define WINDOW		((const u8 *)X86_BOOT_WINDOW_GPA)

/*
 * Ring 3 through a trampoline that clears the caller-saved registers on
 * the way out: the #UD that ends ring 3 saves them all on the (shared)
 * kernel stack. The callee-saved ones come back as they went in.
 */
u64 (*launch_tramp_fn)(void *);
u64 launch_tramp(void *arg);
__asm__(".text\n"
	"launch_tramp:\n"
	"	push %rbp\n"
	"	call *launch_tramp_fn(%rip)\n"
	"	xor %ecx, %ecx\n	xor %edx, %edx\n	xor %esi, %esi\n	xor %edi, %edi\n"
	"	xor %r8d, %r8d\n	xor %r9d, %r9d\n	xor %r10d, %r10d\n	xor %r11d, %r11d\n"
	"	pop %rbp\n"
	"	ret\n");

static u64 run_private(u64 (*fn)(void *), void *arg)
{
	unsigned int cpu = smp_id();

	launch_tramp_fn = fn;
	return __run_in_user(launch_tramp, arg, X86_LAUNCH_STACK_TOP, tss_rsp0_slot(cpu), cpu);
}

static void copy(void *dst, const void *src, u64 n)
{
	u64 *d = dst;
	const u64 *s = src;

	for (; n >= 8; n -= 8)
		*d++ = *s++;
	for (u8 *db = (u8 *)d, *sb = (u8 *)s; n; n--)
		*db++ = *sb++;
}

static void put_len(struct sha256 *s, u64 len)
{
	u8 le[8];

	for (unsigned int i = 0; i < 8; i++)
		le[i] = (u8)(len >> (8 * i));
	sha256_update(s, le, 8);
}

static u64 refuse(int code, const char *why)
{
	ctx.refuse = code;
	ctx.why = why;
	return 1;
}

/*
 * The payload's gate (struct launch_info): a ud2 in shared RAM that the
 * #UD handler below recognises by its address, then does the access at
 * CPL 0 and returns past it with the result in RAX.
 */
u64 launch_gate(u64 op, u64 addr, u64 value);
extern const char launch_gate_ud2[];
__asm__(".text\n"
	".globl launch_gate, launch_gate_ud2\n"
	"launch_gate:\n"
	"launch_gate_ud2:\n"
	"	ud2\n"
	"	ret\n");

static void gate_ud(struct ex_regs *r)
{
	u16 port = (u16)r->rsi;

	if ((r->cs & 3) != 3 || r->rip != (u64)launch_gate_ud2) {
		printf("FAIL: unexpected #UD at rip %#lx\n", r->rip);
		guest_exit(1);
	}
	switch (r->rdi) {
	case LAUNCH_GATE_OUT8: outb(port, (u8)r->rdx); break;
	case LAUNCH_GATE_OUT16: outw(port, (u16)r->rdx); break;
	case LAUNCH_GATE_OUT32: outl(port, (u32)r->rdx); break;
	case LAUNCH_GATE_IN8: r->rax = inb(port); break;
	case LAUNCH_GATE_IN16: r->rax = inw(port); break;
	case LAUNCH_GATE_IN32: r->rax = inl(port); break;
	case LAUNCH_GATE_READ64:
		/* Only the hole below 4 GiB (mapped, not RAM): no way into RAM. */
		r->rax = r->rsi >= X86_RAM_32BIT_END && r->rsi <= X86_HIGH_RAM_START - 8 ?
			 *(const volatile u64 *)r->rsi : ~0ull;
		break;
	default:
		r->rax = ~0ull;
	}
	r->rip += 2;
}

/* A region of the window: inside it, and not wrapping. */
static bool in_window(u64 off, u64 len)
{
	return off >= LAUNCH_WINDOW_HDR && off <= X86_BOOT_WINDOW_MAX &&
	       len <= X86_BOOT_WINDOW_MAX - off;
}

/* Ring 3: copy, measure, check, decrypt. 0, or refuse() said why. */
static u64 user_launch(void *arg)
{
	struct launch_window *h = HDR;
	struct launch_info *info = INFO;
	u64 payload = X86_LAUNCH_PAYLOAD_GPA, initrd, end, len;
	u8 *cmdline = (u8 *)X86_LAUNCH_CMDLINE_GPA;
	struct sha256 s;
	u8 diff = 0;

	/* Everything is read once, into private RAM, and used from there. */
	copy(h, WINDOW, sizeof(*h));
	if (h->magic != LAUNCH_WINDOW_MAGIC || h->version != LAUNCH_WINDOW_VERSION)
		return refuse(LAUNCH_REFUSE_MALFORMED, "no launch window");
	if (!in_window(h->image_off, h->image_len) || !in_window(h->cmdline_off, h->cmdline_len) ||
	    !in_window(h->initrd_off, h->initrd_len) || h->cmdline_len >= X86_LAUNCH_CMDLINE_MAX ||
	    !h->image_len)
		return refuse(LAUNCH_REFUSE_MALFORMED, "a region outside the window");
	initrd = ALIGN_2M(payload + h->image_len);
	end = ALIGN_2M(initrd + h->initrd_len);
	if (end > ctx.ram_end)
		return refuse(LAUNCH_REFUSE_MALFORMED, "the image and initrd do not fit in private RAM");
	ctx.flags = h->flags;

	copy(cmdline, WINDOW + h->cmdline_off, h->cmdline_len);
	cmdline[h->cmdline_len] = 0;
	len = h->image_len;
	if (h->flags & LAUNCH_F_SEALED) {
		/* The header apart, the ciphertext where the plaintext will be. */
		if (len < sizeof(struct sealed_header))
			return refuse(LAUNCH_REFUSE_MALFORMED, "the sealed image is too short");
		copy(SEALED_HDR, WINDOW + h->image_off, sizeof(struct sealed_header));
		copy((void *)payload, WINDOW + h->image_off + sizeof(struct sealed_header),
		     len - sizeof(struct sealed_header));
	} else {
		copy((void *)payload, WINDOW + h->image_off, len);
	}
	copy((void *)initrd, WINDOW + h->initrd_off, h->initrd_len);

	sha256_init(&s);
	sha256_update(&s, LAUNCH_MEASURE_TAG, 8);
	put_len(&s, len);
	if (h->flags & LAUNCH_F_SEALED) {
		sha256_update(&s, SEALED_HDR, sizeof(struct sealed_header));
		sha256_update(&s, (void *)payload, len - sizeof(struct sealed_header));
	} else {
		sha256_update(&s, (void *)payload, len);
	}
	put_len(&s, h->cmdline_len);
	sha256_update(&s, cmdline, h->cmdline_len);
	put_len(&s, h->initrd_len);
	sha256_update(&s, (void *)initrd, h->initrd_len);
	sha256_final(&s, info->measurement);
	copy(ctx.measurement, info->measurement, SHA256_LEN);

	if (h->flags & LAUNCH_F_EXPECT) {
		for (unsigned int i = 0; i < SHA256_LEN; i++)
			diff |= info->measurement[i] ^ h->expect[i];
		if (diff)
			return refuse(LAUNCH_REFUSE_MEASUREMENT, "not the expected measurement");
	}
	if (h->flags & LAUNCH_F_SEALED) {
		struct sealed_header *sh = SEALED_HDR;
		int bad;

		if (sh->magic != SEALED_MAGIC || sh->version != SEALED_VERSION || sh->flags ||
		    sh->length != len - sizeof(*sh)) {
			crypto_wipe(h->key, sizeof(h->key));
			return refuse(LAUNCH_REFUSE_MALFORMED, "not a sealed image");
		}
		bad = aes256_gcm_decrypt(h->key, sh->nonce, sh, SEALED_AAD_LEN, (void *)payload,
					 sh->length, sh->tag);
		crypto_wipe(h->key, sizeof(h->key));
		if (bad)
			return refuse(LAUNCH_REFUSE_SEALED,
				      "the sealed image does not authenticate (changed, or another key)");
	}
	*info = (struct launch_info){
		.magic = LAUNCH_INFO_MAGIC, .flags = h->flags,
		.cmdline = (u64)cmdline, .cmdline_len = h->cmdline_len,
		.initrd = h->initrd_len ? initrd : 0, .initrd_len = h->initrd_len,
		.free_start = end, .ram_end = ctx.ram_end, .window = X86_BOOT_WINDOW_GPA,
		.gate = (u64)launch_gate,
	};
	copy(info->measurement, ctx.measurement, SHA256_LEN);
	return 0;
}

/*
 * The window sits above 3 GiB, which start.S maps uncached: map its 2 MiB
 * pages write-back, as RAM is, before ring 3 reads it.
 */
static void window_cacheable(void)
{
	u64 *pdpt = (u64 *)(((u64 *)read_cr3())[0] & ~0xfffull);
	u64 *pd = (u64 *)(pdpt[0] & ~0xfffull);

	for (u64 a = X86_BOOT_WINDOW_GPA; a < X86_BOOT_WINDOW_GPA + X86_BOOT_WINDOW_MAX; a += SZ_2M)
		pd[a >> 21] = a | 0x87;
	__asm__ __volatile__("mov %0, %%cr3" : : "r"(read_cr3()) : "memory");
}

/* The end of the RAM that holds private RAM's start, from the memory map. */
static u64 private_ram_end(const struct mb_info *mbi)
{
	u64 p = mbi->mmap_addr, end = mbi->mmap_addr + (u64)mbi->mmap_length;

	if (!(mbi->flags & MB_INFO_MMAP))
		return 0;
	while (p + sizeof(struct mb_mmap_entry) <= end) {
		const struct mb_mmap_entry *e = (const struct mb_mmap_entry *)p;

		if (e->type == MB_MMAP_AVAILABLE && e->addr <= X86_PRIVATE_RAM_START &&
		    e->addr + e->len > X86_PRIVATE_RAM_START)
			return MIN(e->addr + e->len, X86_RAM_32BIT_END);
		p += e->size + 4;
	}
	return 0;
}

typedef u64 (*payload_fn)(const struct launch_info *);

int main(void)
{
	const struct mb_info *mbi = multiboot_info();
	payload_fn entry = (payload_fn)X86_LAUNCH_PAYLOAD_GPA;
	u64 ret;

	ctx.ram_end = mbi ? private_ram_end(mbi) : 0;
	if (!ctx.ram_end) {
		printf("launch: no private RAM in the memory map: refused\n");
		guest_exit(LAUNCH_REFUSE_MALFORMED);
	}
	window_cacheable();
	handle_exception(UD_VECTOR, gate_ud);
	ret = run_private(user_launch, NULL);
	printf("launch: measurement ");
	for (unsigned int i = 0; i < SHA256_LEN; i++)
		printf("%02x", ctx.measurement[i]);
	printf("\n");
	if (ret) {
		printf("launch: refused: %s\n", ctx.why);
		guest_exit(ctx.refuse);
	}
	/* kestrel removes the window and seals before this returns. */
	outl(X86_LAUNCH_PORT, LAUNCH_PORT_DONE);
	printf("launch: sealed, entering the payload at %#lx%s\n", (u64)entry,
	       ctx.flags & LAUNCH_F_SUPERVISOR ? " at CPL 0" : "");
	if (ctx.flags & LAUNCH_F_SUPERVISOR)
		ret = entry(INFO);
	else
		ret = run_private((u64 (*)(void *))entry, INFO);
	guest_exit((int)ret);
}
