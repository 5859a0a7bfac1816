// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vhost-user server against a minimal front-end written here: it
 * negotiates, shares a memfd, sets up the two rings of the net simulator
 * and exchanges frames through it; then it misbehaves in every way the
 * table and handlers check, and the server must answer with an error or a
 * disconnect and go on serving the next front-end. No /dev/kvm needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>
#include <kestrel/vhost-user.h>
#include <kestrel/vringh.h>

#include "../test.h"
#include "../../../src/vhost-user/protocol.h"
#include "wire.h"

#define MEM_SIZE	(1u << 20)
#define MEM_GPA		0x40000000ULL		/* guest physical base */
#define MEM_UVA		0x7f1200000000ULL	/* the "front-end's" address */
#define QSZ		16
#define RING_OFF(q)	((q) * 0x3000u)		/* desc, +0x1000 avail, +0x2000 used */
#define BUF_OFF		0x10000u
#define HDR_LEN		12

struct fe {
	int sock;
	int memfd;
	u8 *mem;
	int kick[2];
	int call[2];
	u16 avail_idx[2];
};

static const char *sock_path;
/* Data rings fe_setup() brings up (the net simulator's 2, or a blk's 1). */
static u32 fe_rings = 2;

/* ---- wire ------------------------------------------------------------- */

static int fe_send(struct fe *fe, u32 req, u32 flags, const void *payload,
		   u32 size, const int *fds, unsigned int nfds)
{
	return wire_send(fe->sock, req, flags, payload, size, fds, nfds);
}

/* Read one reply; Return: payload size, or -1 on EOF/timeout. */
static int fe_recv(struct fe *fe, u32 req, void *payload, u32 max)
{
	return wire_recv(fe->sock, req, payload, max, NULL);
}

/* Send with need_reply and return the ack (0 ok), or -1 if none came. */
static long long fe_call(struct fe *fe, u32 req, const void *payload, u32 size,
			 const int *fds, unsigned int nfds)
{
	return wire_call(fe->sock, req, payload, size, fds, nfds);
}

static long long fe_get_u64(struct fe *fe, u32 req)
{
	return wire_get_u64(fe->sock, req);
}

static bool fe_disconnected(struct fe *fe)
{
	struct timeval tv = { .tv_sec = 2 };
	char c;

	setsockopt(fe->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return recv(fe->sock, &c, 1, 0) == 0;
}

static int fe_connect(struct fe *fe)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 3 };

	memset(fe, 0, sizeof(*fe));
	fe->memfd = fe->kick[0] = fe->kick[1] = fe->call[0] = fe->call[1] = -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	fe->sock = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fe->sock < 0 || connect(fe->sock, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	setsockopt(fe->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	fe->memfd = memfd_create("fe-mem", MFD_CLOEXEC);
	if (fe->memfd < 0 || ftruncate(fe->memfd, MEM_SIZE))
		return -1;
	fe->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fe->memfd, 0);
	if (fe->mem == MAP_FAILED)
		return -1;
	memset(fe->mem, 0, MEM_SIZE);
	for (int q = 0; q < 2; q++) {
		fe->kick[q] = eventfd(0, EFD_CLOEXEC);
		fe->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	}
	return 0;
}

static void fe_close(struct fe *fe)
{
	if (fe->mem && fe->mem != MAP_FAILED)
		munmap(fe->mem, MEM_SIZE);
	for (int q = 0; q < 2; q++) {
		close(fe->kick[q]);
		close(fe->call[q]);
	}
	close(fe->memfd);
	close(fe->sock);
}

/* ---- the rings, driver side ---------------------------------------------- */

static struct vringh_desc *ring_desc(struct fe *fe, int q)
{
	return (struct vringh_desc *)(fe->mem + RING_OFF(q));
}

static u16 *ring_avail(struct fe *fe, int q)	/* flags, idx, ring[] */
{
	return (u16 *)(fe->mem + RING_OFF(q) + 0x1000);
}

static u16 *ring_used_idx(struct fe *fe, int q)
{
	return (u16 *)(fe->mem + RING_OFF(q) + 0x2000 + 2);
}

static u32 ring_used_len(struct fe *fe, int q, u16 slot)
{
	u32 *e = (u32 *)(fe->mem + RING_OFF(q) + 0x2000 + 4 + 8 * (slot % QSZ));

	return e[1];
}

/* Post one buffer at @off/@len in queue @q. */
static void ring_post(struct fe *fe, int q, u32 off, u32 len, bool write)
{
	u16 slot = fe->avail_idx[q] % QSZ;
	struct vringh_desc *d = &ring_desc(fe, q)[slot];
	u16 *avail = ring_avail(fe, q);

	d->addr = MEM_GPA + off;	/* descriptors carry GPAs */
	d->len = len;
	d->flags = write ? VRINGH_DESC_F_WRITE : 0;
	d->next = 0;
	avail[2 + slot] = slot;
	__atomic_store_n(&avail[1], ++fe->avail_idx[q], __ATOMIC_RELEASE);
}

static void ring_kick(struct fe *fe, int q)
{
	eventfd_write(fe->kick[q], 1);
}

static bool ring_wait_used(struct fe *fe, int q, u16 want)
{
	for (int i = 0; i < 2000; i++) {
		if (__atomic_load_n(ring_used_idx(fe, q), __ATOMIC_ACQUIRE) == want)
			return true;
		usleep(1000);
	}
	return false;
}

/* ---- the handshake ------------------------------------------------------- */

static struct vhost_user_mem_region fe_region(void)
{
	return (struct vhost_user_mem_region){
		.guest_phys_addr = MEM_GPA, .memory_size = MEM_SIZE,
		.userspace_addr = MEM_UVA, .mmap_offset = 0,
	};
}

static long long fe_vring(struct fe *fe, u32 req, u32 idx, u32 num)
{
	struct vhost_user_vring_state st = { .index = idx, .num = num };

	return fe_call(fe, req, &st, sizeof(st), NULL, 0);
}

static long long fe_vring_fd(struct fe *fe, u32 req, u32 idx, int fd)
{
	u64 v = idx;

	return fe_call(fe, req, &v, sizeof(v), &fd, 1);
}

