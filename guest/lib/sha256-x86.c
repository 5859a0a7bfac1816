// SPDX-License-Identifier: GPL-2.0-only
/*
 * SHA-256 blocks with x86's SHA extensions (Intel SDM vol. 2, SHA256RNDS2,
 * SHA256MSG1, SHA256MSG2), freestanding (crypto.h). Built with SSE and SHA
 * enabled for this file only (guest/Makefile.inc, the Makefile); called
 * only where sha256_x86_usable() said yes, in ring 3 by the launch stub.
 *
 * SHA256RNDS2 does two rounds on the state held as two registers, ABEF
 * (A in the top dword, F in the bottom) and CDGH, with W[t] + K[t] for the
 * two rounds in the low half of its implicit XMM0 operand; the new ABEF is
 * its result and the old ABEF becomes CDGH. SHA256MSG1 and SHA256MSG2
 * compute four words of the message schedule (FIPS 180-4 §6.2.2 step 1)
 * from the sixteen before them, with the W[t-7] terms added in between.
 */
#include <immintrin.h>

#include "crypto.h"

void sha256_blocks_x86(uint32_t h[8], const uint8_t *p, size_t n)
{
	/* Each 32-bit word of the block is big-endian. */
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
	__m128i abcd = _mm_loadu_si128((const __m128i *)&h[0]);
	__m128i efgh = _mm_loadu_si128((const __m128i *)&h[4]);
	__m128i abef, cdgh, t0, t1;

	/* Dwords from the top: (C, D, A, B) and (E, F, G, H). */
	t0 = _mm_shuffle_epi32(abcd, 0xb1);
	t1 = _mm_shuffle_epi32(efgh, 0x1b);
	abef = _mm_alignr_epi8(t0, t1, 8);
	cdgh = _mm_blend_epi16(t1, t0, 0xf0);
	for (; n; n--, p += 64) {
		__m128i abef0 = abef, cdgh0 = cdgh, m[4];

#pragma GCC unroll 16
		for (unsigned int i = 0; i < 16; i++) {
			__m128i w, wk;

			if (i < 4) {
				w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)),
						     bswap);
			} else {
				/* m[i & 3]: W[4i-16..], m[(i+1) & 3]: W[4i-12..], ... */
				w = _mm_sha256msg1_epu32(m[i & 3], m[(i + 1) & 3]);
				w = _mm_add_epi32(w, _mm_alignr_epi8(m[(i + 3) & 3], m[(i + 2) & 3], 4));
				w = _mm_sha256msg2_epu32(w, m[(i + 3) & 3]);
			}
			m[i & 3] = w;
			wk = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&sha256_k[4 * i]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}
	/* Back to A..D and E..H: from the top (F, E, B, A) and (D, C, H, G). */
	t0 = _mm_shuffle_epi32(abef, 0x1b);
	t1 = _mm_shuffle_epi32(cdgh, 0xb1);
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(t0, t1, 0xf0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(t1, t0, 8));
}
