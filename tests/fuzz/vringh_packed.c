// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: a device walking a packed ring (virtio 1.2 §2.8) the
 * fuzzer wrote.
 *
 * Input: an 8-byte header (ring size, features, memory flavour, the
 * permissions of three IOTLB windows, how many descriptors to mark
 * available, a starting position with its wrap counter), then bytes
 * copied over guest memory: descriptor ring, both event suppression
 * areas, indirect tables and buffers are whatever the fuzzer put there.
 * The device takes, reads, writes, abandons and completes lists (one at a
 * time, in batches, out of order) until the ring is empty or broken,
 * re-initialises once after an error, and checks the contract: a taken
 * list's ID is < ring size and its iovecs lie inside guest memory, the
 * ring positions stay < ring size, a broken ring stays broken with the
 * same error, completing an ID not in flight is refused without breaking
 * the ring, and no call loops unboundedly or touches memory outside the
 * windows (ASan).
 */
#include <kestrel/log.h>
#include <kestrel/vringh.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vringh_windows.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) __builtin_trap(); } while (0)

#define GMEM_SIZE	0x6000		/* three 8 KiB windows */
#define GMEM_IOVA	0x10000
#define OFF_DESC	0x0		/* up to 128 descriptors: 0x800 */
#define OFF_DRIVER	0x1000
#define OFF_DEVICE	0x1800

static u8 *gmem;

static bool in_gmem(const struct iovec *v)
{
	uintptr_t a = (uintptr_t)v->iov_base;

	return a >= (uintptr_t)gmem && v->iov_len <= GMEM_SIZE &&
	       a - (uintptr_t)gmem <= GMEM_SIZE - v->iov_len;
}

static void check_positions(const struct vringh *vrh)
{
	u16 la, lu;

	vringh_get_state(vrh, &la, &lu);
	CHECK((la & ~VRINGH_EVENT_WRAP) < vrh->num);
	CHECK((lu & ~VRINGH_EVENT_WRAP) < vrh->num);
}

static void run_device(struct vringh *vrh, struct vringh_iov *riov,
		       struct vringh_iov *wiov, u8 mode)
{
	static u8 bounce[GMEM_SIZE];
	struct vringh_used_elem held[4];
	unsigned int round, k, nheld = 0;
	u16 head;
	int ret;

	for (round = 0; round < 2 * vrh->num + 2; round++) {
		ret = vringh_getdesc(vrh, riov, wiov, &head);
		if (ret <= 0) {
			if (ret < 0 && ret != -ENOMEM) {
				CHECK(vringh_error(vrh) == ret);
				CHECK(vringh_getdesc(vrh, riov, wiov, &head) == ret);
				CHECK(vringh_complete(vrh, 0, 0) == ret);
				CHECK(vringh_notify_enable(vrh) == ret);
				CHECK(vringh_need_notify(vrh) == ret);
			}
			break;
		}
		CHECK(head < vrh->num);
		check_positions(vrh);
		for (k = 0; k < riov->used; k++)
			CHECK(in_gmem(&riov->iov[k]));
		for (k = 0; k < wiov->used; k++)
			CHECK(in_gmem(&wiov->iov[k]));
		vringh_iov_pull(riov, bounce, sizeof(bounce));
		ret = (int)vringh_iov_push(wiov, bounce, 64);
		switch ((mode >> (round % 4 * 2)) & 3) {
		case 0:
			CHECK(vringh_complete(vrh, head, (u32)ret) == 0);
			/* Once completed, the ID is no longer in flight. */
			CHECK(vringh_complete(vrh, head, 0) == -EINVAL);
			break;
		case 1:
			/*
			 * Given back and taken again (re-read: the push may
			 * have written over the ring, so it may now fail).
			 */
			vringh_abandon(vrh, 1);
			if (vringh_getdesc(vrh, riov, wiov, &head) == 1)
				CHECK(vringh_complete(vrh, head, 0) == 0);
			break;
		default:
			/* Held, completed later in reverse order, in one batch. */
			held[nheld++] = (struct vringh_used_elem){ head, (u32)ret };
			if (nheld == ARRAY_SIZE(held) || (mode & 0x80)) {
				for (k = 0; k < nheld / 2; k++) {
					struct vringh_used_elem e = held[k];

					held[k] = held[nheld - 1 - k];
					held[nheld - 1 - k] = e;
				}
				CHECK(vringh_complete_multi(vrh, held, nheld) == 0);
				nheld = 0;
			}
			break;
		}
		check_positions(vrh);
		vringh_need_notify(vrh);
		if (round % 3 == 0)
			vringh_notify_enable(vrh);
		else
			vringh_notify_disable(vrh);
	}
	if (nheld && !vringh_error(vrh))
		CHECK(vringh_complete_multi(vrh, held, nheld) == 0);
}