static long long fe_vring_addr(struct fe *fe, u32 idx, u64 uva_off)
{
	struct vhost_user_vring_addr a = {
		.index = idx,
		.desc_user_addr = MEM_UVA + uva_off,
		.avail_user_addr = MEM_UVA + uva_off + 0x1000,
		.used_user_addr = MEM_UVA + uva_off + 0x2000,
	};

	return fe_call(fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

/*
 * Bring both data rings up. @protocol: negotiate PROTOCOL_FEATURES (rings
 * then wait for SET_VRING_ENABLE, sent after a frame was already kicked).
 */
static bool fe_setup(struct fe *fe, bool protocol, bool use_add_mem_reg)
{
	struct vhost_user_mem_table mt = { .nregions = 1 };
	struct vhost_user_mem_reg mr = { .region = fe_region() };
	long long feats, pfeats;
	u64 want;
	bool ok = true;

	feats = fe_get_u64(fe, VHOST_USER_GET_FEATURES);
	check_gt(feats, 0);
	check_true(feats & (1ULL << VIRTIO_F_VERSION_1));
	check_true(feats & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES));
	check_false(feats & (1ULL << VIRTIO_F_ACCESS_PLATFORM));
	ok &= report_checks("GET_FEATURES offers VERSION_1 and PROTOCOL_FEATURES, hides ACCESS_PLATFORM");
	ok &= report_eq(fe_send(fe, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0), 0, "SET_OWNER");
	if (protocol) {
		pfeats = fe_get_u64(fe, VHOST_USER_GET_PROTOCOL_FEATURES);
		check_gt(pfeats, 0);
		check_true(pfeats & (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK));
		check_true(pfeats & (1ULL << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS));
		ok &= report_checks("GET_PROTOCOL_FEATURES offers REPLY_ACK and CONFIGURE_MEM_SLOTS");
		ok &= report_eq(fe_call(fe, VHOST_USER_SET_PROTOCOL_FEATURES, &pfeats, sizeof(u64),
					NULL, 0), 0, "SET_PROTOCOL_FEATURES");
		ok &= report_eq(fe_get_u64(fe, VHOST_USER_GET_QUEUE_NUM), 1,
				"GET_QUEUE_NUM is one queue pair");
	}
	want = (1ULL << VIRTIO_F_VERSION_1) |
	       (protocol ? 1ULL << VHOST_USER_F_PROTOCOL_FEATURES : 0);
	ok &= report_eq(fe_call(fe, VHOST_USER_SET_FEATURES, &want, sizeof(want), NULL, 0), 0,
			"SET_FEATURES");
	mt.regions[0] = fe_region();
	if (use_add_mem_reg)
		ok &= report_eq(fe_call(fe, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), &fe->memfd,
					1), 0, "ADD_MEM_REG");
	else
		ok &= report_eq(fe_call(fe, VHOST_USER_SET_MEM_TABLE, &mt,
					VHOST_USER_MEM_TABLE_HDR_SIZE + sizeof(mt.regions[0]),
					&fe->memfd, 1), 0, "SET_MEM_TABLE");
	for (u32 q = 0; q < fe_rings; q++) {
		/* Each message only once the one before it was taken. */
		if (check_eq(fe_vring(fe, VHOST_USER_SET_VRING_NUM, q, QSZ), 0) &&
		    check_eq(fe_vring(fe, VHOST_USER_SET_VRING_BASE, q, 0), 0) &&
		    check_eq(fe_vring_addr(fe, q, RING_OFF(q)), 0) &&
		    check_eq(fe_vring_fd(fe, VHOST_USER_SET_VRING_CALL, q, fe->call[q]), 0))
			check_eq(fe_vring_fd(fe, VHOST_USER_SET_VRING_KICK, q, fe->kick[q]), 0);
		ok &= report_checks("ring %u: NUM, BASE, ADDR, CALL, KICK", q);
	}
	return ok;
}

/* One frame TX -> (loopback) -> RX, checked byte for byte. */
static bool fe_exchange(struct fe *fe, bool protocol, u8 seed)
{
	u8 *tx = fe->mem + BUF_OFF, *rx = fe->mem + BUF_OFF + 0x1000;
	const u32 frame = 60;
	u16 rx_used = *ring_used_idx(fe, 0), tx_used = *ring_used_idx(fe, 1);
	bool ok = true;

	memset(tx, 0, HDR_LEN);
	for (u32 i = 0; i < frame; i++)
		tx[HDR_LEN + i] = (u8)(seed + i);
	memset(rx, 0xee, 2048);
	ring_post(fe, 0, BUF_OFF + 0x1000, 2048, true);
	ring_post(fe, 1, BUF_OFF, HDR_LEN + frame, false);
	ring_kick(fe, 1);
	ring_kick(fe, 0);
	if (protocol) {
		/* Kicked while disabled: must not be lost. */
		usleep(20000);
		ok &= report_eq(*ring_used_idx(fe, 1), tx_used,
				"nothing moves before SET_VRING_ENABLE");
		if (check_eq(fe_vring(fe, VHOST_USER_SET_VRING_ENABLE, 0, 1), 0))
			check_eq(fe_vring(fe, VHOST_USER_SET_VRING_ENABLE, 1, 1), 0);
		ok &= report_checks("SET_VRING_ENABLE both rings");
	}
	ok &= report(ring_wait_used(fe, 1, (u16)(tx_used + 1)), "TX frame consumed");
	ok &= report(ring_wait_used(fe, 0, (u16)(rx_used + 1)), "frame looped back to RX");
	check_eq(ring_used_len(fe, 0, rx_used), HDR_LEN + frame);
	check_mem(rx + HDR_LEN, tx + HDR_LEN, frame);
	ok &= report_checks("RX frame is the TX frame (len %u)", ring_used_len(fe, 0, rx_used));
	{
		eventfd_t v = 0;

		if (check_eq(eventfd_read(fe->call[0], &v), 0))
			check_gt(v, 0);
		ok &= report_checks("RX call eventfd signalled");
	}
	return ok;
}

/* ---- scenarios ----------------------------------------------------------- */

static void *server_thread(void *arg)
{
	return (void *)(intptr_t)vhost_user_server_run(arg);
}

static void test_traffic(bool protocol, bool add_mem_reg)
{
	struct fe fe;
	struct vhost_user_vring_state st = { .index = 1 };

	report_prefix_push(protocol ? "protocol" : "legacy");
	if (!report_eq(fe_connect(&fe), 0, "connect")) {
		report_prefix_pop();
		return;
	}
	if (fe_setup(&fe, protocol, add_mem_reg)) {
		fe_exchange(&fe, protocol, 0x10);
		fe_exchange(&fe, false, 0x20);
		bool got = fe_send(&fe, VHOST_USER_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0) == 0 &&
			   fe_recv(&fe, VHOST_USER_GET_VRING_BASE, &st, sizeof(st)) == sizeof(st);

		if (check_true(got)) {
			check_eq(st.index, 1);
			check_eq(st.num, 2);
		}
		report_checks("GET_VRING_BASE stops TX at avail index 2 (got %u)", st.num);
	}
	fe_close(&fe);
	report_prefix_pop();
}

