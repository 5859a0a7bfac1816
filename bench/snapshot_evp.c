// SPDX-License-Identifier: GPL-2.0-only
/*
 * AES-256-GCM throughput of OpenSSL's EVP interface on this CPU, in the
 * snapshot files' 64 KiB chunks (docs/snapshot.md): the anchor that
 * encrypted snapshot figures are read against (bench/snapshot.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#define CHUNK		(64 * 1024)
#define TOTAL		(512u << 20)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	unsigned char key[32] = { 1 }, iv[12] = { 0 }, tag[16], aad[76] = { 0 };
	unsigned char *buf = malloc(CHUNK);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	double t0, t1;
	int outl;

	if (!buf || !ctx)
		return 1;
	memset(buf, 0x5a, CHUNK);
	t0 = now_s();
	for (unsigned int i = 0; i < TOTAL / CHUNK; i++) {
		memcpy(iv + 4, &i, sizeof(i));
		if (!EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv) ||
		    !EVP_EncryptUpdate(ctx, NULL, &outl, aad, sizeof(aad)) ||
		    !EVP_EncryptUpdate(ctx, buf, &outl, buf, CHUNK) ||
		    !EVP_EncryptFinal_ex(ctx, buf, &outl) ||
		    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, sizeof(tag), tag))
			return 1;
	}
	t1 = now_s();
	printf("   EVP AES-256-GCM, 64 KiB chunks: %.0f MiB/s (%u MiB in %.3f s)\n",
	       (double)(TOTAL >> 20) / (t1 - t0), TOTAL >> 20, t1 - t0);
	EVP_CIPHER_CTX_free(ctx);
	free(buf);
	return 0;
}
