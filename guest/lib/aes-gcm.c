// SPDX-License-Identifier: GPL-2.0-only
/*
 * AES-256 (FIPS 197) and GCM (NIST SP 800-38D), freestanding (crypto.h).
 * One 256-byte S-box; GHASH four bits at a time with a 16-entry table of
 * multiples of H made per key.
 */
#include "crypto.h"

static const uint8_t sbox[256] = {
	0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76,
	0xca, 0x82, 0xc9, 0x7d, 0xfa, 0x59, 0x47, 0xf0, 0xad, 0xd4, 0xa2, 0xaf, 0x9c, 0xa4, 0x72, 0xc0,
	0xb7, 0xfd, 0x93, 0x26, 0x36, 0x3f, 0xf7, 0xcc, 0x34, 0xa5, 0xe5, 0xf1, 0x71, 0xd8, 0x31, 0x15,
	0x04, 0xc7, 0x23, 0xc3, 0x18, 0x96, 0x05, 0x9a, 0x07, 0x12, 0x80, 0xe2, 0xeb, 0x27, 0xb2, 0x75,
	0x09, 0x83, 0x2c, 0x1a, 0x1b, 0x6e, 0x5a, 0xa0, 0x52, 0x3b, 0xd6, 0xb3, 0x29, 0xe3, 0x2f, 0x84,
	0x53, 0xd1, 0x00, 0xed, 0x20, 0xfc, 0xb1, 0x5b, 0x6a, 0xcb, 0xbe, 0x39, 0x4a, 0x4c, 0x58, 0xcf,
	0xd0, 0xef, 0xaa, 0xfb, 0x43, 0x4d, 0x33, 0x85, 0x45, 0xf9, 0x02, 0x7f, 0x50, 0x3c, 0x9f, 0xa8,
	0x51, 0xa3, 0x40, 0x8f, 0x92, 0x9d, 0x38, 0xf5, 0xbc, 0xb6, 0xda, 0x21, 0x10, 0xff, 0xf3, 0xd2,
	0xcd, 0x0c, 0x13, 0xec, 0x5f, 0x97, 0x44, 0x17, 0xc4, 0xa7, 0x7e, 0x3d, 0x64, 0x5d, 0x19, 0x73,
	0x60, 0x81, 0x4f, 0xdc, 0x22, 0x2a, 0x90, 0x88, 0x46, 0xee, 0xb8, 0x14, 0xde, 0x5e, 0x0b, 0xdb,
	0xe0, 0x32, 0x3a, 0x0a, 0x49, 0x06, 0x24, 0x5c, 0xc2, 0xd3, 0xac, 0x62, 0x91, 0x95, 0xe4, 0x79,
	0xe7, 0xc8, 0x37, 0x6d, 0x8d, 0xd5, 0x4e, 0xa9, 0x6c, 0x56, 0xf4, 0xea, 0x65, 0x7a, 0xae, 0x08,
	0xba, 0x78, 0x25, 0x2e, 0x1c, 0xa6, 0xb4, 0xc6, 0xe8, 0xdd, 0x74, 0x1f, 0x4b, 0xbd, 0x8b, 0x8a,
	0x70, 0x3e, 0xb5, 0x66, 0x48, 0x03, 0xf6, 0x0e, 0x61, 0x35, 0x57, 0xb9, 0x86, 0xc1, 0x1d, 0x9e,
	0xe1, 0xf8, 0x98, 0x11, 0x69, 0xd9, 0x8e, 0x94, 0x9b, 0x1e, 0x87, 0xe9, 0xce, 0x55, 0x28, 0xdf,
	0x8c, 0xa1, 0x89, 0x0d, 0xbf, 0xe6, 0x42, 0x68, 0x41, 0x99, 0x2d, 0x0f, 0xb0, 0x54, 0xbb, 0x16,
};

static inline uint8_t xtime(uint8_t x)
{
	return (uint8_t)((x << 1) ^ ((x >> 7) * 0x1b));
}

/* §5.2: Nk = 8 words of key, 60 words of schedule. */
void aes256_init(struct aes256 *a, const uint8_t key[AES256_KEY_LEN])
{
	uint8_t *w = &a->rk[0][0];
	uint8_t rcon = 1;

	for (unsigned int i = 0; i < 32; i++)
		w[i] = key[i];
	for (unsigned int i = 8; i < 60; i++) {
		uint8_t t[4] = { w[4 * i - 4], w[4 * i - 3], w[4 * i - 2], w[4 * i - 1] };

		if (i % 8 == 0) {
			uint8_t t0 = t[0];

			t[0] = sbox[t[1]] ^ rcon;
			t[1] = sbox[t[2]];
			t[2] = sbox[t[3]];
			t[3] = sbox[t0];
			rcon = xtime(rcon);
		} else if (i % 8 == 4) {
			for (unsigned int j = 0; j < 4; j++)
				t[j] = sbox[t[j]];
		}
		for (unsigned int j = 0; j < 4; j++)
			w[4 * i + j] = w[4 * (i - 8) + j] ^ t[j];
	}
}

