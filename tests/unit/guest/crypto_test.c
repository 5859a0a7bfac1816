// SPDX-License-Identifier: GPL-2.0-only
/*
 * The launch stub's crypto (guest/lib/sha256.c, aes-gcm.c), built for the
 * host, against OpenSSL on the same inputs: SHA-256 (the C code and, where
 * the CPU has them, x86's SHA extensions) of lengths around every padding
 * boundary and of data fed in odd pieces, AES-256-GCM
 * encryption (ciphertext and tag) and decryption for lengths that end
 * mid-block, with and without AAD, and a decryption that must fail for a
 * flipped ciphertext, tag or AAD byte and a wrong key.
 */
#include <openssl/evp.h>

#include "../../../guest/lib/crypto.h"
#include "../test.h"

static unsigned char data[70000];

static void fill(void)
{
	unsigned int x = 12345;

	for (size_t i = 0; i < sizeof(data); i++) {
		x = x * 1103515245 + 12345;
		data[i] = (unsigned char)(x >> 16);
	}
}

static void openssl_sha256(const void *p, size_t len, unsigned char out[32])
{
	unsigned int n = 32;

	EVP_Digest(p, len, out, &n, EVP_sha256(), NULL);
}

static void test_sha256_with(const char *name, sha256_blocks_fn *blocks)
{
	static const size_t lens[] = { 0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4096,
				       65535, sizeof(data) };
	unsigned char want[32], got[32];
	struct sha256 s;

	report_prefix_push(name);
	for (unsigned int i = 0; i < ARRAY_SIZE(lens); i++) {
		openssl_sha256(data, lens[i], want);
		sha256_init(&s);
		s.blocks = blocks;
		sha256_update(&s, data, lens[i]);
		sha256_final(&s, got);
		report_mem(got, want, 32, "%zu bytes in one piece", lens[i]);
	}
	/* Pieces of 1, 2, ... 97 bytes, then the rest. */
	sha256_init(&s);
	s.blocks = blocks;
	for (size_t off = 0, n = 1; off < sizeof(data); off += n, n = n % 97 + 1)
		sha256_update(&s, data + off, MIN(n, sizeof(data) - off));
	sha256_final(&s, got);
	openssl_sha256(data, sizeof(data), want);
	report_mem(got, want, 32, "%zu bytes in pieces of 1 to 97", sizeof(data));
	report_prefix_pop();
}

static void test_sha256(void)
{
	test_sha256_with("sha256", sha256_blocks_c);
	if (sha256_x86_usable(sha256_x86_host_features()))
		test_sha256_with("sha256-x86", sha256_blocks_x86);
	else
		report_skip("sha256-x86: this CPU has no SHA extensions (or no SSSE3/SSE4.1)");
}

static int openssl_gcm(int enc, const unsigned char *key, const unsigned char *iv,
		       const unsigned char *aad, int aad_len, const unsigned char *in, int len,
		       unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, ok;

	ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv, enc) &&
	     (!aad_len || EVP_CipherUpdate(c, NULL, &n, aad, aad_len)) &&
	     (!len || EVP_CipherUpdate(c, out, &n, in, len));
	if (ok && enc)
		ok = EVP_CipherFinal_ex(c, out + len, &n) &&
		     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
	else if (ok)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) &&
		     EVP_CipherFinal_ex(c, out + len, &n);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

static unsigned char buf[sizeof(data) + 16], want[sizeof(data) + 16];

static void test_gcm(void)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 31, 32, 33, 255, 4097, 65536 + 5 };
	unsigned char key[32], iv[12], aad[24], tag[16], want_tag[16];

	report_prefix_push("aes-256-gcm");
	memcpy(key, data + 1000, 32);
	memcpy(iv, data + 2000, 12);
	memcpy(aad, data + 3000, 24);
	for (unsigned int i = 0; i < ARRAY_SIZE(lens); i++) {
		size_t len = lens[i];
		int aad_len = i % 2 ? 24 : 0;

		key[0] = (unsigned char)i;
		openssl_gcm(1, key, iv, aad, aad_len, data, (int)len, want, want_tag);
		memcpy(buf, data, len);
		aes256_gcm_encrypt(key, iv, aad, (size_t)aad_len, buf, len, tag);
		report_mem(buf, want, len, "%zu bytes, %d of AAD: the ciphertext", len, aad_len);
		report_mem(tag, want_tag, 16, "%zu bytes, %d of AAD: the tag", len, aad_len);
		report_eq(aes256_gcm_decrypt(key, iv, aad, (size_t)aad_len, buf, len, tag), 0,
			  "%zu bytes: decrypts", len);
		report_mem(buf, data, len, "%zu bytes: the plaintext comes back", len);
	}
	report_prefix_pop();
}

/* Each change must make decryption fail and leave the buffer as it was. */
static void test_gcm_refusals(void)
{
	const size_t len = 1000;
	unsigned char key[32], iv[12], aad[24], tag[16], ct[1000];

	report_prefix_push("aes-256-gcm refuses");
	memcpy(key, data + 5000, 32);
	memcpy(iv, data + 6000, 12);
	memcpy(aad, data + 7000, 24);
	openssl_gcm(1, key, iv, aad, 24, data, (int)len, ct, tag);

	memcpy(buf, ct, len);
	buf[len / 2] ^= 1;
	report_eq(aes256_gcm_decrypt(key, iv, aad, 24, buf, len, tag), -1, "a flipped ciphertext bit");
	report_eq(memcmp(buf, ct, len / 2), 0, "...and leaves the buffer alone");
	memcpy(buf, ct, len);
	tag[3] ^= 0x80;
	report_eq(aes256_gcm_decrypt(key, iv, aad, 24, buf, len, tag), -1, "a flipped tag bit");
	tag[3] ^= 0x80;
	aad[0] ^= 1;
	report_eq(aes256_gcm_decrypt(key, iv, aad, 24, buf, len, tag), -1, "a flipped AAD bit");
	aad[0] ^= 1;
	key[31] ^= 1;
	report_eq(aes256_gcm_decrypt(key, iv, aad, 24, buf, len, tag), -1, "another key");
	key[31] ^= 1;
	report_eq(aes256_gcm_decrypt(key, iv, aad, 24, buf, len, tag), 0, "the right key still works");
	report_mem(buf, data, len, "the plaintext of OpenSSL's ciphertext");
	report_prefix_pop();
}

int main(void)
{
	fill();
	test_sha256();
	test_gcm();
	test_gcm_refusals();
	return report_summary();
}
