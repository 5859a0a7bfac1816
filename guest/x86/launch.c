// SPDX-License-Identifier: GPL-2.0-only
/*
 * The launch stub of a protected guest's measured launch
 * (docs/protected.md), embedded in kestrel (src/launch-stub.S) and loaded
 * like any Multiboot guest into shared RAM. kestrel puts the payload, its
 * command line, initrd, the expected measurement and a sealed image's key
 * into the boot window (struct launch_window, include/kestrel/launch.h).
 *
 * The stub is not built on the guest library: its supervisor part
 * (launch-entry.S) is a few dozen instructions, since on PVM hosts every
 * one is emulated. This file is what runs in ring 3 (native on every
 * host; supervisor code cannot reach private RAM on PVM), on a stack in
 * private RAM: launch_user() copies everything from the window into
 * private RAM, computes the launch measurement over the copies, compares
 * it with the expected one, and for a sealed image authenticates and
 * decrypts it in place. It leaves the measurement and any refusal's reason
 * in the window's header for kestrel to print, and prints nothing itself.
 * Its result goes to launch-entry.S's #UD handler: a refusal ends the guest
 * through debug-exit (LAUNCH_REFUSE_*), success goes to kestrel through
 * the launch port, and kestrel zeroes and removes the window and seals the
 * guest before this vCPU runs again. Last, the payload: entered at its
 * first byte in ring 3 with a struct launch_info (or at CPL 0 with
 * LAUNCH_F_SUPERVISOR, for VMX/SVM hosts, where every access is native);
 * what it returns is the guest's exit code.
 */
#include "crypto.h"
#include "guest.h"
#include "launch-defs.h"
#include "x86/multiboot.h"

#define LAUNCH_FORMATS_ONLY
#include <kestrel/launch.h>
#include <kestrel/x86/layout.h>

_Static_assert(LS_LAUNCH_AREA == X86_LAUNCH_AREA_GPA && LS_STACK_TOP == X86_LAUNCH_STACK_TOP &&
	       LS_PAYLOAD == X86_LAUNCH_PAYLOAD_GPA && LS_WINDOW == X86_BOOT_WINDOW_GPA &&
	       LS_WINDOW_MAX == X86_BOOT_WINDOW_MAX && LS_RAM_32BIT_END == X86_RAM_32BIT_END &&
	       LS_HIGH_RAM_START == X86_HIGH_RAM_START && LS_LAUNCH_PORT == X86_LAUNCH_PORT &&
	       LS_DEBUG_EXIT_PORT == X86_DEBUG_EXIT_PORT &&
	       LS_I8042_CMD_PORT == X86_I8042_CMD_PORT, "launch-defs.h matches layout.h");
_Static_assert(LS_PORT_DONE == LAUNCH_PORT_DONE && LS_F_SUPERVISOR == LAUNCH_F_SUPERVISOR &&
	       LS_GATE_OUT8 == LAUNCH_GATE_OUT8 && LS_GATE_OUT16 == LAUNCH_GATE_OUT16 &&
	       LS_GATE_OUT32 == LAUNCH_GATE_OUT32 && LS_GATE_IN8 == LAUNCH_GATE_IN8 &&
	       LS_GATE_IN16 == LAUNCH_GATE_IN16 && LS_GATE_IN32 == LAUNCH_GATE_IN32 &&
	       LS_GATE_READ64 == LAUNCH_GATE_READ64, "launch-defs.h matches launch.h");

#define SZ_2M		0x200000ull
#define ALIGN_2M(x)	(((x) + SZ_2M - 1) & ~(SZ_2M - 1))
/* Copy and hash in pieces that stay in the cache between the two. */
#define CHUNK		0x10000ull

/* launch-entry.S */
extern u64 launch_flags;
u64 launch_user(u64 mbi, u64 features);
u64 launch_gate(u64 op, u64 addr, u64 value);
void launch_fault(const u64 *frame);

/* The private launch area: struct launch_info, then the window's header. */
#define INFO		((struct launch_info *)X86_LAUNCH_AREA_GPA)
#define HDR		((struct launch_window *)(X86_LAUNCH_AREA_GPA + 0x1000))
#define SEALED_HDR	((struct sealed_header *)(X86_LAUNCH_AREA_GPA + 0x2000))
#define WINDOW		((const u8 *)X86_BOOT_WINDOW_GPA)
/* The header as kestrel reads it back: only the stub's result goes there. */
#define WINDOW_OUT	((volatile struct launch_window *)X86_BOOT_WINDOW_GPA)

