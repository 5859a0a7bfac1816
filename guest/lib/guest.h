/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

/*
 * The freestanding guest library: types, strings, printf to the console,
 * and the report() vocabulary every guest test speaks. Architecture code
 * (start-up, descriptors, APIC, SMP, user mode) lives in lib/x86/.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#define __noreturn	__attribute__((noreturn))
#define __aligned(x)	__attribute__((aligned(x)))
#define barrier()	__asm__ __volatile__("" ::: "memory")
#define READ_ONCE(x)	(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

/* string.c */
void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* printf.c: console output, serialized across CPUs */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
int printf(const char *fmt, ...) __printf(1, 2);
void puts(const char *s);

/* Console back end, provided by the architecture (lib/x86/console.c). */
void console_write(const char *s, size_t len);

/* report.c */
void report_prefix_push(const char *prefix);
void report_prefix_pop(void);
void report(bool pass, const char *fmt, ...) __printf(2, 3);
void report_skip(const char *fmt, ...) __printf(1, 2);
void report_info(const char *fmt, ...) __printf(1, 2);
/* Prints the summary and ends the run through the debug-exit port. */
int report_summary(void) __noreturn;
/* Ends the run: 0 pass, 1 fail, 38 skip (kestrel status 1, 3, 77). */
void guest_exit(int code) __noreturn;

/* Abort the test on a broken precondition: one FAIL line, then exit. */
#define assert(cond)							\
	do {								\
		if (!(cond)) {						\
			printf("FAIL: assert %s at %s:%d\n", #cond,	\
			       __FILE__, __LINE__);			\
			guest_exit(1);					\
		}							\
	} while (0)

#endif /* GUEST_GUEST_H */
