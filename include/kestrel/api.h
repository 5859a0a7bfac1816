/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_API_H
#define KESTREL_API_H

#include <stdbool.h>
#include <stddef.h>

#include <kestrel/types.h>
#include <kestrel/vdpa-dev.h>

/*
 * The Firecracker-compatible control plane (docs/api.md): kestrel run with
 * no subcommand takes Firecracker's flags, serves Firecracker's HTTP API on
 * a Unix socket (src/api/server.c, its own thread "fc_api") and reads
 * Firecracker's --config-file. Both fill one VM configuration model,
 * struct vmconfig, through the same validation (src/api/vmconfig.c), so a
 * bad value gives the same error either way.
 *
 * What builds and runs the VM is behind struct api_vmm: the API validates,
 * keeps the "Not started" / "Running" / "Paused" state and hands each
 * request that changes the VM to the VMM thread, which calls one op and
 * answers. Every API request is hostile input: bounded, type-checked,
 * unknown fields and duplicate keys refused, ids limited to [A-Za-z0-9_].
 */

/* Firecracker's own limits, kept so clients see the same 400s. */
#define API_MAX_BODY		51200	/* bytes of a request body */
#define API_ID_MAX		64	/* drive_id, iface_id: [A-Za-z0-9_]{1,64} */
#define API_INSTANCE_ID_MAX	64	/* --id: [A-Za-z0-9-]{1,64} */
#define VMCONFIG_MAX_VCPUS	32	/* machine-config vcpu_count range 1..32 */
#define VMCONFIG_MAX_DRIVES	16
#define VMCONFIG_MAX_NETS	8
#define VMCONFIG_CMDLINE_MAX	4096	/* boot_args bytes, without the NUL */

/* The Firecracker release whose API and --version output kestrel follows. */
#define API_FIRECRACKER_VERSION	"1.7.0"

struct vdev_override;
struct vdpa_balloon_info;

/**
 * struct vmconfig_bucket - one Firecracker token bucket (TokenBucket)
 * @size: tokens the bucket holds (bytes or operations); 0 = no limit
 * @one_time_burst: extra tokens granted once at start
 * @refill_time_ms: time to refill @size tokens; 0 = no limit
 * @set: the request named this bucket (a PATCH changes only those)
 */
struct vmconfig_bucket {
	u64 size;
	u64 one_time_burst;
	u64 refill_time_ms;
	bool set;
};

/**
 * struct vmconfig_rate_limiter - Firecracker's RateLimiter
 * @bandwidth: bytes
 * @ops: operations
 */
struct vmconfig_rate_limiter {
	struct vmconfig_bucket bandwidth;
	struct vmconfig_bucket ops;
};

/**
 * struct vmconfig_machine - machine-config
 * @vcpu_count: 1..VMCONFIG_MAX_VCPUS (1 or even with @smt)
 * @mem_size_mib: guest RAM in MiB
 * @smt: simultaneous multithreading as asked for (topology unchanged)
 * @protected: kestrel's extension field "kestrel_protected": private RAM in
 *	       guest_memfd, as kestrel run --protected (docs/protected.md);
 *	       needs @mem_size_mib above 64
 */
struct vmconfig_machine {
	unsigned int vcpu_count;
	u64 mem_size_mib;
	bool smt;
	bool protected;
};

/**
 * struct vmconfig_boot - boot-source
 * @kernel_image_path: NULL until boot-source is set
 * @initrd_path: or NULL
 * @boot_args: or NULL (then the VMM uses its default command line)
 */
struct vmconfig_boot {
	char *kernel_image_path;
	char *initrd_path;
	char *boot_args;
};

/**
 * struct vmconfig_drive - one drives/{drive_id}
 * @id: drive_id
 * @path_on_host: backing file or block device
 * @partuuid: root partition UUID, or NULL (only with @is_root_device)
 * @is_root_device: the guest's root file system (at most one drive)
 * @is_read_only: opened read-only, ro on the command line when root
 * @cache_writeback: cache_type "Writeback" (flushes reach the host file)
 * @rate_limiter: enforced by the drive's device (all zero: no limit)
 */
