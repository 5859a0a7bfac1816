// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: what a guest and a host peer send virtio-vsock
 * (src/vdpa/vsock.c), through the in-process driver and real Unix sockets.
 * Each input is a list of records { kind, len (le16), bytes[len] }:
 *   kind % 4 == 0  a tx packet: bytes are its header and payload as given
 *                  (a short one is a short header)
 *   kind % 4 == 1  the same with the header made plausible first: the
 *                  guest's CID, host CID 2, STREAM, to host port 5000
 *                  (where a listener waits) or to a stream the host opened
 *   kind % 4 == 2  a host connection to uds= writing bytes (a CONNECT line
 *                  or not)
 *   kind % 4 == 3  let the device and the guest stack run a moment
 * The guest stack answers REQUESTs and credit as a driver would. Every
 * input ends with a device reset; the device must not crash, hang, leak or
 * grow what it holds (every stream closed by the reset).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <kestrel/log.h>
#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>

#include "../unit/vdpa-dev/vsock_guest.h"

#define MAXFD	32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lfd = -1;

/* The device outlives the run: its socket and our listener's go with it. */
static void cleanup(void)
{
	char path[128];

	unlink(uds);
	snprintf(path, sizeof(path), "%s_5000", uds);
	unlink(path);
	rmdir(dir);
}

static int setup(void)
{
	char spec[160];

	log_level_set(LOG_ERR);
	snprintf(dir, sizeof(dir), "/tmp/vsock_fuzz.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	atexit(cleanup);
	snprintf(spec, sizeof(spec), "vsock,cid=%d,uds=%s,max_conns=16", GUEST_CID, uds);
	if (vdpa_register_types() || vdpa_mgmt_dev_add(spec, &vdpa))
		return -1;
	lfd = host_listen(5000);
	if (lfd < 0)
		return -1;
	set_nonblock(lfd);
	hash_rx = false;
	return 0;
}

static void run_a_moment(int *fds, unsigned int nfds)
{
	u8 buf[4096];

	for (int i = 0; i < 20; i++) {
		int c;

		pump();
		/* The host end reads whatever reaches it and accepts what connects. */
		while ((c = accept(lfd, NULL, NULL)) >= 0)
			close(c);
		for (unsigned int k = 0; k < nfds; k++)
			while (fds[k] >= 0 && read(fds[k], buf, sizeof(buf)) > 0)
				;
		usleep(20);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	int fds[MAXFD];
	unsigned int nfds = 0;
	size_t i = 0;

	if (!ready)
		ready = setup() ? -1 : 1;
	if (ready < 0 || !up())
		return 0;
	while (i + 3 <= size) {
		u8 kind = data[i];
		u16 len = (u16)(data[i + 1] | data[i + 2] << 8);
		const u8 *p = data + i + 3;
		struct virtio_vsock_hdr h;

		if (len > size - i - 3)
			len = (u16)(size - i - 3);
		i += 3 + (size_t)len;
		switch (kind % 4) {
		case 0:
			memset(&h, 0, sizeof(h));
			memcpy(&h, p, MIN((size_t)len, sizeof(h)));
			g_send_raw(&h, p + MIN((size_t)len, sizeof(h)),
				   (u32)MIN((size_t)(len > HDR ? len - HDR : 0), (size_t)TXPAY),
				   len < HDR ? len : HDR);
			break;
		case 1:
			memset(&h, 0, sizeof(h));
			memcpy(&h, p, MIN((size_t)len, sizeof(h)));
			h.src_cid = cpu_to_le64(GUEST_CID);
			h.dst_cid = cpu_to_le64(2);
			h.type = cpu_to_le16(VIRTIO_VSOCK_TYPE_STREAM);
			if (kind & 4)
				h.dst_port = cpu_to_le32(5000);
			else if (kind & 8)
				h.dst_port = cpu_to_le32(1u << 30);
			h.len = cpu_to_le32(len > HDR ? MIN((u32)(len - HDR), (u32)TXPAY) : 0);
			g_send_raw(&h, p + MIN((size_t)len, sizeof(h)), le32_to_cpu(h.len), HDR);
			break;
		case 2:
			if (nfds < MAXFD) {
				int fd = host_connect(uds);

				if (fd >= 0) {
					set_nonblock(fd);
					/* Refused at once (the limit) is fine too. */
					if (write(fd, p, len) < 0 && errno != EAGAIN && errno != EPIPE)
						break;
					fds[nfds++] = fd;
				}
			}
			break;
		default:
			run_a_moment(fds, nfds);
		}
	}
	run_a_moment(fds, nfds);
	for (unsigned int k = 0; k < nfds; k++)
		close(fds[k]);
	down();
	return 0;
}
