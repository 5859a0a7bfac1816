/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_X86_PONG_H
#define GUEST_X86_PONG_H

/*
 * Guest driver for kestrel's PONG test device (docs/pong.md). The register
 * layout comes from the host's own header, so both sides read one truth.
 */
#include "guest.h"
#include <kestrel/hw.h>

#define PONG_PROBE_FIRST	0x500
#define PONG_PROBE_LAST		0x5f0

/* Find the device by its ID register; 0 if absent. */
u16 pong_probe(void);
u8 pong_status(u16 base);
/* Issue @cmd and return STATUS (completion is synchronous). */
u8 pong_cmd(u16 base, u8 cmd);
/* Write @len request bytes through the DATA window (4 at a time). */
void pong_write_data(u16 base, const void *buf, unsigned int len);
/* Read @len response bytes; returns STATUS after the reads. */
u8 pong_read_data(u16 base, void *buf, unsigned int len);
/* Write 9 digits of @n, PING, read the 9-digit answer; STATUS or ~0u. */
int pong_ping(u16 base, u32 n, u32 *answer);

#endif /* GUEST_X86_PONG_H */
