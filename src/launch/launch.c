// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host side of the measured launch and of sealed images
 * (include/kestrel/launch.h, docs/protected.md): the measurement kestrel
 * prints, and AES-256-GCM sealing with OpenSSL. The guest side, which must
 * agree byte for byte, is guest/x86/launch.c with guest/lib's crypto.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <kestrel/launch.h>

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <kestrel/snapshot.h>

static void put_len(SHA256_CTX *c, uint64_t len)
{
	uint8_t le[8];

	for (unsigned int i = 0; i < 8; i++)
		le[i] = (uint8_t)(len >> (8 * i));
	SHA256_Update(c, le, sizeof(le));
}

void launch_measure(const void *image, size_t image_len, const char *cmdline,
		    const void *initrd, size_t initrd_len, uint8_t out[32])
{
	size_t cmdline_len = cmdline ? strlen(cmdline) : 0;
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, LAUNCH_MEASURE_TAG, 8);
	put_len(&c, image_len);
	SHA256_Update(&c, image, image_len);
	put_len(&c, cmdline_len);
	SHA256_Update(&c, cmdline ? cmdline : "", cmdline_len);
	put_len(&c, initrd ? initrd_len : 0);
	if (initrd)
		SHA256_Update(&c, initrd, initrd_len);
	SHA256_Final(out, &c);
}

int launch_parse_measurement(const char *s, uint8_t out[32])
{
	if (strlen(s) != 64)
		return -EINVAL;
	for (unsigned int i = 0; i < 64; i++) {
		char ch = s[i];
		int v = ch >= '0' && ch <= '9' ? ch - '0' :
			ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
			ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

		if (v < 0)
			return -EINVAL;
		if (i % 2)
			out[i / 2] = (uint8_t)(out[i / 2] | v);
		else
			out[i / 2] = (uint8_t)(v << 4);
	}
	return 0;
}

bool launch_is_sealed(const void *image, size_t len)
{
	uint64_t magic;

	if (len < sizeof(struct sealed_header))
		return false;
	memcpy(&magic, image, sizeof(magic));
	return magic == SEALED_MAGIC;
}

/* One AES-256-GCM pass over @len bytes, the header's first 24 as AAD. */
static int gcm(bool enc, const uint8_t key[32], struct sealed_header *h, const void *in,
	       size_t len, void *out)
{
	EVP_CIPHER_CTX *c;
	int n, ok;

	if (len > (size_t)1 << 30)
		return -EFBIG;
	if (snap_crypto_cpu_probe)	/* the static kestrel: src/snapshot/cpuid.c */
		snap_crypto_cpu_probe();
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, h->nonce, enc) &&
	     EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)h, SEALED_AAD_LEN) &&
	     (!len || EVP_CipherUpdate(c, out, &n, in, (int)len));
	if (ok && enc)
		ok = EVP_CipherFinal_ex(c, (uint8_t *)out + len, &n) &&
		     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, h->tag);
	else if (ok)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, h->tag) &&
		     EVP_CipherFinal_ex(c, (uint8_t *)out + len, &n);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : enc ? -EIO : -EBADMSG;
}

int launch_seal_image(const uint8_t key[32], const void *in, size_t len, void *out)
{
	struct sealed_header h = {
		.magic = SEALED_MAGIC, .version = SEALED_VERSION, .length = len,
	};
	int ret;

	if (getrandom(h.nonce, sizeof(h.nonce), 0) != (ssize_t)sizeof(h.nonce))
		return -EIO;
	ret = gcm(true, key, &h, in, len, (uint8_t *)out + sizeof(h));
	if (!ret)
		memcpy(out, &h, sizeof(h));
	return ret;
}

int launch_unseal_image(const uint8_t key[32], const void *in, size_t len, void *out)
{
	struct sealed_header h;

	if (!launch_is_sealed(in, len))
		return -EINVAL;
	memcpy(&h, in, sizeof(h));
	if (h.version != SEALED_VERSION || h.flags || h.length != len - sizeof(h))
		return -EINVAL;
	return gcm(false, key, &h, (const uint8_t *)in + sizeof(h), h.length, out);
}
