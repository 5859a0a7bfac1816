/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_LAUNCH_H
#define KESTREL_LAUNCH_H

/*
 * The measured launch of a protected guest and sealed images
 * (docs/protected.md). The formats below are shared, byte for byte, by
 * kestrel and the launch stub it runs in the guest (guest/x86/launch.c),
 * so this header needs nothing but <stdint.h>. Every integer is
 * little-endian.
 */
#include <stdint.h>

/* ---- the boot window (shared memory, kestrel -> stub) --------------------- */

#define LAUNCH_WINDOW_MAGIC	0x3148434e55414c4bull	/* "KLAUNCH1" */
#define LAUNCH_WINDOW_VERSION	2
#define LAUNCH_WINDOW_HDR	4096	/* the header's page; data follows */

#define LAUNCH_F_EXPECT		(1u << 0)	/* @expect holds the owner's value */
#define LAUNCH_F_SEALED		(1u << 1)	/* the image is a sealed image, @key its key */
#define LAUNCH_F_SUPERVISOR	(1u << 2)	/* enter the payload at CPL 0 (VMX/SVM hosts) */

/**
 * struct launch_window - the first page of the boot window
 * @magic: LAUNCH_WINDOW_MAGIC
 * @version: LAUNCH_WINDOW_VERSION
 * @flags: LAUNCH_F_*
 * @image_off: the image (a payload, or a sealed image of one), from the
 *	window's start; @image_len bytes
 * @image_len: bytes of the image
 * @cmdline_off: the command line (no NUL), @cmdline_len bytes
 * @cmdline_len: bytes of the command line
 * @initrd_off: the initrd, @initrd_len bytes (0: none)
 * @initrd_len: bytes of the initrd
 * @expect: the launch measurement the owner expects (with LAUNCH_F_EXPECT)
 * @key: the sealed image's AES-256 key (with LAUNCH_F_SEALED)
 * @measured: written by the stub: 1 once @measurement holds the launch
 *	measurement it computed over its private copies (kestrel prints it)
 * @reason: written by the stub when it refuses: LAUNCH_WHY_*
 * @measurement: written by the stub, with @measured
 *
 * kestrel writes the fields up to @key and zeroes the rest; the stub
 * writes only the last three. kestrel reads those (untrusted: bounded,
 * never acted on beyond a log line) after the stub's part and before it
 * zeroes the window.
 */
struct launch_window {
	uint64_t magic;
	uint32_t version;
	uint32_t flags;
	uint64_t image_off, image_len;
	uint64_t cmdline_off, cmdline_len;
	uint64_t initrd_off, initrd_len;
	uint8_t expect[32];
	uint8_t key[32];
	uint32_t measured;
	uint32_t reason;
	uint8_t measurement[32];
};

_Static_assert(sizeof(struct launch_window) == 168, "launch window header layout");

/*
 * The launch measurement: SHA-256 of
 *	"KLAUNCH1" || le64(image_len) || image || le64(cmdline_len) || cmdline
 *	|| le64(initrd_len) || initrd
 * over the image as given (for a sealed image, the sealed file: its tag
 * then vouches for the plaintext under the key).
 */
#define LAUNCH_MEASURE_TAG	"KLAUNCH1"

/* What the stub says through the launch port (X86_LAUNCH_PORT, 32 bits). */
#define LAUNCH_PORT_DONE	0x4c444f4eu	/* "NODL": copied and checked */

/*
 * The stub's refusals: debug-exit values, so kestrel exits with status
 * value * 2 + 1 (docs/protected.md).
 */
#define LAUNCH_REFUSE_MEASUREMENT	40	/* exit 81: not the expected measurement */
#define LAUNCH_REFUSE_SEALED		41	/* exit 83: the sealed image does not
						 * authenticate (changed, or another key) */
#define LAUNCH_REFUSE_MALFORMED		42	/* exit 85: window or image malformed, or
						 * does not fit in private RAM */
#define LAUNCH_EXIT_STATUS(v)		((v) * 2 + 1)

/* Why, in struct launch_window's @reason (kestrel's log line names it). */
#define LAUNCH_WHY_MEASUREMENT		1	/* not the expected measurement */
#define LAUNCH_WHY_SEALED		2	/* the sealed image does not authenticate */
#define LAUNCH_WHY_NO_PRIVATE_RAM	3	/* no private RAM in the memory map */
#define LAUNCH_WHY_REGION		4	/* a region outside the window */
#define LAUNCH_WHY_NO_FIT		5	/* image and initrd do not fit in private RAM */
#define LAUNCH_WHY_NOT_SEALED		6	/* a sealed image too short, or its header wrong */
#define LAUNCH_NR_WHY			7

/* ---- in private RAM (stub -> payload) -------------------------------------- */

#define LAUNCH_INFO_MAGIC	0x4f464e4948434e4cull	/* "LNCHINFO" */