static void copy(void *dst, const void *src, u64 n)
{
	u64 *d = dst;
	const u64 *s = src;

	for (; n >= 8; n -= 8)
		*d++ = *s++;
	for (u8 *db = (u8 *)d, *sb = (u8 *)s; n; n--)
		*db++ = *sb++;
}

/* Copy @n bytes from the window into private RAM, then hash the copy. */
static void copy_measure(struct sha256 *s, void *dst, const void *src, u64 n)
{
	for (u64 off = 0; off < n; off += CHUNK) {
		u64 len = MIN(CHUNK, n - off);

		copy((u8 *)dst + off, (const u8 *)src + off, len);
		sha256_update(s, (u8 *)dst + off, len);
	}
}

static void put_len(struct sha256 *s, u64 len)
{
	u8 le[8];

	for (unsigned int i = 0; i < 8; i++)
		le[i] = (u8)(len >> (8 * i));
	sha256_update(s, le, 8);
}

/* Tell kestrel why (the window's header), and end the launch with @code. */
static u64 refuse(int code, unsigned int why)
{
	WINDOW_OUT->reason = why;
	return (u64)code;
}

/* A region of the window: inside it, and not wrapping. */
static bool in_window(u64 off, u64 len)
{
	return off >= LAUNCH_WINDOW_HDR && off <= X86_BOOT_WINDOW_MAX &&
	       len <= X86_BOOT_WINDOW_MAX - off;
}

/* The end of the RAM that holds private RAM's start, from the memory map. */
static u64 private_ram_end(const struct mb_info *mbi)
{
	u64 p, end;

	if (!mbi || !(mbi->flags & MB_INFO_MMAP))
		return 0;
	p = mbi->mmap_addr;
	end = mbi->mmap_addr + (u64)mbi->mmap_length;
	while (p + sizeof(struct mb_mmap_entry) <= end) {
		const struct mb_mmap_entry *e = (const struct mb_mmap_entry *)p;

		if (e->type == MB_MMAP_AVAILABLE && e->addr <= X86_PRIVATE_RAM_START &&
		    e->addr + e->len > X86_PRIVATE_RAM_START)
			return MIN(e->addr + e->len, X86_RAM_32BIT_END);
		p += e->size + 4;
	}
	return 0;
}

/*
 * Ring 3: copy, measure, check, decrypt. 0, or the LAUNCH_REFUSE_* code
 * (the window's header says why). @mbi: the Multiboot info (shared RAM);
 * @features: CPUID.1:ECX | CPUID.(7,0):EBX << 32, read at CPL 0.
 */
