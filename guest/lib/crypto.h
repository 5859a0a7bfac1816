/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_CRYPTO_H
#define GUEST_CRYPTO_H

/*
 * SHA-256 (FIPS 180-4) and AES-256-GCM (FIPS 197, SP 800-38D) for the
 * launch stub (guest/x86/launch.c, docs/protected.md). Freestanding: no
 * libc, no tables beyond the AES S-box, nothing but <stdint.h> and
 * <stddef.h>, so the same source builds for the host and its results are
 * checked against OpenSSL's (tests/unit/guest/crypto_test.c). Written for
 * clarity, not speed: the stub runs it in ring 3, where it is native.
 */
#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32
#define AES256_KEY_LEN	32
#define GCM_NONCE_LEN	12
#define GCM_TAG_LEN	16

struct sha256 {
	uint32_t h[8];
	uint64_t len;			/* bytes hashed so far */
	uint8_t buf[64];
	unsigned int fill;		/* bytes in @buf */
};

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
