// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: sequences of vhost-user messages fed to
 * vhost_user_handle_msg() of a server-side device state bound to the net
 * simulator, as a front-end would send them. The first byte picks options
 * (bit 0: offer ACCESS_PLATFORM), then each record is
 *
 *   u8 fdspec | u32 request | u32 flags | u16 size | size bytes of payload
 *
 * fdspec: low 3 bits = number of fds to attach; bit 3 set = eventfds,
 * clear = 64 KiB memfds (so SET_MEM_TABLE / ADD_MEM_REG can really map);
 * for memfds, bit 4 makes them sealable (MFD_ALLOW_SEALING) and bit 5
 * seals them with F_SEAL_SHRINK | F_SEAL_GROW (a sealable memfd without
 * that seal must be refused).
 * Replies go to one end of a socketpair and are drained after each message.
 * After the sequence the session is torn down as a disconnect would, so
 * every input also exercises the reset path; fd leaks show up as EMFILE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <kestrel/log.h>
#include <kestrel/vdpa.h>

#include "../../src/vhost-user/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) __builtin_trap(); } while (0)
#define FUZZ_MEM	(64u << 10)

static struct vdpa_device *fuzz_vdpa;
static int fuzz_sock[2] = { -1, -1 };

static void fuzz_drain(void)
{
	char buf[4096];

	while (recv(fuzz_sock[1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static int fuzz_make_fd(u8 spec)
{
	int fd;

	if (spec & 8)
		return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fd = memfd_create("fuzz-mem", MFD_CLOEXEC | (spec & 0x10 ? MFD_ALLOW_SEALING : 0));
	if (fd >= 0 && (ftruncate(fd, FUZZ_MEM) ||
			((spec & 0x30) == 0x30 &&
			 fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW)))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vhost_user_dev dev;
	static bool ready;
	struct vhost_user_server_opts opts = { .iommu = true };
	size_t off = 1;
	unsigned int nmsgs = 0;

	if (!ready) {
		log_level_set(LOG_ERR);
		CHECK(vdpa_register_types() == 0);
		CHECK(vdpa_mgmt_dev_add("net,max_vqp=2", &fuzz_vdpa) == 0);
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fuzz_sock) == 0);
		fcntl(fuzz_sock[0], F_SETFL, O_NONBLOCK);
		ready = true;
	}
	memset(&dev, 0, sizeof(dev));
	/* The first byte picks options: odd offers the IOMMU path. */
	if (!size)
		return 0;
	opts.iommu = data[0] & 1;
	CHECK(vhost_user_dev_init(&dev, fuzz_vdpa, &opts) == 0);
	dev.connfd = fuzz_sock[0];

	while (size - off >= 11 && nmsgs++ < 64) {
		struct vhost_user_msg msg;
		int fds[VHOST_USER_MAX_FDS];
		unsigned int nfds = data[off] & 7;
		u8 spec = data[off];
		u16 len;

		memset(&msg, 0, sizeof(msg));
		memcpy(&msg.hdr.request, data + off + 1, 4);
		memcpy(&msg.hdr.flags, data + off + 5, 4);
		memcpy(&len, data + off + 9, 2);
		off += 11;
		if (len > size - off)
			len = (u16)(size - off);
		/* The reader refuses bigger payloads before dispatch. */
		if (len > VHOST_USER_PAYLOAD_MAX)
			len = VHOST_USER_PAYLOAD_MAX;
		msg.hdr.size = len;
		memcpy(&msg.payload, data + off, len);
		off += len;
		for (unsigned int i = 0; i < nfds; i++)
			fds[i] = fuzz_make_fd(spec);
		if (vhost_user_handle_msg(&dev, &msg, fds, nfds) ==
		    VHOST_USER_DISCONNECT) {
			fuzz_drain();
			break;
		}
		fuzz_drain();
	}
	vhost_user_dev_fini(&dev);
	/* Every fd the messages brought was closed: the next one is low. */
	{
		int probe = eventfd(0, EFD_CLOEXEC);

		CHECK(probe >= 0 && probe < 64);
		close(probe);
	}
	return 0;
}
