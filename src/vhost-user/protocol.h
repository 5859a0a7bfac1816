/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The vhost-user wire format (QEMU docs/interop/vhost-user.rst), private to
 * src/vhost-user/ and its tests. Native byte order: both ends share a host.
 *
 * Every message is a 12-byte header followed by @size bytes of payload;
 * file descriptors ride in SCM_RIGHTS ancillary data of the header's first
 * byte (at most VHOST_USER_MAX_FDS of them).
 */
#ifndef KESTREL_VHOST_USER_PROTOCOL_H
#define KESTREL_VHOST_USER_PROTOCOL_H

#include <stddef.h>

#include <kestrel/types.h>

/* Front-end -> back-end requests. */
enum vhost_user_request {
	VHOST_USER_GET_FEATURES			= 1,
	VHOST_USER_SET_FEATURES			= 2,
	VHOST_USER_SET_OWNER			= 3,
	VHOST_USER_RESET_OWNER			= 4,
	VHOST_USER_SET_MEM_TABLE		= 5,
	VHOST_USER_SET_LOG_BASE			= 6,
	VHOST_USER_SET_LOG_FD			= 7,
	VHOST_USER_SET_VRING_NUM		= 8,
	VHOST_USER_SET_VRING_ADDR		= 9,
	VHOST_USER_SET_VRING_BASE		= 10,
	VHOST_USER_GET_VRING_BASE		= 11,
	VHOST_USER_SET_VRING_KICK		= 12,
	VHOST_USER_SET_VRING_CALL		= 13,
	VHOST_USER_SET_VRING_ERR		= 14,
	VHOST_USER_GET_PROTOCOL_FEATURES	= 15,
	VHOST_USER_SET_PROTOCOL_FEATURES	= 16,
	VHOST_USER_GET_QUEUE_NUM		= 17,
	VHOST_USER_SET_VRING_ENABLE		= 18,
	VHOST_USER_SEND_RARP			= 19,
	VHOST_USER_NET_SET_MTU			= 20,
	VHOST_USER_SET_BACKEND_REQ_FD		= 21,
	VHOST_USER_IOTLB_MSG			= 22,
	VHOST_USER_SET_VRING_ENDIAN		= 23,
	VHOST_USER_GET_CONFIG			= 24,
	VHOST_USER_SET_CONFIG			= 25,
	VHOST_USER_GET_INFLIGHT_FD		= 31,
	VHOST_USER_SET_INFLIGHT_FD		= 32,
	VHOST_USER_RESET_DEVICE			= 34,
	VHOST_USER_VRING_KICK			= 35,
	VHOST_USER_GET_MAX_MEM_SLOTS		= 36,
	VHOST_USER_ADD_MEM_REG			= 37,
	VHOST_USER_REM_MEM_REG			= 38,
	VHOST_USER_SET_STATUS			= 39,
	VHOST_USER_GET_STATUS			= 40,
	VHOST_USER_REQUEST_MAX			= 44,	/* table size */
};

/* Back-end -> front-end requests (on the backend channel). */
enum vhost_user_backend_request {
	VHOST_USER_BACKEND_IOTLB_MSG		= 1,
	VHOST_USER_BACKEND_CONFIG_CHANGE_MSG	= 2,
};

/* Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
#define VHOST_USER_PROTOCOL_F_MQ		0
#define VHOST_USER_PROTOCOL_F_LOG_SHMFD		1
#define VHOST_USER_PROTOCOL_F_RARP		2
#define VHOST_USER_PROTOCOL_F_REPLY_ACK		3
#define VHOST_USER_PROTOCOL_F_NET_MTU		4
#define VHOST_USER_PROTOCOL_F_BACKEND_REQ	5
#define VHOST_USER_PROTOCOL_F_CONFIG		9
#define VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD	12
#define VHOST_USER_PROTOCOL_F_RESET_DEVICE	13
#define VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS 14
#define VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15
#define VHOST_USER_PROTOCOL_F_STATUS		16

/* Virtio feature bit 30: "this back-end speaks protocol features". */
#define VHOST_USER_F_PROTOCOL_FEATURES		30
/* Virtio feature bit 26: dirty logging (vhost's VHOST_F_LOG_ALL). */
#define VHOST_F_LOG_ALL				26

/* Header flags. */
#define VHOST_USER_VERSION_MASK		0x3u
#define VHOST_USER_VERSION		0x1u
#define VHOST_USER_REPLY_MASK		(1u << 2)
#define VHOST_USER_NEED_REPLY_MASK	(1u << 3)

/* SET_VRING_KICK/CALL/ERR u64: index in the low byte, bit 8 "no fd". */
#define VHOST_USER_VRING_IDX_MASK	0xffu
#define VHOST_USER_VRING_NOFD_MASK	(1u << 8)

/* Most fds one message carries (the classic limit, also QEMU's). */
#define VHOST_USER_MAX_FDS		8
/* Regions in one SET_MEM_TABLE. */
#define VHOST_USER_MEM_TABLE_MAX	8
/* Largest config space exchanged by GET/SET_CONFIG. */
#define VHOST_USER_CONFIG_MAX		256

