/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_HW_H
#define KESTREL_HW_H

#include <kestrel/types.h>

/*
 * Platform devices that are not virtio: the console UART, the i8042 (reset
 * line and keyboard), the debug-exit port, the PONG test device, the boot
 * timer, the CPU hot-plug test port, the RTC and the ACPI power-management
 * block. Each constructor claims its range on vm_iobus() and each destroy
 * releases it; destroy accepts NULL and a half-built device. Every register
 * access comes from the guest and is treated as hostile: no access can
 * crash kestrel, hang a vCPU or grow memory.
 */

struct vm;
struct serial;
struct i8042;
struct debugexit;
struct pong;
struct boottimer;
struct cpuhotplug;
struct testdev;
struct rtc;
struct acpi_pm;
struct hw_signal;

/* ---- 16550A UART ------------------------------------------------------- */

/* Register offsets from the base port (DLAB selects DLL/DLM at 0 and 1). */
#define UART_RBR		0	/* read: receive buffer */
#define UART_THR		0	/* write: transmit holding */
#define UART_DLL		0	/* DLAB=1: divisor latch low */
#define UART_IER		1
#define UART_DLM		1	/* DLAB=1: divisor latch high */
#define UART_IIR		2	/* read */
#define UART_FCR		2	/* write */
#define UART_LCR		3
#define UART_MCR		4
#define UART_LSR		5
#define UART_MSR		6
#define UART_SCR		7
#define UART_NR_PORTS		8

#define UART_IER_RDI		0x01	/* received data available */
#define UART_IER_THRI		0x02	/* transmit holding register empty */
#define UART_IER_RLSI		0x04	/* receiver line status */
#define UART_IER_MSI		0x08	/* modem status */

#define UART_IIR_NO_INT		0x01
#define UART_IIR_MSI		0x00
#define UART_IIR_THRI		0x02
#define UART_IIR_RDI		0x04
#define UART_IIR_RLSI		0x06
#define UART_IIR_FIFO_ON	0xc0

#define UART_FCR_ENABLE		0x01
#define UART_FCR_CLEAR_RX	0x02
#define UART_FCR_CLEAR_TX	0x04

#define UART_LCR_DLAB		0x80

#define UART_MCR_DTR		0x01
#define UART_MCR_RTS		0x02
#define UART_MCR_OUT1		0x04
#define UART_MCR_OUT2		0x08
#define UART_MCR_LOOP		0x10

#define UART_LSR_DR		0x01
#define UART_LSR_OE		0x02
#define UART_LSR_THRE		0x20
#define UART_LSR_TEMT		0x40

#define UART_MSR_DCTS		0x01
#define UART_MSR_DDSR		0x02
#define UART_MSR_TERI		0x04
#define UART_MSR_DDCD		0x08
#define UART_MSR_CTS		0x10
#define UART_MSR_DSR		0x20
#define UART_MSR_RI		0x40
#define UART_MSR_DCD		0x80

/**
 * serial_create() - a 16550A UART at @port (8 ports) raising @irq
 * @vm: the VM whose I/O bus and interrupt lines it uses
 * @port: base port, e.g. X86_COM1_PORT
 * @irq: GSI driven with level semantics (line high while an enabled
 *	 interrupt is pending)
 * @in_fd: console input (e.g. 0), read by a helper thread; -1 for none.
 *	   Not closed by kestrel. EOF or an error on it ends input quietly.
 * @out_fd: console output (e.g. 1); transmitted bytes are buffered and
 *	    written at each newline, when the buffer fills, shortly after the
 *	    last byte (an idle line never holds output for more than ~20 ms)
 *	    and at serial_destroy(). -1 discards output.
 * @out: the new device
 *
 * Return: 0; -ENOMEM; -EEXIST if the ports are claimed; another negative
 * errno if the helper thread or its eventfd cannot be created.
 */
int serial_create(struct vm *vm, u16 port, u32 irq, int in_fd, int out_fd,
		  struct serial **out);

