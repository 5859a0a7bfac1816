// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-vsock (--vsock cid=3,uds=PATH) with a host peer: the test runs
 * under scripts/vsock-peer.py, which plays the host side of the hybrid
 * Unix-socket model (docs/vsock.md).
 *
 *  1. Guest listens on port 1234: the peer connects to PATH and writes
 *     "CONNECT 1234\n"; the guest accepts the REQUEST, receives 64 KiB,
 *     answers with their FNV-1a hash and 16 KiB of its own, then shuts
 *     the stream down both ways and waits for the device's RST.
 *  2. Guest connects to host port 5000: the peer listens at PATH_5000;
 *     the guest sends 64 KiB within the credit the device grants and
 *     reads the peer's hash of them. Port 5001 has no listener: RST.
 *
 * The peer checks its side (the OK line, the hashes) and fails the run if
 * anything differs. Hashing runs in ring 3 (native speed under PVM).
 */
#include "guest.h"
#include "virtio.h"
#include "x86/usermode.h"

#define VIRTIO_ID_VSOCK		19
#define RXQ			0
#define TXQ			1
#define EVQ			2
#define NRX			32
#define RXBUF			(4096 + HDR)
#define HDR			44
#define GUEST_CID		3
#define BUF_ALLOC		(64 * 1024)
#define BULK			(64 * 1024)
#define REPLY			(16 * 1024)
#define CHUNK			4096

#define OP_REQUEST		1
#define OP_RESPONSE		2
#define OP_RST			3
#define OP_SHUTDOWN		4
#define OP_RW			5
#define OP_CREDIT_UPDATE	6
#define OP_CREDIT_REQUEST	7

struct vsock_hdr {
	u64 src_cid;
	u64 dst_cid;
	u32 src_port;
	u32 dst_port;
	u32 len;
	u16 type;
	u16 op;
	u32 flags;
	u32 buf_alloc;
	u32 fwd_cnt;
} __attribute__((packed));

_Static_assert(sizeof(struct vsock_hdr) == HDR, "virtio 1.2 §5.10.6");

/* One stream, as the guest sees it. */
struct stream {
	u32 lport, rport;
	u32 tx_cnt;
	u32 peer_buf_alloc, peer_fwd_cnt;
	u32 fwd_cnt, told;
};

static struct virtio_device *vdev;
static struct virtqueue rxq, txq, evq;
static u8 *rxbuf[NRX];
static u8 *txhdr, *txpay;
static u8 bulk[BULK] __aligned(64), got[BULK] __aligned(64);

/* The last packet received. */
static struct vsock_hdr rh;
static u8 rpay[4096] __aligned(64);

struct hash_arg {
	const u8 *p;
	u32 n;
	u64 h;
};

/* Ring 3: FNV-1a over @a->n bytes, continuing @a->h. */
static u64 hash_user(void *arg)
{
	struct hash_arg *a = arg;
	u64 h = a->h;

	for (u32 i = 0; i < a->n; i++)
		h = (h ^ a->p[i]) * 0x100000001b3ULL;
	return h;
}

static u64 hash(const u8 *p, u32 n, u64 h)
{
	struct hash_arg a = { p, n, h };

	return run_in_user(hash_user, &a);
}
#define HASH_INIT	0xcbf29ce484222325ULL

/* Ring 3: the pattern the peer checks, byte i of a stream with @seed. */
static u64 fill_user(void *arg)
{
	struct hash_arg *a = arg;
	u8 *p = (u8 *)a->p;

	for (u32 i = 0; i < a->n; i++)
		p[i] = (u8)(i * 7 + a->h * 13 + (i >> 8));
	return 0;
}

static void fill(u8 *p, u32 n, u32 seed)
{
	struct hash_arg a = { p, n, seed };

	run_in_user(fill_user, &a);
}

static void rx_post(int i)
{
	struct virtq_buf b = { rxbuf[i], RXBUF, true };

	virtqueue_add(&rxq, &b, 0, 1, rxbuf[i]);
}

