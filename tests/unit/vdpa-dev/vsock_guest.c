// SPDX-License-Identifier: GPL-2.0-only
/*
 * A small guest vsock stack over the in-process driver (see vsock_guest.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "vsock_guest.h"

struct vdrv d;
struct vdpa_device *vdpa;
char dir[64], uds[96];
static u8 *rxbuf[NRX];
static int rx_of_head[NUM];
static struct tx_slot tx[NTX];
static int tx_of_head[NUM];
struct gs gs[MAXS];
unsigned int bad_rx;
bool hash_rx = true;

u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000 + (u64)ts.tv_nsec / 1000000;
}

/* FNV-1a over a stream, byte by byte. */
u64 hash_add(u64 h, const u8 *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* The byte at offset @i of a stream with seed @seed. */
u8 pattern(u32 seed, u64 i)
{
	u64 x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed;

	return (u8)(x >> 29);
}

void fill(u8 *p, size_t n, u32 seed, u64 off)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pattern(seed, off + i);
}

struct gs *gs_find(u32 gport, u32 hport)
{
	for (int i = 0; i < MAXS; i++)
		if (gs[i].used && gs[i].gport == gport && gs[i].hport == hport)
			return &gs[i];
	return NULL;
}

struct gs *gs_new(u32 gport, u32 hport)
{
	for (int i = 0; i < MAXS; i++) {
		if (!gs[i].used) {
			memset(&gs[i], 0, sizeof(gs[i]));
			gs[i].used = true;
			gs[i].gport = gport;
			gs[i].hport = hport;
			gs[i].buf_alloc = GUEST_BUF;
			gs[i].rx_hash = HASH_INIT;
			return &gs[i];
		}
	}
	return NULL;
}

void gs_free_all(void)
{
	memset(gs, 0, sizeof(gs));
}

/* ---- the guest's queues ------------------------------------------------------ */

static void rx_post(int i)
{
	int head = vdrv_add(&d, RXQ, &(struct vdrv_sg){ rxbuf[i], RXBUF, true }, 1);

	if (head >= 0)
		rx_of_head[head] = i;
}

/* Send one packet (payload may be NULL/0); waits for a free slot. */
static struct tx_slot *tx_get(void);

bool g_send_raw(const struct virtio_vsock_hdr *h, const void *pay, u32 plen,
		       u32 hdr_len)
{
	struct tx_slot *s = NULL;
	u64 t0 = now_ms();
	struct vdrv_sg sg[2];
	int head;

	while (!(s = tx_get())) {
		pump();
		if (now_ms() - t0 > 5000)
			return false;
	}
	memcpy(s->hdr, h, HDR);
	sg[0] = (struct vdrv_sg){ s->hdr, hdr_len, false };
	if (plen) {
		memcpy(s->pay, pay, plen);
		sg[1] = (struct vdrv_sg){ s->pay, plen, false };
	}
	head = vdrv_add(&d, TXQ, sg, plen ? 2 : 1);
	if (head < 0) {
		s->busy = false;
		return false;
	}
	tx_of_head[head] = (int)(s - tx);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	return true;
}

void hdr_fill(struct virtio_vsock_hdr *h, struct gs *s, u16 op, u32 len)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = cpu_to_le64(GUEST_CID);
	h->dst_cid = cpu_to_le64(2);
	h->src_port = cpu_to_le32(s->gport);
	h->dst_port = cpu_to_le32(s->hport);
	h->len = cpu_to_le32(len);
	h->type = cpu_to_le16(VIRTIO_VSOCK_TYPE_STREAM);
	h->op = cpu_to_le16(op);
	h->buf_alloc = cpu_to_le32(s->buf_alloc);
	h->fwd_cnt = cpu_to_le32(s->fwd_cnt);
}

bool g_ctl(struct gs *s, u16 op, u32 flags)
{
	struct virtio_vsock_hdr h;

	hdr_fill(&h, s, op, 0);
	h.flags = cpu_to_le32(flags);
	s->told = s->fwd_cnt;
	return g_send_raw(&h, NULL, 0, HDR);
}