/**
 * struct launch_info - what the payload is called with (its one argument)
 * @magic: LAUNCH_INFO_MAGIC
 * @flags: the window's LAUNCH_F_* flags
 * @cmdline: the command line in private RAM, NUL-terminated
 * @cmdline_len: its bytes, without the NUL
 * @initrd: the initrd in private RAM (0 if none)
 * @initrd_len: its bytes
 * @free_start: the first byte of private RAM nothing of the launch uses
 * @ram_end: the end of private RAM below 4 GiB
 * @window: where the boot window was (gone when the payload runs)
 * @measurement: the launch measurement the stub computed
 * @gate: the stub's gate to the hardware, uint64_t fn(uint64_t op,
 *	uint64_t addr, uint64_t value), op one of LAUNCH_GATE_*: port output
 *	of @value to port @addr, port input from it (returned), a 64-bit
 *	read of guest-physical @addr in the hole below 4 GiB (all ones
 *	elsewhere)
 *
 * Why a gate: on PVM hosts ring 3 may not do port I/O (PVM ignores IOPL:
 * #GP), and an instruction that exits to KVM to be emulated (MMIO) is
 * fetched by KVM's emulator through the memory slot's userspace_addr,
 * which for private RAM is kestrel's PROT_NONE reservation. The gate is a
 * ud2 in the stub's text (shared RAM); the stub's #UD handler does the
 * access at CPL 0 and returns to the payload (docs/protected.md).
 */
struct launch_info {
	uint64_t magic;
	uint64_t flags;
	uint64_t cmdline, cmdline_len;
	uint64_t initrd, initrd_len;
	uint64_t free_start, ram_end;
	uint64_t window;
	uint8_t measurement[32];
	uint64_t gate;
};

#define LAUNCH_GATE_OUT8	1
#define LAUNCH_GATE_OUT16	2
#define LAUNCH_GATE_OUT32	3
#define LAUNCH_GATE_IN8		4
#define LAUNCH_GATE_IN16	5
#define LAUNCH_GATE_IN32	6
#define LAUNCH_GATE_READ64	7

/* ---- sealed images (kestrel seal-image) ------------------------------------ */

#define SEALED_MAGIC		0x474d494c4145534bull	/* "KSEALIMG" */
#define SEALED_VERSION		1
#define SEALED_AAD_LEN		24	/* magic, version, flags, length */

/**
 * struct sealed_header - the first 64 bytes of a sealed image; the
 *	ciphertext (@length bytes) follows, and nothing after it
 * @magic: SEALED_MAGIC
 * @version: SEALED_VERSION
 * @flags: 0
 * @length: bytes of plaintext (and of ciphertext)
 * @nonce: AES-256-GCM's 96-bit IV, random per sealing
 * @tag: the GCM tag over the first SEALED_AAD_LEN bytes (AAD) and the
 *	ciphertext
 * @reserved: 0
 */
struct sealed_header {
	uint64_t magic;
	uint32_t version;
	uint32_t flags;
	uint64_t length;
	uint8_t nonce[12];
	uint8_t tag[16];
	uint8_t reserved[12];
};

_Static_assert(sizeof(struct sealed_header) == 64, "sealed image header layout");

#ifndef LAUNCH_FORMATS_ONLY
#include <stdbool.h>
#include <stddef.h>

/**
 * launch_measure() - the launch measurement (above) of an image, command
 *	line and initrd, with OpenSSL
 * @image: image bytes, @image_len of them
 * @image_len: bytes
 * @cmdline: command line or NULL
 * @initrd: initrd bytes or NULL
 * @initrd_len: bytes
 * @out: the 32-byte digest
 */
void launch_measure(const void *image, size_t image_len, const char *cmdline,
		    const void *initrd, size_t initrd_len, uint8_t out[32]);

/**
 * launch_parse_measurement() - 64 hex digits into 32 bytes
 * @s: the text
 * @out: the bytes
 * Return: 0, or -EINVAL.
 */
int launch_parse_measurement(const char *s, uint8_t out[32]);

/** launch_is_sealed() - whether @image starts like a sealed image */
bool launch_is_sealed(const void *image, size_t len);

/**
 * launch_seal_image() - encrypt @len bytes into a sealed image
 * @key: the 32-byte AES-256 key
 * @in: plaintext
 * @len: bytes
 * @out: sizeof(struct sealed_header) + @len bytes
 * Return: 0, or a negative errno (getrandom(), OpenSSL).
 */
int launch_seal_image(const uint8_t key[32], const void *in, size_t len, void *out);

/**
 * launch_unseal_image() - authenticate and decrypt a sealed image
 * @key: the 32-byte key
 * @in: the sealed image, @len bytes
 * @len: bytes
 * @out: sealed length - 64 bytes of plaintext
 * Return: 0; -EINVAL if @in is not a sealed image; -EBADMSG if it does
 * not authenticate under @key.
 */
int launch_unseal_image(const uint8_t key[32], const void *in, size_t len, void *out);
#endif

#endif /* KESTREL_LAUNCH_H */