/* Send one packet on @s and wait for the device to take it. */
static bool send(struct stream *s, u16 op, u32 flags, const void *pay, u32 len)
{
	struct vsock_hdr h = {
		.src_cid = GUEST_CID, .dst_cid = 2,
		.src_port = s->lport, .dst_port = s->rport,
		.len = len, .type = 1, .op = op, .flags = flags,
		.buf_alloc = BUF_ALLOC, .fwd_cnt = s->fwd_cnt,
	};
	struct virtq_buf b[2] = { { txhdr, HDR, false }, { txpay, len, false } };
	u32 used;

	memcpy(txhdr, &h, HDR);
	if (len)
		memcpy(txpay, pay, len);
	s->told = s->fwd_cnt;
	if (virtqueue_add(&txq, b, len ? 2 : 1, 0, txhdr) < 0)
		return false;
	virtqueue_kick(&txq);
	return virtqueue_wait(&txq, &used, 5000) == txhdr;
}

/* The next packet into rh/rpay; the buffer goes back to the device. */
static bool recv(unsigned int ms)
{
	u32 len;
	u8 *b = virtqueue_wait(&rxq, &len, ms);

	if (!b || len < HDR)
		return false;
	memcpy(&rh, b, HDR);
	if (rh.len > sizeof(rpay) || rh.len != len - HDR)
		return false;
	memcpy(rpay, b + HDR, rh.len);
	for (int i = 0; i < NRX; i++)
		if (rxbuf[i] == b)
			rx_post(i);
	virtqueue_kick(&rxq);
	return true;
}

/* A packet of @s: credit numbers taken. */
static bool recv_on(struct stream *s, unsigned int ms)
{
	while (recv(ms)) {
		if (rh.src_port != s->rport || rh.dst_port != s->lport)
			continue;	/* not this stream: nothing else is open */
		s->peer_buf_alloc = rh.buf_alloc;
		s->peer_fwd_cnt = rh.fwd_cnt;
		return true;
	}
	return false;
}

static u32 credit(const struct stream *s)
{
	u32 fl = s->tx_cnt - s->peer_fwd_cnt;

	return fl >= s->peer_buf_alloc ? 0 : s->peer_buf_alloc - fl;
}

/* Write @n bytes on @s within its credit. Return: true if all went. */
static bool write_all(struct stream *s, const u8 *p, u32 n)
{
	while (n) {
		u32 k = MIN(MIN(n, (u32)CHUNK), credit(s));

		if (!k) {
			/* Credit exhausted: wait for the device's update. */
			if (!recv_on(s, 5000))
				return false;
			continue;
		}
		if (!send(s, OP_RW, 0, p, k))
			return false;
		s->tx_cnt += k;
		p += k;
		n -= k;
	}
	return true;
}

/* Read @n bytes of @s into @dst. Return: bytes read (less: EOF, RST or timeout). */
static u32 read_all(struct stream *s, u8 *dst, u32 n)
{
	u32 have = 0;

	while (have < n && recv_on(s, 10000)) {
		if (rh.op == OP_CREDIT_UPDATE)
			continue;	/* taken by recv_on() */
		if (rh.op != OP_RW)
			break;
		if (rh.len > n - have)
			break;
		memcpy(dst + have, rpay, rh.len);
		have += rh.len;
		s->fwd_cnt += rh.len;
		if (s->fwd_cnt - s->told >= BUF_ALLOC / 4)
			send(s, OP_CREDIT_UPDATE, 0, NULL, 0);
	}
	return have;
}

