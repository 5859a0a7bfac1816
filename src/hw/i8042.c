// SPDX-License-Identifier: GPL-2.0-only
/*
 * i8042 keyboard controller, reduced to what a guest needs to probe it and
 * to reset the machine: the controller commands Linux's i8042 driver sends
 * during probe are answered, no keyboard or mouse answers on either port
 * (loopback commands excepted), and pulsing output line 0 (command 0xfe, or
 * writing the output port with bit 0 clear) stops the VM with
 * VM_STOP_RESET, which kestrel turns into exit status 0.
 *
 * Locking: i->lock protects every field below it; taken by vCPU threads.
 */
#include <kestrel/hw.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/vm.h>
#include <kestrel/x86/layout.h>

#define I8042_KBD_IRQ		1
#define I8042_AUX_IRQ		12
#define I8042_QUEUE		8

#define I8042_CTR_KBDINT	0x01
#define I8042_CTR_AUXINT	0x02
#define I8042_CTR_SYS		0x04
#define I8042_CTR_KBDDIS	0x10
#define I8042_CTR_AUXDIS	0x20
#define I8042_CTR_XLATE		0x40

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
};

static void i8042_update_irq(struct i8042 *i)
{
	bool kbd = false, aux = false;

	if (i->q_count) {
		bool is_aux = i->queue[i->q_head].aux;

		kbd = !is_aux && (i->ctr & I8042_CTR_KBDINT);
		aux = is_aux && (i->ctr & I8042_CTR_AUXINT);
	}
	if (kbd != i->kbd_irq) {
		i->kbd_irq = kbd;
		vm_set_irq_line(i->vm, I8042_KBD_IRQ, kbd);
	}
	if (aux != i->aux_irq) {
		i->aux_irq = aux;
		vm_set_irq_line(i->vm, I8042_AUX_IRQ, aux);
	}
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
		break;			/* to the keyboard: there is none */
	}
}

static int i8042_data_read(struct io_dev *dev, u64 offset, void *data,
			   unsigned int len)
{
	struct i8042 *i = container_of(dev, struct i8042, data_dev);
	u8 v = 0;

	pthread_mutex_lock(&i->lock);
	if (i->q_count) {
		v = i->queue[i->q_head].byte;
		i->q_head = (i->q_head + 1) % I8042_QUEUE;
		i->q_count--;
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
	u8 v;

	pthread_mutex_lock(&i->lock);
	v = i->status_cmd | (i->ctr & I8042_CTR_SYS);
	if (i->q_count) {
		v |= I8042_STATUS_OBF;
		if (i->queue[i->q_head].aux)
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
	if (i->cmd_registered)
		iobus_unregister(vm_iobus(i->vm), IO_SPACE_PIO, X86_I8042_CMD_PORT);
	if (i->data_registered)
		iobus_unregister(vm_iobus(i->vm), IO_SPACE_PIO,
				 X86_I8042_DATA_PORT);
	pthread_mutex_destroy(&i->lock);
	free(i);
}
