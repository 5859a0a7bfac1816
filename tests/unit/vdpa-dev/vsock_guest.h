/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small guest vsock stack over the in-process driver (tests/unit/vdpa/
 * driver.h), for vsock_test and bench/vsock_bench: streams with credit
 * (virtio 1.2 §5.10.6.3), the rx ring kept full, a pool of tx slots, and the
 * host side's Unix sockets (CONNECT/OK, PATH_P listeners). Single-threaded:
 * pump() takes what the device completed and answers what needs answering.
 */
#ifndef KESTREL_TESTS_VSOCK_GUEST_H
#define KESTREL_TESTS_VSOCK_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include <kestrel/vdpa.h>

#include "../vdpa/driver.h"

#define RXQ		0
#define TXQ		1
#define EVQ		2
#define NUM		256
#define HDR		44
#define RXBUF		(8192 + HDR)
#define NRX		128
#define TXPAY		32768
#define NTX		120
#define GUEST_CID	3
#define GUEST_BUF	(256u * 1024)
#define MAXS		128
#define HASH_INIT	0xcbf29ce484222325ULL

/* One guest-side stream. */
struct gs {
	bool used;
	u32 gport, hport;
	bool open, rst, refused;
	u32 shut;		/* SHUTDOWN flags received */
	u32 tx_cnt;		/* bytes the guest sent */
	u32 peer_buf_alloc, peer_fwd_cnt;
	u32 fwd_cnt;		/* bytes the guest consumed */
	u32 told;
	u32 buf_alloc;
	bool hold;		/* do not consume: the reader stalls */
	u32 held;		/* received while holding */
	u64 rx_bytes;
	u64 rx_hash;
	bool over_credit;	/* the device sent past our credit */
	bool requested;		/* a host-initiated REQUEST arrived */
};

struct tx_slot {
	u8 *hdr;
	u8 *pay;
	bool busy;
};

/* Pump until @cond holds or @ms pass. */
#define WAIT_FOR(cond, ms) ({						\
	u64 __t0 = now_ms();						\
	bool __ok;							\
	while (!(__ok = (cond)) && now_ms() - __t0 < (ms)) {		\
		pump();							\
		usleep(50);						\
	}								\
	__ok;								\
})

extern struct vdrv d;			/* the driver, bound to @vdpa by up() */
extern struct vdpa_device *vdpa;	/* the device under test */
extern char dir[64], uds[96];		/* a scratch directory, the device's uds= */
extern struct gs gs[MAXS];		/* the guest's streams */
extern unsigned int bad_rx;		/* malformed packets from the device */
extern bool hash_rx;			/* hash received bytes (gs.rx_hash) */

u64 now_ms(void);
/* FNV-1a over a stream, byte by byte. */
u64 hash_add(u64 h, const u8 *p, size_t n);
/* The byte at offset @i of a stream with seed @seed; fill() writes them. */
u8 pattern(u32 seed, u64 i);
void fill(u8 *p, size_t n, u32 seed, u64 off);

struct gs *gs_find(u32 gport, u32 hport);
struct gs *gs_new(u32 gport, u32 hport);
void gs_free_all(void);

/* Send one packet of @hdr_len header bytes and @plen payload; waits for a slot. */
bool g_send_raw(const struct virtio_vsock_hdr *h, const void *pay, u32 plen, u32 hdr_len);
void hdr_fill(struct virtio_vsock_hdr *h, struct gs *s, u16 op, u32 len);
/* A control packet on @s (RESPONSE, REQUEST, RST, SHUTDOWN, CREDIT_*). */
bool g_ctl(struct gs *s, u16 op, u32 flags);
/* What the device's credit lets @s send now. */
u32 g_credit(const struct gs *s);
/* Send up to @len bytes as credit allows now. Return: bytes sent. */
u32 g_write(struct gs *s, const u8 *p, u32 len);
/* The reader consumed @n bytes (a CREDIT_UPDATE every quarter buffer). */
void g_consume(struct gs *s, u32 n);
/* The reader wakes up: what it held is consumed, and the device told. */
void g_release(struct gs *s);
/* Reap both queues, handle what came, keep the rx ring full. */
void pump(void);

int host_connect(const char *path);
/* A listener at uds_<port>. */
int host_listen(u32 port);
void set_nonblock(int fd);
/* Read a line of at most @max-1 bytes, waiting up to 2 s (pumping). */
bool host_read_line(int fd, char *line, size_t max);
/* Host connects to guest port @port; the guest accepts it. Return: the host fd. */
int open_host_stream(u32 port, struct gs **out, u32 *assigned);

/* Bring @vdpa up with the three queues, rx buffers posted; down() resets it. */
bool up(void);
void down(void);

#endif /* KESTREL_TESTS_VSOCK_GUEST_H */