/* §5.1: the state is column-major, s[4 * c + r]. */
void aes256_encrypt(const struct aes256 *a, const uint8_t in[16], uint8_t out[16])
{
	uint8_t s[16], t[16];

	for (unsigned int i = 0; i < 16; i++)
		s[i] = in[i] ^ a->rk[0][i];
	for (unsigned int round = 1; round <= 14; round++) {
		/* SubBytes and ShiftRows: row r moves left by r columns. */
		for (unsigned int c = 0; c < 4; c++)
			for (unsigned int r = 0; r < 4; r++)
				t[4 * c + r] = sbox[s[4 * ((c + r) % 4) + r]];
		if (round < 14) {
			/* MixColumns */
			for (unsigned int c = 0; c < 4; c++) {
				uint8_t *col = &t[4 * c];
				uint8_t all = col[0] ^ col[1] ^ col[2] ^ col[3], c0 = col[0];

				col[0] ^= all ^ xtime(col[0] ^ col[1]);
				col[1] ^= all ^ xtime(col[1] ^ col[2]);
				col[2] ^= all ^ xtime(col[2] ^ col[3]);
				col[3] ^= all ^ xtime(col[3] ^ c0);
			}
		}
		for (unsigned int i = 0; i < 16; i++)
			s[i] = t[i] ^ a->rk[round][i];
	}
	for (unsigned int i = 0; i < 16; i++)
		out[i] = s[i];
	crypto_wipe(s, sizeof(s));
	crypto_wipe(t, sizeof(t));
}

/*
 * GHASH multiplies by H in GF(2^128) (§6.3) with GCM's reflected bit
 * order: byte 0's top bit is the coefficient of x^0. An element is held as
 * two 64-bit halves, hi = bytes 0..7 and lo = bytes 8..15, big-endian, so
 * multiplying by x is a right shift of the 128 bits, folding the bit
 * shifted out back in as x^128 = x^7 + x^2 + x + 1 (0xe1 in the top byte).
 *
 * Four bits of X at a time: tab[n] is n * H for each 4-bit value n, whose
 * top bit stands for the lowest power; each step multiplies the running
 * product by x^4 and adds the next nibble's entry. The four bits shifted
 * out by the x^4 fold back through fold4[] (their multiples of 0xe1 as
 * they land in the top 16 bits).
 */
struct gf128 {
	uint64_t hi, lo;
};

static const uint16_t fold4[16] = {
	0x0000, 0x1c20, 0x3840, 0x2460, 0x7080, 0x6ca0, 0x48c0, 0x54e0,
	0xe100, 0xfd20, 0xd940, 0xc560, 0x9180, 0x8da0, 0xa9c0, 0xb5e0,
};

static struct gf128 gf_load(const uint8_t b[16])
{
	struct gf128 v = { 0, 0 };

	for (unsigned int i = 0; i < 8; i++) {
		v.hi = v.hi << 8 | b[i];
		v.lo = v.lo << 8 | b[8 + i];
	}
	return v;
}

static void gf_store(struct gf128 v, uint8_t b[16])
{
	for (unsigned int i = 0; i < 8; i++) {
		b[7 - i] = (uint8_t)(v.hi >> (8 * i));
		b[15 - i] = (uint8_t)(v.lo >> (8 * i));
	}
}

/* v * x */
static struct gf128 gf_times_x(struct gf128 v)
{
	uint64_t carry = v.lo & 1;

	v.lo = v.lo >> 1 | v.hi << 63;
	v.hi = v.hi >> 1 ^ (carry ? 0xe100000000000000ull : 0);
	return v;
}

/* tab[n] = n * h, n's bit 3 being x^0 and bit 0 x^3. */
static void gf_table(struct gf128 tab[16], const uint8_t h[16])
{
	tab[0] = (struct gf128){ 0, 0 };
	tab[8] = gf_load(h);
	tab[4] = gf_times_x(tab[8]);
	tab[2] = gf_times_x(tab[4]);
	tab[1] = gf_times_x(tab[2]);
	for (unsigned int n = 3; n < 16; n++)
		if (n & (n - 1))	/* not a power of two: sum of two entries */
			tab[n] = (struct gf128){
				tab[n & -n].hi ^ tab[n & (n - 1)].hi,
				tab[n & -n].lo ^ tab[n & (n - 1)].lo,
			};
}