/**
 * serial_destroy() - flush output, stop and join the input thread, release
 * the ports and free @s
 * @s: may be NULL or half-built
 */
void serial_destroy(struct serial *s);

struct snap_writer;
struct snap_reader;

/**
 * serial_snapshot_save() - flush the output, then add the registers and
 *	the receive FIFO to @w (SNAP_SEC_SERIAL)
 * Return: 0 or the writer's negative errno.
 */
int serial_snapshot_save(struct serial *s, struct snap_writer *w);

/**
 * serial_snapshot_restore() - take the registers and FIFO from @r
 * Return: 0, or -EINVAL for a missing or impossible section.
 */
int serial_snapshot_restore(struct serial *s, struct snap_reader *r);

/* ---- i8042 keyboard controller and its PS/2 keyboard ---------------------- */

#define I8042_STATUS_OBF	0x01	/* output buffer full */
#define I8042_STATUS_IBF	0x02	/* input buffer full (never: we are fast) */
#define I8042_STATUS_SYS	0x04	/* system flag, set after self-test */
#define I8042_STATUS_CMD	0x08	/* last write was to the command port */
#define I8042_STATUS_UNLOCKED	0x10	/* keyboard not inhibited (no key lock) */
#define I8042_STATUS_AUXDATA	0x20	/* output byte came from the aux port */

/* Controller configuration byte (command 0x20 reads it, 0x60 writes it). */
#define I8042_CTR_KBDINT	0x01	/* IRQ 1 when a keyboard byte is there */
#define I8042_CTR_AUXINT	0x02	/* IRQ 12 when an aux byte is there */
#define I8042_CTR_SYS		0x04
#define I8042_CTR_KBDDIS	0x10	/* keyboard port disabled (clock held) */
#define I8042_CTR_AUXDIS	0x20
#define I8042_CTR_XLATE		0x40	/* translate keyboard bytes to set 1 */

#define I8042_CMD_READ_CTR	0x20
#define I8042_CMD_WRITE_CTR	0x60
#define I8042_CMD_AUX_DISABLE	0xa7
#define I8042_CMD_AUX_ENABLE	0xa8
#define I8042_CMD_AUX_TEST	0xa9
#define I8042_CMD_SELF_TEST	0xaa	/* answers 0x55 */
#define I8042_CMD_KBD_TEST	0xab	/* answers 0x00 */
#define I8042_CMD_KBD_DISABLE	0xad
#define I8042_CMD_KBD_ENABLE	0xae
#define I8042_CMD_READ_OUTPORT	0xd0
#define I8042_CMD_WRITE_OUTPORT	0xd1
#define I8042_CMD_KBD_LOOP	0xd2
#define I8042_CMD_AUX_LOOP	0xd3
#define I8042_CMD_AUX_SEND	0xd4
#define I8042_CMD_PULSE_RESET	0xfe	/* pulse output line 0: CPU reset */

/*
 * Bytes written to the data port with no controller command pending go to
 * the keyboard (IBM PS/2 keyboard protocol; what Linux's atkbd sends).
 */
#define PS2KBD_CMD_SET_LEDS	0xed	/* + LED byte (bits 0-2) */
#define PS2KBD_CMD_ECHO		0xee	/* answers 0xee, no ACK */
#define PS2KBD_CMD_SCANSET	0xf0	/* + 0 (get: ACK, set) or 1..3 (set) */
#define PS2KBD_CMD_GET_ID	0xf2	/* ACK, 0xab, 0x83 */
#define PS2KBD_CMD_TYPEMATIC	0xf3	/* + rate/delay byte (0x00-0x7f) */
#define PS2KBD_CMD_ENABLE	0xf4	/* clear the buffer, scan keys */
#define PS2KBD_CMD_DISABLE	0xf5	/* defaults, stop scanning */
#define PS2KBD_CMD_DEFAULTS	0xf6	/* defaults, scan keys */
#define PS2KBD_CMD_RESEND	0xfe	/* send the last byte again */
#define PS2KBD_CMD_RESET	0xff	/* ACK, then 0xaa (self-test passed) */

