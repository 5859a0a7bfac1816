// SPDX-License-Identifier: GPL-2.0-only
/*
 * VM creation: time from nothing to the first exit of a tiny guest with
 * 256 MiB of RAM and one vCPU, for
 *
 *   floor-bare   raw ioctls, the least that runs a guest: open /dev/kvm,
 *                KVM_CREATE_VM, one memslot, KVM_CREATE_VCPU, registers,
 *                KVM_RUN;
 *   floor        the same plus what kestrel's machine has (src/arch/x86/vm.c):
 *                TSS address, in-kernel irqchip and PIT, CPUID from
 *                KVM_GET_SUPPORTED_CPUID - the ratio's denominator;
 *   kestrel      kestrel's core path, what the machine builder is made
 *                of: vm_create(), vm_load_guest() (a Multiboot image),
 *                vm_add_vcpu(), vm_run() up to the guest's first exit;
 *   kestrel+dev  machine_create(), the builder "kestrel run" calls: the
 *                same plus the platform devices (UART, i8042, debug-exit,
 *                PONG, boot timer, hot-plug port), then vm_run().
 *   protected    kestrel+dev with --protected (docs/protected.md): RAM
 *                from 64 MiB up in a guest_memfd; its anchor is kestrel+dev
 *                (target <= 1.2), skipped where KVM lacks guest_memfd.
 *
 * The five are run alternately ITERATIONS times (default 40) and the
 * medians printed with the ratios kestrel/floor (target <= 2). Teardown is
 * not timed. Figures only, never pass/fail.
 *
 *   vm_create [ITERATIONS]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <kestrel/boot.h>
#include <kestrel/compiler.h>
#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/machine.h>
#include <kestrel/memory.h>
#include <kestrel/vm.h>

#define RAM_SIZE	(256ULL << 20)
#define LOAD_GPA	0x100000u
#define ENTRY_GPA	(LOAD_GPA + 32)
#define FIRST_EXIT_PORT	0xe0		/* free in kestrel's machine */
#define MAX_CPUID	256

enum variant { FLOOR_BARE, FLOOR, KESTREL, KESTREL_DEV, PROTECTED, NR_VARIANTS };

static const char *const variant_names[NR_VARIANTS] = {
	"floor-bare", "floor", "kestrel", "kestrel+dev", "protected",
};

/*
 * The guest: a Multiboot v1 header with a.out-kludge addresses (so kestrel
 * loads it as is at 1 MiB) followed by 32-bit code that exits once:
 *	mov $1, %al; out %al, $FIRST_EXIT_PORT; hlt; jmp .
 */
#define MB_MAGIC	0x1badb002u
#define MB_FLAGS	(1u << 16)
static const u32 image_header[8] = {
	MB_MAGIC, MB_FLAGS, (u32)-(MB_MAGIC + MB_FLAGS),
	LOAD_GPA, LOAD_GPA, 0, 0, ENTRY_GPA,
};
static const u8 image_code[] = {
	0xb0, 0x01, 0xe6, FIRST_EXIT_PORT, 0xf4, 0xeb, 0xfe,
};
static u8 image[sizeof(image_header) + sizeof(image_code)];

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

/* ---- the floors: raw ioctls ---------------------------------------------- */

struct floor_vm {
	int kvm, vm, vcpu;
	void *mem;
	struct kvm_run *run;
	int run_size;
};

static void floor_destroy(struct floor_vm *f)
{
	if (f->run)
		munmap(f->run, (size_t)f->run_size);
	if (f->vcpu >= 0)
		close(f->vcpu);
	if (f->vm >= 0)
		close(f->vm);
	if (f->mem)
		munmap(f->mem, RAM_SIZE);
	if (f->kvm >= 0)
		close(f->kvm);
}

