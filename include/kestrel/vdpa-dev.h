/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kestrel's real vDPA devices, beside the simulators of vdpa.h: they reach
 * the host (a TAP interface, a file or block device, file descriptors, the
 * kernel's entropy pool) instead of looping back.
 *
 * Management types (vdpa_mgmt_dev_add() specs), registered with the
 * others by vdpa_register_types():
 *
 *   tap,path=IFNAME[,mac=M][,mtu=N]     virtio-net over TAP interface IFNAME
 *                                       (created if missing; the interface
 *                                       name travels in the path attribute)
 *   file-blk,path=FILE[,ro=on][,serial=S]   virtio-blk over a regular file
 *                                       or block device, through io_uring;
 *                                       its size must be a non-zero
 *                                       multiple of 512
 *
 * The blk types (blk, file-blk) take a rate limit (bw_size, bw_burst,
 * bw_refill_ms, ops_size, ops_burst, ops_refill_ms), the net types (net,
 * tap) one for each direction (the same keys prefixed rx_ and tx_): see
 * struct vdpa_rate_limit.
 *   console                             virtio-console, one port on
 *                                       stdin/stdout
 *   rng                                 virtio-entropy from getrandom()
 *   balloon[,amount_mib=N][,deflate_on_oom=on][,stats_polling_interval_s=S]
 *          [,free_page_reporting=on]    virtio-balloon: pages the guest
 *                                       inflates or reports are released
 *                                       to the host (docs/balloon.md)
 *   vsock,cid=N,uds=PATH[,max_conns=M]  virtio-vsock: host connections to
 *                                       the Unix socket PATH reach guest
 *                                       listeners ("CONNECT <port>\n"),
 *                                       guest connections to port P reach
 *                                       PATH_P (docs/vsock.md)
 *
 * All of them run on the software-device core (one worker thread per
 * device, ring walking through the device IOTLB with vringh), so they get
 * the same hostile-ring handling, suspend/resume and address-space support.
 */
#ifndef KESTREL_VDPA_DEV_H
#define KESTREL_VDPA_DEV_H

#include <kestrel/vdpa.h>

/**
 * struct vdpa_bucket - one token bucket of a rate limit
 * @size: tokens a full bucket holds (bytes or operations); 0: no limit
 * @one_time_burst: extra tokens, spent first and never refilled
 * @refill_ms: milliseconds in which an empty bucket refills to @size
 *	(continuously: @size / @refill_ms tokens a millisecond); 0: no limit
 */
struct vdpa_bucket {
	u64 size;
	u64 one_time_burst;
	u64 refill_ms;
};

/**
 * struct vdpa_rate_limit - what one queue direction of a device may do
 * @bw: bytes of data (blk: of a read or write; net: of a frame)
 * @ops: requests (blk: every request; net: frames)
 *
 * A request goes when both buckets have its tokens. Until they do, the
 * device takes nothing more from that queue (the driver's requests wait
 * in its ring, none is dropped or failed) and its worker sleeps until the
 * tokens are due. All zero: no limit.
 */
struct vdpa_rate_limit {
	struct vdpa_bucket bw;
	struct vdpa_bucket ops;
};

/** enum vdpa_limit - which rate limit of a device */
enum vdpa_limit {
	VDPA_LIMIT_BLK,		/* a blk device's request queue */
	VDPA_LIMIT_NET_RX,	/* frames a net device delivers to the driver */
	VDPA_LIMIT_NET_TX,	/* frames the driver transmits */
};

/**
 * vdpa_set_rate_limit() - change a rate limit of a device, running or not
 * @vdpa: a software device with that limit (blk, file-blk: VDPA_LIMIT_BLK;
 *	net, tap: VDPA_LIMIT_NET_RX and _TX)
 * @which: the limit
 * @bw: the new bytes bucket (full, its burst granted anew), or NULL to
 *	keep the current one
 * @ops: the same for the operations bucket
 *
 * A queue waiting for tokens is looked at again at once.
 *
 * Return: 0; -EOPNOTSUPP (@vdpa has no such limit); -errno of the timer.
 */
int vdpa_set_rate_limit(struct vdpa_device *vdpa, enum vdpa_limit which,
			const struct vdpa_bucket *bw, const struct vdpa_bucket *ops);

/**
 * vdpa_get_rate_limit_throttled() - how often a limit held a request back
 * @vdpa: a software device (see vdpa_set_rate_limit())
 * @which: the limit
 * @count: out: requests sent back to wait for tokens since creation
 *	(one a wait, usually; 0 for a limit never set)
 *
 * Return: 0, or -EOPNOTSUPP (@vdpa has no such limit).
 */
int vdpa_get_rate_limit_throttled(struct vdpa_device *vdpa, enum vdpa_limit which,
				  u64 *count);

/**
 * vdpa_console_create() - a virtio-console on the given descriptors
 * @name: bus name, or NULL for the next "vdpa<N>"
 * @in_fd: what the guest reads (its receiveq); duplicated; -1 for none
 * @out_fd: where the guest's output goes (transmitq); duplicated
 * @out: the new, registered device (free with vdpa_unregister_device())
 *
 * Return: 0 or -errno.
 */
int vdpa_console_create(const char *name, int in_fd, int out_fd,
			struct vdpa_device **out);

/**
 * vdpa_file_blk_replace() - give a running file-blk device a new backing
 *	file (an orchestrator's drive update)
 * @vdpa: a device of type file-blk
 * @path: the new file or block device, opened as the old one was (same
 *	ro); it may have another size
 *
 * The old file is closed once no request uses it; the driver gets a
 * config-change interrupt and reads the new capacity.
 *
 * Return: 0; -EINVAL (not a file-blk device, or the file is not a usable
 * disk); the errno of opening or locking @path.
 */
int vdpa_file_blk_replace(struct vdpa_device *vdpa, const char *path);

/* Statistics tags a balloon keeps (virtio 1.2 §5.5.6.3, and Linux's later ones). */
enum vdpa_balloon_stat {
	VDPA_BALLOON_SWAP_IN,
	VDPA_BALLOON_SWAP_OUT,
	VDPA_BALLOON_MAJOR_FAULTS,
	VDPA_BALLOON_MINOR_FAULTS,
	VDPA_BALLOON_FREE_MEMORY,
	VDPA_BALLOON_TOTAL_MEMORY,
	VDPA_BALLOON_AVAILABLE_MEMORY,
	VDPA_BALLOON_DISK_CACHES,
	VDPA_BALLOON_HUGETLB_ALLOCATIONS,
	VDPA_BALLOON_HUGETLB_FAILURES,
	VDPA_BALLOON_OOM_KILL,
	VDPA_BALLOON_ALLOC_STALL,
	VDPA_BALLOON_ASYNC_SCAN,
	VDPA_BALLOON_DIRECT_SCAN,
	VDPA_BALLOON_ASYNC_RECLAIM,
	VDPA_BALLOON_DIRECT_RECLAIM,
	VDPA_BALLOON_NR_STATS,
};

/**
 * struct vdpa_balloon_info - what a balloon device knows
 * @target_pages: num_pages, the target the host set (4 KiB pages)
 * @actual_pages: actual, as the driver last wrote it
 * @stats_interval_s: seconds between statistics requests (0: no statsq)
 * @deflate_on_oom: VIRTIO_BALLOON_F_DEFLATE_ON_OOM is offered
 * @free_page_reporting: VIRTIO_BALLOON_F_REPORTING is offered
 * @inflated_pages: PFNs inflated since creation (refused ones not counted)
 * @deflated_pages: PFNs deflated since creation
 * @refused_pfns: inflated PFNs that are not RAM the device may release
 * @release_failures: pages madvise() would not release (hugepage RAM)
 * @reported_bytes: bytes of free pages the driver reported
 * @released_bytes: bytes given back to the host (inflated and reported)
 * @stats_updates: statistics buffers received
 * @stats_valid: bit per enum vdpa_balloon_stat the driver has sent
 * @stats: the last value of each
 */
struct vdpa_balloon_info {
	u32 target_pages;
	u32 actual_pages;
	u32 stats_interval_s;
	bool deflate_on_oom;
	bool free_page_reporting;
	u64 inflated_pages;
	u64 deflated_pages;
	u64 refused_pfns;
	u64 release_failures;
	u64 reported_bytes;
	u64 released_bytes;
	u64 stats_updates;
	u32 stats_valid;
	u64 stats[VDPA_BALLOON_NR_STATS];
};

/**
 * vdpa_balloon_set_target() - set a balloon's num_pages
 * @vdpa: a device of type balloon
 * @pages: the new target, in 4 KiB pages
 *
 * A driver that runs gets a config-change interrupt and inflates or
 * deflates towards it.
 *
 * Return: 0, or -EINVAL (not a balloon).
 */
int vdpa_balloon_set_target(struct vdpa_device *vdpa, u32 pages);

/**
 * vdpa_balloon_set_stats_interval() - change how often statistics are asked for
 * @vdpa: a device of type balloon created with statistics
 * @seconds: the new interval, 1 or more; the next request goes at once
 *
 * Return: 0; -EINVAL (not a balloon); -EOPNOTSUPP (created without
 * statistics, or @seconds is 0: statistics are on or off from creation).
 */
int vdpa_balloon_set_stats_interval(struct vdpa_device *vdpa, u32 seconds);

/**
 * vdpa_balloon_get_info() - a balloon's target, actual size, counters and
 *	last statistics
 * @vdpa: a device of type balloon
 * @out: filled
 *
 * Return: 0, or -EINVAL (not a balloon).
 */
int vdpa_balloon_get_info(struct vdpa_device *vdpa, struct vdpa_balloon_info *out);

/*
 * VDPA_VSOCK_UDS_MAX - the longest uds=PATH of a vsock device: PATH_<port>
 * must still fit a Unix socket address (108 bytes with its NUL).
 */
#define VDPA_VSOCK_UDS_MAX	95

/**
 * struct vdpa_vsock_stats - what a vsock device counted since creation
 *	(rx: towards the guest, tx: from it)
 * @rx_packets: packets given to the guest (data and control)
 * @rx_bytes: stream bytes given to the guest
 * @tx_packets: packets the guest sent
 * @tx_bytes: guest stream bytes written to host sockets
 * @conns: streams open now (and host connections still sending their line)
 * @conns_added: host connections accepted and guest connections made
 * @conns_removed: streams closed, for whatever reason
 * @conns_killed: streams ended by an error (an RST to the guest)
 * @conns_refused: connections refused (no listener at PATH_P, the
 *	connection limit, a bad CONNECT line)
 * @conns_timed_out: host connections closed because their CONNECT line, or
 *	the guest's answer to it, took more than 2 s
 * @tx_bad_packets: guest packets dropped or answered with an RST as
 *	malformed (short header, bad length, wrong CID, type or op)
 * @tx_credit_violations: guest streams reset for sending past their credit
 * @tx_write_fails: writes of guest bytes to a host socket that failed
 * @tx_flush_fails: writes of buffered guest bytes that failed
 * @rx_read_fails: reads from a host socket that failed
 * @conn_event_fails: epoll changes or sockets that could not be made
 * @rst_dropped: RSTs dropped because the guest posted no rx buffers and
 *	the queue of owed RSTs was full
 */
struct vdpa_vsock_stats {
	u64 rx_packets;
	u64 rx_bytes;
	u64 tx_packets;
	u64 tx_bytes;
	u64 conns;
	u64 conns_added;
	u64 conns_removed;
	u64 conns_killed;
	u64 conns_refused;
	u64 conns_timed_out;
	u64 tx_bad_packets;
	u64 tx_credit_violations;
	u64 tx_write_fails;
	u64 tx_flush_fails;
	u64 rx_read_fails;
	u64 conn_event_fails;
	u64 rst_dropped;
};

/**
 * vdpa_vsock_get_stats() - the counters of a vsock device
 * @vdpa: a device of type vsock
 * @stats: filled in
 *
 * Return: 0, or -EINVAL (not a vsock device).
 */
int vdpa_vsock_get_stats(struct vdpa_device *vdpa, struct vdpa_vsock_stats *stats);

#endif /* KESTREL_VDPA_DEV_H */
