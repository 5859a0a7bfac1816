// SPDX-License-Identifier: GPL-2.0-only
/*
 * VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD end to end: a blk front-end written
 * here runs "kestrel vhost-user --device file-blk" as a child, keeps the
 * region GET_INFLIGHT_FD gave it, and writes thousands of requests with a
 * distinct pattern each, 64 at a time. Several times it catches the server
 * with requests in flight (stopped, the region looked at), kills it with
 * SIGKILL, starts a new one and sets everything up again as QEMU's
 * vhost-user-blk does after a reconnect (SET_INFLIGHT_FD, the memory, the
 * ring with SET_VRING_BASE at the used ring's idx). Then:
 *  - every request completed exactly once: no used element for a request
 *    already completed (or never made available), none missing;
 *  - every write acknowledged before a kill is in the file with its
 *    pattern, and so is every write at the end;
 *  - the requests outstanding at each kill completed after the restart.
 * And regions a hostile front-end gives back (a bad version, desc_num,
 * last batch, inflight byte, counters, size, seals) are refused with an
 * error, or (changed after they were accepted) make the device need a
 * reset, while the server lives on.
 *
 * No /dev/kvm needed; skips (77) if kestrel is not built.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include <kestrel/vdpa.h>
#include <kestrel/vringh.h>

#include "../run.h"
#include "../test.h"
#include "../../../src/vhost-user/protocol.h"
#include "wire.h"

#define QSZ		256
#define SLOTS		64			/* requests in flight at most */
#define NREQ		6000			/* requests written */
#define ROUNDS		4			/* server kills */
#define MEM_SIZE	(2u << 20)
#define MEM_UVA		0x7f3400000000ULL	/* the "front-end's" address */
#define DESC_OFF	0x0
#define AVAIL_OFF	0x1000
#define USED_OFF	0x2000
#define BUF_OFF		0x10000
#define SLOT_SIZE	0x2000			/* header, status; data at +0x1000 */
#define REQ_BYTES	4096

/* The stride of one queue's region for QSZ (vdpa_inflight_queue_size()). */
#define REGION_SIZE	((16 + 16 * QSZ + 63) & ~63u)

struct fe {
	int sock;
	int kick;
	int call;
};

static char sock_path[64], img_path[64], log_path[64];
static char kestrel[256];
static pid_t server = -1;

/* The guest side: memory, ring and requests outlive the server. */
static int memfd = -1;
static u8 *mem;
static u16 avail_idx, last_used;
static int slot_req[SLOTS];		/* request in slot, or -1 */
static u8 *done;			/* completions seen per request */
static u32 next_req, ncompleted, dup_or_stray;
static int inflight_fd = -1;
static u64 inflight_size;
static struct vdpa_inflight_split *region;

/* ---- the server ---------------------------------------------------------- */

/*
 * A killed server's file goes only once the kernel has cancelled its
 * io_uring requests (asynchronously, after the process is gone); until
 * then file-blk's lock refuses a new server. Wait for it (bounded).
 */
static void wait_image_free(void)
{
	int fd = open(img_path, O_RDONLY | O_CLOEXEC);

	for (int i = 0; fd >= 0 && i < 2000; i++) {
		if (!flock(fd, LOCK_EX | LOCK_NB)) {
			flock(fd, LOCK_UN);
			break;
		}
		usleep(5000);
	}
	close(fd);
}

static void server_start(void)
{
	char dev[128], sub[] = "vhost-user", sock_opt[] = "--socket", dev_opt[] = "--device";
	char *argv[] = { kestrel, sub, sock_opt, sock_path, dev_opt, dev, NULL };

	snprintf(dev, sizeof(dev), "file-blk,path=%s", img_path);
	unlink(sock_path);
	wait_image_free();
	server = fork();
	if (server == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(kestrel, argv);
		_exit(127);
	}
}

static void server_kill(void)
{
	if (server <= 0)
		return;
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	server = -1;
}

static bool server_alive(void)
{
	return server > 0 && waitpid(server, NULL, WNOHANG) == 0;
}

/* ---- wire ---------------------------------------------------------------- */


static long long fe_set_u64(struct fe *fe, u32 req, u64 v)
{
	return wire_call(fe->sock, req, &v, sizeof(v), NULL, 0);
}