static void test_negative(void)
{
	struct vhost_user_mem_table mt = { .nregions = 2 };
	struct vhost_user_mem_reg mr = { .region = fe_region() };
	struct vhost_user_vring_addr a = { .index = 0 };
	struct fe fe;
	u64 v;
	int small;

	report_prefix_push("negative");
	if (!report_eq(fe_connect(&fe), 0, "connect")) {
		report_prefix_pop();
		return;
	}
	v = 1ULL << VIRTIO_F_VERSION_1;
	report_gt(fe_call(&fe, VHOST_USER_SET_FEATURES, &v, sizeof(v), NULL, 0), 0,
		  "SET_FEATURES before SET_OWNER refused");
	report_gt(fe_vring(&fe, VHOST_USER_SET_VRING_NUM, 0, QSZ), 0,
		  "SET_VRING_NUM before SET_OWNER refused");
	if (!fe_setup(&fe, true, true))
		goto out;

	report_gt(fe_vring(&fe, VHOST_USER_SET_VRING_NUM, 99, QSZ), 0, "ring index 99 refused");
	report_gt(fe_vring(&fe, VHOST_USER_SET_VRING_NUM, 0x10000, QSZ), 0,
		  "ring index 0x10000 refused (no truncation)");
	report_gt(fe_vring(&fe, VHOST_USER_SET_VRING_NUM, 0, 3), 0, "ring size 3 refused");
	report_gt(fe_vring(&fe, VHOST_USER_SET_VRING_NUM, 0, 65536), 0, "ring size 65536 refused");
	report_gt(fe_vring(&fe, VHOST_USER_SET_VRING_NUM, 0, 0), 0, "ring size 0 refused");
	report_gt(fe_vring(&fe, VHOST_USER_SET_VRING_BASE, 0, 0x10000), 0, "base 0x10000 refused");
	report_gt(fe_vring(&fe, VHOST_USER_SET_VRING_ENABLE, 0, 2), 0, "enable 2 refused");

	a.desc_user_addr = MEM_UVA + MEM_SIZE - 16;	/* table runs past the end */
	a.avail_user_addr = MEM_UVA;
	a.used_user_addr = MEM_UVA + 0x100;
	report_gt(fe_call(&fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0,
		  "ring address outside the memory table refused");
	a.desc_user_addr = MEM_UVA + 8;
	report_gt(fe_call(&fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0,
		  "misaligned descriptor table refused");

	/* The same region again (QEMU multiqueue) is taken; half over it is not. */
	report_eq(fe_call(&fe, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), &fe.memfd, 1), 0,
		  "ADD_MEM_REG of the same region again taken");
	report_eq(fe_call(&fe, VHOST_USER_REM_MEM_REG, &mr, sizeof(mr), NULL, 0), 0,
		  "REM_MEM_REG drops that reference");
	report_eq(fe_vring_addr(&fe, 0, 0), 0,
		  "ring addresses in it still taken: one reference left, still mapped");
	mr.region.guest_phys_addr += 4096;
	mr.region.userspace_addr += 4096;
	mr.region.mmap_offset += 4096;
	mr.region.memory_size -= 4096;
	report_gt(fe_call(&fe, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), &fe.memfd, 1), 0,
		  "ADD_MEM_REG of an overlapping region refused");
	mr.region = fe_region();
	mr.region.guest_phys_addr = 0x80000000ULL;
	mr.region.userspace_addr = 0x7f9900000000ULL;
	mr.region.memory_size = 2 * MEM_SIZE;		/* bigger than the memfd */
	report_gt(fe_call(&fe, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), &fe.memfd, 1), 0,
		  "ADD_MEM_REG larger than its fd refused");
	mr.region.memory_size = MEM_SIZE;
	mr.region.mmap_offset = UINT64_MAX - 10;
	report_gt(fe_call(&fe, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), &fe.memfd, 1), 0,
		  "ADD_MEM_REG with a wrapping mmap offset refused");
	mr.region.memory_size = MEM_SIZE / 2;
	mr.region.mmap_offset = 2;	/* would misalign every ring in it */
	report_gt(fe_call(&fe, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), &fe.memfd, 1), 0,
		  "ADD_MEM_REG with mmap_offset misaligned to its address refused");
	mr.region.memory_size = MEM_SIZE;
	mr.region.mmap_offset = 0;
	report_gt(fe_call(&fe, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), NULL, 0), 0,
		  "ADD_MEM_REG without an fd refused");

	mt.regions[0] = fe_region();
	mt.regions[1] = fe_region();
	mt.regions[1].guest_phys_addr += MEM_SIZE;
	mt.regions[1].userspace_addr += MEM_SIZE;
	report_gt(fe_call(&fe, VHOST_USER_SET_MEM_TABLE, &mt,
			  VHOST_USER_MEM_TABLE_HDR_SIZE + 2 * sizeof(mt.regions[0]), &fe.memfd, 1),
		  0, "SET_MEM_TABLE with 2 regions and 1 fd refused");
	mt.regions[1] = fe_region();
	{
		int two[2] = { fe.memfd, fe.memfd };

		report_gt(fe_call(&fe, VHOST_USER_SET_MEM_TABLE, &mt,
				  VHOST_USER_MEM_TABLE_HDR_SIZE + 2 * sizeof(mt.regions[0]), two,
				  2), 0, "SET_MEM_TABLE with overlapping regions refused");
	}
	v = 0 | VHOST_USER_VRING_NOFD_MASK;
	report_gt(fe_call(&fe, VHOST_USER_SET_VRING_KICK, &v, sizeof(v), &fe.kick[0], 1), 0,
		  "SET_VRING_KICK with the no-fd bit and an fd refused");
	v = 0;
	report_gt(fe_call(&fe, VHOST_USER_SET_VRING_KICK, &v, sizeof(v), NULL, 0), 0,
		  "SET_VRING_KICK without fd or no-fd bit refused");
	v = 0;
	report_gt(fe_call(&fe, VHOST_USER_SET_OWNER, &v, 0, &fe.kick[0], 1), 0,
		  "an fd on SET_OWNER refused");
	report_gt(fe_call(&fe, 200, NULL, 0, NULL, 0), 0, "unknown request 200 refused");
	v = 1ULL << 63;
	report_gt(fe_call(&fe, VHOST_USER_SET_FEATURES, &v, sizeof(v), NULL, 0), 0,
		  "SET_FEATURES with bits not offered refused");

	/* Memory used by a ring: the device must still answer afterwards. */
	small = memfd_create("small", MFD_CLOEXEC);
	if (ftruncate(small, 4096) == 0) {
		mr.region.guest_phys_addr = 0x90000000ULL;
		mr.region.userspace_addr = 0x7fa000000000ULL;
		mr.region.memory_size = 4096;
		report_eq(fe_call(&fe, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), &small, 1), 0,
			  "ADD_MEM_REG of a second region");
		report_eq(fe_call(&fe, VHOST_USER_REM_MEM_REG, &mr, sizeof(mr), NULL, 0), 0,
			  "REM_MEM_REG of it");
		report_gt(fe_call(&fe, VHOST_USER_REM_MEM_REG, &mr, sizeof(mr), NULL, 0), 0,
			  "REM_MEM_REG of a region not there refused");
	}
	close(small);

	report_gt(fe_get_u64(&fe, VHOST_USER_GET_FEATURES), 0,
		  "the connection still works after all that");
	fe_exchange(&fe, true, 0x30);

	/* Broken framing: disconnect. */
	{
		u32 four = 0;

		fe_send(&fe, VHOST_USER_SET_VRING_NUM, 0, &four, sizeof(four), NULL, 0);
		report(fe_disconnected(&fe), "SET_VRING_NUM with a 4-byte payload: disconnected");
	}
