// SPDX-License-Identifier: GPL-2.0-only
/*
 * i8042 keyboard controller with a PS/2 keyboard on its first port, reduced
 * to what a guest needs to probe them, to receive Ctrl+Alt+Del
 * (i8042_send_ctrl_alt_del(), Firecracker's SendCtrlAltDel) and to reset
 * the machine: the controller commands Linux's i8042 driver sends during
 * probe are answered, the keyboard answers the commands Linux's atkbd
 * sends (include/kestrel/hw.h, PS2KBD_CMD_*), no mouse answers on the
 * second port (loopback commands excepted), and pulsing output line 0
 * (command 0xfe, or writing the output port with bit 0 clear) stops the VM
 * with VM_STOP_RESET, which kestrel turns into exit status 0.
 *
 * Two buffers feed the one output register the guest reads at the data
 * port: the controller's own answers (command results, loopback bytes)
 * first, then the keyboard's buffer while the keyboard port is enabled
 * (I8042_CTR_KBDDIS clear). The keyboard speaks its scan code set (2 by
 * default); with I8042_CTR_XLATE the controller translates each byte to
 * set 1 as it moves it to the output register, as the chip does, so the
 * guest's choice of translation, made after bytes were queued, applies.
 * The keyboard never sends 0xf0 (no break codes, and no answer is 0xf0), so
 * translation is byte for byte; a break code would merge 0xf0 into the
 * next byte's bit 7.
 *
 * IRQ 1 is an ISA edge interrupt, and Linux reads one byte per interrupt:
 * each read of the data port drops the line, and it rises again when the
 * next byte is there, so every byte brings its own edge.
 *
 * Locking: i->lock protects every field below it; taken by vCPU threads
 * and by the thread calling i8042_send_ctrl_alt_del().
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
#include <kestrel/x86/layout.h>

#define I8042_QUEUE		8	/* controller answers */

/* Scan code set 2 → set 1, as the 8042 translates (the inverse of the
 * table Linux's atkbd uses to undo it); bytes from 0x80 pass unchanged
 * but for F7 (0x83) and Alt+SysRq (0x84). */