static int floor_set_cpuid(struct floor_vm *f)
{
	struct kvm_cpuid2 *c;
	int ret;

	c = calloc(1, sizeof(*c) + MAX_CPUID * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = MAX_CPUID;
	ret = ioctl(f->kvm, KVM_GET_SUPPORTED_CPUID, c);
	if (ret >= 0)
		ret = ioctl(f->vcpu, KVM_SET_CPUID2, c);
	ret = ret < 0 ? -errno : 0;
	free(c);
	return ret;
}

static void flat32(struct kvm_segment *s, u16 sel, u8 type)
{
	*s = (struct kvm_segment){
		.limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .s = 1, .db = 1, .g = 1,
	};
}

/* Nothing to the first exit; returns ns or a negative errno. */
static s64 floor_run(bool matched)
{
	struct floor_vm f = { .kvm = -1, .vm = -1, .vcpu = -1 };
	struct kvm_userspace_memory_region mr;
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = ENTRY_GPA, .rflags = 2 };
	u64 t0 = now_ns();
	s64 ret = -EIO;

	f.kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (f.kvm < 0)
		goto err;
	f.vm = ioctl(f.kvm, KVM_CREATE_VM, 0);
	if (f.vm < 0)
		goto err;
	f.mem = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f.mem == MAP_FAILED) {
		f.mem = NULL;
		goto err;
	}
	memcpy((u8 *)f.mem + LOAD_GPA, image, sizeof(image));
	mr = (struct kvm_userspace_memory_region){
		.memory_size = RAM_SIZE, .userspace_addr = (u64)(uintptr_t)f.mem,
	};
	if (ioctl(f.vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
		goto err;
	if (matched) {
		if (ioctl(f.vm, KVM_SET_TSS_ADDR, 0xfeffd000UL) < 0 ||
		    ioctl(f.vm, KVM_CREATE_IRQCHIP, 0) < 0 ||
		    ioctl(f.vm, KVM_CREATE_PIT2, &pit) < 0)
			goto err;
	}
	f.vcpu = ioctl(f.vm, KVM_CREATE_VCPU, 0);
	if (f.vcpu < 0)
		goto err;
	f.run_size = ioctl(f.kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (f.run_size < 0)
		goto err;
	f.run = mmap(NULL, (size_t)f.run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		     f.vcpu, 0);
	if (f.run == MAP_FAILED) {
		f.run = NULL;
		goto err;
	}
	if (matched && floor_set_cpuid(&f))
		goto err;
	if (ioctl(f.vcpu, KVM_GET_SREGS, &sregs) < 0)
		goto err;
	flat32(&sregs.cs, 0x10, 11);
	flat32(&sregs.ds, 0x18, 3);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr0 = 0x11;			/* PE ET: Multiboot's entry state */
	if (ioctl(f.vcpu, KVM_SET_SREGS, &sregs) < 0 ||
	    ioctl(f.vcpu, KVM_SET_REGS, &regs) < 0)
		goto err;
	while (ioctl(f.vcpu, KVM_RUN, 0) < 0)
		if (errno != EINTR)
			goto err;
	ret = (s64)(now_ns() - t0);
	if (f.run->exit_reason != KVM_EXIT_IO || f.run->io.port != FIRST_EXIT_PORT) {
		fprintf(stderr, "vm_create: floor: unexpected exit %u\n",
			f.run->exit_reason);
		ret = -EIO;
	}
	floor_destroy(&f);
	return ret;
err:
	ret = -errno;
	floor_destroy(&f);
	return ret ? ret : -EIO;
}

/* ---- kestrel --------------------------------------------------------------- */

/* Records the first exit's time and stops the VM. */
struct first_exit {
	struct io_dev dev;
	struct vm *vm;
	_Atomic u64 when;
};

static int first_exit_read(struct io_dev *dev, u64 offset, void *data,
			   unsigned int len)
{
	memset(data, 0, len);
	return 0;
}

static int first_exit_write(struct io_dev *dev, u64 offset, const void *data,
			    unsigned int len)
{
	struct first_exit *fe = container_of(dev, struct first_exit, dev);
	u64 expected = 0;

	atomic_compare_exchange_strong(&fe->when, &expected, now_ns());
	vm_request_stop(fe->vm, VM_STOP_EXIT, 0);
	return 0;
}

static const struct io_ops first_exit_ops = {
	.read = first_exit_read,
	.write = first_exit_write,
	.min_access = 1,
	.max_access = 4,
};

/*
 * Register the first-exit port on @vm, run it to the guest's first exit
 * and unregister. Return: ns from @t0 to that exit, or a negative errno.
 */
static s64 run_to_first_exit(struct vm *vm, u64 t0)
{
	struct first_exit fe = {
		.dev = { .ops = &first_exit_ops, .name = "first-exit" },
		.vm = vm,
	};
	s64 ret;

	ret = iobus_register(vm_iobus(vm), IO_SPACE_PIO, FIRST_EXIT_PORT, 1, &fe.dev);
	if (ret)
		return ret;
	vm_run(vm);
	ret = atomic_load(&fe.when) ? (s64)(atomic_load(&fe.when) - t0) : -EIO;
	iobus_unregister(vm_iobus(vm), IO_SPACE_PIO, FIRST_EXIT_PORT);
	return ret;
}

/* The core calls a machine is made of, and nothing else. */
static s64 kestrel_run(void)
{
	struct vm_config vcfg = { .ram_size = RAM_SIZE, .mem_flags = MEM_F_NORESERVE };
	struct boot_config bcfg = {
		.kernel = image, .kernel_size = sizeof(image), .nr_cpus = 1,
	};
	char err[256] = "";
	struct vm *vm = NULL;
	u64 t0 = now_ns();
	s64 ret;

	ret = vm_create(&vcfg, &vm);
	if (!ret) {
		ret = vm_load_guest(vm, &bcfg, err, sizeof(err));
		if (ret)
			fprintf(stderr, "vm_create: cannot load the guest: %s\n", err);
	}
	if (!ret)
		ret = vm_add_vcpu(vm, NULL);
	if (!ret)
		ret = run_to_first_exit(vm, t0);
	vm_destroy(vm);
	return ret;
}

/* What "kestrel run" builds: the machine, with a console that goes nowhere. */
static s64 kestrel_machine_run(bool protected)
{
	struct machine_config cfg = {
		.protected = protected,
		.ram_size = RAM_SIZE,
		.nr_cpus = 1,
		.kernel = image,
		.kernel_size = sizeof(image),
		.kernel_name = "the vm_create image",
		.console_in = -1,
		.console_out = -1,
	};
	struct machine *m;
	u64 t0 = now_ns();
	s64 ret;

	ret = machine_create(&cfg, &m);
	if (ret)
		return ret;
	ret = run_to_first_exit(machine_vm(m), t0);
	machine_destroy(m);
	return ret;
}

/* ---- the run -------------------------------------------------------------- */

static int cmp_s64(const void *a, const void *b)
{
	s64 x = *(const s64 *)a, y = *(const s64 *)b;

	return (x > y) - (x < y);
}

static double median_us(s64 *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_s64);
	return (n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0) / 1000.0;
}

int main(int argc, char **argv)
{
	unsigned int iterations = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0) : 40;
	s64 *t[NR_VARIANTS];
	double med[NR_VARIANTS];
	bool skip_protected = false;
	int fd;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("   SKIP: no usable /dev/kvm (%s)\n", strerror(errno));
		return 0;
	}
	close(fd);
	if (!iterations || iterations > 100000) {
		fprintf(stderr, "usage: vm_create [ITERATIONS (1..100000)]\n");
		return 2;
	}
	memcpy(image, image_header, sizeof(image_header));
	memcpy(image + sizeof(image_header), image_code, sizeof(image_code));
	log_level_set(LOG_WARN);

	for (int v = 0; v < NR_VARIANTS; v++) {
		t[v] = calloc(iterations, sizeof(s64));
		if (!t[v]) {
			fprintf(stderr, "vm_create: out of memory\n");
			return 1;
		}
	}
	/* One untimed round of each warms caches and KVM's module state. */
	for (unsigned int i = 0; i <= iterations; i++) {
		for (int v = 0; v < NR_VARIANTS; v++) {
			s64 ns;

			switch (v) {
			case FLOOR_BARE: ns = floor_run(false); break;
			case FLOOR: ns = floor_run(true); break;
			case KESTREL: ns = kestrel_run(); break;
			case KESTREL_DEV: ns = kestrel_machine_run(false); break;
			default:
				if (skip_protected)
					continue;
				ns = kestrel_machine_run(true);
				if (ns == -EOPNOTSUPP && !i) {
					skip_protected = true;
					continue;
				}
				break;
			}
			if (ns < 0) {
				fprintf(stderr, "vm_create: %s failed: %s\n",
					variant_names[v], strerror((int)-ns));
				return 1;
			}
			if (i)
				t[v][i - 1] = ns;
		}
	}
	for (int v = 0; v < NR_VARIANTS; v++) {
		if (v == PROTECTED && skip_protected) {
			printf("   %-12s SKIP: KVM has no guest_memfd with GUEST_MEMFD_FLAG_MMAP\n",
			       variant_names[v]);
			free(t[v]);
			continue;
		}
		med[v] = median_us(t[v], iterations);
		printf("   %-12s median %8.1f us  (min %.1f, max %.1f)\n", variant_names[v],
		       med[v], t[v][0] / 1000.0, t[v][iterations - 1] / 1000.0);
		free(t[v]);
	}
	printf("   VM + 256 MiB + 1 vCPU to first exit, median of %u: kestrel/floor %.2f, "
	       "kestrel+dev/floor %.2f (target <= 2), kestrel/floor-bare %.2f\n",
	       iterations, med[KESTREL] / med[FLOOR], med[KESTREL_DEV] / med[FLOOR],
	       med[KESTREL] / med[FLOOR_BARE]);
	if (!skip_protected)
		printf("   protected/kestrel+dev %.2f (target <= 1.2): one guest_memfd and "
		       "KVM_SET_USER_MEMORY_REGION2 per private range\n",
		       med[PROTECTED] / med[KESTREL_DEV]);
	return 0;
}