#define PS2KBD_ACK		0xfa
#define PS2KBD_NAK		0xfe	/* "resend": an unknown command or argument */
#define PS2KBD_BAT_OK		0xaa
#define PS2KBD_ID0		0xab	/* an MF2 keyboard: 0xab 0x83 */
#define PS2KBD_ID1		0x83
#define PS2KBD_BUF_SIZE		16	/* the keyboard's own buffer, bytes */

/**
 * i8042_create() - the i8042 at X86_I8042_DATA_PORT/X86_I8042_CMD_PORT,
 *	with a PS/2 keyboard on its first port
 *
 * Answers the controller commands Linux's probe uses; behind the first
 * port a keyboard answers the keyboard commands (PS2KBD_CMD_*) and holds
 * its output in a buffer of PS2KBD_BUF_SIZE bytes, moved to the
 * controller's output buffer while the port is enabled and translated to
 * scan code set 1 when I8042_CTR_XLATE is set, raising X86_I8042_KBD_IRQ
 * (edge: the line drops at each read and rises for the next byte) when
 * I8042_CTR_KBDINT is set. There is no mouse. A CPU reset (command 0xfe,
 * or an output-port write with bit 0 clear) becomes
 * vm_request_stop(VM_STOP_RESET).
 *
 * Return: 0, -ENOMEM or -EEXIST.
 */
int i8042_create(struct vm *vm, struct i8042 **out);

/**
 * i8042_send_ctrl_alt_del() - press Ctrl+Alt+Del on the keyboard
 * @i: the controller
 *
 * Queues the make codes of left Ctrl, left Alt and Delete (an extended,
 * 0xe0-prefixed key) in the keyboard's scan code set, as Firecracker's
 * SendCtrlAltDel does (no break codes), all or nothing, and raises the
 * keyboard interrupt if the guest enabled it. Safe from any thread while
 * vCPUs run.
 *
 * Return: 0; -EBUSY if the keyboard's buffer has no room for the keys (the
 * guest has not read earlier ones); -EAGAIN if the guest disabled the
 * keyboard's scanning (PS2KBD_CMD_DISABLE), which drops key presses.
 */
int i8042_send_ctrl_alt_del(struct i8042 *i);

/**
 * i8042_destroy() - lower the lines it raised, release the ports, free @i;
 *	NULL and half-built ok
 */
void i8042_destroy(struct i8042 *i);

/** i8042_snapshot_save() - add the controller and keyboard state to @w (SNAP_SEC_I8042) */
int i8042_snapshot_save(struct i8042 *i, struct snap_writer *w);

/**
 * i8042_snapshot_restore() - take the controller and keyboard state from @r
 * Return: 0, or -EINVAL for a missing or impossible section.
 */
int i8042_snapshot_restore(struct i8042 *i, struct snap_reader *r);

/* ---- debug-exit port ------------------------------------------------------ */

/**
 * debugexit_create() - a write-only port at @port: a 1-, 2- or 4-byte write
 * of value v at @port stops the VM with VM_STOP_EXIT and exit status
 * (v << 1) | 1 (so 0 → 1, 1 → 3, 38 → 77). Reads return 0.
 *
 * Return: 0, -ENOMEM or -EEXIST.
 */
int debugexit_create(struct vm *vm, u16 port, struct debugexit **out);

/** debugexit_destroy() - release the port and free @d; NULL and half-built ok */
void debugexit_destroy(struct debugexit *d);

/* ---- PONG test device (docs/pong.md is the full specification) ------------ */

#define PONG_NR_PORTS		16

