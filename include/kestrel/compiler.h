/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_COMPILER_H
#define KESTREL_COMPILER_H

#include <stddef.h>

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#ifndef __always_inline
#define __always_inline		inline __attribute__((always_inline))
#endif
#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)
#define __printf(a, b)		__attribute__((format(printf, a, b)))
#define __cold			__attribute__((cold))
#define __unused		__attribute__((unused))
#define __packed		__attribute__((packed))
#define __aligned(x)		__attribute__((aligned(x)))
#define __must_check		__attribute__((warn_unused_result))

/**
 * container_of() - the structure that embeds @ptr as its member @member
 */
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define MIN(a, b)		((a) < (b) ? (a) : (b))
#define MAX(a, b)		((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a)		(((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a)	((x) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)

/* Compiler-only barrier; CPU barriers live next to their users (vringh). */
#define barrier()		__asm__ __volatile__("" ::: "memory")
#define READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)	(*(volatile __typeof__(x) *)&(x) = (v))

#endif /* KESTREL_COMPILER_H */
