// SPDX-License-Identifier: GPL-2.0-only
/*
 * The one-slot mailbox between the API thread and the VMM thread. The API
 * thread posts a request and sleeps until it is answered; the VMM thread
 * sees the eventfd become readable, runs the op, and wakes it. There is
 * one API thread, so the slot never holds more than one request; a
 * request that arrives while the VM is stopping is answered -ESHUTDOWN.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <kestrel/fault.h>

#include "internal.h"

/**
 * struct api_mailbox - one request at a time
 * @fd: eventfd, written by the API thread, read by the VMM thread
 * @lock: guards @slot, @done and @closed
 * @cond: signalled when @done becomes true
 * @slot: the waiting request, or NULL
 * @done: the VMM thread answered @slot
 * @closed: the VMM thread serves no more; every request fails
 */
struct api_mailbox {
	int fd;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct api_vmm_req *slot;
	bool done;
	bool closed;
};

static void run_op(struct api_vmm *vmm, struct api_vmm_req *req)
{
	const struct api_vmm_ops *ops = vmm->ops;

	req->err[0] = '\0';
	switch (req->op) {
	case API_VMM_START:
		req->ret = ops->start(vmm, req->cfg, req->err, sizeof(req->err));
		break;
	case API_VMM_PAUSE:
		req->ret = ops->pause(vmm);
		break;
	case API_VMM_RESUME:
		req->ret = ops->resume(vmm);
		break;
	case API_VMM_CTRL_ALT_DEL:
		req->ret = ops->send_ctrl_alt_del(vmm);
		if (req->ret == -EBUSY)
			snprintf(req->err, sizeof(req->err), "the guest has not read the keys "
				 "of an earlier one (its keyboard buffer is full)");
		else if (req->ret == -EAGAIN)
			snprintf(req->err, sizeof(req->err), "the guest has disabled its "
				 "keyboard");
		break;
	case API_VMM_UPDATE_DRIVE:
		if (!ops->update_drive) {
			snprintf(req->err, sizeof(req->err), "changing a running guest's drive "
				 "is not implemented yet");
			req->ret = -EOPNOTSUPP;
			break;
		}
		req->ret = ops->update_drive(vmm, req->drive, req->err, sizeof(req->err));
		break;
	case API_VMM_SET_RATE_LIMITER:
		if (!ops->set_rate_limiter) {
			snprintf(req->err, sizeof(req->err), "changing a running guest's rate "
				 "limiter is not implemented");
			req->ret = -EOPNOTSUPP;
			break;
		}
		req->ret = ops->set_rate_limiter(vmm, req->limiter, req->id, req->rl,
						 req->err, sizeof(req->err));
		break;
	case API_VMM_UPDATE_BALLOON:
		if (!ops->update_balloon) {
			snprintf(req->err, sizeof(req->err), "changing a running guest's "
				 "balloon is not implemented");
			req->ret = -EOPNOTSUPP;
			break;
		}
		req->ret = ops->update_balloon(vmm, req->balloon, req->balloon_target,
					       req->balloon_interval, req->err,
					       sizeof(req->err));
		break;
	case API_VMM_SNAPSHOT_CREATE:
		if (!ops->snapshot_create) {
			req->ret = -EOPNOTSUPP;
			break;
		}
		req->ret = ops->snapshot_create(vmm, req->snapshot_path, req->mem_path,
						req->err, sizeof(req->err));
		break;
	case API_VMM_SNAPSHOT_LOAD:
		if (!ops->snapshot_load) {
			req->ret = -EOPNOTSUPP;
			break;
		}
		req->ret = ops->snapshot_load(vmm, req->snapshot_path, req->mem_path,
					      req->resume, req->overrides, req->nr_overrides,
					      req->err, sizeof(req->err));
		break;
	}
	if (req->ret && !req->err[0])
		snprintf(req->err, sizeof(req->err), "%s", strerror(-req->ret));
}

int api_vmm_call(struct api *api, struct api_vmm_req *req)
{
	struct api_mailbox *mb = api->mbox;
	u64 one = 1;

	if (!api->vmm) {
		snprintf(req->err, sizeof(req->err), "this kestrel cannot build a VM in "
			 "Firecracker mode yet (its machine builder is not wired to the API)");
		return req->ret = -ENOSYS;
	}
	if (!mb) {
		run_op(api->vmm, req);
		return req->ret;
	}
	pthread_mutex_lock(&mb->lock);
	if (mb->closed) {
		pthread_mutex_unlock(&mb->lock);
		snprintf(req->err, sizeof(req->err), "the VMM is stopping");
		return req->ret = -ESHUTDOWN;
	}
	mb->slot = req;
	mb->done = false;
	pthread_mutex_unlock(&mb->lock);
	if (write(mb->fd, &one, sizeof(one)) != sizeof(one))
		pr_err("API: cannot signal the VMM thread: %s", strerror(errno));
	pthread_mutex_lock(&mb->lock);
	while (!mb->done)
		pthread_cond_wait(&mb->cond, &mb->lock);
	mb->slot = NULL;
	pthread_mutex_unlock(&mb->lock);
	return req->ret;
}

bool api_mailbox_serve(struct api_mailbox *mb, struct api_vmm *vmm)
{
	struct api_vmm_req *req;
	bool started;
	u64 v;

	if (read(mb->fd, &v, sizeof(v)) < 0)
		return false;	/* EAGAIN: nothing posted */
	pthread_mutex_lock(&mb->lock);
	req = mb->done ? NULL : mb->slot;
	pthread_mutex_unlock(&mb->lock);
	if (!req)
		return false;
	run_op(vmm, req);
	started = (req->op == API_VMM_START || req->op == API_VMM_SNAPSHOT_LOAD) && !req->ret;
	pthread_mutex_lock(&mb->lock);
	mb->done = true;
	pthread_cond_signal(&mb->cond);
	pthread_mutex_unlock(&mb->lock);
	return started;
}

void api_mailbox_shutdown(struct api_mailbox *mb)
{
	pthread_mutex_lock(&mb->lock);
	mb->closed = true;
	if (mb->slot && !mb->done) {
		snprintf(mb->slot->err, sizeof(mb->slot->err), "the VMM is stopping");
		mb->slot->ret = -ESHUTDOWN;
		mb->done = true;
		pthread_cond_signal(&mb->cond);
	}
	pthread_mutex_unlock(&mb->lock);
}

int api_mailbox_fd(const struct api_mailbox *mb)
{
	return mb->fd;
}

int api_mailbox_create(struct api_mailbox **out)
{
	struct api_mailbox *mb = xcalloc(1, sizeof(*mb));

	if (!mb)
		return -ENOMEM;
	mb->fd = xeventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mb->fd < 0) {
		int ret = mb->fd;

		free(mb);
		return ret;
	}
	pthread_mutex_init(&mb->lock, NULL);
	pthread_cond_init(&mb->cond, NULL);
	*out = mb;
	return 0;
}

void api_mailbox_destroy(struct api_mailbox *mb)
{
	if (!mb)
		return;
	close(mb->fd);
	pthread_cond_destroy(&mb->cond);
	pthread_mutex_destroy(&mb->lock);
	free(mb);
}