out:
	fe_close(&fe);
	report_prefix_pop();
}

/*
 * A memory commit that fails (here: an allocation) must not unmap memory
 * the device may still use. REM_MEM_REG keeps the region; SET_MEM_TABLE
 * stops the device until a table is committed, and then it runs again.
 */
static void test_commit_failure(void)
{
	struct vhost_user_mem_reg mr = { .region = fe_region() };
	struct vhost_user_mem_table mt = { .nregions = 1 };
	u8 *tx, *rx, *smem = MAP_FAILED;
	const u32 frame = 60;
	u16 rx_used, tx_used;
	struct fe fe;
	int small = -1;
	long long r;

	report_prefix_push("commit failure");
	if (!report_eq(fe_connect(&fe), 0, "connect") || !fe_setup(&fe, true, false) ||
	    !fe_exchange(&fe, true, 0x40))
		goto out;
	tx = fe.mem + BUF_OFF;
	for (u32 i = 0; i < frame; i++)
		tx[HDR_LEN + i] = (u8)(0x50 + i);

	/* REM_MEM_REG whose commit fails: the region still works. */
	small = memfd_create("small", MFD_CLOEXEC);
	if (small < 0 || ftruncate(small, 4096))
		goto out;
	smem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, small, 0);
	if (smem == MAP_FAILED)
		goto out;
	memset(smem, 0xee, 4096);
	mr.region.guest_phys_addr = 0x90000000ULL;
	mr.region.userspace_addr = 0x7fa000000000ULL;
	mr.region.memory_size = 4096;
	report_eq(fe_call(&fe, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), &small, 1), 0,
		  "ADD_MEM_REG of a second region");
	fault_inject_arm(1);
	r = fe_call(&fe, VHOST_USER_REM_MEM_REG, &mr, sizeof(mr), NULL, 0);
	check_true(fault_inject_fired());
	check_gt(r, 0);
	report_checks("REM_MEM_REG with a failing commit refused");
	fault_inject_arm(0);
	rx_used = *ring_used_idx(&fe, 0);
	tx_used = *ring_used_idx(&fe, 1);
	{
		u16 slot = fe.avail_idx[0] % QSZ;
		struct vringh_desc *d = &ring_desc(&fe, 0)[slot];

		d->addr = 0x90000000ULL;	/* RX buffer in the second region */
		d->len = 2048;
		d->flags = VRINGH_DESC_F_WRITE;
		d->next = 0;
		ring_avail(&fe, 0)[2 + slot] = slot;
		__atomic_store_n(&ring_avail(&fe, 0)[1], ++fe.avail_idx[0],
				 __ATOMIC_RELEASE);
	}
	ring_post(&fe, 1, BUF_OFF, HDR_LEN + frame, false);
	ring_kick(&fe, 1);
	if (check_true(ring_wait_used(&fe, 0, (u16)(rx_used + 1)))) {
		check_true(ring_wait_used(&fe, 1, (u16)(tx_used + 1)));
		check_mem(smem + HDR_LEN, tx + HDR_LEN, frame);
	}
	report_checks("the region kept its memory: frame received in it");

	/* SET_MEM_TABLE whose commit fails: the device stops, nothing lost. */
	mt.regions[0] = fe_region();
	fault_inject_arm(1);
	r = fe_call(&fe, VHOST_USER_SET_MEM_TABLE, &mt,
		    VHOST_USER_MEM_TABLE_HDR_SIZE + sizeof(mt.regions[0]),
		    &fe.memfd, 1);
	check_true(fault_inject_fired());
	check_gt(r, 0);
	report_checks("SET_MEM_TABLE with a failing commit refused");
	fault_inject_arm(0);
	rx = fe.mem + BUF_OFF + 0x1000;
	memset(rx, 0xee, 2048);
	rx_used = *ring_used_idx(&fe, 0);
	tx_used = *ring_used_idx(&fe, 1);
	ring_post(&fe, 0, BUF_OFF + 0x1000, 2048, true);
	ring_post(&fe, 1, BUF_OFF, HDR_LEN + frame, false);
	ring_kick(&fe, 1);
	usleep(50000);
	report_eq(*ring_used_idx(&fe, 1), tx_used,
		  "no ring runs on the memory table that was dropped");
	report_eq(fe_call(&fe, VHOST_USER_SET_MEM_TABLE, &mt,
			  VHOST_USER_MEM_TABLE_HDR_SIZE + sizeof(mt.regions[0]), &fe.memfd, 1), 0,
		  "SET_MEM_TABLE again");
	if (check_true(ring_wait_used(&fe, 1, (u16)(tx_used + 1)))) {
		check_true(ring_wait_used(&fe, 0, (u16)(rx_used + 1)));
		check_mem(rx + HDR_LEN, tx + HDR_LEN, frame);
	}
	report_checks("the rings run again where they stopped");
out:
	if (smem != MAP_FAILED)
		munmap(smem, 4096);
	if (small >= 0)
		close(small);
	fe_close(&fe);
	report_prefix_pop();
}

static void test_framing(void)
{
	struct fe fe;
	struct vhost_user_hdr hdr = { .request = VHOST_USER_GET_FEATURES, .flags = 2 };
	u32 big[4] = { VHOST_USER_SET_FEATURES, 1, 1u << 20, 0 };

	report_prefix_push("framing");
	if (fe_connect(&fe) == 0) {
		check_eq(send(fe.sock, &hdr, sizeof(hdr), MSG_NOSIGNAL), sizeof(hdr));
		check_true(fe_disconnected(&fe));
		report_checks("version 2: disconnected");
	}
	fe_close(&fe);
	if (fe_connect(&fe) == 0) {
		check_eq(send(fe.sock, big, 12, MSG_NOSIGNAL), 12);
		check_true(fe_disconnected(&fe));
		report_checks("a 1 MiB payload size: disconnected");
	}
	fe_close(&fe);
	if (fe_connect(&fe) == 0) {
		hdr.flags = 1 | VHOST_USER_REPLY_MASK;
		check_eq(send(fe.sock, &hdr, sizeof(hdr), MSG_NOSIGNAL), sizeof(hdr));
		check_true(fe_disconnected(&fe));
		report_checks("a reply sent as a request: disconnected");
	}
	fe_close(&fe);
	report_prefix_pop();
}

