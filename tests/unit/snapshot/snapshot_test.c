// SPDX-License-Identifier: GPL-2.0-only
/*
 * Snapshot files without KVM: sections and RAM round-trip plain and
 * encrypted, the memory file stays sparse, and every altered file, wrong
 * key and mismatched machine is refused with a reason.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kestrel/memory.h>
#include <kestrel/snapshot.h>

#include "../test.h"

#define LOW_SIZE	(2u << 20)
#define HIGH_GPA	0x100000000ULL
#define HIGH_SIZE	((1u << 20) + 4096)	/* not a whole number of chunks */

static char dir[] = "/tmp/kestrel-snap-test.XXXXXX";

static struct address_space *ram_create(u64 low, u64 high)
{
	struct address_space *as;
	struct mem_region *r;

	if (address_space_create(&as) || address_space_add_ram(as, 0, low, 0, &r) ||
	    (high && address_space_add_ram(as, HIGH_GPA, high, 0, &r))) {
		printf("FAIL: cannot build the address space\n");
		exit(1);
	}
	return as;
}

/* A few non-zero pages, one of them straddling the chunk at 2 MiB + 1 MiB. */
static void ram_fill(struct address_space *as)
{
	static const u64 pages[] = { 0x0, 0x5000, 0x1ff000, HIGH_GPA, HIGH_GPA + 0x100000 };

	for (size_t i = 0; i < ARRAY_SIZE(pages); i++) {
		u8 buf[4096];

		for (size_t j = 0; j < sizeof(buf); j++)
			buf[j] = (u8)(i * 31 + j);
		address_space_write(as, pages[i], buf, sizeof(buf));
	}
}

static bool ram_equal(struct address_space *a, struct address_space *b)
{
	for (unsigned int i = 0; i < address_space_nr_regions(a); i++) {
		const struct mem_region *ra = address_space_region(a, i);
		const struct mem_region *rb = address_space_region(b, i);

		if (!rb || ra->size != rb->size || memcmp(ra->hva, rb->hva, ra->size))
			return false;
	}
	return true;
}

static char *memory_path(void)
{
	static char path[512];
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	path[0] = '\0';
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "memory-", 7)) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			n++;
		}
	if (d)
		closedir(d);
	return n == 1 ? path : NULL;
}

static int write_snapshot(struct address_space *as, const struct snap_key *key)
{
	static const char hello[] = "hello";
	struct snap_writer *w;
	u8 big[1000];
	char err[256] = "";
	int ret;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (u8)i;
	if (snap_writer_create(&w))
		return -ENOMEM;
	ret = snap_write_section(w, SNAP_SEC_MACHINE, 0, hello, sizeof(hello));
	if (!ret)
		ret = snap_write_section(w, SNAP_SEC_VCPU_REGS, 3, big, sizeof(big));
	if (!ret)
		ret = snap_writer_commit(w, dir, key, as, err, sizeof(err));
	if (ret)
		printf("commit: %s\n", err);
	snap_writer_destroy(w);
	return ret;
}

/* Open and load into fresh RAM; return 0 or the error, with @err set. */
static int restore(const struct snap_key *key, u64 low, u64 high, struct address_space *orig,
		   char *err, size_t errlen)
{
	struct address_space *as = ram_create(low, high);
	struct snap_reader *r;
	const void *data;
	size_t len;
	int ret;

	ret = snap_reader_open(dir, key, &r, err, errlen);
	if (!ret) {
		ret = snap_reader_load_memory(r, as, err, errlen);
		if (!ret) {
			if (check_eq(snap_read_section(r, SNAP_SEC_VCPU_REGS, 3, &data, &len), 0) &&
			    check_eq(len, 1000))
				check_eq(((const u8 *)data)[999], (u8)999);
			if (check_eq(snap_read_section(r, SNAP_SEC_MACHINE, 0, &data, &len), 0))
				check_str((const char *)data, "hello");
			check_err(snap_read_section(r, SNAP_SEC_VCPU_REGS, 4, &data, &len), -ENOENT);
			check_true(ram_equal(orig, as));
			report_checks("sections and RAM read back");
		}
		snap_reader_destroy(r);
	}
	address_space_destroy(as);
	return ret;
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	u8 b;

	if (fd < 0 || pread(fd, &b, 1, off) != 1)
		b = 0;
	b ^= 0x10;
	if (fd >= 0 && pwrite(fd, &b, 1, off) != 1)
		printf("cannot alter %s\n", path);
	close(fd);
}