/* Register offsets from the base port. */
#define PONG_REG_ID		0x00	/* 4 bytes, RO: PONG_ID */
#define PONG_REG_CMD		0x04	/* WO: PONG_CMD_* */
#define PONG_REG_STATUS		0x05	/* RO: PONG_ST_* of the last operation */
#define PONG_REG_ISR		0x06	/* RO; write 1s to acknowledge */
#define PONG_REG_CTRL		0x07	/* RW: PONG_CTRL_* */
#define PONG_REG_DATA		0x08	/* 4-byte window onto the data FIFOs */
#define PONG_REG_REQ_LEN	0x0c	/* RO: request bytes written (saturates) */
#define PONG_REG_RESP_LEN	0x0d	/* RO: response bytes left to read */
#define PONG_REG_VERSION	0x0e	/* RO: PONG_VERSION */
#define PONG_REG_RSVD		0x0f	/* reads 0, writes ignored */

#define PONG_ID			0x474e4f50u	/* "PONG" in port order */
#define PONG_VERSION		1

#define PONG_CMD_SENSE_ID	0x01	/* response = struct pong_sense_id */
#define PONG_CMD_PING		0x02	/* 9 digits in → 9 digits (n + 1) out */
#define PONG_CMD_RESET		0x03	/* back to the power-on state */

#define PONG_CTRL_ENABLE	0x01
#define PONG_CTRL_IRQ_ENABLE	0x02
#define PONG_CTRL_MASK		0x03

#define PONG_ISR_DONE		0x01	/* a command completed (any status) */

#define PONG_ST_OK		0x00
#define PONG_ST_DISABLED	0x01	/* command while PONG_CTRL_ENABLE clear */
#define PONG_ST_BAD_CMD		0x02	/* unknown command code */
#define PONG_ST_BAD_LENGTH	0x03	/* PING request not exactly 9 bytes */
#define PONG_ST_BAD_DIGIT	0x04	/* PING request holds a non-digit */
#define PONG_ST_NO_DATA		0x05	/* DATA read with no response pending */
#define PONG_ST_BUSY		0x06	/* reserved: never returned by v1 */

#define PONG_DIGITS		9
#define PONG_REQ_MAX		16	/* request FIFO depth */
#define PONG_RESP_MAX		16	/* response buffer size */

#define PONG_CU_TYPE		0xc0ca
#define PONG_CU_MODEL		0x01
#define PONG_DEV_TYPE		0x0001
#define PONG_DEV_MODEL		0x01

/**
 * struct pong_sense_id - response to PONG_CMD_SENSE_ID, read byte by byte
 * from the DATA window (multi-byte fields little-endian)
 * @reserved: 0xff, as in a channel subsystem's SenseID record
 * @cu_type: control-unit type, PONG_CU_TYPE
 * @cu_model: PONG_CU_MODEL
 * @dev_type: PONG_DEV_TYPE
 * @dev_model: PONG_DEV_MODEL
 * @pad: 0
 */
struct pong_sense_id {
	u8 reserved;
	le16 cu_type;
	u8 cu_model;
	le16 dev_type;
	u8 dev_model;
	u8 pad;
} __attribute__((packed));

_Static_assert(sizeof(struct pong_sense_id) == 8, "pong sense-id record");
_Static_assert(PONG_REG_RSVD < PONG_NR_PORTS, "pong register file");
_Static_assert(PONG_DIGITS <= PONG_REQ_MAX && PONG_DIGITS <= PONG_RESP_MAX,
	       "pong buffers");

/**
 * pong_create() - the PONG test device at @port (PONG_NR_PORTS ports)
 * @irq: GSI raised (level) while PONG_ISR_DONE is set and
 *	 PONG_CTRL_IRQ_ENABLE is on
 *
 * Return: 0, -ENOMEM or -EEXIST.
 */
int pong_create(struct vm *vm, u16 port, u32 irq, struct pong **out);

/** pong_destroy() - lower its line, release the ports, free @p; NULL ok */
void pong_destroy(struct pong *p);