/*
 * A front-end that shrinks its memory file under a running device: the
 * next access past the new end is SIGBUS. The device must go NEEDS_RESET
 * (error fd signalled) and the server live on. The memfd here is made
 * without MFD_ALLOW_SEALING, as DPDK's are: it cannot carry seals.
 */
static void test_shrink(struct vdpa_device *vdpa)
{
	struct fe fe;
	int err = -1;
	bool signalled = false;

	report_prefix_push("shrunk memory");
	if (!report_eq(fe_connect(&fe), 0, "connect") || !fe_setup(&fe, true, false) ||
	    !fe_exchange(&fe, true, 0x60))
		goto out;
	err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	report_eq(fe_vring_fd(&fe, VHOST_USER_SET_VRING_ERR, 1, err), 0, "SET_VRING_ERR");
	/* Post a frame, then the whole file goes, rings included: kick. */
	ring_post(&fe, 1, BUF_OFF, HDR_LEN + 60, false);
	report_eq(ftruncate(fe.memfd, 0), 0, "front-end truncates its memfd to 0");
	ring_kick(&fe, 1);
	for (int i = 0; i < 2000 && !signalled; i++) {
		struct pollfd p = { .fd = err, .events = POLLIN };

		signalled = poll(&p, 1, 1) == 1;
	}
	report(signalled, "the ring's error fd is signalled");
	report(vdpa_needs_reset(vdpa), "the device needs reset");
	report_gt(fe_get_u64(&fe, VHOST_USER_GET_FEATURES), 0,
		  "the server still answers the front-end");
out:
	if (err >= 0)
		close(err);
	fe_close(&fe);
	report_prefix_pop();
}

/*
 * The same on other device types (the worker's recovery point is common
 * to all): the memory file goes to 0 bytes with a request posted on
 * ring @q, then the kick.
 */
/*
 * A server of its own for a device of type @spec, on the socket @path
 * (@tag names it); sock_path points there until type_server_stop().
 * Return: false (and the report prefix popped) when it cannot be made.
 */
static bool type_server_start(const char *spec, const char *prefix, char tag, char *path,
			      size_t len, struct vdpa_device **vdpa,
			      struct vhost_user_server **s, pthread_t *th)
{
	report_prefix_push(prefix);
	snprintf(path, len, "/tmp/kestrel-vu-test.%d.%c.sock", (int)getpid(), tag);
	if (!report_eq(vdpa_mgmt_dev_add(spec, vdpa), 0, "device") ||
	    !report_eq(vhost_user_server_create(path, *vdpa, NULL, s), 0, "server")) {
		report_prefix_pop();
		return false;
	}
	pthread_create(th, NULL, server_thread, *s);
	sock_path = path;
	return true;
}

/* Stop a scenario's own server, then delete its device. */
static void server_teardown(struct vhost_user_server *s, pthread_t th,
			    struct vdpa_device *vdpa)
{
	vhost_user_server_stop(s);
	pthread_join(th, NULL);
	vhost_user_server_destroy(s);
	vdpa_mgmt_dev_del(vdpa);
}

/* type_server_start()'s undoing: the socket path back, the prefix popped. */
static void type_server_stop(const char *saved, struct vhost_user_server *s, pthread_t th,
			     struct vdpa_device *vdpa)
{
	fe_rings = 2;
	sock_path = saved;
	server_teardown(s, th, vdpa);
	report_prefix_pop();
}

static void test_shrink_type(const char *spec, u32 nrings, u32 q)
{
	const char *saved = sock_path;
	struct vhost_user_server *s;
	struct vdpa_device *vdpa;
	char path[64];
	bool signalled = false;
	pthread_t th;
	struct fe fe;
	int err;

	if (!type_server_start(spec, spec, 'x', path, sizeof(path), &vdpa, &s, &th))
		return;
	fe_rings = nrings;
	if (report_eq(fe_connect(&fe), 0, "connect") && fe_setup(&fe, true, false)) {
		for (u32 i = 0; i < nrings; i++)
			check_eq(fe_vring(&fe, VHOST_USER_SET_VRING_ENABLE, i, 1), 0);
		err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		check_eq(fe_vring_fd(&fe, VHOST_USER_SET_VRING_ERR, q, err), 0);
		report_checks("rings enabled, SET_VRING_ERR");
		ring_post(&fe, (int)q, BUF_OFF, 64, false);
		report_eq(ftruncate(fe.memfd, 0), 0, "front-end truncates its memfd to 0");
		ring_kick(&fe, (int)q);
		for (int i = 0; i < 2000 && !signalled; i++) {
			struct pollfd p = { .fd = err, .events = POLLIN };

			signalled = poll(&p, 1, 1) == 1;
		}
		report(signalled && vdpa_needs_reset(vdpa),
		       "error fd signalled, device needs reset");
		report_gt(fe_get_u64(&fe, VHOST_USER_GET_FEATURES), 0, "the server still answers");
		close(err);
	}
	fe_close(&fe);
	fe_rings = 2;
	sock_path = saved;
	server_teardown(s, th, vdpa);
	report_prefix_pop();
}

