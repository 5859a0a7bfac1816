// SPDX-License-Identifier: GPL-2.0-only
/*
 * 16550A UART: the guest console.
 *
 * Transmit is instantaneous: a THR write lands in an output buffer that is
 * written to out_fd at each newline, when it fills, ~20 ms after the first
 * unwritten byte (by the I/O thread) and at destroy, so a guest printing a
 * byte per exit costs no syscall per byte and nothing is ever lost.
 *
 * Receive: an I/O thread polls in_fd (while the 16-byte RX FIFO has room)
 * and an eventfd used to wake it (stop, or output waiting for the delayed
 * flush). The interrupt line is level: high while an interrupt enabled in
 * IER is pending, recomputed after every register access.
 *
 * Locking: s->lock protects every register and both buffers; it is taken
 * by vCPU threads (register accesses) and the I/O thread.
 */
#include <kestrel/hw.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/snapshot.h>
#include <kestrel/sandbox.h>
#include <kestrel/vm.h>

#define SERIAL_RX_FIFO		16
#define SERIAL_OUT_BUF		4096
#define SERIAL_FLUSH_DELAY_MS	20

struct serial {
	struct io_dev dev;
	struct vm *vm;
	u16 port;
	u32 irq;
	int in_fd;
	int out_fd;
	int wake_fd;			/* eventfd: wakes the I/O thread */
	bool registered;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t rx_space;	/* signalled when the RX FIFO drains */

	/* Fields below: under lock. */
	bool stopping;
	bool input_done;		/* EOF or error on in_fd */
	bool irq_level;
	bool thr_ipending;		/* THRE interrupt pending */
	bool out_error_logged;
	u8 ier, lcr, mcr, lsr_extra, msr, scr, dll, dlm;
	bool fifo_on;
	u8 rx[SERIAL_RX_FIFO];
	unsigned int rx_head, rx_count;
	char out[SERIAL_OUT_BUF];
	size_t out_len;
	bool flush_armed;		/* I/O thread told about pending output */
	pthread_t thread;
};

static inline struct serial *to_serial(struct io_dev *dev)
{
	return container_of(dev, struct serial, dev);
}

/* Write all of @buf to out_fd; drops output (logged once) on a hard error. */
static void serial_out_write(struct serial *s, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(s->out_fd, buf, len);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = s->out_fd, .events = POLLOUT };

			if (poll(&pfd, 1, 1000) > 0)
				continue;
		}
		if (!s->out_error_logged) {
			s->out_error_logged = true;
			pr_warn("serial@%#x: console output lost: %s", s->port,
				n < 0 ? strerror(errno) : "short write");
		}
		return;
	}
}

/* Called with lock held. */
static void __serial_flush(struct serial *s)
{
	if (s->out_len && s->out_fd >= 0)
		serial_out_write(s, s->out, s->out_len);
	s->out_len = 0;
	s->flush_armed = false;
}

static void serial_wake_thread(struct serial *s)
{
	u64 one = 1;

	if (s->wake_fd >= 0 && write(s->wake_fd, &one, sizeof(one)) < 0) {
		/* Counter saturated: the thread is already awake. */
	}
}

/* Called with lock held. */
static void serial_tx_byte(struct serial *s, u8 c)
{
	if (s->out_fd < 0)
		return;
	s->out[s->out_len++] = (char)c;
	if (c == '\n' || s->out_len == sizeof(s->out)) {
		__serial_flush(s);
	} else if (!s->flush_armed && s->thread_started) {
		s->flush_armed = true;
		pthread_cond_signal(&s->rx_space);	/* in case it waits there */
		serial_wake_thread(s);
	}
}

/* Called with lock held. */
static void serial_rx_push(struct serial *s, u8 c)
{
	if (s->rx_count == SERIAL_RX_FIFO) {
		s->lsr_extra |= UART_LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_FIFO] = c;
	s->rx_count++;
}

/* The highest-priority pending interrupt, as IIR reports it (lock held). */
static u8 serial_iir(struct serial *s)
{
	if ((s->ier & UART_IER_RLSI) && (s->lsr_extra & UART_LSR_OE))
		return UART_IIR_RLSI;
	if ((s->ier & UART_IER_RDI) && s->rx_count)
		return UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thr_ipending)
		return UART_IIR_THRI;
	if ((s->ier & UART_IER_MSI) && (s->msr & 0x0f))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

/* Recompute the level of the line after a state change (lock held). */
static void serial_update_irq(struct serial *s)
{
	bool level = serial_iir(s) != UART_IIR_NO_INT;

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (vm_set_irq_line(s->vm, s->irq, level) < 0)
		pr_warn_ratelimited("serial@%#x: cannot drive IRQ %u", s->port,
				    s->irq);
}

/* Modem status as the loopback wiring or the (always ready) far end sets it. */
static u8 serial_msr_lines(struct serial *s)
{
	u8 m = 0;

	if (!(s->mcr & UART_MCR_LOOP))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	if (s->mcr & UART_MCR_RTS)
		m |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_DTR)
		m |= UART_MSR_DSR;
	if (s->mcr & UART_MCR_OUT1)
		m |= UART_MSR_RI;
	if (s->mcr & UART_MCR_OUT2)
		m |= UART_MSR_DCD;
	return m;
}

