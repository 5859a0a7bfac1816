/* SPDX-License-Identifier: GPL-2.0-only */
/* Backing files for the API tests' drives and kernels. */
#ifndef KESTREL_TEST_API_FILES_H
#define KESTREL_TEST_API_FILES_H

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* make_file() - @dir/@name of @size zero bytes; its path into @path. */
static inline int make_file(char *path, size_t len, const char *dir,
			    const char *name, size_t size)
{
	int fd;

	snprintf(path, len, "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

#endif /* KESTREL_TEST_API_FILES_H */
