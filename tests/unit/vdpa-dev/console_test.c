// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-console on pipes: guest output reaches the output pipe in order,
 * input written to the input pipe reaches posted receive buffers (also
 * input that arrived before any buffer was posted), and EOF on input stops
 * reading without breaking the device.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_console.h>

#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>

#include "../test.h"
#include "../vdpa/driver.h"

#define RXQ	0
#define TXQ	1
#define NUM	16

static ssize_t read_timeout(int fd, void *buf, size_t len, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, ms) <= 0)
		return -ETIMEDOUT;
	return read(fd, buf, len);
}

int main(void)
{
	int in[2], out[2];
	struct vdpa_device *vdpa;
	struct virtio_console_config cfg;
	struct vdrv d;
	char got[64] = { 0 };
	u16 head;
	u32 len;
	u8 *b1, *b2, *rx;

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return 1;
	/* Typed before the guest posted anything: must not be lost. */
	if (write(in[1], "early", 5) != 5)
		return 1;
	if (!report_eq(vdpa_console_create(NULL, in[0], out[1], &vdpa), 0, "created on pipes"))
		return report_summary();
	report_eq(vdpa_get_device_id(vdpa), VIRTIO_ID_CONSOLE, "device id 3");
	vdpa_get_config(vdpa, 0, &cfg, sizeof(cfg));
	report_eq(le32_to_cpu(cfg.max_nr_ports), 1, "one port");

	vdrv_init(&d, vdpa, 1 << 20);
	/* Each step only once the one before it worked (&& of clauses). */
	if (check_eq(vdrv_map(&d, 0), 0) &&
	    check_eq(vdrv_negotiate(&d, (1ULL << VIRTIO_F_VERSION_1) |
				    (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
				    VRINGH_F_EVENT_IDX), 0) &&
	    check_eq(vdrv_vq_setup(&d, RXQ, NUM), 0) && check_eq(vdrv_vq_setup(&d, TXQ, NUM), 0) &&
	    check_eq(vdrv_vq_use_kickfd(&d, TXQ), 0))
		check_eq(vdrv_driver_ok(&d), 0);
	if (!report_checks("bring-up"))
		return report_summary();

	/* Output: two chains, in order. */
	b1 = vdrv_alloc(&d, 6, 1);
	b2 = vdrv_alloc(&d, 7, 1);
	memcpy(b1, "hello ", 6);
	memcpy(b2, "world\n", 7);
	vdrv_add(&d, TXQ, &(struct vdrv_sg){ b1, 6, false }, 1);
	vdrv_add(&d, TXQ, &(struct vdrv_sg){ b2, 6, false }, 1);
	vdrv_publish(&d, TXQ);
	vdrv_kick(&d, TXQ);
	if (check_true(vdrv_wait_used(&d, TXQ, &head, &len, 2000)))
		check_true(vdrv_wait_used(&d, TXQ, &head, &len, 2000));
	report_checks("both output chains used");
	{
		size_t n = 0;

		while (n < 12) {
			ssize_t r = read_timeout(out[0], got + n, sizeof(got) - 1 - n, 2000);

			if (r <= 0)
				break;
			n += (size_t)r;
		}
		check_eq(n, 12);
		check_mem(got, "hello world\n", 12);
		report_checks("output pipe got \"hello world\\n\"");
	}

	/* Input: the early bytes, then more. */
	rx = vdrv_alloc(&d, 64, 1);
	vdrv_add(&d, RXQ, &(struct vdrv_sg){ rx, 32, true }, 1);
	vdrv_publish(&d, RXQ);
	vdrv_kick(&d, RXQ);
	if (check_true(vdrv_wait_used(&d, RXQ, &head, &len, 2000))) {
		check_eq(len, 5);
		check_mem(rx, "early", 5);
	}
	report_checks("input typed before the buffers arrives");
	vdrv_add(&d, RXQ, &(struct vdrv_sg){ rx + 32, 32, true }, 1);
	vdrv_publish(&d, RXQ);
	vdrv_kick(&d, RXQ);
	vdrv_msleep(50);
	report_eq(write(in[1], "typed", 5), 5, "typing");
	if (check_true(vdrv_wait_used(&d, RXQ, &head, &len, 2000))) {
		check_eq(len, 5);
		check_mem(rx + 32, "typed", 5);
	}
	report_checks("input reaches a posted buffer");

	/* EOF: no completion, no break. */
	close(in[1]);
	vdrv_add(&d, RXQ, &(struct vdrv_sg){ rx, 32, true }, 1);
	vdrv_publish(&d, RXQ);
	vdrv_kick(&d, RXQ);
	report_eq(vdrv_wait_used(&d, RXQ, &head, &len, 200), 0, "EOF completes nothing");
	report(!vdpa_needs_reset(vdpa), "device still healthy after EOF");

	vdpa_reset(vdpa);
	vdrv_fini(&d);
	vdpa_unregister_device(vdpa);
	return report_summary();
}