static void serial_set_mcr(struct serial *s, u8 val)
{
	u8 old = s->msr & 0xf0, now;

	s->mcr = val & 0x1f;
	now = serial_msr_lines(s);
	/* Delta bits latch changes until MSR is read. */
	if ((old ^ now) & UART_MSR_CTS)
		s->msr |= UART_MSR_DCTS;
	if ((old ^ now) & UART_MSR_DSR)
		s->msr |= UART_MSR_DDSR;
	if ((old & UART_MSR_RI) && !(now & UART_MSR_RI))
		s->msr |= UART_MSR_TERI;
	if ((old ^ now) & UART_MSR_DCD)
		s->msr |= UART_MSR_DDCD;
	s->msr = (s->msr & 0x0f) | now;
}

static u8 serial_read_reg(struct serial *s, unsigned int reg)
{
	u8 v = 0;

	switch (reg) {
	case UART_RBR:
		if (s->lcr & UART_LCR_DLAB)
			return s->dll;
		if (s->rx_count) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
			s->rx_count--;
			pthread_cond_signal(&s->rx_space);
		}
		return v;
	case UART_IER:
		if (s->lcr & UART_LCR_DLAB)
			return s->dlm;
		return s->ier;
	case UART_IIR:
		v = serial_iir(s);
		/* Reading IIR acknowledges a THRE interrupt it reports. */
		if (v == UART_IIR_THRI)
			s->thr_ipending = false;
		return v | (s->fifo_on ? UART_IIR_FIFO_ON : 0);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		v = UART_LSR_THRE | UART_LSR_TEMT | s->lsr_extra;
		if (s->rx_count)
			v |= UART_LSR_DR;
		s->lsr_extra = 0;	/* error bits clear on read */
		return v;
	case UART_MSR:
		v = s->msr;
		s->msr &= 0xf0;
		return v;
	case UART_SCR:
		return s->scr;
	}
	return 0xff;
}

static void serial_write_reg(struct serial *s, unsigned int reg, u8 val)
{
	switch (reg) {
	case UART_THR:
		if (s->lcr & UART_LCR_DLAB) {
			s->dll = val;
			break;
		}
		if (s->mcr & UART_MCR_LOOP)
			serial_rx_push(s, val);
		else
			serial_tx_byte(s, val);
		/* Sent at once: the holding register is empty again. */
		s->thr_ipending = true;
		break;
	case UART_IER:
		if (s->lcr & UART_LCR_DLAB) {
			s->dlm = val;
			break;
		}
		/* Enabling THRI with THR empty raises it immediately. */
		if ((val & UART_IER_THRI) && !(s->ier & UART_IER_THRI))
			s->thr_ipending = true;
		s->ier = val & 0x0f;
		break;
	case UART_FCR:
		s->fifo_on = val & UART_FCR_ENABLE;
		if (val & UART_FCR_CLEAR_RX) {
			s->rx_head = s->rx_count = 0;
			pthread_cond_signal(&s->rx_space);
		}
		break;
	case UART_LCR:
		s->lcr = val;
		break;
	case UART_MCR:
		serial_set_mcr(s, val);
		break;
	case UART_LSR:
	case UART_MSR:
		break;			/* read-only: factory test modes ignored */
	case UART_SCR:
		s->scr = val;
		break;
	}
}

