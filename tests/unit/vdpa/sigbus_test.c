// SPDX-License-Identifier: GPL-2.0-only
/*
 * The software-device core catches SIGBUS in its workers (guest memory
 * whose file shrank, src/vdpa/swdev/swdev.c); a program that uses the
 * devices as a library may have a SIGBUS handler of its own. After a
 * device exists, a SIGBUS outside any device pass must still reach the
 * program's handler, every time, with its siginfo.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kestrel/vdpa.h>

#include "../test.h"

static sigjmp_buf back;
static volatile unsigned int caught;
static void *volatile fault_addr;

static void own_sigbus(int sig, siginfo_t *si, void *uc)
{
	caught++;
	fault_addr = si->si_addr;
	siglongjmp(back, 1);
}

/* Touch @p, a page past the end of its file: SIGBUS. */
static bool touch_caught(volatile char *p)
{
	unsigned int before = caught;

	if (!sigsetjmp(back, 1))
		(void)*p;
	return caught == before + 1 && fault_addr == (void *)p;
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = own_sigbus, .sa_flags = SA_SIGINFO };
	struct vdpa_device *dev = NULL;
	long page = sysconf(_SC_PAGESIZE);
	char *map;
	int fd;

	fd = memfd_create("sigbus_test", 0);
	if (fd < 0 || ftruncate(fd, page) || (map = mmap(NULL, 2 * page, PROT_READ,
							 MAP_SHARED, fd, 0)) == MAP_FAILED) {
		report_skip("cannot map a memfd past its end");
		return report_summary();
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	report_true(touch_caught(map + page), "the program's handler, before any device");

	report_eq(vdpa_register_types(), 0, "types registered");
	report_eq(vdpa_mgmt_dev_add("net", &dev), 0, "a net device (its worker runs)");
	report_true(touch_caught(map + page), "the program's handler, with a device");
	report_true(touch_caught(map + page + 8), "and again");
	if (dev)
		report_eq(vdpa_mgmt_dev_del(dev), 0, "device deleted");
	report_true(touch_caught(map + page), "the program's handler, after the device");
	munmap(map, 2 * page);
	close(fd);
	return report_summary();
}
