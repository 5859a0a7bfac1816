/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_TYPES_H
#define KESTREL_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

/*
 * Guest-endian (little-endian) wire fields. x86 hosts are little-endian, so
 * the conversions are identities; the distinct names keep wire layouts
 * self-describing and greppable.
 */
typedef uint16_t le16;
typedef uint32_t le32;
typedef uint64_t le64;

static inline u16 le16_to_cpu(le16 v) { return v; }
static inline u32 le32_to_cpu(le32 v) { return v; }
static inline u64 le64_to_cpu(le64 v) { return v; }
static inline le16 cpu_to_le16(u16 v) { return v; }
static inline le32 cpu_to_le32(u32 v) { return v; }
static inline le64 cpu_to_le64(u64 v) { return v; }

/** typedef gpa_t - a guest-physical address */
typedef u64 gpa_t;

#endif /* KESTREL_TYPES_H */