static const u8 i8042_xlate_table[128] = {
	0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
	0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
	0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
	0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
	0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
	0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
	0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
	0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

/*
 * Left Ctrl, left Alt, Delete: make codes per scan code set (index 0 is
 * set 1). Delete is an extended key (0xe0 prefix) in sets 1 and 2.
 */
static const struct {
	u8 len;
	u8 bytes[4];
} i8042_ctrl_alt_del_keys[3] = {
	{ 4, { 0x1d, 0x38, 0xe0, 0x53 } },
	{ 4, { 0x14, 0x11, 0xe0, 0x71 } },
	{ 3, { 0x11, 0x19, 0x64 } },
};

/**
 * struct i8042_kbd - the PS/2 keyboard (under i8042.lock)
 * @buf: bytes for the controller, oldest at @head
 * @head: index of the oldest byte
 * @count: bytes in @buf
 * @cmd: command waiting for its argument byte, or 0
 * @last: the last byte sent, for PS2KBD_CMD_RESEND
 * @set: scan code set, 1 to 3
 * @leds: PS2KBD_CMD_SET_LEDS's byte
 * @typematic: PS2KBD_CMD_TYPEMATIC's byte
 * @scanning: key presses are sent (PS2KBD_CMD_ENABLE) or dropped
 *	(PS2KBD_CMD_DISABLE)
 */
struct i8042_kbd {
	u8 buf[PS2KBD_BUF_SIZE];
	unsigned int head, count;
	u8 cmd;
	u8 last;
	u8 set;
	u8 leds;
	u8 typematic;
	bool scanning;
};

struct i8042 {
	struct io_dev data_dev;		/* X86_I8042_DATA_PORT */
	struct io_dev cmd_dev;		/* X86_I8042_CMD_PORT */
	struct vm *vm;
	bool data_registered;
	bool cmd_registered;
	pthread_mutex_t lock;

	/* Under lock. */
	u8 ctr;				/* controller configuration byte */
	u8 outport;
	u8 status_cmd;			/* I8042_STATUS_CMD of the last write */
	u8 pending;			/* command awaiting its data byte, or 0 */
	struct {
		u8 byte;
		bool aux;
	} queue[I8042_QUEUE];
	unsigned int q_head, q_count;
	bool kbd_irq, aux_irq;
	bool reset_requested;		/* logged once; the VM is stopping */
	struct i8042_kbd kbd;
};

static u8 i8042_xlate(u8 byte)
{
	if (byte < ARRAY_SIZE(i8042_xlate_table))
		return i8042_xlate_table[byte];
	if (byte == 0x83)
		return 0x41;
	if (byte == 0x84)
		return 0x54;
	return byte;
}

/*
 * The byte in the output register: a controller answer, else the
 * keyboard's next byte if its port is enabled. Return: false if empty.
 */
static bool i8042_peek(struct i8042 *i, u8 *byte, bool *aux)
{
	struct i8042_kbd *k = &i->kbd;

	if (i->q_count) {
		*byte = i->queue[i->q_head].byte;
		*aux = i->queue[i->q_head].aux;
		return true;
	}
	if (!k->count || (i->ctr & I8042_CTR_KBDDIS))
		return false;
	*byte = k->buf[k->head];
	if (i->ctr & I8042_CTR_XLATE)
		*byte = i8042_xlate(*byte);
	*aux = false;
	return true;
}

/* Empty the output register; the next byte moves in. */
static void i8042_pop(struct i8042 *i)
{
	if (i->q_count) {
		i->q_head = (i->q_head + 1) % I8042_QUEUE;
		i->q_count--;
	} else if (i->kbd.count && !(i->ctr & I8042_CTR_KBDDIS)) {
		i->kbd.head = (i->kbd.head + 1) % PS2KBD_BUF_SIZE;
		i->kbd.count--;
	}
}

static void i8042_set_irqs(struct i8042 *i, bool kbd, bool aux)
{
	if (kbd != i->kbd_irq) {
		i->kbd_irq = kbd;
		vm_set_irq_line(i->vm, X86_I8042_KBD_IRQ, kbd);
	}
	if (aux != i->aux_irq) {
		i->aux_irq = aux;
		vm_set_irq_line(i->vm, X86_I8042_AUX_IRQ, aux);
	}
}

static void i8042_update_irq(struct i8042 *i)
{
	bool full, aux = false;
	u8 byte = 0;

	full = i8042_peek(i, &byte, &aux);
	i8042_set_irqs(i, full && !aux && (i->ctr & I8042_CTR_KBDINT),
		       full && aux && (i->ctr & I8042_CTR_AUXINT));
}

/* Queue one byte for the guest to read from the data port; drops if full. */
static void i8042_queue(struct i8042 *i, u8 byte, bool aux)
{
	unsigned int slot;

	if (i->q_count == I8042_QUEUE)
		return;
	slot = (i->q_head + i->q_count) % I8042_QUEUE;
	i->queue[slot].byte = byte;
	i->queue[slot].aux = aux;
	i->q_count++;
}

/* ---- the keyboard ---------------------------------------------------------- */

/* The keyboard sends @byte; a full buffer loses it. */
static void i8042_kbd_send(struct i8042_kbd *k, u8 byte)
{
	if (k->count == PS2KBD_BUF_SIZE)
		return;
	k->buf[(k->head + k->count) % PS2KBD_BUF_SIZE] = byte;
	k->count++;
	k->last = byte;
}

/* Power-on defaults (set 2, LEDs off, 10.9 cps after 500 ms); the buffer
 * is cleared, as the reset, enable and default commands do. */
static void i8042_kbd_defaults(struct i8042_kbd *k, bool scanning)
{
	k->head = k->count = 0;
	k->cmd = 0;
	k->set = 2;
	k->leds = 0;
	k->typematic = 0x2b;
	k->scanning = scanning;
}

/* The argument byte of k->cmd. Return: false if @val is not one, so it is a
 * new command (a real keyboard drops the old one for it). */
static bool i8042_kbd_arg(struct i8042_kbd *k, u8 val)
{
	u8 cmd = k->cmd;

	if (val >= PS2KBD_CMD_SET_LEDS)
		return false;
	k->cmd = 0;
	switch (cmd) {
	case PS2KBD_CMD_SET_LEDS:
		k->leds = val & 7;
		break;
	case PS2KBD_CMD_TYPEMATIC:
		k->typematic = val & 0x7f;
		break;
	case PS2KBD_CMD_SCANSET:
		if (val > 3) {
			i8042_kbd_send(k, PS2KBD_NAK);
			return true;
		}
		if (!val) {
			i8042_kbd_send(k, PS2KBD_ACK);
			i8042_kbd_send(k, k->set);
			return true;
		}
		k->set = val;
		break;
	}
	i8042_kbd_send(k, PS2KBD_ACK);
	return true;
}

/* A byte the guest wrote to the keyboard (IBM PS/2 keyboard commands). */
static void i8042_kbd_write(struct i8042_kbd *k, u8 val)
{
	if (k->cmd && i8042_kbd_arg(k, val))
		return;
	k->cmd = 0;
	switch (val) {
	case PS2KBD_CMD_SET_LEDS:
	case PS2KBD_CMD_TYPEMATIC:
	case PS2KBD_CMD_SCANSET:
		k->cmd = val;
		i8042_kbd_send(k, PS2KBD_ACK);
		break;
	case PS2KBD_CMD_ECHO:
		i8042_kbd_send(k, PS2KBD_CMD_ECHO);
		break;
	case PS2KBD_CMD_GET_ID:
		i8042_kbd_send(k, PS2KBD_ACK);
		i8042_kbd_send(k, PS2KBD_ID0);
		i8042_kbd_send(k, PS2KBD_ID1);
		break;
	case PS2KBD_CMD_ENABLE:
		k->head = k->count = 0;
		k->scanning = true;
		i8042_kbd_send(k, PS2KBD_ACK);
		break;
	case PS2KBD_CMD_DISABLE:
	case PS2KBD_CMD_DEFAULTS:
		i8042_kbd_defaults(k, val == PS2KBD_CMD_DEFAULTS);
		i8042_kbd_send(k, PS2KBD_ACK);
		break;
	case 0xf7 ... 0xfd:
		/* Set 3's per-key typematic/make/break modes: no effect here. */
		i8042_kbd_send(k, PS2KBD_ACK);
		break;
	case PS2KBD_CMD_RESEND:
		i8042_kbd_send(k, k->last);
		break;
	case PS2KBD_CMD_RESET:
		i8042_kbd_defaults(k, true);
		i8042_kbd_send(k, PS2KBD_ACK);
		i8042_kbd_send(k, PS2KBD_BAT_OK);
		break;
	default:
		/* 0x00-0xec outside an argument, 0xef, 0xf1: not a command */
		i8042_kbd_send(k, PS2KBD_NAK);
		break;
	}
}

int i8042_send_ctrl_alt_del(struct i8042 *i)
{
	struct i8042_kbd *k = &i->kbd;
	int ret = 0;

	pthread_mutex_lock(&i->lock);
	if (!k->scanning) {
		ret = -EAGAIN;
	} else {
		unsigned int set = k->set - 1;
		unsigned int len = i8042_ctrl_alt_del_keys[set].len;

		if (PS2KBD_BUF_SIZE - k->count < len) {
			ret = -EBUSY;
		} else {
			for (unsigned int n = 0; n < len; n++)
				i8042_kbd_send(k, i8042_ctrl_alt_del_keys[set].bytes[n]);
			i8042_update_irq(i);
		}
	}
	pthread_mutex_unlock(&i->lock);
	if (!ret)
		pr_debug("i8042: Ctrl+Alt+Del pressed");
	return ret;
}

/* ---- the controller ---------------------------------------------------------- */

static void i8042_reset_cpu(struct i8042 *i)
{
	if (i->reset_requested)
		return;
	i->reset_requested = true;
	pr_info("i8042: guest reset the machine");
	vm_request_stop(i->vm, VM_STOP_RESET, 0);
}

static void i8042_command(struct i8042 *i, u8 cmd)
{
	switch (cmd) {
	case I8042_CMD_READ_CTR:
		i8042_queue(i, i->ctr, false);
		break;
	case I8042_CMD_WRITE_CTR:
	case I8042_CMD_WRITE_OUTPORT:
	case I8042_CMD_KBD_LOOP:
	case I8042_CMD_AUX_LOOP:
	case I8042_CMD_AUX_SEND:
		i->pending = cmd;
		break;
	case I8042_CMD_AUX_DISABLE:
		i->ctr |= I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_ENABLE:
		i->ctr &= (u8)~I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_TEST:
	case I8042_CMD_KBD_TEST:
		i8042_queue(i, 0x00, false);	/* interface OK */
		break;
	case I8042_CMD_SELF_TEST:
		i->ctr |= I8042_CTR_SYS;
		i8042_queue(i, 0x55, false);
		break;
	case I8042_CMD_KBD_DISABLE:
		i->ctr |= I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_KBD_ENABLE:
		i->ctr &= (u8)~I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_READ_OUTPORT:
		i8042_queue(i, i->outport, false);
		break;
	default:
		/* 0xf0..0xff pulse the output lines whose bits are clear. */
		if (cmd >= 0xf0 && !(cmd & 1))
			i8042_reset_cpu(i);
		break;
	}
}

static void i8042_data(struct i8042 *i, u8 val)
{
	u8 cmd = i->pending;

	i->pending = 0;
	switch (cmd) {
	case I8042_CMD_WRITE_CTR:
		i->ctr = val;
		break;
	case I8042_CMD_WRITE_OUTPORT:
		i->outport = val;
		if (!(val & 1))
			i8042_reset_cpu(i);
		break;
	case I8042_CMD_KBD_LOOP:
		i8042_queue(i, val, false);
		break;
	case I8042_CMD_AUX_LOOP:
		i8042_queue(i, val, true);
		break;
	case I8042_CMD_AUX_SEND:
		break;			/* no mouse: nothing answers */
	default:
		/* To the keyboard; sending re-enables its port, as on the chip. */
		i->ctr &= (u8)~I8042_CTR_KBDDIS;
		i8042_kbd_write(&i->kbd, val);
		break;
	}
}

static int i8042_data_read(struct io_dev *dev, u64 offset, void *data,
			   unsigned int len)
{
	struct i8042 *i = container_of(dev, struct i8042, data_dev);
	bool aux = false;
	u8 v = 0;

	pthread_mutex_lock(&i->lock);
	if (i8042_peek(i, &v, &aux)) {
		i8042_pop(i);
		/* The line drops with the buffer; the next byte raises it anew. */
		i8042_set_irqs(i, false, false);
	}
	i8042_update_irq(i);
	pthread_mutex_unlock(&i->lock);
	*(u8 *)data = v;
	return 0;
}

static int i8042_data_write(struct io_dev *dev, u64 offset, const void *data,
			    unsigned int len)
{
	struct i8042 *i = container_of(dev, struct i8042, data_dev);

	pthread_mutex_lock(&i->lock);
	i->status_cmd = 0;
	i8042_data(i, *(const u8 *)data);
	i8042_update_irq(i);
	pthread_mutex_unlock(&i->lock);
	return 0;
}

static int i8042_cmd_read(struct io_dev *dev, u64 offset, void *data,
			  unsigned int len)
{
	struct i8042 *i = container_of(dev, struct i8042, cmd_dev);
	bool aux = false;
	u8 v, byte = 0;

	pthread_mutex_lock(&i->lock);
	v = i->status_cmd | I8042_STATUS_UNLOCKED | (i->ctr & I8042_CTR_SYS);
	if (i8042_peek(i, &byte, &aux)) {
		v |= I8042_STATUS_OBF;
		if (aux)
			v |= I8042_STATUS_AUXDATA;
	}
	pthread_mutex_unlock(&i->lock);
	*(u8 *)data = v;
	return 0;
}

static int i8042_cmd_write(struct io_dev *dev, u64 offset, const void *data,
			   unsigned int len)
{
	struct i8042 *i = container_of(dev, struct i8042, cmd_dev);

	pthread_mutex_lock(&i->lock);
	i->status_cmd = I8042_STATUS_CMD;
	i->pending = 0;
	i8042_command(i, *(const u8 *)data);
	i8042_update_irq(i);
	pthread_mutex_unlock(&i->lock);
	return 0;
}

static const struct io_ops i8042_data_ops = {
	.read = i8042_data_read,
	.write = i8042_data_write,
	.min_access = 1,
	.max_access = 1,
};

static const struct io_ops i8042_cmd_ops = {
	.read = i8042_cmd_read,
	.write = i8042_cmd_write,
	.min_access = 1,
	.max_access = 1,
};

int i8042_create(struct vm *vm, struct i8042 **out)
{
	struct i8042 *i;
	int ret;

	i = xzalloc(sizeof(*i));
	if (!i)
		return -ENOMEM;
	i->vm = vm;
	i->data_dev.ops = &i8042_data_ops;
	i->data_dev.name = "i8042-data";
	i->cmd_dev.ops = &i8042_cmd_ops;
	i->cmd_dev.name = "i8042-cmd";
	/* Firmware left it ready: translation on, both ports disabled. */
	i->ctr = I8042_CTR_SYS | I8042_CTR_XLATE | I8042_CTR_KBDDIS |
		 I8042_CTR_AUXDIS;
	i->outport = 0x01;		/* reset line not asserted */
	i8042_kbd_defaults(&i->kbd, true);
	pthread_mutex_init(&i->lock, NULL);

	ret = iobus_register(vm_iobus(vm), IO_SPACE_PIO, X86_I8042_DATA_PORT, 1,
			     &i->data_dev);
	if (ret)
		goto err_destroy;
	i->data_registered = true;
	ret = iobus_register(vm_iobus(vm), IO_SPACE_PIO, X86_I8042_CMD_PORT, 1,
			     &i->cmd_dev);
	if (ret)
		goto err_destroy;
	i->cmd_registered = true;
	*out = i;
	return 0;

err_destroy:
	i8042_destroy(i);
	return ret;
}

void i8042_destroy(struct i8042 *i)
{
	if (!i)
		return;
	i8042_set_irqs(i, false, false);	/* a line it raised stays low */
	if (i->cmd_registered)
		iobus_unregister(vm_iobus(i->vm), IO_SPACE_PIO, X86_I8042_CMD_PORT);
	if (i->data_registered)
		iobus_unregister(vm_iobus(i->vm), IO_SPACE_PIO,
				 X86_I8042_DATA_PORT);
	pthread_mutex_destroy(&i->lock);
	free(i);
}

/* SNAP_SEC_I8042: controller registers and queue, the keyboard's state. */
struct i8042_snap {
	u8 ctr, outport, status_cmd, pending;
	u8 q_head, q_count, kbd_head, kbd_count;
	u8 kbd_cmd, kbd_last, kbd_set, kbd_leds, kbd_typematic, kbd_scanning;
	u8 pad[2];
	u8 q_byte[I8042_QUEUE];
	u8 q_aux[I8042_QUEUE];
	u8 kbd_buf[PS2KBD_BUF_SIZE];
};

int i8042_snapshot_save(struct i8042 *i, struct snap_writer *w)
{
	struct i8042_snap st = { 0 };

	pthread_mutex_lock(&i->lock);
	st = (struct i8042_snap){
		.ctr = i->ctr, .outport = i->outport, .status_cmd = i->status_cmd,
		.pending = i->pending, .q_head = (u8)i->q_head, .q_count = (u8)i->q_count,
		.kbd_head = (u8)i->kbd.head, .kbd_count = (u8)i->kbd.count,
		.kbd_cmd = i->kbd.cmd, .kbd_last = i->kbd.last, .kbd_set = i->kbd.set,
		.kbd_leds = i->kbd.leds, .kbd_typematic = i->kbd.typematic,
		.kbd_scanning = i->kbd.scanning,
	};
	for (unsigned int n = 0; n < I8042_QUEUE; n++) {
		st.q_byte[n] = i->queue[n].byte;
		st.q_aux[n] = i->queue[n].aux;
	}
	memcpy(st.kbd_buf, i->kbd.buf, sizeof(st.kbd_buf));
	pthread_mutex_unlock(&i->lock);
	return snap_write_section(w, SNAP_SEC_I8042, 0, &st, sizeof(st));
}

int i8042_snapshot_restore(struct i8042 *i, struct snap_reader *r)
{
	const struct i8042_snap *st;
	const void *data;
	size_t len;

	if (snap_read_section(r, SNAP_SEC_I8042, 0, &data, &len) || len != sizeof(*st))
		return -EINVAL;
	st = data;
	if (st->q_head >= I8042_QUEUE || st->q_count > I8042_QUEUE ||
	    st->kbd_head >= PS2KBD_BUF_SIZE || st->kbd_count > PS2KBD_BUF_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&i->lock);
	i->ctr = st->ctr;
	i->outport = st->outport;
	i->status_cmd = st->status_cmd;
	i->pending = st->pending;
	i->q_head = st->q_head;
	i->q_count = st->q_count;
	for (unsigned int n = 0; n < I8042_QUEUE; n++) {
		i->queue[n].byte = st->q_byte[n];
		i->queue[n].aux = st->q_aux[n];
	}
	memcpy(i->kbd.buf, st->kbd_buf, sizeof(i->kbd.buf));
	i->kbd.head = st->kbd_head;
	i->kbd.count = st->kbd_count;
	i->kbd.cmd = st->kbd_cmd;
	i->kbd.last = st->kbd_last;
	i->kbd.set = st->kbd_set;
	i->kbd.leds = st->kbd_leds;
	i->kbd.typematic = st->kbd_typematic;
	i->kbd.scanning = st->kbd_scanning;
	i8042_update_irq(i);
	pthread_mutex_unlock(&i->lock);
	return 0;
}