static void expect_refused(const struct snap_key *key, const char *why, const char *what)
{
	struct address_space *orig = ram_create(LOW_SIZE, HIGH_SIZE);
	char err[256] = "";
	int ret;

	ret = restore(key, LOW_SIZE, HIGH_SIZE, orig, err, sizeof(err));
	report(ret == -EINVAL && strstr(err, why), "%s refused (%d: %s)", what, ret, err);
	address_space_destroy(orig);
}

/*
 * A diff written over a base and applied to it gives the RAM a full
 * snapshot of the same moment gives: pages written, one written back to
 * zero, one in the high region, the rest untouched.
 */
static void test_diff(struct address_space *as)
{
	char base_dir[600], diff_dir[600], full_dir[600], err[256] = "";
	static u64 low_dirty[LOW_SIZE / 4096 / 64 + 1], high_dirty[HIGH_SIZE / 4096 / 64 + 1];
	const u64 *dirty[2] = { low_dirty, high_dirty };
	struct snap_reader *base_r, *r;
	struct address_space *from_diff, *from_full;
	struct snap_writer *w;
	char base_mem[700], saved[sizeof(dir)];
	u8 id[16], page[4096];

	report_prefix_push("diff");
	memcpy(saved, dir, sizeof(dir));
	snprintf(base_dir, sizeof(base_dir), "%s/base", saved);
	snprintf(diff_dir, sizeof(diff_dir), "%s/diff", saved);
	snprintf(full_dir, sizeof(full_dir), "%s/full", saved);
	mkdir(base_dir, 0700);
	mkdir(diff_dir, 0700);
	mkdir(full_dir, 0700);

	/* The base, and its id and memory file as a restore sees them. */
	snap_writer_create(&w);
	snap_writer_commit(w, base_dir, NULL, as, err, sizeof(err));
	snap_writer_destroy(w);
	if (!check_err(snap_reader_open(base_dir, NULL, &base_r, err, sizeof(err)), 0)) {
		report_checks("base written and read: %s", err);
		report_prefix_pop();
		return;
	}
	check_true(snap_reader_id(base_r, id));
	report_checks("base is a full plain snapshot");
	snprintf(base_mem, sizeof(base_mem), "%s", snap_reader_memory_path(base_r));
	snap_reader_destroy(base_r);

	/* Changes since: a new page, a page back to zero, a high page. */
	memset(page, 0x77, sizeof(page));
	address_space_write(as, 0x9000, page, sizeof(page));
	low_dirty[9 / 64] |= 1ULL << 9;
	memset(page, 0, sizeof(page));
	address_space_write(as, 0x5000, page, sizeof(page));
	low_dirty[5 / 64] |= 1ULL << 5;
	memset(page, 0x33, sizeof(page));
	address_space_write(as, HIGH_GPA + 0x3000, page, sizeof(page));
	high_dirty[0] |= 1ULL << 3;

	snap_writer_create(&w);
	report_err(snap_writer_set_diff(w, base_mem, id, dirty), 0, "diff set up");
	report_err(snap_writer_commit(w, diff_dir, NULL, as, err, sizeof(err)), 0,
		   "diff written: %s", err);
	snap_writer_destroy(w);
	snap_writer_create(&w);
	report_err(snap_writer_commit(w, full_dir, NULL, as, err, sizeof(err)), 0,
		   "full written: %s", err);
	snap_writer_destroy(w);

	from_diff = ram_create(LOW_SIZE, HIGH_SIZE);
	from_full = ram_create(LOW_SIZE, HIGH_SIZE);
	if (check_err(snap_reader_open(diff_dir, NULL, &r, err, sizeof(err)), 0)) {
		check_err(snap_reader_load_memory(r, from_diff, err, sizeof(err)), 0);
		check_false(snap_reader_id(r, id));
		snap_reader_destroy(r);
	}
	report_checks("diff restored on its base: %s", err);
	if (check_err(snap_reader_open(full_dir, NULL, &r, err, sizeof(err)), 0)) {
		check_err(snap_reader_load_memory(r, from_full, err, sizeof(err)), 0);
		snap_reader_destroy(r);
	}
	report_checks("full restored: %s", err);
	report(ram_equal(from_full, from_diff), "base + diff == full");
	report(ram_equal(as, from_diff), "base + diff == the RAM it was taken of");
	address_space_destroy(from_diff);
	address_space_destroy(from_full);

	/* A diff whose base is gone is refused. */
	unlink(base_mem);
	from_diff = ram_create(LOW_SIZE, HIGH_SIZE);
	if (!snap_reader_open(diff_dir, NULL, &r, err, sizeof(err))) {
		report_err(snap_reader_load_memory(r, from_diff, err, sizeof(err)), -EINVAL,
			   "a diff without its base refused: %s", err);
		snap_reader_destroy(r);
	}
	address_space_destroy(from_diff);
	report_prefix_pop();
}

