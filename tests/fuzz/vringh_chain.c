// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: a device walking a ring the fuzzer wrote.
 *
 * Input: an 8-byte header (ring size, features, memory flavour, the
 * permissions of four IOTLB windows, an avail index offset), then bytes
 * copied over guest memory: descriptor table, avail ring, indirect tables
 * and buffers are whatever the fuzzer put there. The device then takes,
 * reads, writes and completes chains until the ring is empty or broken,
 * re-initialises once after an error, and checks the contract: a taken
 * chain's iovecs lie inside guest memory, a broken ring stays broken with
 * the same error, and no call loops unboundedly or touches memory outside
 * the windows (ASan).
 */
#include <kestrel/log.h>
#include <kestrel/vringh.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vringh_windows.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) __builtin_trap(); } while (0)

#define GMEM_SIZE	0x8000		/* four 8 KiB windows */
#define GMEM_IOVA	0x10000
#define OFF_DESC	0x0
#define OFF_AVAIL	0x1000
#define OFF_USED	0x1800

static u8 *gmem;

static bool in_gmem(const struct iovec *v)
{
	uintptr_t a = (uintptr_t)v->iov_base;

	return a >= (uintptr_t)gmem && v->iov_len <= GMEM_SIZE &&
	       a - (uintptr_t)gmem <= GMEM_SIZE - v->iov_len;
}

static void run_device(struct vringh *vrh, struct vringh_iov *riov,
		       struct vringh_iov *wiov)
{
	static u8 bounce[GMEM_SIZE];
	unsigned int round, k;
	u16 head;
	int ret;

	for (round = 0; round < 2 * vrh->num + 2; round++) {
		ret = vringh_getdesc(vrh, riov, wiov, &head);
		if (ret <= 0) {
			if (ret < 0 && ret != -ENOMEM) {
				CHECK(vringh_error(vrh) == ret);
				CHECK(vringh_getdesc(vrh, riov, wiov, &head) == ret);
				CHECK(vringh_complete(vrh, 0, 0) == ret);
			}
			break;
		}
		CHECK(head < vrh->num);
		for (k = 0; k < riov->used; k++)
			CHECK(in_gmem(&riov->iov[k]));
		for (k = 0; k < wiov->used; k++)
			CHECK(in_gmem(&wiov->iov[k]));
		vringh_iov_pull(riov, bounce, sizeof(bounce));
		CHECK(vringh_iov_length(riov) == 0 || vringh_iov_length(riov) > 0);
		ret = (int)vringh_iov_push(wiov, bounce, 64);
		if (round & 1)
			vringh_complete(vrh, head, (u32)ret);
		else
			vringh_abandon(vrh, 1), vringh_getdesc(vrh, riov, wiov, &head),
			vringh_complete(vrh, head, 0);
		vringh_need_notify(vrh);
		if (round % 3 == 0)
			vringh_notify_enable(vrh);
		else
			vringh_notify_disable(vrh);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iovec rs[4], ws[4];
	struct vringh_iov riov, wiov;
	struct iotlb *tlb = NULL;
	struct vringh vrh;
	unsigned int num, k;
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

	num = 1u << (data[0] % 8);		/* 1..128: desc table fits 0x800 */
	features = VRINGH_F_VERSION_1;
	if (data[1] & 1)
		features |= VRINGH_F_INDIRECT_DESC;
	if (data[1] & 2)
		features |= VRINGH_F_EVENT_IDX;
	host = data[1] & 4;
	/* Give the fuzzer a consistent avail->idx most of the time. */
	if (data[1] & 8) {
		struct vringh_avail *avail = (void *)(gmem + OFF_AVAIL);

		avail->idx = cpu_to_le16(data[6] % (num + 1));
	}

	vringh_iov_init(&riov, rs, data[1] & 16 ? 4 : 0, !(data[1] & 32));
	vringh_iov_init(&wiov, ws, 4, true);
	if (host) {
		ret = vringh_init_host(&vrh, features, num, true, gmem, GMEM_SIZE,
				       (void *)(gmem + OFF_DESC), (void *)(gmem + OFF_AVAIL),
				       (void *)(gmem + OFF_USED));
	} else {
		if (iotlb_create(0, &tlb))
			return 0;
		fuzz_vringh_windows(tlb, gmem, GMEM_IOVA, 4, data + 2);
		ret = vringh_init_iotlb(&vrh, features, num, true, tlb,
					GMEM_IOVA + OFF_DESC, GMEM_IOVA + OFF_AVAIL,
					GMEM_IOVA + OFF_USED);
	}
	if (ret == 0) {
		run_device(&vrh, &riov, &wiov);
		/* A device resets after an error: state must come back clean. */
		if (vringh_error(&vrh)) {
			if (host)
				ret = vringh_init_host(&vrh, features, num, true, gmem, GMEM_SIZE,
						       (void *)(gmem + OFF_DESC),
						       (void *)(gmem + OFF_AVAIL),
						       (void *)(gmem + OFF_USED));
			else
				ret = vringh_init_iotlb(&vrh, features, num, true, tlb,
							GMEM_IOVA + OFF_DESC, GMEM_IOVA + OFF_AVAIL,
							GMEM_IOVA + OFF_USED);
			CHECK(ret == 0 && !vringh_error(&vrh));
			vringh_set_state(&vrh, data[7], data[7]);
			run_device(&vrh, &riov, &wiov);
		}
	}
	vringh_iov_cleanup(&riov);
	vringh_iov_cleanup(&wiov);
	iotlb_destroy(tlb);
	return 0;
}