static void test_guest_listens(void)
{
	struct stream s = { .lport = 1234 };
	bool ok;
	u64 h;
	u32 n;

	report_prefix_push("guest-listens");
	/* The peer's connection waits for DRIVER_OK, then comes as a REQUEST. */
	while (recv(20000) && !(rh.op == OP_REQUEST && rh.dst_port == 1234))
		;
	ok = rh.op == OP_REQUEST && rh.dst_port == 1234 && rh.src_cid == 2 &&
	     rh.dst_cid == GUEST_CID;
	report(ok, "REQUEST from host port %u to 1234", rh.src_port);
	if (!ok)
		goto out;
	report(rh.src_port >= (1u << 30), "the host port was assigned by the device (%u)",
	       rh.src_port);
	s.rport = rh.src_port;
	s.peer_buf_alloc = rh.buf_alloc;
	s.peer_fwd_cnt = rh.fwd_cnt;
	report(send(&s, OP_RESPONSE, 0, NULL, 0), "RESPONSE sent");
	n = read_all(&s, got, BULK);
	report(n == BULK, "%u of %u bytes from the host", n, BULK);
	fill(bulk, BULK, 1);
	report(!memcmp(got, bulk, BULK), "they are the peer's pattern");
	h = hash(got, n, HASH_INIT);
	fill(bulk, REPLY, 2);
	report(write_all(&s, (const u8 *)&h, sizeof(h)) && write_all(&s, bulk, REPLY),
	       "hash %llx and %u bytes back", (unsigned long long)h, REPLY);
	report(send(&s, OP_SHUTDOWN, 3, NULL, 0), "SHUTDOWN both ways");
	while (recv_on(&s, 5000) && rh.op != OP_RST)
		;
	ok = rh.op == OP_RST;
	report(ok, "the device ends it with RST (op %u)", rh.op);
out:
	report_prefix_pop();
}

static void test_guest_connects(void)
{
	struct stream s = { .lport = 40000, .rport = 5000 };
	struct stream none = { .lport = 40001, .rport = 5001 };
	u64 h, peer = 0;
	bool ok;

	report_prefix_push("guest-connects");
	ok = send(&s, OP_REQUEST, 0, NULL, 0) && recv_on(&s, 5000) && rh.op == OP_RESPONSE;
	report(ok, "REQUEST to host port 5000: RESPONSE (op %u)", rh.op);
	fill(bulk, BULK, 3);
	report(write_all(&s, bulk, BULK), "%u bytes sent within credit", BULK);
	h = hash(bulk, BULK, HASH_INIT);
	ok = read_all(&s, (u8 *)&peer, sizeof(peer)) == sizeof(peer) && peer == h;
	report(ok,
	       "the peer's hash %llx matches ours %llx", (unsigned long long)peer,
	       (unsigned long long)h);
	send(&s, OP_RST, 0, NULL, 0);
	ok = send(&none, OP_REQUEST, 0, NULL, 0) && recv_on(&none, 5000) && rh.op == OP_RST;
	report(ok, "REQUEST to port 5001 (no listener): RST (op %u)", rh.op);
	report_prefix_pop();
}

int main(void)
{
	bool up;

	report_prefix_push("virtio-vsock");
	vdev = virtio_find(VIRTIO_ID_VSOCK, 0);
	if (!vdev) {
		report_skip("no virtio-vsock device (run with --vsock)");
		return report_summary();
	}
	virtio_irq_enable(vdev);
	up = !virtio_negotiate(vdev, BIT_ULL(VIRTIO_RING_F_EVENT_IDX)) &&
	     !virtqueue_setup(vdev, &rxq, RXQ, 64) &&
	     !virtqueue_setup(vdev, &txq, TXQ, 64) &&
	     !virtqueue_setup(vdev, &evq, EVQ, 4) && virtio_driver_ok(vdev);
	report(up, "reset, features, three queues, DRIVER_OK");
	if (!up)
		return report_summary();
	report(virtio_cread64(vdev, 0) == GUEST_CID, "config guest_cid %llu",
	       (unsigned long long)virtio_cread64(vdev, 0));
	txhdr = virtio_alloc(HDR, 64);
	txpay = virtio_alloc(CHUNK, 64);
	for (int i = 0; i < NRX; i++) {
		rxbuf[i] = virtio_alloc(RXBUF, 64);
		rx_post(i);
	}
	virtqueue_kick(&rxq);
	test_guest_listens();
	test_guest_connects();
	report(!virtio_needs_reset(vdev), "no NEEDS_RESET");
	report(virtio_reset(vdev), "reset");
	report_prefix_pop();
	return report_summary();
}