/** pong_snapshot_save() - add the device state to @w (SNAP_SEC_PONG) */
int pong_snapshot_save(struct pong *p, struct snap_writer *w);

/**
 * pong_snapshot_restore() - take the device state from @r
 * Return: 0, or -EINVAL for a missing or impossible section.
 */
int pong_snapshot_restore(struct pong *p, struct snap_reader *r);

/* ---- boot timer ------------------------------------------------------------ */

/*
 * Bench-sink registers inside the boot-timer page, for the exit-cost
 * benchmark (bench/exit-cost.sh, guest/x86/exitbench.c). Each is 8 bytes
 * apart; any access size from 1 to 8 bytes works.
 *
 *   SINK   write: one exit, counted, nothing else (the measured exit);
 *          read: the count since the last START (low 32 bits per 4 bytes)
 *   START  write: count = 0, note the host time (CLOCK_MONOTONIC)
 *   STOP   write: note the host time and log
 *          "bench-sink: EXIT-COST-MARKER exits=N ns_per_exit=X.Y"
 *          where N = SINK writes + 1 (the STOP write itself) and X.Y is the
 *          time from START to STOP divided by N: the cost of one full
 *          guest → kestrel → guest round trip. bench/exit_floor.c computes
 *          the same figure from a bare KVM loop.
 *
 * Writes to these offsets never count as the boot marker.
 */
#define BOOTTIMER_REG_MARKER	0x00	/* the X86_BOOT_TIMER_MAGIC byte */
#define BOOTTIMER_REG_SINK	0x08
#define BOOTTIMER_REG_START	0x10
#define BOOTTIMER_REG_STOP	0x18

/**
 * boottimer_create() - a 4 KiB MMIO page at @gpa; a write whose first byte
 * is X86_BOOT_TIMER_MAGIC logs the time since kestrel's process started
 * ("guest userspace reached after N ms") plus a line the benchmarks parse:
 * "boot-timer: BOOT-TIMER-MARKER ms=N". Only the first such write is
 * logged. The start time is taken by a constructor in boottimer.c before
 * main() runs (CLOCK_MONOTONIC), so it includes kestrel's own set-up.
 * The page also holds the bench-sink registers (BOOTTIMER_REG_SINK, _START,
 * _STOP above), which are excluded from the marker check.
 *
 * Return: 0, -ENOMEM or -EEXIST.
 */
int boottimer_create(struct vm *vm, u64 gpa, struct boottimer **out);

/** boottimer_destroy() - release the page and free @t; NULL ok */
void boottimer_destroy(struct boottimer *t);

/**
 * boottimer_snapshot_save() - add whether userspace was reported and the
 *	bench sink's count and elapsed time to @w (SNAP_SEC_BOOTTIMER)
 * Return: 0 or a negative errno.
 */
int boottimer_snapshot_save(struct boottimer *t, struct snap_writer *w);

/**
 * boottimer_snapshot_restore() - take that state from @r
 * Return: 0, or -EINVAL for a missing or impossible section.
 */
int boottimer_snapshot_restore(struct boottimer *t, struct snap_reader *r);

/**
 * boottimer_process_start_ns() - CLOCK_MONOTONIC at process start, in ns
 */
u64 boottimer_process_start_ns(void);

/* ---- CPU hot-plug test port -------------------------------------------------- */

/**
 * cpuhotplug_create() - a 4-byte port at @port: a read returns the number
 * of vCPUs; any write adds one vCPU with vm_add_vcpu() (the guest then
 * starts it with INIT-SIPI-SIPI; its APIC ID is the old count). A failed
 * add is logged (rate-limited) and visible to the guest as an unchanged
 * count.
 *
 * Return: 0, -ENOMEM or -EEXIST.
 */
int cpuhotplug_create(struct vm *vm, u16 port, struct cpuhotplug **out);

/** cpuhotplug_destroy() - release the port and free @c; NULL ok */
void cpuhotplug_destroy(struct cpuhotplug *c);