static int serial_read(struct io_dev *dev, u64 offset, void *data,
		       unsigned int len)
{
	struct serial *s = to_serial(dev);

	if (offset >= UART_NR_PORTS)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	*(u8 *)data = serial_read_reg(s, (unsigned int)offset);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int serial_write(struct io_dev *dev, u64 offset, const void *data,
			unsigned int len)
{
	struct serial *s = to_serial(dev);

	if (offset >= UART_NR_PORTS)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	serial_write_reg(s, (unsigned int)offset, *(const u8 *)data);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static const struct io_ops serial_io_ops = {
	.read = serial_read,
	.write = serial_write,
	.min_access = 1,
	.max_access = 1,
};

/* Read what fits in the RX FIFO from in_fd (lock held, dropped for read). */
static void serial_input(struct serial *s)
{
	u8 buf[SERIAL_RX_FIFO];
	size_t room = SERIAL_RX_FIFO - s->rx_count;
	ssize_t n;

	pthread_mutex_unlock(&s->lock);
	do {
		n = read(s->in_fd, buf, room);
	} while (n < 0 && errno == EINTR);
	pthread_mutex_lock(&s->lock);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		s->input_done = true;	/* EOF or error: no more input */
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		serial_rx_push(s, buf[i]);
	serial_update_irq(s);
}

static void *serial_thread(void *arg)
{
	struct serial *s = arg;

	seccomp_thread_enter(SECCOMP_THREAD_SERIAL);
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		struct pollfd pfd[2] = {
			{ .fd = s->wake_fd, .events = POLLIN },
			{ .fd = -1, .events = POLLIN },
		};
		bool want_input = s->in_fd >= 0 && !s->input_done;
		int timeout = s->out_len ? SERIAL_FLUSH_DELAY_MS : -1;
		int r;

		if (want_input && s->rx_count == SERIAL_RX_FIFO && !s->out_len) {
			/* Full FIFO: wait for the guest to drain it. */
			pthread_cond_wait(&s->rx_space, &s->lock);
			continue;
		}
		if (want_input && s->rx_count < SERIAL_RX_FIFO)
			pfd[1].fd = s->in_fd;
		pthread_mutex_unlock(&s->lock);
		r = poll(pfd, 2, timeout);
		if (pfd[0].revents & POLLIN) {
			u64 v;

			if (read(s->wake_fd, &v, sizeof(v)) < 0) {
				/* Nothing to drain: another wake consumed it. */
			}
		}
		pthread_mutex_lock(&s->lock);
		if (r == 0 && s->out_len)
			__serial_flush(s);
		if (r > 0 && pfd[1].fd >= 0) {
			if (pfd[1].revents & POLLIN)
				serial_input(s);
			else if (pfd[1].revents & (POLLHUP | POLLERR | POLLNVAL))
				s->input_done = true;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int serial_create(struct vm *vm, u16 port, u32 irq, int in_fd, int out_fd,
		  struct serial **out)
{
	struct serial *s;
	int ret;

	s = xzalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dev.ops = &serial_io_ops;
	s->dev.name = "serial";
	s->vm = vm;
	s->port = port;
	s->irq = irq;
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	s->wake_fd = -1;
	s->msr = serial_msr_lines(s);
	s->thr_ipending = false;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->rx_space, NULL);

	s->wake_fd = xeventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		ret = s->wake_fd;
		goto err_destroy;
	}
	ret = xpthread_create(&s->thread, NULL, serial_thread, s);
	if (ret)
		goto err_destroy;
	s->thread_started = true;

	ret = iobus_register(vm_iobus(vm), IO_SPACE_PIO, port, UART_NR_PORTS,
			     &s->dev);
	if (ret)
		goto err_destroy;
	s->registered = true;
	*out = s;
	return 0;

err_destroy:
	serial_destroy(s);
	return ret;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	if (s->registered)
		iobus_unregister(vm_iobus(s->vm), IO_SPACE_PIO, s->port);
	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		s->stopping = true;
		pthread_cond_signal(&s->rx_space);
		pthread_mutex_unlock(&s->lock);
		serial_wake_thread(s);
		pthread_join(s->thread, NULL);
	}
	pthread_mutex_lock(&s->lock);
	__serial_flush(s);
	if (s->irq_level)
		vm_set_irq_line(s->vm, s->irq, false);
	pthread_mutex_unlock(&s->lock);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	pthread_cond_destroy(&s->rx_space);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* SNAP_SEC_SERIAL: the registers and the receive FIFO. */
struct serial_snap {
	u8 ier, lcr, mcr, lsr_extra, msr, scr, dll, dlm;
	u8 fifo_on, thr_ipending, rx_head, rx_count;
	u8 pad[4];
	u8 rx[SERIAL_RX_FIFO];
};

int serial_snapshot_save(struct serial *s, struct snap_writer *w)
{
	struct serial_snap st = { 0 };

	pthread_mutex_lock(&s->lock);
	/* What the guest sent is out before the snapshot exists. */
	__serial_flush(s);
	st = (struct serial_snap){
		.ier = s->ier, .lcr = s->lcr, .mcr = s->mcr, .lsr_extra = s->lsr_extra,
		.msr = s->msr, .scr = s->scr, .dll = s->dll, .dlm = s->dlm,
		.fifo_on = s->fifo_on, .thr_ipending = s->thr_ipending,
		.rx_head = (u8)s->rx_head, .rx_count = (u8)s->rx_count,
	};
	memcpy(st.rx, s->rx, sizeof(st.rx));
	pthread_mutex_unlock(&s->lock);
	return snap_write_section(w, SNAP_SEC_SERIAL, 0, &st, sizeof(st));
}

int serial_snapshot_restore(struct serial *s, struct snap_reader *r)
{
	const struct serial_snap *st;
	const void *data;
	size_t len;

	if (snap_read_section(r, SNAP_SEC_SERIAL, 0, &data, &len) || len != sizeof(*st))
		return -EINVAL;
	st = data;
	if (st->rx_head >= SERIAL_RX_FIFO || st->rx_count > SERIAL_RX_FIFO)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->ier = st->ier & 0x0f;
	s->lcr = st->lcr;
	s->mcr = st->mcr & 0x1f;
	s->lsr_extra = st->lsr_extra;
	s->msr = st->msr;
	s->scr = st->scr;
	s->dll = st->dll;
	s->dlm = st->dlm;
	s->fifo_on = st->fifo_on;
	s->thr_ipending = st->thr_ipending;
	s->rx_head = st->rx_head;
	s->rx_count = st->rx_count;
	memcpy(s->rx, st->rx, sizeof(s->rx));
	serial_update_irq(s);
	pthread_cond_broadcast(&s->rx_space);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
