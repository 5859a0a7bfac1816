// SPDX-License-Identifier: GPL-2.0-only
#include "x86/pong.h"
#include "x86/processor.h"

u16 pong_probe(void)
{
	for (u16 port = PONG_PROBE_FIRST; port <= PONG_PROBE_LAST; port += 0x10)
		if (inl(port + PONG_REG_ID) == PONG_ID)
			return port;
	return 0;
}

u8 pong_status(u16 base)
{
	return inb(base + PONG_REG_STATUS);
}

u8 pong_cmd(u16 base, u8 cmd)
{
	outb(base + PONG_REG_CMD, cmd);
	return pong_status(base);
}

void pong_write_data(u16 base, const void *buf, unsigned int len)
{
	const u8 *p = buf;

	for (; len >= 4; len -= 4, p += 4) {
		u32 v;

		memcpy(&v, p, 4);
		outl(base + PONG_REG_DATA, v);
	}
	for (; len; len--)
		outb(base + PONG_REG_DATA, *p++);
}

u8 pong_read_data(u16 base, void *buf, unsigned int len)
{
	u8 *p = buf;

	for (; len >= 4; len -= 4, p += 4) {
		u32 v = inl(base + PONG_REG_DATA);

		memcpy(p, &v, 4);
	}
	for (; len; len--)
		*p++ = inb(base + PONG_REG_DATA);
	return pong_status(base);
}

int pong_ping(u16 base, u32 n, u32 *answer)
{
	char digits[PONG_DIGITS];
	u8 st;

	for (int i = PONG_DIGITS - 1; i >= 0; i--, n /= 10)
		digits[i] = (char)('0' + n % 10);
	pong_write_data(base, digits, sizeof(digits));
	st = pong_cmd(base, PONG_CMD_PING);
	if (st != PONG_ST_OK)
		return st;
	st = pong_read_data(base, digits, sizeof(digits));
	if (st != PONG_ST_OK)
		return st;
	*answer = 0;
	for (int i = 0; i < PONG_DIGITS; i++) {
		if (digits[i] < '0' || digits[i] > '9')
			return -1;
		*answer = *answer * 10 + (u32)(digits[i] - '0');
	}
	return PONG_ST_OK;
}