/* ---- signals between platform devices ------------------------------------ */

/**
 * struct hw_signal_ops - what a device does when another raises its input
 * @raise: the sender's event happened. Called from the sender's threads,
 *	possibly under the sender's lock: the receiver takes only its own
 *	lock and never calls back into the sender.
 */
struct hw_signal_ops {
	void (*raise)(struct hw_signal *s);
};

/**
 * struct hw_signal - an input of one platform device that another drives,
 *	as a wire between two chips that is not an interrupt line (the RTC's
 *	alarm to the PM block's RTC_STS on a PC). Embedded in the receiver,
 *	which finds itself again with container_of().
 * @ops: the receiver's const ops
 * @name: for log messages
 */
struct hw_signal {
	const struct hw_signal_ops *ops;
	const char *name;
};

/* ---- MC146818 CMOS real-time clock (docs/rtc.md) ------------------------- */

#define RTC_NR_PORTS		2	/* index, data */

#define RTC_REG_SECONDS		0x00
#define RTC_REG_SECONDS_ALARM	0x01
#define RTC_REG_MINUTES		0x02
#define RTC_REG_MINUTES_ALARM	0x03
#define RTC_REG_HOURS		0x04
#define RTC_REG_HOURS_ALARM	0x05
#define RTC_REG_WEEKDAY		0x06	/* 1 = Sunday */
#define RTC_REG_DAY		0x07
#define RTC_REG_MONTH		0x08
#define RTC_REG_YEAR		0x09	/* two digits */
#define RTC_REG_A		0x0a
#define RTC_REG_B		0x0b
#define RTC_REG_C		0x0c
#define RTC_REG_D		0x0d
#define RTC_REG_CENTURY		0x32	/* the FADT's century field names it */

#define RTC_A_UIP		0x80	/* update in progress */
#define RTC_B_SET		0x80	/* clock stopped for setting */
#define RTC_B_PIE		0x40	/* periodic interrupt enable */
#define RTC_B_AIE		0x20	/* alarm interrupt enable */
#define RTC_B_UIE		0x10	/* update-ended interrupt enable */
#define RTC_B_DM		0x04	/* binary (else BCD) */
#define RTC_B_24H		0x02	/* 24-hour (else 12-hour, bit 7 = PM) */
#define RTC_C_IRQF		0x80
#define RTC_C_PF		0x40
#define RTC_C_AF		0x20
#define RTC_C_UF		0x10
#define RTC_D_VRT		0x80	/* valid RAM and time */

/**
 * rtc_create() - an MC146818 RTC on @port (index) and @port + 1 (data)
 * @vm: the VM
 * @port: base port (0x70 on a PC)
 * @irq: its interrupt line (8 on a PC)
 * @out: the device
 *
 * Return: 0, -ENOMEM or -EEXIST.
 */
int rtc_create(struct vm *vm, u16 port, u32 irq, struct rtc **out);

/**
 * rtc_connect_alarm() - raise @s at each alarm interrupt (register C's AF
 *	set while register B's AIE is on), as a PC's RTC sets the power
 *	management block's RTC_STS
 * @r: the RTC
 * @s: the input, or NULL to disconnect; must outlive @r or be disconnected
 */
void rtc_connect_alarm(struct rtc *r, struct hw_signal *s);

/** rtc_destroy() - stop its timer, release the ports, free @r; NULL ok */
void rtc_destroy(struct rtc *r);

/**
 * rtc_snapshot_save() - add the registers, CMOS RAM and the clock's offset
 *	from the host clock to @w (SNAP_SEC_RTC)
 * Return: 0 or a negative errno.
 */
int rtc_snapshot_save(struct rtc *r, struct snap_writer *w);

/**
 * rtc_snapshot_restore() - take the saved state from @rd: the time runs on
 *	at the saved offset from the host clock, enabled interrupts (alarm,
 *	update-ended, periodic at the saved rate) are armed again
 * Return: 0, or -EINVAL for a missing or impossible section.
 */