static int init(struct vringh *vrh, u64 features, unsigned int num, bool host,
		struct iotlb *tlb)
{
	if (host)
		return vringh_init_host(vrh, features, num, true, gmem, GMEM_SIZE,
					(void *)(gmem + OFF_DESC), (void *)(gmem + OFF_DRIVER),
					(void *)(gmem + OFF_DEVICE));
	return vringh_init_iotlb(vrh, features, num, true, tlb, GMEM_IOVA + OFF_DESC,
				 GMEM_IOVA + OFF_DRIVER, GMEM_IOVA + OFF_DEVICE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vringh vrh;
	struct iovec rs[4], ws[4];
	struct vringh_iov riov, wiov;
	struct iotlb *tlb = NULL;
	unsigned int num, k, mark;
	u16 start;
	u64 features;
	bool host;
	int ret;

	if (size < 8)
		return 0;
	log_level_set(LOG_ERR);
	if (!gmem)
		gmem = aligned_alloc(4096, GMEM_SIZE);
	memset(gmem, 0, GMEM_SIZE);
	memcpy(gmem, data + 8, MIN(size - 8, (size_t)GMEM_SIZE));

	num = 1 + data[0] % 128;	/* any size: packed rings need no power of two */
	features = VRINGH_F_VERSION_1 | VRINGH_F_RING_PACKED;
	if (data[1] & 1)
		features |= VRINGH_F_INDIRECT_DESC;
	if (data[1] & 2)
		features |= VRINGH_F_EVENT_IDX;
	host = data[1] & 4;
	start = (u16)((data[6] | data[7] << 8) % num) | (data[7] & 0x80 ? VRINGH_EVENT_WRAP : 0);
	/*
	 * Give the fuzzer descriptors marked available for their lap most of
	 * the time (the other flag bits stay its own): the first @mark from
	 * the start position on, wrapping as a driver's would.
	 */
	mark = data[1] & 8 ? data[5] % (num + 1) : 0;
	for (k = 0; k < mark; k++) {
		unsigned int pos = (start & ~VRINGH_EVENT_WRAP) + k;
		bool wrap = !!(start & VRINGH_EVENT_WRAP) ^ (pos >= num);
		struct vringh_packed_desc *d = (void *)(gmem + OFF_DESC);
		u16 f = le16_to_cpu(d[pos % num].flags);

		f &= ~(VRINGH_DESC_F_AVAIL | VRINGH_DESC_F_USED);
		f |= wrap ? VRINGH_DESC_F_AVAIL : VRINGH_DESC_F_USED;
		d[pos % num].flags = cpu_to_le16(f);
	}

	vringh_iov_init(&riov, rs, data[1] & 16 ? 4 : 0, !(data[1] & 32));
	vringh_iov_init(&wiov, ws, 4, true);
	if (!host) {
		if (iotlb_create(0, &tlb))
			return 0;
		fuzz_vringh_windows(tlb, gmem, GMEM_IOVA, 3, data + 2);
	}
	ret = init(&vrh, features, num, host, tlb);
	if (ret == 0) {
		CHECK(vringh_set_state(&vrh, start, start) == 0);
		run_device(&vrh, &riov, &wiov, data[2]);
		/* A device resets after an error: state must come back clean. */
		if (vringh_error(&vrh)) {
			ret = init(&vrh, features, num, host, tlb);
			CHECK(ret == 0 && !vringh_error(&vrh));
			run_device(&vrh, &riov, &wiov, (u8)~data[2]);
		}
	}
	vringh_iov_cleanup(&riov);
	vringh_iov_cleanup(&wiov);
	iotlb_destroy(tlb);
	return 0;
}
