// SPDX-License-Identifier: GPL-2.0-only
/*
 * PONG: a test device in the style of a channel-attached unit. The guest
 * finds it by its ID register, enables it, reads its sense-ID record, and
 * plays ping-pong: it writes nine decimal digits and reads back the number
 * plus one (mod 10^9: 999999999 → 000000000). docs/pong.md is the
 * specification; include/kestrel/hw.h holds the register layout.
 *
 * Every access is byte-wise in ascending port order, so a 2- or 4-byte
 * access behaves exactly like that many 1-byte accesses; the DATA window is
 * four ports wide so a 4-byte access moves four FIFO bytes in one exit.
 *
 * Locking: p->lock protects the register state; taken by vCPU threads.
 */
#include <kestrel/hw.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/snapshot.h>
#include <kestrel/vm.h>

struct pong {
	struct io_dev dev;
	struct vm *vm;
	u16 port;
	u32 irq;
	bool registered;
	pthread_mutex_t lock;

	/* Under lock. */
	u8 status;
	u8 isr;
	u8 ctrl;
	bool irq_level;
	u8 req[PONG_REQ_MAX];
	unsigned int req_len;		/* bytes written, may exceed PONG_REQ_MAX */
	u8 resp[PONG_RESP_MAX];
	unsigned int resp_len;		/* valid bytes in resp */
	unsigned int resp_pos;		/* next byte the guest reads */
};

_Static_assert(PONG_REG_DATA + 4 == PONG_REG_REQ_LEN, "pong DATA window");

static void pong_update_irq(struct pong *p)
{
	bool level = (p->isr & PONG_ISR_DONE) && (p->ctrl & PONG_CTRL_IRQ_ENABLE);

	if (level == p->irq_level)
		return;
	p->irq_level = level;
	if (vm_set_irq_line(p->vm, p->irq, level) < 0)
		pr_warn_ratelimited("pong@%#x: cannot drive IRQ %u", p->port,
				    p->irq);
}

static void pong_clear_buffers(struct pong *p)
{
	p->req_len = 0;
	p->resp_len = 0;
	p->resp_pos = 0;
}

static void pong_sense_id(struct pong *p)
{
	const struct pong_sense_id id = {
		.reserved = 0xff,
		.cu_type = cpu_to_le16(PONG_CU_TYPE),
		.cu_model = PONG_CU_MODEL,
		.dev_type = cpu_to_le16(PONG_DEV_TYPE),
		.dev_model = PONG_DEV_MODEL,
	};

	memcpy(p->resp, &id, sizeof(id));
	p->resp_len = sizeof(id);
	p->resp_pos = 0;
	p->status = PONG_ST_OK;
}

/* n + 1 mod 10^9 on the nine digits of the request, into the response. */
static void pong_ping(struct pong *p)
{
	unsigned int i;
	int carry = 1;

	p->resp_len = 0;
	p->resp_pos = 0;
	if (p->req_len != PONG_DIGITS) {
		p->status = PONG_ST_BAD_LENGTH;
		return;
	}
	for (i = 0; i < PONG_DIGITS; i++) {
		if (p->req[i] < '0' || p->req[i] > '9') {
			p->status = PONG_ST_BAD_DIGIT;
			return;
		}
	}
	for (i = PONG_DIGITS; i-- > 0;) {
		u8 d = (u8)(p->req[i] - '0' + carry);

		carry = d == 10;
		p->resp[i] = (u8)('0' + (carry ? 0 : d));
	}
	/* A carry out of the top digit is dropped: 999999999 wraps to 0. */
	p->resp_len = PONG_DIGITS;
	p->status = PONG_ST_OK;
}

static void pong_command(struct pong *p, u8 cmd)
{
	if (cmd == PONG_CMD_RESET) {
		pong_clear_buffers(p);
		p->status = PONG_ST_OK;
		p->isr = 0;
		p->ctrl = 0;
		return;			/* no completion interrupt: it is off now */
	}
	if (!(p->ctrl & PONG_CTRL_ENABLE)) {
		p->status = PONG_ST_DISABLED;
	} else {
		switch (cmd) {
		case PONG_CMD_SENSE_ID:
			pong_sense_id(p);
			break;
		case PONG_CMD_PING:
			pong_ping(p);
			break;
		default:
			p->status = PONG_ST_BAD_CMD;
			break;
		}
	}
	/* A command consumes the request whatever its outcome. */
	p->req_len = 0;
	p->isr |= PONG_ISR_DONE;
}

static u8 pong_data_read(struct pong *p)
{
	if (p->resp_pos >= p->resp_len) {
		p->status = PONG_ST_NO_DATA;
		return 0xff;
	}
	return p->resp[p->resp_pos++];
}

static void pong_data_write(struct pong *p, u8 val)
{
	if (p->req_len < PONG_REQ_MAX)
		p->req[p->req_len] = val;
	/* Overlong requests are counted (to fail with BAD_LENGTH), not stored. */
	if (p->req_len < PONG_REQ_MAX + 1)
		p->req_len++;
}