int rtc_snapshot_restore(struct rtc *r, struct snap_reader *rd);

/* ---- ACPI power management: PM1a event and control, PM timer (docs/acpi-pm.md) */

/* Register offsets from the base port (ICH9's PMBASE layout). */
#define ACPI_PM1_STS		0x00	/* 16-bit: status, write 1 to clear */
#define ACPI_PM1_EN		0x02	/* 16-bit: enables */
#define ACPI_PM1_CNT		0x04	/* 16-bit: control */
#define ACPI_PM_TMR		0x08	/* 32-bit, read-only: the 24-bit PM timer */
#define ACPI_PM_NR_PORTS	12
#define ACPI_PM1_EVT_LEN	4	/* the FADT's PM1_EVT_LEN */
#define ACPI_PM1_CNT_LEN	2
#define ACPI_PM_TMR_LEN		4

/* PM1 status bits (ACPI 6.5 §4.8.3.1.1); the enables sit at the same places. */
#define ACPI_PM1_TMR		(1u << 0)	/* the timer's bit 23 changed */
#define ACPI_PM1_GBL		(1u << 5)	/* firmware released the global lock (never) */
#define ACPI_PM1_PWRBTN		(1u << 8)	/* power button pressed */
#define ACPI_PM1_SLPBTN		(1u << 9)	/* sleep button (none: never set) */
#define ACPI_PM1_RTC		(1u << 10)	/* RTC alarm */
#define ACPI_PM1_WAK		(1u << 15)	/* status only: woke from a sleep state */

/* PM1 control bits (ACPI 6.5 §4.8.3.2.1). */
#define ACPI_PM1_CNT_SCI_EN	(1u << 0)	/* always 1: no SMM, ACPI mode for good */
#define ACPI_PM1_CNT_BM_RLD	(1u << 1)
#define ACPI_PM1_CNT_GBL_RLS	(1u << 2)	/* write-only, ignored (no firmware waiting) */
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define ACPI_PM1_CNT_SLP_TYP	(7u << ACPI_PM1_CNT_SLP_TYP_SHIFT)
#define ACPI_PM1_CNT_SLP_EN	(1u << 13)	/* write-only: enter SLP_TYP */

/* SLP_TYP values (ICH9's encoding; the DSDT's \_S0, \_S3, \_S5 give them). */
#define ACPI_SLP_TYP_S0		0
#define ACPI_SLP_TYP_S3		5	/* suspend to RAM */
#define ACPI_SLP_TYP_S5		7	/* soft off */

#define ACPI_PM_TIMER_HZ	3579545	/* ACPI 6.5 §4.8.3.3 */
#define ACPI_PM_TIMER_BITS	24	/* the FADT's TMR_VAL_EXT is clear */

/* The FACS fields the PM block reads when it wakes the machine (§5.2.10). */
#define ACPI_FACS_WAKING_VECTOR	12	/* 32-bit: the 16-bit real-mode vector */
#define ACPI_FACS_X_WAKING_VECTOR 24	/* 64-bit: a protected-mode vector */
#define ACPI_FACS_LEN		64

/**
 * acpi_pm_create() - the ACPI PM1a event and control blocks and the PM
 *	timer at @port (ACPI_PM_NR_PORTS ports), raising the SCI on @sci
 * @vm: the VM; S5 stops it (VM_STOP_POWEROFF), S3 puts it to sleep
 *	(vm_sleep()) until the RTC alarm or the power button, then wakes it
 *	at the FACS waking vector (vm_wake())
 * @port: base port (0x600 on kestrel's x86 machine)
 * @sci: the SCI's interrupt line (9), driven as a level: high while an
 *	enabled status bit is set
 * @facs_gpa: where the guest finds the FACS, whose waking vector a wake
 *	reads
 * @out: the device
 *
 * No thread until the guest asks for S3 or enables the timer interrupt.
 *
 * Return: 0, -ENOMEM or -EEXIST.
 */
