/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_X86_MULTIBOOT_H
#define GUEST_X86_MULTIBOOT_H

/*
 * The Multiboot v1 information the boot loader left (Multiboot
 * Specification 0.6.96 §3.3), and the command line split into argv the way
 * kvm-unit-tests does: argv[0] is the image's path, as GRUB, QEMU and
 * kestrel pass it (docs/boot.md).
 */
#include "guest.h"

#define MB_BOOT_MAGIC		0x2badb002
#define MB_INFO_MEMORY		(1u << 0)
#define MB_INFO_CMDLINE		(1u << 2)
#define MB_INFO_MODS		(1u << 3)
#define MB_INFO_MMAP		(1u << 6)
#define MB_INFO_LOADER_NAME	(1u << 9)
#define MB_MMAP_AVAILABLE	1

struct mb_info {
	u32 flags;
	u32 mem_lower, mem_upper;
	u32 boot_device;
	u32 cmdline;
	u32 mods_count, mods_addr;
	u32 syms[4];
	u32 mmap_length, mmap_addr;
	u32 drives_length, drives_addr;
	u32 config_table;
	u32 boot_loader_name;
} __attribute__((packed));

struct mb_module {
	u32 mod_start, mod_end, string, reserved;
} __attribute__((packed));

struct mb_mmap_entry {
	u32 size;		/* of the rest */
	u64 addr, len;
	u32 type;
} __attribute__((packed));

#define MB_MAX_ARGS	16

/* Saved by start.S from EAX / EBX at entry. */
extern u32 mb_magic, mb_info;

/* The info, or NULL when the loader was not Multiboot. */
const struct mb_info *multiboot_info(void);

/*
 * Split the command line at spaces into @argv (at most @max words, the
 * rest dropped); the words are copied into @buf (@size bytes). Return: argc.
 */
int multiboot_args(char **argv, int max, char *buf, size_t size);

/* Whether @word is one of the command line's first 8 words. */
bool multiboot_has_arg(const char *word);

#endif /* GUEST_X86_MULTIBOOT_H */
