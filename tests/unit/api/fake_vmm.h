/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A VMM for the API tests: counts the ops it is asked for, can be told to
 * fail the next one, and never builds a VM. Shared by the unit tests and
 * the fuzz target.
 */
#ifndef KESTREL_TEST_API_FAKE_VMM_H
#define KESTREL_TEST_API_FAKE_VMM_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>

#include <kestrel/api.h>
#include <kestrel/compiler.h>
#include <kestrel/vdpa-dev.h>

struct fake_vmm {
	struct api_vmm vmm;
	unsigned int starts, pauses, resumes, ctrl_alt_dels, drive_updates;
	int fail_next;			/* negative errno for the next op */
	char last_drive_path[256];
	unsigned int limiter_updates;	/* set_rate_limiter calls */
	enum api_limiter last_limiter;
	char last_limiter_id[API_ID_MAX + 1];
	struct vmconfig_rate_limiter last_rl;
	unsigned int start_vcpus;
	unsigned int balloon_updates;	/* update_balloon calls */
	struct vmconfig_balloon last_balloon;
	bool last_balloon_target, last_balloon_interval;
	int stopped_fd;
};

static inline struct fake_vmm *to_fake_vmm(struct api_vmm *vmm)
{
	return container_of(vmm, struct fake_vmm, vmm);
}

static inline int fake_take_failure(struct fake_vmm *f)
{
	int ret = f->fail_next;

	f->fail_next = 0;
	return ret;
}

static inline int fake_start(struct api_vmm *vmm, const struct vmconfig *cfg,
			     char *err, size_t errlen)
{
	struct fake_vmm *f = to_fake_vmm(vmm);
	int ret = fake_take_failure(f);

	if (ret) {
		snprintf(err, errlen, "fake start failure");
		return ret;
	}
	f->starts++;
	f->start_vcpus = cfg->machine.vcpu_count;
	return 0;
}

/* Count one op in @counter unless it is the one told to fail. */
static inline int fake_count(struct api_vmm *vmm, size_t counter_off)
{
	struct fake_vmm *f = to_fake_vmm(vmm);
	int ret = fake_take_failure(f);

	if (!ret)
		(*(unsigned int *)((char *)f + counter_off))++;
	return ret;
}

static inline int fake_pause(struct api_vmm *vmm)
{
	return fake_count(vmm, offsetof(struct fake_vmm, pauses));
}

static inline int fake_resume(struct api_vmm *vmm)
{
	return fake_count(vmm, offsetof(struct fake_vmm, resumes));
}

static inline int fake_ctrl_alt_del(struct api_vmm *vmm)
{
	return fake_count(vmm, offsetof(struct fake_vmm, ctrl_alt_dels));
}

static inline int fake_update_drive(struct api_vmm *vmm, const struct vmconfig_drive *d,
				    char *err, size_t errlen)
{
	struct fake_vmm *f = to_fake_vmm(vmm);
	int ret = fake_take_failure(f);

	if (ret) {
		snprintf(err, errlen, "fake update failure");
		return ret;
	}
	f->drive_updates++;
	snprintf(f->last_drive_path, sizeof(f->last_drive_path), "%s", d->path_on_host);
	return 0;
}

static inline int fake_set_rate_limiter(struct api_vmm *vmm, enum api_limiter which,
					const char *id,
					const struct vmconfig_rate_limiter *rl,
					char *err, size_t errlen)
{
	struct fake_vmm *f = to_fake_vmm(vmm);
	int ret = fake_take_failure(f);

	if (ret) {
		snprintf(err, errlen, "fake limiter failure");
		return ret;
	}
	f->limiter_updates++;
	f->last_limiter = which;
	snprintf(f->last_limiter_id, sizeof(f->last_limiter_id), "%s", id);
	f->last_rl = *rl;
	return 0;
}

static inline int fake_update_balloon(struct api_vmm *vmm, const struct vmconfig_balloon *b,
				      bool target, bool interval, char *err, size_t errlen)
{
	struct fake_vmm *f = to_fake_vmm(vmm);
	int ret = fake_take_failure(f);

	if (ret) {
		snprintf(err, errlen, "fake balloon failure");
		return ret;
	}
	f->balloon_updates++;
	f->last_balloon = *b;
	f->last_balloon_target = target;
	f->last_balloon_interval = interval;
	return 0;
}

/* The target last set, half of it inflated, 1 MiB of free memory. */
static inline int fake_get_balloon(struct api_vmm *vmm, struct vdpa_balloon_info *info)
{
	struct fake_vmm *f = to_fake_vmm(vmm);

	memset(info, 0, sizeof(*info));
	info->target_pages = f->last_balloon.amount_mib * 256;
	info->actual_pages = info->target_pages / 2;
	info->stats_valid = 1U << VDPA_BALLOON_FREE_MEMORY;
	info->stats[VDPA_BALLOON_FREE_MEMORY] = 1 << 20;
	return 0;
}

static inline void fake_get_stats(struct api_vmm *vmm, struct api_vmm_stats *s)
{
	s->vcpu_exit_io_out = 42;
	s->block_requests = 7;
	s->block_throttled = 3;
	s->net_tx_throttled = 5;
	s->balloon_inflated_pages = 256;
}

static inline int fake_stopped_fd(struct api_vmm *vmm)
{
	return to_fake_vmm(vmm)->stopped_fd;
}

static inline int fake_stop(struct api_vmm *vmm, bool requested)
{
	return 0;
}

static const struct api_vmm_ops fake_vmm_ops = {
	.start = fake_start,
	.pause = fake_pause,
	.resume = fake_resume,
	.send_ctrl_alt_del = fake_ctrl_alt_del,
	.update_drive = fake_update_drive,
	.set_rate_limiter = fake_set_rate_limiter,
	.update_balloon = fake_update_balloon,
	.get_balloon = fake_get_balloon,
	.get_stats = fake_get_stats,
	.stopped_fd = fake_stopped_fd,
	.stop = fake_stop,
};

static inline void fake_vmm_init(struct fake_vmm *f)
{
	memset(f, 0, sizeof(*f));
	f->vmm.ops = &fake_vmm_ops;
	f->stopped_fd = -1;
}

#endif /* KESTREL_TEST_API_FAKE_VMM_H */