/* IOTLB message types (struct vhost_iotlb_msg.type). */
#define VHOST_USER_IOTLB_MISS		1
#define VHOST_USER_IOTLB_UPDATE		2
#define VHOST_USER_IOTLB_INVALIDATE	3
#define VHOST_USER_IOTLB_ACCESS_FAIL	4
#define VHOST_USER_IOTLB_BATCH_BEGIN	5
#define VHOST_USER_IOTLB_BATCH_END	6
/* IOTLB permissions (same values as VHOST_ACCESS_*). */
#define VHOST_USER_ACCESS_RO		0x1
#define VHOST_USER_ACCESS_WO		0x2
#define VHOST_USER_ACCESS_RW		0x3

/** struct vhost_user_hdr - the fixed part of every message */
struct vhost_user_hdr {
	u32 request;
	u32 flags;
	u32 size;
};

/** struct vhost_user_vring_state - SET_VRING_NUM/BASE/ENABLE, GET_VRING_BASE */
struct vhost_user_vring_state {
	u32 index;
	u32 num;
};

/** struct vhost_user_vring_addr - SET_VRING_ADDR */
struct vhost_user_vring_addr {
	u32 index;
	u32 flags;		/* bit 0: log used-ring writes */
	u64 desc_user_addr;
	u64 used_user_addr;
	u64 avail_user_addr;
	u64 log_guest_addr;
};

/** struct vhost_user_mem_region - one region of SET_MEM_TABLE / ADD_MEM_REG */
struct vhost_user_mem_region {
	u64 guest_phys_addr;
	u64 memory_size;
	u64 userspace_addr;
	u64 mmap_offset;
};

/** struct vhost_user_mem_table - SET_MEM_TABLE */
struct vhost_user_mem_table {
	u32 nregions;
	u32 padding;
	struct vhost_user_mem_region regions[VHOST_USER_MEM_TABLE_MAX];
};

/** struct vhost_user_mem_reg - ADD_MEM_REG / REM_MEM_REG */
struct vhost_user_mem_reg {
	u64 padding;
	struct vhost_user_mem_region region;
};

/** struct vhost_user_iotlb - IOTLB_MSG (struct vhost_iotlb_msg) */
struct vhost_user_iotlb {
	u64 iova;
	u64 size;
	u64 uaddr;
	u8 perm;
	u8 type;
};

/** struct vhost_user_config - GET/SET_CONFIG */
struct vhost_user_config {
	u32 offset;
	u32 size;
	u32 flags;
	u8 region[VHOST_USER_CONFIG_MAX];
};

/**
 * struct vhost_user_inflight - GET_INFLIGHT_FD / SET_INFLIGHT_FD: the region
 *	of struct vdpa_inflight_split per queue, @num_queues of them, each
 *	vdpa_inflight_queue_size(@queue_size) bytes, at @mmap_offset of the fd
 */
struct vhost_user_inflight {
	u64 mmap_size;
	u64 mmap_offset;
	u16 num_queues;
	u16 queue_size;
};

/** union vhost_user_payload - every payload shape we parse */
union vhost_user_payload {
	u64 u64;
	struct vhost_user_vring_state state;
	struct vhost_user_vring_addr addr;
	struct vhost_user_mem_table mem;
	struct vhost_user_mem_reg memreg;
	struct vhost_user_iotlb iotlb;
	struct vhost_user_config config;
	struct vhost_user_inflight inflight;
};

/**
 * struct vhost_user_msg - a message in memory: on the wire the payload
 * follows the 12-byte header directly, here it is 8-byte aligned, so
 * messages are read and written as two pieces (header, payload)
 */
struct vhost_user_msg {
	struct vhost_user_hdr hdr;
	union vhost_user_payload payload;
};

#define VHOST_USER_HDR_SIZE		sizeof(struct vhost_user_hdr)
#define VHOST_USER_PAYLOAD_MAX		sizeof(union vhost_user_payload)
#define VHOST_USER_CONFIG_HDR_SIZE	offsetof(struct vhost_user_config, region)
#define VHOST_USER_MEM_TABLE_HDR_SIZE	offsetof(struct vhost_user_mem_table, regions)

/* The layouts are the protocol: pin every size and offset the spec gives. */
_Static_assert(sizeof(struct vhost_user_hdr) == 12, "header is 12 bytes");
_Static_assert(sizeof(struct vhost_user_vring_state) == 8, "vring state");
_Static_assert(sizeof(struct vhost_user_vring_addr) == 40, "vring address");
_Static_assert(offsetof(struct vhost_user_vring_addr, used_user_addr) == 16,
	       "used address follows desc (spec order: desc, used, avail)");
_Static_assert(sizeof(struct vhost_user_mem_region) == 32, "memory region");
_Static_assert(offsetof(struct vhost_user_mem_table, regions) == 8,
	       "regions follow nregions + padding");
_Static_assert(sizeof(struct vhost_user_mem_reg) == 40, "single region");
_Static_assert(offsetof(struct vhost_user_iotlb, perm) == 24 &&
	       offsetof(struct vhost_user_iotlb, type) == 25 &&
	       sizeof(struct vhost_user_iotlb) == 32, "vhost_iotlb_msg");
_Static_assert(offsetof(struct vhost_user_config, region) == 12,
	       "config header is offset, size, flags");
_Static_assert(offsetof(struct vhost_user_inflight, queue_size) == 18 &&
	       sizeof(struct vhost_user_inflight) == 24,
	       "inflight description (QEMU sends it with its tail padding)");
_Static_assert(sizeof(struct vhost_user_mem_table) == 8 + 8 * 32,
	       "SET_MEM_TABLE carries up to 8 regions");

#endif /* KESTREL_VHOST_USER_PROTOCOL_H */
