// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: tests/fuzz/virtio_mmio.c's register and guest-RAM
 * operations against a virtio-balloon with every queue (inflate, deflate,
 * statistics, free page reporting): hostile PFN arrays, statistics buffers
 * and reports (docs/balloon.md). Pages it releases are fake guest RAM,
 * which reads back zero.
 */
#define FUZZ_DEVICE_SPEC \
	"balloon,amount_mib=1,deflate_on_oom=on,stats_polling_interval_s=1,free_page_reporting=on"

#include "virtio_mmio.c"
