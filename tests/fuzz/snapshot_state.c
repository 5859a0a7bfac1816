// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the snapshot reader on hostile state files. The input
 * (after one byte choosing plain or keyed) becomes DIR/state and is
 * opened with snap_reader_open(); every section it accepts is looked up
 * again and must lie inside what was read.
 */
#include <kestrel/snapshot.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/kestrel-fuzz-snap.XXXXXX";
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_key key;
	struct snap_reader *r;
	char err[256];
	int fd;

	if (!path[0]) {
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof(path), "%s/state", dir);
	}
	if (!size)
		return 0;
	memset(key.bytes, data[0], sizeof(key.bytes));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	close(fd);
	if (!snap_reader_open(dir, (data[0] & 1) ? &key : NULL, &r, err, sizeof(err))) {
		const void *p;
		size_t len;

		if (!snap_read_section(r, SNAP_SEC_MACHINE, 0, &p, &len) && len)
			(void)((const volatile uint8_t *)p)[len - 1];
		snap_reader_destroy(r);
	}
	return 0;
}