/* One IOTLB_MSG, acknowledged. */
static long long fe_iotlb(struct fe *fe, u8 type, u64 iova, u64 size, u64 uva_off)
{
	struct vhost_user_iotlb m = {
		.iova = iova, .size = size, .uaddr = MEM_UVA + uva_off,
		.perm = type == VHOST_USER_IOTLB_UPDATE ? VHOST_USER_ACCESS_RW : 0,
		.type = type,
	};

	return fe_call(fe, VHOST_USER_IOTLB_MSG, &m, sizeof(m), NULL, 0);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * --iommu: rings and buffers are IOVAs the front-end maps one IOTLB_MSG at
 * a time (IOVA == the GPA the descriptors of ring_post() carry, so the
 * frame helpers work unchanged). After the rings and buffers, IOMMU_PAGES
 * more single updates: each goes to the device as one map (no whole-table
 * push: with one, these took seconds), and the device sees the last of
 * them; a mapping replaced by another update moves the frame to the new
 * memory; an invalidated buffer is one the device may no longer touch.
 */
#define IOMMU_PAGES	20000

static void test_iommu(void)
{
	const char *saved = sock_path;
	struct vhost_user_server_opts opts = { .iommu = true };
	struct vhost_user_mem_table mt = { .nregions = 1 };
	struct vhost_user_server *s;
	struct vdpa_device *vdpa;
	unsigned long bad = 0;
	char path[64];
	pthread_t th;
	struct fe fe;
	double t0;
	u64 want;

	report_prefix_push("iommu");
	snprintf(path, sizeof(path), "/tmp/kestrel-vu-test.%d.i.sock", (int)getpid());
	if (!report_eq(vdpa_mgmt_dev_add("net", &vdpa), 0, "device") ||
	    !report_eq(vhost_user_server_create(path, vdpa, &opts, &s), 0, "server with --iommu")) {
		report_prefix_pop();
		return;
	}
	pthread_create(&th, NULL, server_thread, s);
	sock_path = path;
	if (!report_eq(fe_connect(&fe), 0, "connect"))
		goto out;
	report_true(fe_get_u64(&fe, VHOST_USER_GET_FEATURES) & (1ULL << VIRTIO_F_ACCESS_PLATFORM),
		    "ACCESS_PLATFORM offered");
	want = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM);
	mt.regions[0] = fe_region();
	check_eq(fe_send(&fe, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0), 0);
	check_eq(fe_call(&fe, VHOST_USER_SET_FEATURES, &want, sizeof(want), NULL, 0), 0);
	check_eq(fe_call(&fe, VHOST_USER_SET_MEM_TABLE, &mt,
			 VHOST_USER_MEM_TABLE_HDR_SIZE + sizeof(mt.regions[0]), &fe.memfd, 1), 0);
	for (u32 q = 0; q < 2; q++) {
		struct vhost_user_vring_addr a = {
			.index = q,
			.desc_user_addr = MEM_GPA + RING_OFF(q),
			.avail_user_addr = MEM_GPA + RING_OFF(q) + 0x1000,
			.used_user_addr = MEM_GPA + RING_OFF(q) + 0x2000,
		};

		check_eq(fe_vring(&fe, VHOST_USER_SET_VRING_NUM, q, QSZ), 0);
		check_eq(fe_vring(&fe, VHOST_USER_SET_VRING_BASE, q, 0), 0);
		check_eq(fe_call(&fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
		check_eq(fe_vring_fd(&fe, VHOST_USER_SET_VRING_CALL, q, fe.call[q]), 0);
		check_eq(fe_vring_fd(&fe, VHOST_USER_SET_VRING_KICK, q, fe.kick[q]), 0);
	}
	if (!report_checks("ACCESS_PLATFORM negotiated, memory and rings set up"))
		goto out_close;
	/* The rings and the two buffer pages, a 4 KiB page per update. */
	for (u32 off = 0; off < RING_OFF(2); off += 0x1000)
		bad += fe_iotlb(&fe, VHOST_USER_IOTLB_UPDATE, MEM_GPA + off, 0x1000, off) != 0;
	bad += fe_iotlb(&fe, VHOST_USER_IOTLB_UPDATE, MEM_GPA + BUF_OFF, 0x2000, BUF_OFF) != 0;
	report_eq(bad, 0, "rings and buffers mapped one update at a time");
	fe_exchange(&fe, false, 0x30);

	t0 = mono_s();
	for (u64 i = 0; i < IOMMU_PAGES; i++)
		bad += fe_iotlb(&fe, VHOST_USER_IOTLB_UPDATE, (1ULL << 40) + (i << 13), 0x1000,
				0x40000 + (i % 64) * 0x1000) != 0;
	report_eq(bad, 0, "%u more single updates acknowledged", IOMMU_PAGES);
	report_info("%u single IOTLB updates in %.2f s", IOMMU_PAGES, mono_s() - t0);
	/* The last one reached the device: a TX buffer there loops back. */
	{
		u64 iova = (1ULL << 40) + ((u64)(IOMMU_PAGES - 1) << 13);
		u32 off = 0x40000 + ((IOMMU_PAGES - 1) % 64) * 0x1000;
		u8 *rx = fe.mem + BUF_OFF + 0x1000;
		u16 rx_used = *ring_used_idx(&fe, 0), tx_used = *ring_used_idx(&fe, 1);
		struct vringh_desc *d;

		memset(fe.mem + off, 0, HDR_LEN);
		memset(fe.mem + off + HDR_LEN, 0x5a, 60);
		memset(rx, 0, 2048);
		ring_post(&fe, 0, BUF_OFF + 0x1000, 2048, true);
		ring_post(&fe, 1, 0, HDR_LEN + 60, false);
		d = &ring_desc(&fe, 1)[(fe.avail_idx[1] - 1) % QSZ];
		d->addr = iova;		/* the last page mapped */
		ring_kick(&fe, 1);
		ring_kick(&fe, 0);
		check_true(ring_wait_used(&fe, 1, (u16)(tx_used + 1)));
		if (check_true(ring_wait_used(&fe, 0, (u16)(rx_used + 1))))
			check_eq(rx[HDR_LEN + 59], 0x5a);
		check_false(vdpa_needs_reset(vdpa));
		report_checks("a frame in the page the last update mapped loops back");
	}
	/* Replace the RX buffer's mapping: the next frame lands in the new page. */
	check_eq(fe_iotlb(&fe, VHOST_USER_IOTLB_UPDATE, MEM_GPA + BUF_OFF + 0x1000, 0x1000,
			  0x80000), 0);
	memset(fe.mem + 0x80000, 0, 0x1000);
	fe_iotlb(&fe, VHOST_USER_IOTLB_UPDATE, MEM_GPA + BUF_OFF, 0x1000, BUF_OFF);
	{
		u16 rx_used = *ring_used_idx(&fe, 0);

		memset(fe.mem + BUF_OFF, 0, HDR_LEN);
		memset(fe.mem + BUF_OFF + HDR_LEN, 0x77, 60);
		ring_post(&fe, 0, BUF_OFF + 0x1000, 2048, true);
		ring_post(&fe, 1, BUF_OFF, HDR_LEN + 60, false);
		ring_kick(&fe, 1);
		ring_kick(&fe, 0);
		if (check_true(ring_wait_used(&fe, 0, (u16)(rx_used + 1))))
			check_eq(fe.mem[0x80000 + HDR_LEN + 59], 0x77);
		report_checks("a replaced mapping: the frame lands in the new page");
	}
	/* Invalidate the TX buffer: the device may not read it any more. */
	check_eq(fe_iotlb(&fe, VHOST_USER_IOTLB_INVALIDATE, MEM_GPA + BUF_OFF, 0x1000, 0), 0);
	ring_post(&fe, 1, BUF_OFF, HDR_LEN + 60, false);
	ring_kick(&fe, 1);
	for (int i = 0; i < 2000 && !vdpa_needs_reset(vdpa); i++)
		usleep(1000);
	check_true(vdpa_needs_reset(vdpa));
	report_checks("a frame in an invalidated page: the device needs reset");
out_close:
	fe_close(&fe);
out:
	sock_path = saved;
	server_teardown(s, th, vdpa);
	report_prefix_pop();
}

/*
 * A peer that connects and leaves in a loop: every connection is served,
 * but the log gets at most the rate limit's burst (10 in 5 s) of
 * connections, each with both its lines.
 */
#define FLOOD_CONNECTIONS	40

static unsigned int flood_connected, flood_gone;

static void flood_sink(enum log_level level, const char *file, int line, const char *msg)
{
	if (strstr(msg, "front-end connected"))
		__atomic_add_fetch(&flood_connected, 1, __ATOMIC_RELAXED);
	if (strstr(msg, "front-end gone"))
		__atomic_add_fetch(&flood_gone, 1, __ATOMIC_RELAXED);
}

static void test_conn_flood(void)
{
	struct vhost_user_server *s;
	struct vdpa_device *vdpa;
	unsigned int limit, served, i;
	char path[64];
	pthread_t th;
	double t0;

	report_prefix_push("connect flood");
	snprintf(path, sizeof(path), "/tmp/kestrel-vu-test.%d.f.sock", (int)getpid());
	if (!report_eq(vdpa_mgmt_dev_add("net", &vdpa), 0, "device") ||
	    !report_eq(vhost_user_server_create(path, vdpa, NULL, &s), 0, "server")) {
		report_prefix_pop();
		return;
	}
	log_set_sink(flood_sink);
	log_level_set(LOG_INFO);
	pthread_create(&th, NULL, server_thread, s);
	t0 = mono_s();
	for (i = 0; i < FLOOD_CONNECTIONS; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		u8 hdr[12] = { 0 };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		/* One message header (a GET_FEATURES), then gone. */
		hdr[0] = VHOST_USER_GET_FEATURES;
		hdr[4] = 1;
		if (fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			(void)!write(fd, hdr, sizeof(hdr));
		close(fd);
		/* The next connect only once this one was taken. */
		for (int j = 0; j < 2000 && vhost_user_server_connections(s) <= i; j++)
			usleep(500);
	}
	for (int j = 0; j < 2000 && __atomic_load_n(&flood_gone, __ATOMIC_RELAXED) <
				     __atomic_load_n(&flood_connected, __ATOMIC_RELAXED); j++)
		usleep(500);
	/* A window of 5 s lets 10 through; a slow run spans more windows. */
	limit = 10 * (1 + (unsigned int)((mono_s() - t0) / 5.0));
	served = vhost_user_server_connections(s);
	server_teardown(s, th, vdpa);
	log_level_set(LOG_ERR);
	log_set_sink(NULL);
	report_eq(served, FLOOD_CONNECTIONS, "every connection served");
	check_ge(flood_connected, 1);
	check_le(flood_connected, limit);
	check_eq(flood_gone, flood_connected);
	report_checks("%u of %u connections logged (at most %u), each with its \"gone\" line",
		      flood_connected, FLOOD_CONNECTIONS, limit);
	report_prefix_pop();
}

/*
 * A balloon served over vhost-user: the pages it is given are the
 * front-end's memfd, mapped shared by the server, and inflating them frees
 * the memfd's blocks (MADV_REMOVE) - the front-end sees zeros there.
 */
static void test_balloon(void)
{
	const char *saved = sock_path;
	struct vdpa_balloon_info info;
	struct vhost_user_server *s;
	struct vdpa_device *vdpa;
	u32 *pfns;
	char path[64];
	struct stat st;
	long long blocks;
	pthread_t th;
	struct fe fe;

	if (!type_server_start("balloon,amount_mib=1", "balloon", 'b', path, sizeof(path), &vdpa,
			       &s, &th))
		return;
	/* Without PROTOCOL_FEATURES: the rings run once kicked (fe_setup() counts pairs). */
	if (report_eq(fe_connect(&fe), 0, "connect") && fe_setup(&fe, false, false)) {
		blocks = fstat(fe.memfd, &st) ? -1 : (long long)st.st_blocks;
		memset(fe.mem + 0x40000, 0x77, 65 * 4096);
		pfns = (u32 *)(fe.mem + BUF_OFF);
		for (u32 i = 0; i < 64; i++)
			pfns[i] = (u32)((MEM_GPA + 0x40000) / 4096 + i);
		pfns[64] = 1;	/* not the front-end's memory: refused */
		ring_post(&fe, 0, BUF_OFF, 65 * 4, false);
		ring_kick(&fe, 0);
		report(ring_wait_used(&fe, 0, 1), "inflate request served");
		check_eq(fstat(fe.memfd, &st), 0);
		check_eq((long long)st.st_blocks, blocks - 64 * 8);
		check_eq(fe.mem[0x40000], 0);
		check_eq(fe.mem[0x40000 + 64 * 4096], 0x77);	/* the page after: kept */
		report_checks("the front-end's memfd lost the 64 pages' blocks (%lld -> %lld)",
			      blocks, (long long)st.st_blocks);
		check_eq(vdpa_balloon_get_info(vdpa, &info), 0);
		check_eq(info.refused_pfns, 1);
		check_false(vdpa_needs_reset(vdpa));
		report_checks("one PFN refused, the device goes on");
	}
	fe_close(&fe);
	type_server_stop(saved, s, th, vdpa);
}

/* Replace the front-end's memory by a sealable memfd with the same bytes. */
static int fe_sealable_mem(struct fe *fe)
{
	int fd = memfd_create("fe-sealable", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	u8 *mem;

	if (fd < 0 || ftruncate(fd, MEM_SIZE))
		return -1;
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return -1;
	memcpy(mem, fe->mem, MEM_SIZE);
	munmap(fe->mem, MEM_SIZE);
	close(fe->memfd);
	fe->mem = mem;
	fe->memfd = fd;
	return 0;
}

/* A memfd that could be sealed against shrinking must be. */
static void test_seals(void)
{
	struct vhost_user_mem_table mt = { .nregions = 1 };
	struct vhost_user_mem_reg mr = { .region = fe_region() };
	u32 size = VHOST_USER_MEM_TABLE_HDR_SIZE + sizeof(mt.regions[0]);
	struct fe fe;

	report_prefix_push("seals");
	mt.regions[0] = fe_region();
	if (!report_eq(fe_connect(&fe), 0, "connect") || !fe_setup(&fe, true, false) ||
	    !report_eq(fe_sealable_mem(&fe), 0, "a sealable memfd with the same memory"))
		goto out;
	report_gt(fe_call(&fe, VHOST_USER_SET_MEM_TABLE, &mt, size, &fe.memfd, 1), 0,
		  "SET_MEM_TABLE of a sealable memfd without F_SEAL_SHRINK refused");
	mr.region.guest_phys_addr = 0x80000000ULL;
	mr.region.userspace_addr = 0x7f9900000000ULL;
	report_gt(fe_call(&fe, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), &fe.memfd, 1), 0,
		  "ADD_MEM_REG of it refused too");
	report_eq(fcntl(fe.memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0,
		  "front-end seals it (F_SEAL_SHRINK)");
	report_eq(fe_call(&fe, VHOST_USER_SET_MEM_TABLE, &mt, size, &fe.memfd, 1), 0,
		  "SET_MEM_TABLE of the sealed memfd accepted");
	fe_exchange(&fe, true, 0x70);
out:
	fe_close(&fe);
	report_prefix_pop();
}

/*
 * A front-end that trickles a message a byte at a time: the message has
 * a deadline from its first byte (here 300 ms), not from the last read.
 */
static void test_trickle(const char *path)
{
	const char *saved = sock_path;
	struct vhost_user_hdr hdr = { .request = VHOST_USER_GET_FEATURES, .flags = 1 };
	struct timespec t0, t1;
	bool dropped = false;
	struct fe fe;
	double ms;

	report_prefix_push("trickle");
	sock_path = path;
	if (!report_eq(fe_connect(&fe), 0, "connect"))
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < sizeof(hdr) && !dropped; i++) {
		char c;

		if (send(fe.sock, (char *)&hdr + i, 1, MSG_NOSIGNAL) != 1)
			dropped = true;
		usleep(100000);	/* 12 bytes: 1.2 s, four times the deadline */
		dropped |= recv(fe.sock, &c, 1, MSG_DONTWAIT) == 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	report(dropped && ms < 1000, "dropped before the message was whole (after %.0f ms)", ms);
	fe_close(&fe);
	if (report_eq(fe_connect(&fe), 0, "a new front-end connects"))
		report_gt(fe_get_u64(&fe, VHOST_USER_GET_FEATURES), 0, "and is served");
out:
	fe_close(&fe);
	sock_path = saved;
	report_prefix_pop();
}


/*
 * A multiqueue net device: the server offers VHOST_USER_PROTOCOL_F_MQ and
 * GET_QUEUE_NUM counts its queue pairs (QEMU and DPDK size their queues=
 * by it), not its rings (9: 4 pairs and the control queue).
 */
static void test_mq(void)
{
	const char *saved = sock_path;
	struct vhost_user_server *s;
	struct vdpa_device *vdpa;
	char path[64];
	pthread_t th;
	struct fe fe;

	if (!type_server_start("net,max_vqp=4", "mq", 'q', path, sizeof(path), &vdpa, &s, &th))
		return;
	if (report_eq(fe_connect(&fe), 0, "connect")) {
		long long pf = fe_get_u64(&fe, VHOST_USER_GET_PROTOCOL_FEATURES);

		report(pf > 0 && (pf & (1ULL << VHOST_USER_PROTOCOL_F_MQ)),
		       "GET_PROTOCOL_FEATURES offers MQ (%#llx)", pf);
		report_eq(fe_call(&fe, VHOST_USER_SET_PROTOCOL_FEATURES, &pf, sizeof(u64), NULL, 0),
			  0, "SET_PROTOCOL_FEATURES");
		report_eq(fe_get_u64(&fe, VHOST_USER_GET_QUEUE_NUM), 4,
			  "GET_QUEUE_NUM is 4 queue pairs");
		report(fe_get_u64(&fe, VHOST_USER_GET_FEATURES) & (1ULL << VIRTIO_NET_F_MQ),
		       "GET_FEATURES offers VIRTIO_NET_F_MQ");
		report_eq(fe_send(&fe, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0), 0, "SET_OWNER");
		report_eq(fe_vring(&fe, VHOST_USER_SET_VRING_ENABLE, 8, 1), 0,
			  "SET_VRING_ENABLE of the last ring (the control queue)");
		report_ne(fe_vring(&fe, VHOST_USER_SET_VRING_ENABLE, 9, 1), 0,
			  "SET_VRING_ENABLE of ring 9 refused");
	}
	fe_close(&fe);
	type_server_stop(saved, s, th, vdpa);
}

int main(void)
{
	static char path[64], tpath[64];
	struct vhost_user_server_opts topts = { .msg_timeout_ms = 300 };
	struct vhost_user_server *s, *ts;
	struct vdpa_device *vdpa, *tvdpa;
	pthread_t th, tth;
	void *rc;

	log_level_set(LOG_ERR);
	snprintf(path, sizeof(path), "/tmp/kestrel-vu-test.%d.sock", (int)getpid());
	snprintf(tpath, sizeof(tpath), "/tmp/kestrel-vu-test.%d.t.sock", (int)getpid());
	sock_path = path;
	if (vdpa_register_types() || vdpa_mgmt_dev_add("net", &vdpa) ||
	    vdpa_mgmt_dev_add("net", &tvdpa)) {
		report(false, "create the net simulators");
		return report_summary();
	}
	if (!report_eq(vhost_user_server_create(path, vdpa, NULL, &s), 0, "server created") ||
	    !report_eq(vhost_user_server_create(tpath, tvdpa, &topts, &ts), 0,
		       "server with a 300 ms message deadline created"))
		return report_summary();
	pthread_create(&th, NULL, server_thread, s);
	pthread_create(&tth, NULL, server_thread, ts);

	test_traffic(true, false);
	test_traffic(false, false);
	test_negative();
	test_framing();
	test_commit_failure();
	test_shrink(vdpa);
	test_shrink_type("net,mode=sink", 2, 1);
	test_shrink_type("blk", 1, 0);
	test_balloon();
	test_mq();
	test_seals();
	test_iommu();
	test_conn_flood();
	test_trickle(tpath);
	test_traffic(true, true);	/* still serving, via ADD_MEM_REG */
	report_eq(vhost_user_server_connections(s), 10, "10 front-ends served (got %u)",
		  vhost_user_server_connections(s));

	vhost_user_server_stop(s);
	vhost_user_server_stop(ts);
	pthread_join(th, &rc);
	report_eq(rc, NULL, "run loop returned 0");
	pthread_join(tth, &rc);
	vhost_user_server_destroy(s);
	vhost_user_server_destroy(ts);
	vdpa_mgmt_dev_del(vdpa);
	vdpa_mgmt_dev_del(tvdpa);
	report_ne(access(path, F_OK), 0, "socket removed");
	return report_summary();
}