struct vmconfig_drive {
	char id[API_ID_MAX + 1];
	char *path_on_host;
	char *partuuid;
	bool is_root_device;
	bool is_read_only;
	bool cache_writeback;
	struct vmconfig_rate_limiter rate_limiter;
};

/**
 * struct vmconfig_net - one network-interfaces/{iface_id}
 * @id: iface_id
 * @host_dev_name: the TAP interface (at most IFNAMSIZ - 1 bytes)
 * @guest_mac: the guest's MAC when @has_mac
 * @has_mac: guest_mac was given
 * @mtu: advertised MTU (68..65535), 0 = not advertised
 * @rx_rate_limiter: frames to the guest (all zero: no limit)
 * @tx_rate_limiter: frames from the guest
 */
struct vmconfig_net {
	char id[API_ID_MAX + 1];
	char host_dev_name[16];
	u8 guest_mac[6];
	bool has_mac;
	unsigned int mtu;
	struct vmconfig_rate_limiter rx_rate_limiter;
	struct vmconfig_rate_limiter tx_rate_limiter;
};

/**
 * struct vmconfig_balloon - PUT /balloon (Firecracker's Balloon)
 * @set: a balloon is configured
 * @amount_mib: the target, at most machine-config's mem_size_mib; PATCH
 *	/balloon changes it, before or after boot
 * @deflate_on_oom: VIRTIO_BALLOON_F_DEFLATE_ON_OOM
 * @stats_polling_interval_s: seconds between statistics, 0: none (on or
 *	off from boot; PATCH /balloon/statistics changes a non-zero one)
 * @free_page_reporting: VIRTIO_BALLOON_F_REPORTING
 */
struct vmconfig_balloon {
	bool set;
	u32 amount_mib;
	bool deflate_on_oom;
	u32 stats_polling_interval_s;
	bool free_page_reporting;
};

/** enum api_limiter - which rate limiter of a running device */
enum api_limiter {
	API_LIMIT_DRIVE,	/* a drive's rate_limiter */
	API_LIMIT_NET_RX,	/* an interface's rx_rate_limiter */
	API_LIMIT_NET_TX,	/* its tx_rate_limiter */
};

/**
 * struct vmconfig - what InstanceStart builds
 * @machine: machine-config (defaults: 1 vCPU, 128 MiB, as Firecracker)
 * @boot: boot-source; @boot.kernel_image_path NULL = not set
 * @drives: in boot order: the root device first, then as they were added
 * @nr_drives: entries of @drives
 * @nets: in the order they were added
 * @nr_nets: entries of @nets
 * @entropy: PUT /entropy was done (a virtio-rng device)
 * @balloon: PUT /balloon (a virtio-balloon device)
 * @vsock: PUT /vsock was done: @vsock_cid and @vsock_uds are its device
 * @vsock_cid: the guest's CID
 * @vsock_uds: the Unix socket host programs connect to
 *
 * Owned by the API thread; the VMM thread reads it only inside an op,
 * while the API thread waits for the answer.
 */
struct vmconfig {
	struct vmconfig_machine machine;
	struct vmconfig_boot boot;
	struct vmconfig_drive drives[VMCONFIG_MAX_DRIVES];
	unsigned int nr_drives;
	struct vmconfig_net nets[VMCONFIG_MAX_NETS];
	unsigned int nr_nets;
	bool entropy;
	struct vmconfig_balloon balloon;
	bool vsock;
	u32 vsock_cid;
	char vsock_uds[VDPA_VSOCK_UDS_MAX + 1];
};