static u8 pong_read_reg(struct pong *p, unsigned int reg)
{
	switch (reg) {
	case PONG_REG_ID ... PONG_REG_ID + 3:
		return (u8)(PONG_ID >> (8 * (reg - PONG_REG_ID)));
	case PONG_REG_STATUS:
		return p->status;
	case PONG_REG_ISR:
		return p->isr;
	case PONG_REG_CTRL:
		return p->ctrl;
	case PONG_REG_DATA ... PONG_REG_DATA + 3:
		return pong_data_read(p);
	case PONG_REG_REQ_LEN:
		return (u8)MIN(p->req_len, 0xffu);
	case PONG_REG_RESP_LEN:
		return (u8)(p->resp_len - MIN(p->resp_pos, p->resp_len));
	case PONG_REG_VERSION:
		return PONG_VERSION;
	}
	return 0;			/* CMD (write-only) and reserved */
}

static void pong_write_reg(struct pong *p, unsigned int reg, u8 val)
{
	switch (reg) {
	case PONG_REG_CMD:
		pong_command(p, val);
		break;
	case PONG_REG_ISR:
		p->isr &= (u8)~val;
		break;
	case PONG_REG_CTRL:
		p->ctrl = val & PONG_CTRL_MASK;
		break;
	case PONG_REG_DATA ... PONG_REG_DATA + 3:
		pong_data_write(p, val);
		break;
	default:
		break;			/* read-only registers ignore writes */
	}
}

static int pong_read(struct io_dev *dev, u64 offset, void *data,
		     unsigned int len)
{
	struct pong *p = container_of(dev, struct pong, dev);
	u8 *out = data;

	if (offset >= PONG_NR_PORTS || len > PONG_NR_PORTS - offset)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	for (unsigned int i = 0; i < len; i++)
		out[i] = pong_read_reg(p, (unsigned int)offset + i);
	pong_update_irq(p);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static int pong_write(struct io_dev *dev, u64 offset, const void *data,
		      unsigned int len)
{
	struct pong *p = container_of(dev, struct pong, dev);
	const u8 *in = data;

	if (offset >= PONG_NR_PORTS || len > PONG_NR_PORTS - offset)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	for (unsigned int i = 0; i < len; i++)
		pong_write_reg(p, (unsigned int)offset + i, in[i]);
	pong_update_irq(p);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static const struct io_ops pong_ops = {
	.read = pong_read,
	.write = pong_write,
	.min_access = 1,
	.max_access = 4,
	.unaligned = true,
};

int pong_create(struct vm *vm, u16 port, u32 irq, struct pong **out)
{
	struct pong *p;
	int ret;

	p = xzalloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->dev.ops = &pong_ops;
	p->dev.name = "pong";
	p->vm = vm;
	p->port = port;
	p->irq = irq;
	pthread_mutex_init(&p->lock, NULL);
	ret = iobus_register(vm_iobus(vm), IO_SPACE_PIO, port, PONG_NR_PORTS,
			     &p->dev);
	if (ret)
		goto err_destroy;
	p->registered = true;
	*out = p;
	return 0;

err_destroy:
	pong_destroy(p);
	return ret;
}

void pong_destroy(struct pong *p)
{
	if (!p)
		return;
	if (p->registered)
		iobus_unregister(vm_iobus(p->vm), IO_SPACE_PIO, p->port);
	if (p->irq_level)
		vm_set_irq_line(p->vm, p->irq, false);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* SNAP_SEC_PONG: registers, the request FIFO and the pending response. */
struct pong_snap {
	u8 status, isr, ctrl, pad;
	u32 req_len, resp_len, resp_pos;
	u8 req[PONG_REQ_MAX];
	u8 resp[PONG_RESP_MAX];
};

int pong_snapshot_save(struct pong *p, struct snap_writer *w)
{
	struct pong_snap st = { 0 };

	pthread_mutex_lock(&p->lock);
	st.status = p->status;
	st.isr = p->isr;
	st.ctrl = p->ctrl;
	st.req_len = p->req_len;
	st.resp_len = p->resp_len;
	st.resp_pos = p->resp_pos;
	memcpy(st.req, p->req, sizeof(st.req));
	memcpy(st.resp, p->resp, sizeof(st.resp));
	pthread_mutex_unlock(&p->lock);
	return snap_write_section(w, SNAP_SEC_PONG, 0, &st, sizeof(st));
}

int pong_snapshot_restore(struct pong *p, struct snap_reader *r)
{
	const struct pong_snap *st;
	const void *data;
	size_t len;

	if (snap_read_section(r, SNAP_SEC_PONG, 0, &data, &len) || len != sizeof(*st))
		return -EINVAL;
	st = data;
	if (st->resp_len > PONG_RESP_MAX || st->resp_pos > st->resp_len ||
	    st->req_len > 0x10000)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	p->status = st->status;
	p->isr = st->isr;
	p->ctrl = st->ctrl;
	p->req_len = st->req_len;
	p->resp_len = st->resp_len;
	p->resp_pos = st->resp_pos;
	memcpy(p->req, st->req, sizeof(p->req));
	memcpy(p->resp, st->resp, sizeof(p->resp));
	pong_update_irq(p);
	pthread_mutex_unlock(&p->lock);
	return 0;
}
