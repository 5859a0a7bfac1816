// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Multiboot information as a test kernel sees it (docs/boot.md), run
 * with `--cmdline mb.arg=1 --module FILE,first=1 --module FILE`: the magic,
 * argv[0] the image's path and argv[1] the argument, two modules each with
 * its own string, and a memory map that is sorted, keeps the info and
 * page 0 reserved and has this image and the modules in available RAM.
 */
#include "guest.h"
#include "x86/multiboot.h"

extern char _start32[], _end[];

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && !strcmp(s + n - t, tail);
}

static bool contains(const char *s, const char *needle)
{
	size_t n = strlen(needle);

	for (; *s; s++)
		if (!memcmp(s, needle, n))
			return true;
	return false;
}

static const struct mb_mmap_entry *mmap_next(const struct mb_mmap_entry *e)
{
	return (const void *)((const u8 *)e + e->size + 4);
}

/* The type of the one map entry holding all of [a, a + n), 0 if none does. */
static u32 mmap_type(const struct mb_info *mbi, u64 a, u64 n)
{
	const struct mb_mmap_entry *e = (const void *)(unsigned long)mbi->mmap_addr;
	const void *end = (const u8 *)e + mbi->mmap_length;

	for (; (const void *)e < end; e = mmap_next(e))
		if (e->addr <= a && a + n <= e->addr + e->len)
			return e->type;
	return 0;
}

static void test_cmdline(void)
{
	char buf[256], *argv[MB_MAX_ARGS];
	int argc = multiboot_args(argv, MB_MAX_ARGS, buf, sizeof(buf));

	report(argc == 2, "argc %d: the path, then one argument", argc);
	report(argc >= 1 && ends_with(argv[0], "multiboot.elf"),
	       "argv[0] '%s' is the image's path as given", argc >= 1 ? argv[0] : "");
	report(argc >= 2 && !strcmp(argv[1], "mb.arg=1"), "argv[1] '%s'", argc >= 2 ? argv[1] : "");
}

static void test_modules(const struct mb_info *mbi)
{
	const struct mb_module *m = (const void *)(unsigned long)mbi->mods_addr;
	unsigned int i;

	report(mbi->flags & MB_INFO_MODS && mbi->mods_count == 2, "2 modules (%u)",
	       mbi->mods_count);
	if (!(mbi->flags & MB_INFO_MODS) || mbi->mods_count != 2)
		return;
	report(!strcmp((const char *)(unsigned long)m[0].string, "first=1"),
	       "module 0 string '%s'", (const char *)(unsigned long)m[0].string);
	report(contains((const char *)(unsigned long)m[1].string, "guest-multiboot-file"),
	       "module 1 string '%s' (its file, no string given)",
	       (const char *)(unsigned long)m[1].string);
	for (i = 0; i < 2; i++) {
		const u8 *p = (const u8 *)(unsigned long)m[i].mod_start;
		u32 n = m[i].mod_end - m[i].mod_start, j;
		bool zero = true;

		for (j = 0; j < n; j += 512)
			zero &= !p[j];
		report(n == 4096 && m[i].mod_start % 4096 == 0 && zero &&
		       mmap_type(mbi, m[i].mod_start, n) == MB_MMAP_AVAILABLE,
		       "module %u: 4 KiB of zeroes at %#x, page aligned, in available RAM",
		       i, m[i].mod_start);
	}
}

static void test_mmap(const struct mb_info *mbi)
{
	const struct mb_mmap_entry *e = (const void *)(unsigned long)mbi->mmap_addr;
	const void *end = (const u8 *)e + mbi->mmap_length;
	u64 last_end = 0;
	bool sorted = true;
	unsigned int n = 0;

	report(mbi->flags & MB_INFO_MMAP && mbi->mmap_length >= 24, "memory map given");
	if (!(mbi->flags & MB_INFO_MMAP) || mbi->mmap_length < 24)
		return;
	for (; (const void *)e < end; e = mmap_next(e), n++) {
		if (!e->len || e->addr < last_end)
			sorted = false;
		last_end = e->addr + e->len;
	}
	report(sorted, "%u entries, sorted, none overlapping another", n);
	report(mmap_type(mbi, 0, 4096) == 2, "page 0 reserved");
	report(mmap_type(mbi, mb_info, sizeof(*mbi)) == 2 &&
	       mmap_type(mbi, mbi->mmap_addr, mbi->mmap_length) == 2 &&
	       mmap_type(mbi, mbi->cmdline, 1) == 2, "the info, the map, the command line reserved");
	report(mmap_type(mbi, 0xe0000, 0x20000) == 2, "ACPI and MP tables reserved");
	report(mmap_type(mbi, (unsigned long)_start32 & ~0xfffUL,
			 (unsigned long)_end - ((unsigned long)_start32 & ~0xfffUL)) == MB_MMAP_AVAILABLE,
	       "this image [%#lx-%#lx) in available RAM", (unsigned long)_start32 & ~0xfffUL,
	       (unsigned long)_end);
	report(mbi->mem_lower == 639 && mbi->mem_upper > 1024, "mem_lower %u KiB, mem_upper %u KiB",
	       mbi->mem_lower, mbi->mem_upper);
}

int main(void)
{
	const struct mb_info *mbi = multiboot_info();

	report_prefix_push("multiboot");
	report(mbi != NULL, "EAX %#x: booted by a Multiboot loader", mb_magic);
	if (!mbi)
		return report_summary();
	report(!strcmp((const char *)(unsigned long)mbi->boot_loader_name, "kestrel"),
	       "boot loader name");
	test_cmdline();
	test_modules(mbi);
	test_mmap(mbi);
	return report_summary();
}