int acpi_pm_create(struct vm *vm, u16 port, u32 sci, u64 facs_gpa,
		   struct acpi_pm **out);

/**
 * acpi_pm_rtc_input() - the PM block's RTC alarm input, for
 *	rtc_connect_alarm(): it sets RTC_STS, and wakes the machine from S3
 *	while RTC_EN is set
 */
struct hw_signal *acpi_pm_rtc_input(struct acpi_pm *pm);

/**
 * acpi_pm_power_button() - press the power button: PWRBTN_STS, an SCI if
 *	PWRBTN_EN is set, a wake from S3 whatever PWRBTN_EN says (§4.8.3.1.1)
 * Safe from any thread.
 */
void acpi_pm_power_button(struct acpi_pm *pm);

/**
 * acpi_pm_destroy() - stop its thread, lower the SCI, release the ports and
 *	free @pm; NULL and half-built ok. The RTC's alarm must no longer
 *	reach it (destroy the RTC first, or disconnect it).
 */
void acpi_pm_destroy(struct acpi_pm *pm);

/**
 * acpi_pm_snapshot_save() - add PM1 status, enable and control and the PM
 *	timer's value to @w (SNAP_SEC_ACPI_PM)
 * Return: 0, -EBUSY while the guest is in (or entering) S3, or another
 * negative errno.
 */
int acpi_pm_snapshot_save(struct acpi_pm *pm, struct snap_writer *w);

/**
 * acpi_pm_snapshot_restore() - take the saved registers from @r; the PM
 *	timer counts on from its saved value, the SCI is driven as they say
 * Return: 0, or -EINVAL for a missing or impossible section.
 */
int acpi_pm_snapshot_restore(struct acpi_pm *pm, struct snap_reader *r);

/* ---- QEMU's ISA test device (docs/testdev.md is the specification) ------- */

/* Fixed addresses: test kernels written for QEMU's pc-testdev use them. */
#define TESTDEV_SCRATCH_PORT		0xe0	/* 4 ports: 32-bit scratch */
#define TESTDEV_FLUSH_PORT		0xe4	/* 4-byte write: flush a page */
#define TESTDEV_SCRATCH_BYTE_PORT	0xe8	/* 4 ports: scratch, bytewise */
#define TESTDEV_IRQ_PORT		0x2000	/* + n: interrupt line n */
#define TESTDEV_NR_IRQS			24
#define TESTDEV_IOMEM_GPA		0xff000000ULL
#define TESTDEV_IOMEM_SIZE		0x10000ULL

/**
 * testdev_create() - QEMU's pc-testdev: a scratch register, page flush,
 *	interrupt lines and a memory-like MMIO window (see above)
 * @vm: the VM (its I/O bus and in-kernel irqchip)
 * @out: the device
 *
 * Opt-in (--device testdev): port 0xe0..0xef and 0x2000 are otherwise
 * free for the guest to probe.
 *
 * Return: 0, -ENOMEM, or -EEXIST if a range is taken.
 */
int testdev_create(struct vm *vm, struct testdev **out);

/**
 * testdev_destroy() - lower the lines it raised, release its ranges, free
 *	@t; NULL and half-built ok
 */
void testdev_destroy(struct testdev *t);

/**
 * testdev_snapshot_save() - add the scratch register, the raised lines and
 *	the memory window to @w (SNAP_SEC_TESTDEV)
 * Return: 0 or a negative errno.
 */
int testdev_snapshot_save(struct testdev *t, struct snap_writer *w);

/**
 * testdev_snapshot_restore() - take that state from @r, raising the lines
 * Return: 0, or -EINVAL for a missing or impossible section.
 */
int testdev_snapshot_restore(struct testdev *t, struct snap_reader *r);

#endif /* KESTREL_HW_H */
