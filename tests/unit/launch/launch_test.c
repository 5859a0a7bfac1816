// SPDX-License-Identifier: GPL-2.0-only
/*
 * kestrel's half of the measured launch (src/launch/launch.c) against the
 * stub's (guest/lib crypto, built for the host): the measurement kestrel
 * prints is the one the stub computes over the documented framing; a
 * sealed image from kestrel seal-image opens with the stub's AES-256-GCM
 * and fails for a changed byte or another key; the hex parser.
 */
#include <errno.h>

#include <kestrel/launch.h>

#include "../../../guest/lib/crypto.h"
#include "../test.h"

static uint8_t image[5000], initrd[3000];

/* The stub's framing (guest/x86/launch.c), with the guest's SHA-256. */
static void guest_measure(const void *img, size_t len, const char *cmdline, const void *rd,
			  size_t rd_len, uint8_t out[32])
{
	struct sha256 s;
	uint64_t lens[3] = { len, strlen(cmdline), rd_len };
	const void *parts[3] = { img, cmdline, rd };

	sha256_init(&s);
	sha256_update(&s, LAUNCH_MEASURE_TAG, 8);
	for (unsigned int i = 0; i < 3; i++) {
		uint8_t le[8];

		for (unsigned int b = 0; b < 8; b++)
			le[b] = (uint8_t)(lens[i] >> (8 * b));
		sha256_update(&s, le, 8);
		sha256_update(&s, parts[i], lens[i]);
	}
	sha256_final(&s, out);
}

static void test_measure(void)
{
	uint8_t a[32], b[32];

	report_prefix_push("measure");
	launch_measure(image, sizeof(image), "console=ttyS0 quiet", initrd, sizeof(initrd), a);
	guest_measure(image, sizeof(image), "console=ttyS0 quiet", initrd, sizeof(initrd), b);
	report_mem(a, b, 32, "kestrel's measurement is the stub's (image, command line, initrd)");
	launch_measure(image, sizeof(image), NULL, NULL, 0, a);
	guest_measure(image, sizeof(image), "", "", 0, b);
	report_mem(a, b, 32, "... and with neither command line nor initrd");
	launch_measure("ab", 2, "c", NULL, 0, a);
	launch_measure("a", 1, "bc", NULL, 0, b);
	report_ne(memcmp(a, b, 32), 0, "a byte moved from the image to the command line changes it");
	report_prefix_pop();
}

static void test_sealed(void)
{
	static uint8_t sealed[sizeof(image) + sizeof(struct sealed_header)], buf[sizeof(image)];
	static uint8_t sealed2[sizeof(sealed)];
	const struct sealed_header *h = (const void *)sealed;
	uint8_t key[32], other[32];

	report_prefix_push("sealed image");
	for (unsigned int i = 0; i < 32; i++) {
		key[i] = (uint8_t)(i * 3 + 1);
		other[i] = key[i] ^ (i == 31);
	}
	if (!report_eq(launch_seal_image(key, image, sizeof(image), sealed), 0, "sealed")) {
		report_prefix_pop();
		return;
	}
	if (check_eq(h->magic, SEALED_MAGIC) && check_eq(h->version, SEALED_VERSION))
		check_eq(h->length, sizeof(image));
	report_checks("the header names the format and the length");
	report_true(launch_is_sealed(sealed, sizeof(sealed)), "recognised as sealed");
	report_false(launch_is_sealed(image, sizeof(image)), "a payload is not");
	report_ne(memcmp(sealed + 64, image, 64), 0, "the ciphertext is not the plaintext");

	memcpy(buf, sealed + 64, sizeof(buf));
	report_eq(aes256_gcm_decrypt(key, h->nonce, sealed, SEALED_AAD_LEN, buf, sizeof(buf), h->tag),
		  0, "the stub's AES-256-GCM authenticates it");
	report_mem(buf, image, sizeof(image), "... and gets the payload back");
	memcpy(buf, sealed + 64, sizeof(buf));
	report_eq(aes256_gcm_decrypt(other, h->nonce, sealed, SEALED_AAD_LEN, buf, sizeof(buf),
				     h->tag), -1, "another key: refused");
	memcpy(buf, sealed + 64, sizeof(buf));
	buf[1234] ^= 0x40;
	report_eq(aes256_gcm_decrypt(key, h->nonce, sealed, SEALED_AAD_LEN, buf, sizeof(buf), h->tag),
		  -1, "a changed ciphertext byte: refused");

	report_err(launch_unseal_image(key, sealed, sizeof(sealed), buf), 0, "kestrel unseals it");
	report_mem(buf, image, sizeof(image), "... to the payload");
	report_err(launch_unseal_image(other, sealed, sizeof(sealed), buf), -EBADMSG,
		   "kestrel with another key");
	report_err(launch_unseal_image(key, sealed, sizeof(sealed) - 1, buf), -EINVAL,
		   "a truncated file");
	memcpy(sealed2, sealed, sizeof(sealed));
	sealed2[16] ^= 1;	/* the length, covered by the AAD */
	report_err(launch_unseal_image(key, sealed2, sizeof(sealed2), buf), -EINVAL,
		   "a changed length");
	report_eq(launch_seal_image(key, image, sizeof(image), sealed2), 0, "sealed again");
	report_ne(memcmp(sealed2 + 24, sealed + 24, 12), 0, "with another nonce");
	report_prefix_pop();
}

static void test_parse(void)
{
	uint8_t m[32];

	report_prefix_push("parse");
	report_err(launch_parse_measurement("00112233445566778899aabbccddeeff"
					    "00112233445566778899AABBCCDDEEFF", m), 0, "64 digits");
	report_eq(m[31], 0xff, "the last byte");
	report_eq(m[1], 0x11, "the second byte");
	report_err(launch_parse_measurement("0011", m), -EINVAL, "too short");
	report_err(launch_parse_measurement("g0112233445566778899aabbccddeeff"
					    "00112233445566778899aabbccddeeff", m), -EINVAL,
		   "not hex");
	report_err(launch_parse_measurement("00112233445566778899aabbccddeeff"
					    "00112233445566778899aabbccddeeff0", m), -EINVAL,
		   "too long");
	report_prefix_pop();
}

int main(void)
{
	for (unsigned int i = 0; i < sizeof(image); i++)
		image[i] = (uint8_t)(i * 13 + 7);
	for (unsigned int i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	test_measure();
	test_sealed();
	test_parse();
	return report_summary();
}