/**
 * struct api_vmm_stats - counters the VMM contributes to each metrics
 * flush (zero where it keeps none)
 * @vcpu_exit_io_in: PIO reads handled in userspace
 * @vcpu_exit_io_out: PIO writes
 * @vcpu_exit_mmio_read: MMIO reads
 * @vcpu_exit_mmio_write: MMIO writes
 * @block_requests: block requests completed (all drives)
 * @block_bytes: block data bytes moved
 * @net_rx_packets: frames to the guest (all interfaces)
 * @net_rx_bytes: their bytes
 * @net_tx_packets: frames from the guest
 * @net_tx_bytes: their bytes
 * @block_throttled: block requests a rate limiter held back
 * @net_rx_throttled: frames to the guest the rx_rate_limiter held back
 * @net_tx_throttled: frames from the guest the tx_rate_limiter held back
 * @balloon_inflated_pages: pages the guest inflated (refused PFNs not counted)
 * @balloon_deflated_pages: pages it deflated
 * @balloon_refused_pfns: inflated PFNs that were not RAM the device may release
 * @balloon_released_bytes: bytes given back to the host (inflated and reported)
 * @balloon_reported_bytes: bytes of free pages the guest reported
 * @balloon_stats_updates: statistics buffers received
 * @vsock: the vsock device's counters (struct vdpa_vsock_stats)
 * @vsock_rx_kicks: the driver's notifications on its rx queue
 * @vsock_tx_kicks: on its tx queue
 */
struct api_vmm_stats {
	u64 vcpu_exit_io_in;
	u64 vcpu_exit_io_out;
	u64 vcpu_exit_mmio_read;
	u64 vcpu_exit_mmio_write;
	u64 block_requests;
	u64 block_bytes;
	u64 net_rx_packets;
	u64 net_rx_bytes;
	u64 net_tx_packets;
	u64 net_tx_bytes;
	u64 block_throttled;
	u64 net_rx_throttled;
	u64 net_tx_throttled;
	u64 balloon_inflated_pages;
	u64 balloon_deflated_pages;
	u64 balloon_refused_pfns;
	u64 balloon_released_bytes;
	u64 balloon_reported_bytes;
	u64 balloon_stats_updates;
	struct vdpa_vsock_stats vsock;
	u64 vsock_rx_kicks;
	u64 vsock_tx_kicks;
};

struct api_vmm;

/**
 * struct api_vmm_ops - what the VMM does for the API
 *
 * Every op runs on the VMM thread, one at a time, while the API thread
 * waits; the API has already checked the state (a VM is running for all
 * but @start). An op that fails leaves the VM as it was.
 *
 * @start: build the VM from @cfg and start its vCPUs. On failure write a
 *	one-line reason (it becomes the fault_message) to @err. Return 0 or
 *	a negative errno.
 * @pause: hold every vCPU outside KVM_RUN. Return 0 or a negative errno.
 * @resume: let them run again. Return 0 or a negative errno.
 * @send_ctrl_alt_del: press Ctrl+Alt+Del on the i8042's keyboard
 *	(machine_send_ctrl_alt_del()). Return 0 or a negative errno: -EBUSY
 *	(the guest has not read earlier keys), -EAGAIN (it disabled its
 *	keyboard), -ENODEV (no keyboard).
 * @update_drive: (optional) give the running guest's drive @drive->id the
 *	backing file @drive->path_on_host: reopen, new capacity, config
 *	change interrupt. Return 0 or a negative errno with @err filled.
 * @set_rate_limiter: (optional) give the running guest's drive or
 *	interface @id the buckets of @rl that are set (@set; the others
 *	stay as they are), each starting full. Return 0 or a negative errno
 *	with @err filled.
 * @snapshot_create: (optional) write a full snapshot of the paused VM into
 *	@state_path and @mem_path (docs/snapshot.md); the VM stays paused.
 *	Return 0 or a negative errno with @err filled.
 * @snapshot_load: (optional) build the VM the snapshot in @state_path and
 *	@mem_path describes, load its state and start it, its vCPUs paused
 *	unless @resume, each saved interface an entry of @overrides names
 *	(@nr_overrides of them; by its iface_id) on its new TAP. Return 0 or
 *	a negative errno with @err filled (-ENOENT: an override's iface_id
 *	is not in the snapshot).
 * @update_balloon: (optional) give the running guest's balloon the target
 *	@b->amount_mib (when @target; a config-change interrupt) and the
 *	statistics interval @b->stats_polling_interval_s (when @interval; the
 *	next statistics are asked for at once). Return 0 or a negative errno
 *	with @err filled.
 * @get_balloon: (optional) the running balloon's target, actual size,
 *	counters and last statistics into @info; may run on any thread.
 *	Return 0, or -ENODEV (no balloon runs).
 * @get_stats: (optional) fill @stats; may run on any thread.
 * @stopped_fd: an fd that becomes readable once a started VM has stopped
 *	by itself (guest reset, power-off, debug exit, crash).
 * @stop: stop the started VM (first requesting it when @requested, e.g.
 *	on SIGTERM), join its threads, free it. Return: the process exit
 *	status (VM_EXIT_* of vm.h, or the guest's debug-exit status).
 */