u32 g_credit(const struct gs *s)
{
	u32 fl = s->tx_cnt - s->peer_fwd_cnt;

	return fl >= s->peer_buf_alloc ? 0 : s->peer_buf_alloc - fl;
}

/* Send up to @len bytes as credit allows now. Return: bytes sent. */
u32 g_write(struct gs *s, const u8 *p, u32 len)
{
	u32 n = MIN(MIN(len, g_credit(s)), (u32)TXPAY);
	struct virtio_vsock_hdr h;

	if (!n || !s->open)
		return 0;
	hdr_fill(&h, s, VIRTIO_VSOCK_OP_RW, n);
	s->told = s->fwd_cnt;
	if (!g_send_raw(&h, p, n, HDR))
		return 0;
	s->tx_cnt += n;
	return n;
}

void g_consume(struct gs *s, u32 n)
{
	s->fwd_cnt += n;
	if (s->fwd_cnt - s->told >= s->buf_alloc / 4)
		g_ctl(s, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
}

/* The reader wakes up: what it held is consumed, and the device told. */
void g_release(struct gs *s)
{
	s->hold = false;
	s->fwd_cnt += s->held;
	s->held = 0;
	g_ctl(s, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
}

static void handle_rx(const u8 *buf, u32 len)
{
	struct virtio_vsock_hdr h;
	u32 plen;
	struct gs *s;

	if (len < HDR) {
		bad_rx++;
		return;
	}
	memcpy(&h, buf, HDR);
	plen = le32_to_cpu(h.len);
	if (le64_to_cpu(h.src_cid) != 2 || le64_to_cpu(h.dst_cid) != GUEST_CID ||
	    plen != len - HDR || le16_to_cpu(h.type) != VIRTIO_VSOCK_TYPE_STREAM) {
		bad_rx++;
		return;
	}
	s = gs_find(le32_to_cpu(h.dst_port), le32_to_cpu(h.src_port));
	if (!s) {
		if (le16_to_cpu(h.op) == VIRTIO_VSOCK_OP_REQUEST) {
			/* A host-initiated stream; the test decides whether to accept. */
			s = gs_new(le32_to_cpu(h.dst_port), le32_to_cpu(h.src_port));
			if (s) {
				s->requested = true;
				s->peer_buf_alloc = le32_to_cpu(h.buf_alloc);
				s->peer_fwd_cnt = le32_to_cpu(h.fwd_cnt);
			}
		}
		return;
	}
	s->peer_buf_alloc = le32_to_cpu(h.buf_alloc);
	s->peer_fwd_cnt = le32_to_cpu(h.fwd_cnt);
	switch (le16_to_cpu(h.op)) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		s->open = true;
		break;
	case VIRTIO_VSOCK_OP_RST:
		if (!s->open)
			s->refused = true;
		s->rst = true;
		s->open = false;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		s->shut |= le32_to_cpu(h.flags);
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (hash_rx)
			s->rx_hash = hash_add(s->rx_hash, buf + HDR, plen);
		s->rx_bytes += plen;
		if (s->held + plen > s->buf_alloc)
			s->over_credit = true;
		if (s->hold)
			s->held += plen;
		else
			g_consume(s, plen);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		g_ctl(s, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
		break;
	default:
		break;
	}
}

void pump(void)
{
	u16 head;
	u32 len;
	bool posted = false;

	if (!d.mem)
		return;		/* the driver is down (test_limit) */
	while (vdrv_get_used(&d, TXQ, &head, &len))
		if (head < NUM && tx_of_head[head] >= 0)
			tx[tx_of_head[head]].busy = false;
	while (vdrv_get_used(&d, RXQ, &head, &len)) {
		int i = head < NUM ? rx_of_head[head] : -1;

		if (i < 0) {
			bad_rx++;
			continue;
		}
		handle_rx(rxbuf[i], len);
		rx_post(i);
		posted = true;
	}
	if (posted) {
		vdrv_publish(&d, RXQ);
		vdrv_kick(&d, RXQ);
	}
}

static struct tx_slot *tx_get(void)
{
	for (int i = 0; i < NTX; i++) {
		if (!tx[i].busy) {
			tx[i].busy = true;
			return &tx[i];
		}
	}
	return NULL;
}

/* ---- host side ---------------------------------------------------------------- */

int host_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int host_listen(u32 port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", uds, port);
	unlink(sa.sun_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Read a line of at most @max-1 bytes, waiting up to 2 s (pumping). */
bool host_read_line(int fd, char *line, size_t max)
{
	size_t n = 0;
	u64 t0 = now_ms();

	set_nonblock(fd);
	while (n + 1 < max && now_ms() - t0 < 2000) {
		ssize_t r = read(fd, line + n, 1);

		if (r == 1) {
			if (line[n++] == '\n')
				break;
			continue;
		}
		if (r == 0)
			break;
		pump();
		usleep(50);
	}
	line[n] = '\0';
	return n && line[n - 1] == '\n';
}

/* Host connects to guest port @port; the guest accepts it. Return: the host fd. */
int open_host_stream(u32 port, struct gs **out, u32 *assigned)
{
	char line[64];
	struct gs *s;
	int fd = host_connect(uds);

	*out = NULL;
	if (fd < 0)
		return -1;
	dprintf(fd, "CONNECT %u\n", port);
	if (!WAIT_FOR(({ s = NULL; for (int i = 0; i < MAXS; i++)
				if (gs[i].used && gs[i].requested && gs[i].gport == port &&
				    !gs[i].open && !gs[i].rst) s = &gs[i];
			  s != NULL; }), 2000)) {
		close(fd);
		return -1;
	}
	s->open = true;
	s->requested = false;
	g_ctl(s, VIRTIO_VSOCK_OP_RESPONSE, 0);
	if (!host_read_line(fd, line, sizeof(line)) || sscanf(line, "OK %u", assigned) != 1) {
		close(fd);
		return -1;
	}
	*out = s;
	return fd;
}

/* ---- bring-up -------------------------------------------------------------------- */

bool up(void)
{
	u8 *evbuf;

	if (vdrv_init(&d, vdpa, 16 << 20) || vdrv_map(&d, 0) ||
	    vdrv_negotiate(&d, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM)))
		return false;
	for (u16 q = 0; q < 3; q++)
		if (vdrv_vq_setup(&d, q, NUM))
			return false;
	if (vdrv_vq_use_kickfd(&d, RXQ) || vdrv_vq_use_kickfd(&d, TXQ))
		return false;
	for (int i = 0; i < NRX; i++) {
		rxbuf[i] = vdrv_alloc(&d, RXBUF, 64);
		if (!rxbuf[i])
			return false;
	}
	for (int i = 0; i < NTX; i++) {
		tx[i].hdr = vdrv_alloc(&d, HDR, 64);
		tx[i].pay = vdrv_alloc(&d, TXPAY, 64);
		if (!tx[i].hdr || !tx[i].pay)
			return false;
	}
	for (int i = 0; i < NUM; i++)
		rx_of_head[i] = tx_of_head[i] = -1;
	evbuf = vdrv_alloc(&d, 4, 4);
	vdrv_add(&d, EVQ, &(struct vdrv_sg){ evbuf, 4, true }, 1);
	vdrv_publish(&d, EVQ);
	if (vdrv_driver_ok(&d))
		return false;
	for (int i = 0; i < NRX; i++)
		rx_post(i);
	vdrv_publish(&d, RXQ);
	vdrv_kick(&d, RXQ);
	return true;
}

void down(void)
{
	vdpa_reset(vdpa);
	vdpa_dma_unmap(vdpa, 0, d.iova, d.size);
	vdrv_fini(&d);
	gs_free_all();
}