u64 launch_user(u64 mbi, u64 features)
{
	struct launch_window *h = HDR;
	struct launch_info *info = INFO;
	u64 payload = X86_LAUNCH_PAYLOAD_GPA, initrd, end, len, ram_end;
	u8 *cmdline = (u8 *)X86_LAUNCH_CMDLINE_GPA;
	struct sha256 s;
	u8 diff = 0;

	/*
	 * No window: one read of its magic says so (where nothing is mapped,
	 * each read is an exit to kestrel). Otherwise everything is read once,
	 * into private RAM, and used from there.
	 */
	if (*(const volatile u64 *)WINDOW != LAUNCH_WINDOW_MAGIC)
		return LAUNCH_REFUSE_MALFORMED;		/* no window to say why in */
	copy(h, WINDOW, sizeof(*h));
	if (h->magic != LAUNCH_WINDOW_MAGIC || h->version != LAUNCH_WINDOW_VERSION)
		return LAUNCH_REFUSE_MALFORMED;
	ram_end = private_ram_end((const struct mb_info *)mbi);
	if (!ram_end)
		return refuse(LAUNCH_REFUSE_MALFORMED, LAUNCH_WHY_NO_PRIVATE_RAM);
	if (!in_window(h->image_off, h->image_len) || !in_window(h->cmdline_off, h->cmdline_len) ||
	    !in_window(h->initrd_off, h->initrd_len) || h->cmdline_len >= X86_LAUNCH_CMDLINE_MAX ||
	    !h->image_len)
		return refuse(LAUNCH_REFUSE_MALFORMED, LAUNCH_WHY_REGION);
	initrd = ALIGN_2M(payload + h->image_len);
	end = ALIGN_2M(initrd + h->initrd_len);
	if (end > ram_end)
		return refuse(LAUNCH_REFUSE_MALFORMED, LAUNCH_WHY_NO_FIT);
	len = h->image_len;
	if ((h->flags & LAUNCH_F_SEALED) && len < sizeof(struct sealed_header))
		return refuse(LAUNCH_REFUSE_MALFORMED, LAUNCH_WHY_NOT_SEALED);
	launch_flags = h->flags;

	sha256_init(&s);
	/* CR4.OSFXSR is set (launch-entry.S): SSE is there if CPUID says so. */
	if (sha256_x86_usable(features))
		s.blocks = sha256_blocks_x86;
	sha256_update(&s, LAUNCH_MEASURE_TAG, 8);
	put_len(&s, len);
	if (h->flags & LAUNCH_F_SEALED) {
		/* The header apart, the ciphertext where the plaintext will be. */
		copy_measure(&s, SEALED_HDR, WINDOW + h->image_off, sizeof(struct sealed_header));
		copy_measure(&s, (void *)payload, WINDOW + h->image_off + sizeof(struct sealed_header),
			     len - sizeof(struct sealed_header));
	} else {
		copy_measure(&s, (void *)payload, WINDOW + h->image_off, len);
	}
	put_len(&s, h->cmdline_len);
	copy_measure(&s, cmdline, WINDOW + h->cmdline_off, h->cmdline_len);
	cmdline[h->cmdline_len] = 0;
	put_len(&s, h->initrd_len);
	copy_measure(&s, (void *)initrd, WINDOW + h->initrd_off, h->initrd_len);
	sha256_final(&s, info->measurement);
	copy((void *)WINDOW_OUT->measurement, info->measurement, SHA256_LEN);
	WINDOW_OUT->measured = 1;

	if (h->flags & LAUNCH_F_EXPECT) {
		for (unsigned int i = 0; i < SHA256_LEN; i++)
			diff |= info->measurement[i] ^ h->expect[i];
		if (diff)
			return refuse(LAUNCH_REFUSE_MEASUREMENT, LAUNCH_WHY_MEASUREMENT);
	}
	if (h->flags & LAUNCH_F_SEALED) {
		struct sealed_header *sh = SEALED_HDR;
		int bad;

		if (sh->magic != SEALED_MAGIC || sh->version != SEALED_VERSION || sh->flags ||
		    sh->length != len - sizeof(*sh)) {
			crypto_wipe(h->key, sizeof(h->key));
			return refuse(LAUNCH_REFUSE_MALFORMED, LAUNCH_WHY_NOT_SEALED);
		}
		bad = aes256_gcm_decrypt(h->key, sh->nonce, sh, SEALED_AAD_LEN, (void *)payload,
					 sh->length, sh->tag);
		crypto_wipe(h->key, sizeof(h->key));
		if (bad)
			return refuse(LAUNCH_REFUSE_SEALED, LAUNCH_WHY_SEALED);
	}
	*info = (struct launch_info){
		.magic = LAUNCH_INFO_MAGIC, .flags = h->flags,
		.cmdline = (u64)cmdline, .cmdline_len = h->cmdline_len,
		.initrd = h->initrd_len ? initrd : 0, .initrd_len = h->initrd_len,
		.free_start = end, .ram_end = ram_end, .window = X86_BOOT_WINDOW_GPA,
		.gate = (u64)launch_gate,
	};
	copy(info->measurement, (const void *)WINDOW_OUT->measurement, SHA256_LEN);
	return 0;
}

/* ---- CPL 0, only when something went wrong -------------------------------- */

static void out8(u16 port, u8 v)
{
	__asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void fault_puts(const char *s)
{
	while (*s)
		out8(X86_COM1_PORT, (u8)*s++);
}

static void fault_hex(u64 v)
{
	out8(X86_COM1_PORT, '0');
	out8(X86_COM1_PORT, 'x');
	for (int i = 60; i >= 0; i -= 4)
		out8(X86_COM1_PORT, "0123456789abcdef"[(v >> i) & 0xf]);
}

/*
 * An exception the stub did not expect (launch-entry.S; then the guest
 * ends with status 3): in the payload or the stub. @frame: vector, error
 * code, then the CPU's frame (RIP, CS, ...), on the stub's stack.
 */
void launch_fault(const u64 *frame)
{
	fault_puts("launch: unexpected exception ");
	fault_hex(frame[0]);
	fault_puts(" (error ");
	fault_hex(frame[1]);
	fault_puts(") at rip ");
	fault_hex(frame[2]);
	fault_puts(", cs ");
	fault_hex(frame[3]);
	fault_puts("\n");
}