struct api_vmm_ops {
	int (*start)(struct api_vmm *vmm, const struct vmconfig *cfg, char *err,
		     size_t errlen);
	int (*pause)(struct api_vmm *vmm);
	int (*resume)(struct api_vmm *vmm);
	int (*send_ctrl_alt_del)(struct api_vmm *vmm);
	int (*update_drive)(struct api_vmm *vmm, const struct vmconfig_drive *drive,
			    char *err, size_t errlen);
	int (*set_rate_limiter)(struct api_vmm *vmm, enum api_limiter which,
				const char *id, const struct vmconfig_rate_limiter *rl,
				char *err, size_t errlen);
	int (*snapshot_create)(struct api_vmm *vmm, const char *state_path,
			       const char *mem_path, char *err, size_t errlen);
	int (*snapshot_load)(struct api_vmm *vmm, const char *state_path, const char *mem_path,
			     bool resume, struct vdev_override *overrides,
			     unsigned int nr_overrides, char *err, size_t errlen);
	int (*update_balloon)(struct api_vmm *vmm, const struct vmconfig_balloon *b,
			      bool target, bool interval, char *err, size_t errlen);
	int (*get_balloon)(struct api_vmm *vmm, struct vdpa_balloon_info *info);
	void (*get_stats)(struct api_vmm *vmm, struct api_vmm_stats *stats);
	int (*stopped_fd)(struct api_vmm *vmm);
	int (*stop)(struct api_vmm *vmm, bool requested);
};

/**
 * struct api_vmm - embedded in the VMM's own structure (container_of)
 * @ops: never written after api_create()
 */
struct api_vmm {
	const struct api_vmm_ops *ops;
};

/**
 * api_vmm_create() - the VMM that builds struct vmconfig with the machine
 *	builder (include/kestrel/machine.h) and runs it on a thread "fc_vmm"
 * @out: the VMM, for api_fc_main()
 *
 * Drives become file-blk devices (the root one first, and root= plus ro
 * or rw on the command line as Firecracker adds them), network interfaces
 * TAP devices, entropy an rng device, balloon a balloon device; without boot-source the built-in
 * test guest boots.
 *
 * Return: 0 or a negative errno.
 */
int api_vmm_create(struct api_vmm **out);

/** api_vmm_destroy() - tear down its VM if one is left, and free @vmm; NULL ok */
void api_vmm_destroy(struct api_vmm *vmm);

/**
 * api_fc_main() - kestrel in Firecracker mode (no subcommand)
 * @argc: arguments after the program name
 * @argv: them; Firecracker's flags (kestrel --help lists them)
 * @vmm: what builds the VM; NULL when this build cannot (InstanceStart
 *	then answers 400 saying so)
 *
 * Parses the flags, sets up the logger and metrics, applies --config-file
 * (and boots it), serves the API socket unless --no-api, and runs the VMM
 * thread's loop on the calling thread until the VM stops or SIGINT/SIGTERM.
 *
 * `--version` prints "Firecracker v" API_FIRECRACKER_VERSION " (kestrel V)":
 * Firecracker's clients parse the second word of the first line (Kata
 * strips its "v" and reads a semantic version).
 *
 * Return: the process exit status (VM_EXIT_* of vm.h).
 */
int api_fc_main(int argc, char **argv, struct api_vmm *vmm);

#endif /* KESTREL_API_H */
