// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bounce layer's own rules (guest/lib/bounce.h), without a device:
 * what is bounced and what is posted as it is, the copies in both
 * directions, a used length larger than the buffers (a hostile device)
 * copying no more than the buffers hold, and refusals (too many buffers,
 * one larger than a slot, the pool out of slots) holding nothing.
 *
 * Everything that touches the private buffers runs in ring 3 (native on
 * PVM); run with --protected, where they are private RAM.
 */
#include "bounce.h"
#include "guest.h"
#include "x86/usermode.h"

#include <kestrel/x86/layout.h>

#define SLOT	256
#define NSLOTS	4

static struct bounce_pool pool;
static struct bounce_req req, req2;
static u8 *priv;		/* 4 KiB of private RAM */
static u8 shared_hdr[16];

struct result {
	bool staged_ok, copied_out, hdr_direct, slots_shared;
	bool copied_in, clamped, canary_ok;
	bool too_big, too_many, exhausted, nothing_held;
};

static u64 user_run(void *arg)
{
	struct result *r = arg;
	struct virtq_buf b[3] = {
		{ shared_hdr, sizeof(shared_hdr), false },	/* shared: as it is */
		{ priv, 100, false },				/* private, out */
		{ priv + 512, 200, true },			/* private, in */
	};
	struct virtq_buf big = { priv, SLOT + 1, false };
	struct virtq_buf five[5];
	u8 *in_slot;
	bool ok = true;

	for (unsigned int i = 0; i < 4096; i++)
		priv[i] = (u8)(i * 7 + 1);
	r->staged_ok = !bounce_stage(&pool, &req, b, 2, 1, priv) && req.out == 2 && req.in == 1;
	r->hdr_direct = req.slot[0] == BOUNCE_NO_SLOT && req.buf[0].addr == shared_hdr;
	r->slots_shared = req.slot[1] != BOUNCE_NO_SLOT && req.slot[2] != BOUNCE_NO_SLOT &&
			  (u64)(uintptr_t)req.buf[1].addr < X86_PRIVATE_RAM_START &&
			  (u64)(uintptr_t)req.buf[2].addr < X86_PRIVATE_RAM_START &&
			  req.buf[2].write && !req.buf[1].write;
	r->copied_out = !memcmp(req.buf[1].addr, priv, 100) && pool.bytes_out == 100;

	/* The "device" writes the whole slot and claims far more. */
	in_slot = req.buf[2].addr;
	for (unsigned int i = 0; i < SLOT; i++)
		in_slot[i] = (u8)(0xc0 ^ i);
	req.used_len = 1u << 30;
	r->clamped = bounce_finish(&pool, &req) == priv && pool.bytes_in == 200;
	for (unsigned int i = 0; i < 200; i++)
		ok &= priv[512 + i] == (u8)(0xc0 ^ i);
	r->copied_in = ok;
	ok = true;
	for (unsigned int i = 712; i < 4096; i++)
		ok &= priv[i] == (u8)(i * 7 + 1);
	r->canary_ok = ok && pool.nfree == NSLOTS;

	/* Refusals: nothing held afterwards. */
	r->too_big = bounce_stage(&pool, &req, &big, 1, 0, priv) == -1;
	for (unsigned int i = 0; i < 5; i++)
		five[i] = (struct virtq_buf){ priv + i * 16, 16, false };
	r->too_many = bounce_stage(&pool, &req, five, 5, 0, priv) == -1;
	r->exhausted = !bounce_stage(&pool, &req2, five, 3, 0, priv) &&
		       bounce_stage(&pool, &req, five, 2, 0, priv) == -1 && pool.nfree == 1;
	bounce_release(&pool, &req2);
	r->nothing_held = pool.nfree == NSLOTS;
	return 0;
}

int main(void)
{
	struct result r = { 0 };

	report_prefix_push("bounce");
	priv = private_alloc(4096, 4096);
	if (!priv || bounce_pool_init(&pool, NSLOTS, SLOT, true)) {
		report(false, "private RAM and a pool (needs --memory above 64M)");
		return report_summary();
	}
	run_in_user(user_run, &r);
	report(r.staged_ok, "a chain of a shared header, a private out and a private in buffer staged");
	report(r.hdr_direct, "the shared header posted as it is");
	report(r.slots_shared, "the private buffers posted as slots in the shared window");
	report(r.copied_out, "the outgoing buffer copied into its slot");
	report(r.clamped, "a used length of 1 GiB copies back only the 200-byte buffer");
	report(r.copied_in, "what the device wrote reached private RAM");
	report(r.canary_ok, "nothing beyond the buffer changed, every slot free again");
	report(r.too_big, "a buffer larger than a slot refused");
	report(r.too_many, "more than BOUNCE_MAX_SEGS buffers refused");
	report(r.exhausted, "a chain needing more slots than are free refused");
	report(r.nothing_held, "refusals hold no slot");
	report_prefix_pop();
	return report_summary();
}