/* x = x * H, H given by its table. */
static void gf_mul(uint8_t x[16], const struct gf128 tab[16])
{
	struct gf128 z = { 0, 0 };

	/* Horner from the highest powers (the last nibble) down. */
	for (int i = 31; i >= 0; i--) {
		unsigned int n = i % 2 ? x[i / 2] & 0xf : x[i / 2] >> 4;
		unsigned int out = (unsigned int)(z.lo & 0xf);

		z.lo = z.lo >> 4 | z.hi << 60;
		z.hi = z.hi >> 4 ^ (uint64_t)fold4[out] << 48;
		z.hi ^= tab[n].hi;
		z.lo ^= tab[n].lo;
	}
	gf_store(z, x);
}

/* GHASH of @data (zero-padded to whole blocks) into @x. */
static void ghash(uint8_t x[16], const struct gf128 tab[16], const uint8_t *data, size_t len)
{
	while (len) {
		size_t n = len < 16 ? len : 16;

		for (size_t i = 0; i < n; i++)
			x[i] ^= data[i];
		gf_mul(x, tab);
		data += n;
		len -= n;
	}
}

struct gcm {
	struct aes256 aes;
	struct gf128 htab[16];
	uint8_t j0[16];
};

static void gcm_start(struct gcm *g, const uint8_t key[AES256_KEY_LEN],
		      const uint8_t nonce[GCM_NONCE_LEN])
{
	static const uint8_t zero[16];
	uint8_t h[16];

	aes256_init(&g->aes, key);
	aes256_encrypt(&g->aes, zero, h);
	gf_table(g->htab, h);
	crypto_wipe(h, sizeof(h));
	for (unsigned int i = 0; i < 12; i++)
		g->j0[i] = nonce[i];
	g->j0[12] = g->j0[13] = g->j0[14] = 0;
	g->j0[15] = 1;
}

/* The tag over @aad and the ciphertext @c (§7.1 steps 5-6). */
static void gcm_tag(const struct gcm *g, const void *aad, size_t aad_len, const uint8_t *c,
		    size_t len, uint8_t tag[GCM_TAG_LEN])
{
	uint8_t x[16] = { 0 }, lens[16], ek[16];
	uint64_t abits = (uint64_t)aad_len * 8, cbits = (uint64_t)len * 8;

	ghash(x, g->htab, aad, aad_len);
	ghash(x, g->htab, c, len);
	for (unsigned int i = 0; i < 8; i++) {
		lens[i] = (uint8_t)(abits >> (56 - 8 * i));
		lens[8 + i] = (uint8_t)(cbits >> (56 - 8 * i));
	}
	ghash(x, g->htab, lens, 16);
	aes256_encrypt(&g->aes, g->j0, ek);
	for (unsigned int i = 0; i < 16; i++)
		tag[i] = x[i] ^ ek[i];
}

/* CTR from inc32(J0) over @buf (§6.5). */
static void gcm_ctr(const struct gcm *g, uint8_t *buf, size_t len)
{
	uint8_t cb[16], ks[16];
	uint32_t ctr = 1;

	for (unsigned int i = 0; i < 16; i++)
		cb[i] = g->j0[i];
	while (len) {
		size_t n = len < 16 ? len : 16;

		ctr++;
		cb[12] = (uint8_t)(ctr >> 24);
		cb[13] = (uint8_t)(ctr >> 16);
		cb[14] = (uint8_t)(ctr >> 8);
		cb[15] = (uint8_t)ctr;
		aes256_encrypt(&g->aes, cb, ks);
		for (size_t i = 0; i < n; i++)
			buf[i] ^= ks[i];
		buf += n;
		len -= n;
	}
	crypto_wipe(ks, sizeof(ks));
}

int aes256_gcm_decrypt(const uint8_t key[AES256_KEY_LEN], const uint8_t nonce[GCM_NONCE_LEN],
		       const void *aad, size_t aad_len, void *buf, size_t len,
		       const uint8_t tag[GCM_TAG_LEN])
{
	struct gcm g;
	uint8_t t[GCM_TAG_LEN], diff = 0;

	gcm_start(&g, key, nonce);
	gcm_tag(&g, aad, aad_len, buf, len, t);
	for (unsigned int i = 0; i < GCM_TAG_LEN; i++)
		diff |= t[i] ^ tag[i];
	if (!diff)
		gcm_ctr(&g, buf, len);
	crypto_wipe(&g, sizeof(g));
	return diff ? -1 : 0;
}

void aes256_gcm_encrypt(const uint8_t key[AES256_KEY_LEN], const uint8_t nonce[GCM_NONCE_LEN],
			const void *aad, size_t aad_len, void *buf, size_t len,
			uint8_t tag[GCM_TAG_LEN])
{
	struct gcm g;

	gcm_start(&g, key, nonce);
	gcm_ctr(&g, buf, len);
	gcm_tag(&g, aad, aad_len, buf, len, tag);
	crypto_wipe(&g, sizeof(g));
}