int main(void)
{
	struct snap_key key, other;
	struct address_space *as;
	char err[256] = "", path[600];
	struct stat st;

	if (!mkdtemp(dir)) {
		printf("SKIP: cannot create a temporary directory\n");
		return 77;
	}
	memset(key.bytes, 0x5a, sizeof(key.bytes));
	memset(other.bytes, 0xa5, sizeof(other.bytes));
	as = ram_create(LOW_SIZE, HIGH_SIZE);
	ram_fill(as);

	report_prefix_push("plain");
	report_err(write_snapshot(as, NULL), 0, "written");
	report_err(restore(NULL, LOW_SIZE, HIGH_SIZE, as, err, sizeof(err)), 0, "restored: %s", err);
	if (memory_path() && !stat(memory_path(), &st))
		report(st.st_blocks * 512 <= 64 * 4096,
		       "memory file sparse: %lld bytes on disk for %lld of RAM",
		       (long long)st.st_blocks * 512, (long long)(LOW_SIZE + HIGH_SIZE));
	expect_refused(&key, "not encrypted", "a key for a plain snapshot");
	report_err(restore(NULL, LOW_SIZE, 0, as, err, sizeof(err)), -EINVAL,
		   "other RAM layout refused: %s", err);
	snprintf(path, sizeof(path), "%s/state", dir);
	flip_byte(path, 64 + 48 + 2);
	expect_refused(NULL, "checksum", "a flipped bit in a section");
	report_prefix_pop();

	report_prefix_push("encrypted");
	report_err(write_snapshot(as, &key), 0, "written");
	report(memory_path() != NULL, "the plain snapshot's memory file is gone, one remains");
	report_err(restore(&key, LOW_SIZE, HIGH_SIZE, as, err, sizeof(err)), 0, "restored: %s",
		   err);
	expect_refused(&other, "wrong key", "another key");
	expect_refused(NULL, "encrypted", "no key");
	if (memory_path()) {
		char mem[512];

		snprintf(mem, sizeof(mem), "%s", memory_path());
		flip_byte(mem, 4096 + 10);
		expect_refused(&key, "does not authenticate", "a flipped bit in memory chunk 0");
		flip_byte(mem, 4096 + 10);
		flip_byte(mem, 40);	/* the RAM length in the memory header */
		expect_refused(&key, "memory file", "an altered memory header");
		flip_byte(mem, 40);
		if (truncate(mem, 4096 + 3 * (65536 + 16)) == 0)
			expect_refused(&key, "truncated", "a truncated memory file");
	}
	report_err(write_snapshot(as, &key), 0, "written again");
	flip_byte(path, 64 + 5);
	expect_refused(&key, "does not authenticate", "a flipped bit in the state");
	report_prefix_pop();

	test_diff(as);
	address_space_destroy(as);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path))
		printf("cannot remove %s\n", dir);
	return report_summary();
}
