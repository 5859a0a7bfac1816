/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_CRYPTO_H
#define GUEST_CRYPTO_H

/*
 * SHA-256 (FIPS 180-4) and AES-256-GCM (FIPS 197, SP 800-38D) for the
 * launch stub (guest/x86/launch.c, docs/protected.md). Freestanding: no
 * libc, no tables beyond the AES S-box, nothing but <stdint.h> and
 * <stddef.h>, so the same source builds for the host and its results are
 * checked against OpenSSL's (tests/unit/guest/crypto_test.c). Written for
 * clarity, not speed: the stub runs it in ring 3, where it is native. The
 * one exception is SHA-256 with x86's SHA extensions (sha256-x86.c), for
 * hashing the launch image at the speed the host's OpenSSL reaches.
 */
#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32
#define AES256_KEY_LEN	32
#define GCM_NONCE_LEN	12
#define GCM_TAG_LEN	16

/* Hash @n 64-byte blocks at @p into the state @h. */
typedef void sha256_blocks_fn(uint32_t h[8], const uint8_t *p, size_t n);

struct sha256 {
	uint32_t h[8];
	uint64_t len;			/* bytes hashed so far */
	uint8_t buf[64];
	unsigned int fill;		/* bytes in @buf */
	sha256_blocks_fn *blocks;	/* sha256_blocks_c unless changed */
};

/* FIPS 180-4 §4.2.2, for the block functions. */
extern const uint32_t sha256_k[64];

/* Plain C (sha256.c), and x86's SHA extensions (sha256-x86.c). */
sha256_blocks_fn sha256_blocks_c;
sha256_blocks_fn sha256_blocks_x86;

/*
 * Whether sha256_blocks_x86 can run: CPUID says SHA, SSSE3 and SSE4.1
 * (@features: CPUID.1:ECX | CPUID.(7,0):EBX << 32), and the caller has SSE
 * enabled (CR4.OSFXSR). Not written for speed otherwise: the C code is.
 */
static inline int sha256_x86_usable(uint64_t features)
{
	return (features & (1ull << 9)) && (features & (1ull << 19)) &&
	       (features & (1ull << (32 + 29)));
}

#if __STDC_HOSTED__
#include <cpuid.h>

/* For host programs (tests, benchmarks): this CPU's features word. */
static inline uint64_t sha256_x86_host_features(void)
{
	unsigned int a, b, c, d;
	uint64_t f = 0;

	if (__get_cpuid(1, &a, &b, &c, &d))
		f = c;
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
		f |= (uint64_t)b << 32;
	return f;
}
#endif

/* Sets @s->blocks to sha256_blocks_c; a caller may change it after. */
void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);

struct aes256 {
	uint8_t rk[15][16];		/* round keys */
};

void aes256_init(struct aes256 *a, const uint8_t key[AES256_KEY_LEN]);
void aes256_encrypt(const struct aes256 *a, const uint8_t in[16], uint8_t out[16]);

/*
 * AES-256-GCM decryption in place with a 96-bit nonce: @buf holds @len
 * bytes of ciphertext, @aad @aad_len bytes of associated data. @buf is
 * decrypted only if @tag matches; otherwise it is left as it was.
 * Return: 0, or -1 if the tag does not match (wrong key or changed bytes).
 */
int aes256_gcm_decrypt(const uint8_t key[AES256_KEY_LEN], const uint8_t nonce[GCM_NONCE_LEN],
		       const void *aad, size_t aad_len, void *buf, size_t len,
		       const uint8_t tag[GCM_TAG_LEN]);

/* The same, encrypting: the tag goes to @tag. For the tests. */
void aes256_gcm_encrypt(const uint8_t key[AES256_KEY_LEN], const uint8_t nonce[GCM_NONCE_LEN],
			const void *aad, size_t aad_len, void *buf, size_t len,
			uint8_t tag[GCM_TAG_LEN]);

/* Overwrite @len bytes at @p with zeros in a way the compiler keeps. */
void crypto_wipe(void *p, size_t len);

#endif /* GUEST_CRYPTO_H */