/* Connect to a server that may still be starting (bounded attempts). */
static int fe_connect(struct fe *fe)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };

	fe->kick = eventfd(0, EFD_CLOEXEC);
	fe->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	for (int i = 0; i < 1000; i++) {
		fe->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (!connect(fe->sock, (struct sockaddr *)&sa, sizeof(sa))) {
			setsockopt(fe->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			return 0;
		}
		close(fe->sock);
		if (!server_alive())
			break;
		usleep(10000);
	}
	fe->sock = -1;
	return -1;
}

static void fe_close(struct fe *fe)
{
	close(fe->sock);
	close(fe->kick);
	close(fe->call);
}

/*
 * What QEMU's vhost-user-blk sends on (re)connecting with inflight
 * tracking: features, the region (fetched the first time), memory, ring.
 * Return: 0, or the step that failed (a negative number).
 */
static int fe_setup(struct fe *fe)
{
	u64 features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
	u64 proto = (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
		    (1ULL << VHOST_USER_PROTOCOL_F_STATUS) |
		    (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
	struct vhost_user_inflight in = { .num_queues = 1, .queue_size = QSZ };
	struct vhost_user_mem_table mt = {
		.nregions = 1,
		.regions[0] = { .guest_phys_addr = 0, .memory_size = MEM_SIZE,
				.userspace_addr = MEM_UVA },
	};
	struct vhost_user_vring_addr addr = {
		.desc_user_addr = MEM_UVA + DESC_OFF,
		.avail_user_addr = MEM_UVA + AVAIL_OFF,
		.used_user_addr = MEM_UVA + USED_OFF,
	};
	struct vhost_user_vring_state st;
	long long offered;
	u16 used;
	int fd;

	if (wire_send(fe->sock, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0))
		return -1;
	offered = wire_get_u64(fe->sock, VHOST_USER_GET_PROTOCOL_FEATURES);
	if (offered < 0 || !(offered & (1LL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)))
		return -2;
	if (wire_send(fe->sock, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &proto, sizeof(proto), NULL, 0) ||
	    fe_set_u64(fe, VHOST_USER_SET_FEATURES, features))
		return -3;
	if (inflight_fd < 0) {
		if (wire_send(fe->sock, VHOST_USER_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0) ||
		    wire_recv(fe->sock, VHOST_USER_GET_INFLIGHT_FD, &in, sizeof(in), &fd) != sizeof(in) ||
		    fd < 0 || in.mmap_size < REGION_SIZE)
			return -4;
		inflight_fd = fd;
		inflight_size = in.mmap_size;
		region = mmap(NULL, inflight_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (region == MAP_FAILED)
			return -5;
	}
	in.mmap_size = inflight_size;
	in.mmap_offset = 0;
	if (wire_call(fe->sock, VHOST_USER_SET_INFLIGHT_FD, &in, sizeof(in), &inflight_fd, 1))
		return -6;
	mt.regions[0].mmap_offset = 0;
	if (wire_call(fe->sock, VHOST_USER_SET_MEM_TABLE, &mt,
		    VHOST_USER_MEM_TABLE_HDR_SIZE + sizeof(mt.regions[0]), &memfd, 1))
		return -7;
	/* After a crash QEMU restarts the ring at the used ring's idx. */
	used = __atomic_load_n((u16 *)(mem + USED_OFF + 2), __ATOMIC_ACQUIRE);
	st = (struct vhost_user_vring_state){ .index = 0, .num = QSZ };
	if (wire_call(fe->sock, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0))
		return -8;
	st.num = used;
	if (wire_call(fe->sock, VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0) ||
	    wire_call(fe->sock, VHOST_USER_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0))
		return -9;
	if (wire_call(fe->sock, VHOST_USER_SET_VRING_CALL, &(u64){ 0 }, sizeof(u64), &fe->call, 1) ||
	    wire_call(fe->sock, VHOST_USER_SET_VRING_KICK, &(u64){ 0 }, sizeof(u64), &fe->kick, 1))
		return -10;
	st = (struct vhost_user_vring_state){ .index = 0, .num = 1 };
	if (wire_call(fe->sock, VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0))
		return -11;
	return 0;
}

/* ---- the driver ---------------------------------------------------------- */

static u32 pattern(u32 req, u32 word)
{
	return req * 0x9e3779b1u ^ word * 0x85ebca6bu ^ 0x5bd1e995u;
}

/*
 * Every fourth request asks for the serial (GET_ID): the device answers it
 * at once while the writes around it wait for io_uring, so requests
 * complete out of the order they were made available, and the avail ring
 * alone cannot tell a restarted server which it had taken.
 */
static bool is_get_id(u32 req)
{
	return req % 4 == 1;
}

/* What the used element of @req says it wrote. */
static u32 used_len(u32 req)
{
	return is_get_id(req) ? VIRTIO_BLK_ID_BYTES + 1 : 1;
}

static u8 *slot_buf(u32 slot)
{
	return mem + BUF_OFF + (size_t)slot * SLOT_SIZE;
}

/* Make request @req available in @slot: header, data, status (3 descriptors). */
static void submit(u32 slot, u32 req)
{
	struct vringh_desc *desc = (struct vringh_desc *)(mem + DESC_OFF);
	u16 *avail = (u16 *)(mem + AVAIL_OFF);
	struct virtio_blk_outhdr *hdr = (void *)slot_buf(slot);
	u32 *data = (u32 *)(slot_buf(slot) + 0x1000);
	u8 *status = slot_buf(slot) + 0x20;
	u16 head = (u16)(slot * 3);

	hdr->type = is_get_id(req) ? VIRTIO_BLK_T_GET_ID : VIRTIO_BLK_T_OUT;
	hdr->ioprio = 0;
	hdr->sector = (u64)req * (REQ_BYTES / 512);
	for (u32 i = 0; i < REQ_BYTES / 4; i++)
		data[i] = pattern(req, i);
	*status = 0xff;
	desc[head] = (struct vringh_desc){
		.addr = BUF_OFF + (u64)slot * SLOT_SIZE, .len = sizeof(*hdr),
		.flags = VRINGH_DESC_F_NEXT, .next = (u16)(head + 1) };
	desc[head + 1] = (struct vringh_desc){
		.addr = BUF_OFF + (u64)slot * SLOT_SIZE + 0x1000,
		.len = is_get_id(req) ? VIRTIO_BLK_ID_BYTES : REQ_BYTES,
		.flags = VRINGH_DESC_F_NEXT | (is_get_id(req) ? VRINGH_DESC_F_WRITE : 0),
		.next = (u16)(head + 2) };
	desc[head + 2] = (struct vringh_desc){
		.addr = BUF_OFF + (u64)slot * SLOT_SIZE + 0x20, .len = 1,
		.flags = VRINGH_DESC_F_WRITE };
	slot_req[slot] = (int)req;
	avail[2 + avail_idx % QSZ] = head;
	__atomic_store_n(&avail[1], (u16)(avail_idx + 1), __ATOMIC_RELEASE);
	avail_idx++;
}

/* Fill free slots with the next requests; kick if any went. */
static void fill(struct fe *fe)
{
	bool any = false;

	for (u32 s = 0; s < SLOTS && next_req < NREQ; s++) {
		if (slot_req[s] >= 0)
			continue;
		submit(s, next_req++);
		any = true;
	}
	if (any)
		eventfd_write(fe->kick, 1);
}

/* Take what the used ring has; Return: completions taken. */
static u32 reap(void)
{
	u16 idx = __atomic_load_n((u16 *)(mem + USED_OFF + 2), __ATOMIC_ACQUIRE);
	u32 n = 0;

	for (; last_used != idx; last_used++, n++) {
		u32 *e = (u32 *)(mem + USED_OFF + 4 + 8 * (last_used % QSZ));
		u32 id = e[0], len = e[1], slot = id / 3;
		int req;

		if (id % 3 || slot >= SLOTS || slot_req[slot] < 0) {
			dup_or_stray++;	/* never made available, or done already */
			continue;
		}
		req = slot_req[slot];
		if (done[req]++ || *(slot_buf(slot) + 0x20) != VIRTIO_BLK_S_OK ||
		    len != used_len((u32)req))
			dup_or_stray++;
		slot_req[slot] = -1;
		ncompleted++;
	}
	return n;
}

/* Wait for a completion (or a poll interval) and take it. */
static u32 wait_reap(struct fe *fe)
{
	struct pollfd p = { .fd = fe->call, .events = POLLIN };
	eventfd_t v;

	poll(&p, 1, 100);
	eventfd_read(fe->call, &v);
	return reap();
}

static u32 outstanding(void)
{
	u32 n = 0;

	for (u32 s = 0; s < SLOTS; s++)
		n += slot_req[s] >= 0;
	return n;
}

/* Requests the region says the device has taken and not completed. */
static u32 region_inflight(void)
{
	u32 n = 0;

	for (u32 i = 0; i < QSZ; i++)
		n += __atomic_load_n(&region->desc[i].inflight, __ATOMIC_RELAXED) == 1;
	return n;
}

/* Every request completed so far is in the file with its pattern? */
static u32 acked_missing(int imgfd)
{
	static u32 buf[REQ_BYTES / 4];
	u32 bad = 0;

	for (u32 r = 0; r < NREQ; r++) {
		if (!done[r] || is_get_id(r))
			continue;
		if (pread(imgfd, buf, REQ_BYTES, (off_t)r * REQ_BYTES) != REQ_BYTES) {
			bad++;
			continue;
		}
		for (u32 i = 0; i < REQ_BYTES / 4; i++)
			if (buf[i] != pattern(r, i)) {
				bad++;
				break;
			}
	}
	return bad;
}

/*
 * Drive requests until @until have completed, then catch the server with
 * requests in flight: stop it, look at the region, kill it if it holds
 * some (or was between its used ring and its bookkeeping), else let it
 * go on a little. Return: requests the region held at the kill.
 */
static u32 run_and_kill(struct fe *fe, u32 until, bool *caught)
{
	u32 held = 0;

	*caught = false;
	for (u32 idle = 0; ncompleted < until && idle < 100;) {
		fill(fe);
		idle = wait_reap(fe) ? 0 : idle + 1;
		if (!server_alive())
			return 0;
	}
	for (int tries = 0; tries < 5000 && next_req < NREQ; tries++) {
		u16 ring_used;

		fill(fe);
		kill(server, SIGSTOP);
		/* A stopped process no longer runs: what it wrote is there. */
		waitpid(server, NULL, WUNTRACED);
		ring_used = __atomic_load_n((u16 *)(mem + USED_OFF + 2), __ATOMIC_ACQUIRE);
		held = region_inflight();
		if (held || ring_used != __atomic_load_n(&region->used_idx, __ATOMIC_RELAXED)) {
			*caught = true;
			break;
		}
		kill(server, SIGCONT);
		reap();
		usleep((useconds_t)(tries % 7) * 50);
	}
	server_kill();
	return held;
}

/* ---- hostile regions ----------------------------------------------------- */

/* A region memfd of @size bytes, sealed against shrinking unless @unsealed. */
static int region_make(size_t size, bool unsealed, struct vdpa_inflight_split **r)
{
	int fd = memfd_create("hostile-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)size))
		return -1;
	if (!unsealed && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW))
		return -1;
	*r = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return *r == MAP_FAILED ? -1 : fd;
}

static void region_valid(struct vdpa_inflight_split *r)
{
	memset(r, 0, REGION_SIZE);
	r->version = VDPA_INFLIGHT_VERSION;
	r->desc_num = QSZ;
	r->desc[3].inflight = 1;
	r->desc[3].counter = 10;
	r->desc[6].inflight = 1;
	r->desc[6].counter = 11;
}

static long long set_region(struct fe *fe, int fd, u64 size)
{
	struct vhost_user_inflight in = {
		.mmap_size = size, .num_queues = 1, .queue_size = QSZ,
	};

	return wire_call(fe->sock, VHOST_USER_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1);
}

static void test_hostile(void)
{
	struct vdpa_inflight_split *r;
	struct vhost_user_inflight in = { .num_queues = 0, .queue_size = QSZ };
	struct fe fe;
	int fd, got;

	report_prefix_push("hostile");
	server_start();
	if (!report_true(fe_connect(&fe) == 0, "connect")) {
		report_prefix_pop();
		return;
	}
	wire_send(fe.sock, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
	wire_send(fe.sock, VHOST_USER_SET_PROTOCOL_FEATURES, 0,
		&(u64){ (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			(1ULL << VHOST_USER_PROTOCOL_F_STATUS) |
			(1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) }, sizeof(u64), NULL, 0);
	fe_set_u64(&fe, VHOST_USER_SET_FEATURES,
		   (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES));

	/* GET_INFLIGHT_FD for no queues: an empty answer, no fd. */
	wire_send(fe.sock, VHOST_USER_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0);
	if (check_eq(wire_recv(fe.sock, VHOST_USER_GET_INFLIGHT_FD, &in, sizeof(in), &got),
		     (int)sizeof(in)))
		check_eq(in.mmap_size, 0);
	check_eq(got, -1);
	report_checks("GET_INFLIGHT_FD of 0 queues: no region");

	fd = region_make(REGION_SIZE, false, &r);
	if (!report_true(fd >= 0, "a region memfd")) {
		fe_close(&fe);
		report_prefix_pop();
		return;
	}
	region_valid(r);
	report_eq(set_region(&fe, fd, REGION_SIZE), 0, "a valid region with 2 in flight is taken");

	region_valid(r);
	r->version = 2;
	report_ne(set_region(&fe, fd, REGION_SIZE), 0, "version 2 refused");
	region_valid(r);
	r->desc_num = QSZ / 2;
	report_ne(set_region(&fe, fd, REGION_SIZE), 0, "desc_num not the queue size refused");
	region_valid(r);
	r->last_batch_head = QSZ + 5;
	report_ne(set_region(&fe, fd, REGION_SIZE), 0, "last_batch_head out of range refused");
	region_valid(r);
	r->desc[9].inflight = 7;
	report_ne(set_region(&fe, fd, REGION_SIZE), 0, "inflight byte 7 refused");
	region_valid(r);
	r->desc[6].counter = 10;
	report_ne(set_region(&fe, fd, REGION_SIZE), 0, "two heads with one counter refused");
	region_valid(r);
	r->desc[6].counter = UINT64_MAX;
	report_ne(set_region(&fe, fd, REGION_SIZE), 0, "a counter that cannot be followed refused");
	region_valid(r);
	report_ne(set_region(&fe, fd, REGION_SIZE - 64), 0, "mmap_size too small refused");
	{
		struct vhost_user_inflight big = { .mmap_size = REGION_SIZE, .num_queues = 1,
						   .queue_size = QSZ, .mmap_offset = 4096 };

		report_ne(wire_call(fe.sock, VHOST_USER_SET_INFLIGHT_FD, &big, sizeof(big), &fd, 1), 0,
			  "a region past the end of its file refused");
	}
	{
		struct vdpa_inflight_split *u;
		int ufd = region_make(REGION_SIZE, true, &u);

		region_valid(u);
		report_ne(set_region(&fe, ufd, REGION_SIZE), 0,
			  "a memfd that can still shrink refused");
		munmap(u, REGION_SIZE);
		close(ufd);
	}
	report_eq(wire_get_u64(fe.sock, VHOST_USER_GET_PROTOCOL_FEATURES) > 0, 1,
		  "the server answers after the refusals");

	/*
	 * Accepted, then made hostile before the ring starts (the front-end
	 * owns the memory): the device refuses it when it reads it back and
	 * needs a reset; the server lives.
	 */
	region_valid(r);
	if (report_eq(set_region(&fe, fd, REGION_SIZE), 0, "valid region again")) {
		struct fe *f = &fe;
		struct vhost_user_mem_table mt = {
			.nregions = 1,
			.regions[0] = { .memory_size = MEM_SIZE, .userspace_addr = MEM_UVA },
		};
		struct vhost_user_vring_addr addr = {
			.desc_user_addr = MEM_UVA + DESC_OFF,
			.avail_user_addr = MEM_UVA + AVAIL_OFF,
			.used_user_addr = MEM_UVA + USED_OFF,
		};
		struct vhost_user_vring_state st = { .index = 0, .num = QSZ };
		long long status = -1;

		/* The used ring 200 ahead of used_idx: a "last batch" of 200 from head 3. */
		r->used_idx = (u16)(__atomic_load_n((u16 *)(mem + USED_OFF + 2),
						    __ATOMIC_RELAXED) - 200);
		r->last_batch_head = 3;
		r->desc[3].next = 3;	/* a loop */
		wire_call(f->sock, VHOST_USER_SET_MEM_TABLE, &mt,
			VHOST_USER_MEM_TABLE_HDR_SIZE + sizeof(mt.regions[0]), &memfd, 1);
		wire_call(f->sock, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0);
		st.num = 0;
		wire_call(f->sock, VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0);
		wire_call(f->sock, VHOST_USER_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0);
		wire_call(f->sock, VHOST_USER_SET_VRING_CALL, &(u64){ 0 }, sizeof(u64), &f->call, 1);
		wire_call(f->sock, VHOST_USER_SET_VRING_KICK, &(u64){ 0 }, sizeof(u64), &f->kick, 1);
		st = (struct vhost_user_vring_state){ .index = 0, .num = 1 };
		wire_call(f->sock, VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);
		/* The worker reads it back in its first pass: ask until it has. */
		for (int i = 0; i < 500; i++) {
			status = wire_get_u64(f->sock, VHOST_USER_GET_STATUS);
			if (status < 0 || (status & VIRTIO_CONFIG_S_NEEDS_RESET))
				break;
			usleep(10000);
		}
		report_true(status >= 0 && (status & VIRTIO_CONFIG_S_NEEDS_RESET),
			    "a region made hostile after SET_INFLIGHT_FD: NEEDS_RESET (status %#llx)",
			    status);
		report_true(server_alive(), "the server lives on");
		region_valid(r);
		report_ne(set_region(f, fd, REGION_SIZE), 0,
			  "SET_INFLIGHT_FD while the ring is programmed: refused");
	}
	munmap(r, REGION_SIZE);
	close(fd);
	fe_close(&fe);
	server_kill();
	report_prefix_pop();
}

/* ---- main ---------------------------------------------------------------- */

int main(void)
{
	u32 caught_rounds = 0, held_total = 0, outstanding_total = 0;
	int imgfd;
	struct fe fe;
	int ret;

	signal(SIGPIPE, SIG_IGN);
	if (!run_find_kestrel(kestrel, sizeof(kestrel)))
		return report_summary();
	snprintf(sock_path, sizeof(sock_path), "/tmp/kestrel-inflight-%d.sock", getpid());
	snprintf(img_path, sizeof(img_path), "/tmp/kestrel-inflight-%d.img", getpid());
	snprintf(log_path, sizeof(log_path), "/tmp/kestrel-inflight-%d.log", getpid());
	imgfd = open(img_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	memfd = memfd_create("fe-mem", MFD_CLOEXEC);
	done = calloc(NREQ, 1);
	if (imgfd < 0 || ftruncate(imgfd, (off_t)NREQ * REQ_BYTES) || memfd < 0 ||
	    ftruncate(memfd, MEM_SIZE) || !done) {
		report_skip("no room for the disk or memory: %s", strerror(errno));
		return report_summary();
	}
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		return report_summary();
	for (u32 s = 0; s < SLOTS; s++)
		slot_req[s] = -1;

	report_prefix_push("reconnect");
	for (u32 round = 0; round <= ROUNDS; round++) {
		bool caught = false;
		u32 held, out;

		server_start();
		if (!check_eq(fe_connect(&fe), 0) || !check_eq(ret = fe_setup(&fe), 0)) {
			report_checks("round %u: the server takes the front-end", round);
			break;
		}
		report_checks("round %u: set up again with the inflight region", round);
		if (round == ROUNDS) {
			/*
			 * The last server finishes the job. A request lost for
			 * good never completes: give up after 10 s of nothing
			 * (the check below then says which were missing).
			 */
			for (u32 idle = 0; ncompleted < NREQ && server_alive() && idle < 100;) {
				fill(&fe);
				idle = wait_reap(&fe) ? 0 : idle + 1;
			}
			fe_close(&fe);
			server_kill();
			break;
		}
		held = run_and_kill(&fe, (round + 1) * (NREQ / (ROUNDS + 2)), &caught);
		out = outstanding();
		caught_rounds += caught;
		held_total += held;
		outstanding_total += out;
		fe_close(&fe);
		reap();	/* what the dead server published before it died */
		report_eq(acked_missing(imgfd), 0,
			  "round %u: every write acknowledged before the kill is on disk (%u done, %u outstanding, %u in flight in the region)",
			  round, ncompleted, outstanding(), held);
	}
	report_eq(dup_or_stray, 0, "no used element for a request twice, or for none");
	{
		u32 missing = 0;

		for (u32 r = 0; r < NREQ; r++)
			missing += done[r] != 1;
		report_eq(missing, 0, "every one of %u requests completed exactly once", NREQ);
	}
	report_eq(acked_missing(imgfd), 0, "every write is on disk with its pattern");
	report_gt(outstanding_total, 0,
		  "%u requests outstanding at the kills completed after the restarts",
		  outstanding_total);
	if (caught_rounds)
		report_gt(held_total + caught_rounds, 0,
			  "%u kills caught the server with %u requests in flight (resubmitted)",
			  caught_rounds, held_total);
	else
		report_skip("no kill caught the server with a request in flight");
	report_prefix_pop();

	test_hostile();

	server_kill();
	if (test_failures) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "tail -40 %s", log_path);
		if (system(cmd) < 0)
			perror("system");
	}
	unlink(sock_path);
	unlink(img_path);
	unlink(log_path);
	return report_summary();
}
