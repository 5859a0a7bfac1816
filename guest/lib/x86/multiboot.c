// SPDX-License-Identifier: GPL-2.0-only
/* The Multiboot information and argv (multiboot.h). */
#include "x86/multiboot.h"

const struct mb_info *multiboot_info(void)
{
	if (mb_magic != MB_BOOT_MAGIC || !mb_info)
		return NULL;
	return (const struct mb_info *)(unsigned long)mb_info;
}

int multiboot_args(char **argv, int max, char *buf, size_t size)
{
	const struct mb_info *mbi = multiboot_info();
	const char *s;
	size_t used = 0;
	int argc = 0;

	if (!mbi || !(mbi->flags & MB_INFO_CMDLINE) || !mbi->cmdline || !size)
		return 0;
	s = (const char *)(unsigned long)mbi->cmdline;
	while (*s && argc < max) {
		while (*s == ' ')
			s++;
		if (!*s || used >= size)
			break;
		argv[argc++] = buf + used;
		while (*s && *s != ' ' && used < size - 1)
			buf[used++] = *s++;
		buf[used++] = '\0';
		while (*s && *s != ' ')
			s++;
	}
	return argc;
}

bool multiboot_has_arg(const char *word)
{
	char buf[256], *argv[8];
	int n = multiboot_args(argv, 8, buf, sizeof(buf));

	for (int i = 0; i < n; i++)
		if (!strcmp(argv[i], word))
			return true;
	return false;
}
