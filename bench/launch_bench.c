// SPDX-License-Identifier: GPL-2.0-only
/*
 * The measured launch's cost (docs/protected.md): the time from nothing
 * to the end of a guest whose image is IMAGE bytes (default 1 MiB) and
 * does nothing but end, for
 *
 *   plain       machine_create() + vm_run() of a Multiboot image of that
 *               size (the ordinary loader copies it into RAM): the anchor;
 *   stub-boot   kestrel's launch stub booted as an ordinary guest with no
 *               boot window (it refuses: status 85): the fixed cost of its
 *               supervisor start-up (guest/x86/launch-entry.S), emulated on
 *               PVM hosts;
 *   protected   the plain image with --protected (RAM from 64 MiB in guest_memfd,
 *               the image still in shared RAM, no measurement);
 *   measured    --protected --measured with a payload of the same size:
 *               the window filled by kestrel, the launch stub booted, the
 *               payload copied into private RAM and measured in ring 3
 *               (with x86's SHA extensions where CPUID offers them), the
 *               window zeroed and removed, the guest sealed, the payload
 *               run;
 *   measured-8M the same with an 8 MiB payload, and
 *   sealed-8M   an 8 MiB sealed image (AES-256-GCM decrypted in ring 3):
 *               from the differences to "measured", the guest's rate of
 *               copy + SHA-256 and of AES-256-GCM.
 *
 * Their anchors, measured in the same run on the host: OpenSSL's SHA-256
 * and AES-256-GCM over 8 MiB (memory speed, what "plus the hashing of the
 * image at memory speed" means), and the guest's own code
 * (guest/lib/sha256.c, sha256-x86.c, aes-gcm.c) built for the host. The
 * target of docs/protected.md, measured <= 1.2 x plain + the SHA-256 of
 * the image at OpenSSL's rate, is printed with both sides. Variants run
 * alternately ITERATIONS times (default 15); medians. Figures only.
 *
 *   launch_bench [ITERATIONS]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <kestrel/compiler.h>
#include <kestrel/launch.h>
#include <kestrel/log.h>
#include <kestrel/machine.h>
#include <kestrel/vm.h>

#include "../guest/lib/crypto.h"

#define RAM_SIZE	(256ULL << 20)
#define SMALL		(1u << 20)
#define LARGE		(8u << 20)
#define LOAD_GPA	0x100000u

enum variant { PLAIN, STUB_BOOT, PROTECTED, MEASURED, MEASURED_8M, SEALED_8M, NR_VARIANTS };

static const char *const names[NR_VARIANTS] = {
	"plain", "stub-boot", "protected", "measured", "measured-8M", "sealed-8M",
};

extern const unsigned char kestrel_launch_stub[];
extern const unsigned char kestrel_launch_stub_end[];

static u8 *multiboot, *payload, *payload_8m, *sealed_8m;
static const u8 key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

/*
 * A Multiboot v1 image of SMALL bytes, a.out-kludge addresses (loaded as
 * is at 1 MiB), whose code ends the run: mov $0, %al; out %al, $0xf4.
 */
static void make_images(void)
{
	static const u32 mb[8] = {
		0x1badb002u, 1u << 16, (u32)-(0x1badb002u + (1u << 16)),
		LOAD_GPA, LOAD_GPA, 0, 0, LOAD_GPA + 32,
	};
	static const u8 code[] = { 0xb0, 0x00, 0xe6, 0xf4, 0xf4, 0xeb, 0xfe };
	/* The payload: xor %eax, %eax; ret (the stub ends the run with it). */
	static const u8 ret0[] = { 0x31, 0xc0, 0xc3 };

	multiboot = calloc(1, SMALL);
	payload = calloc(1, SMALL);
	payload_8m = calloc(1, LARGE);
	sealed_8m = calloc(1, LARGE + sizeof(struct sealed_header));
	if (!multiboot || !payload || !payload_8m || !sealed_8m)
		exit(1);
	memcpy(multiboot, mb, sizeof(mb));
	memcpy(multiboot + 32, code, sizeof(code));
	memcpy(payload, ret0, sizeof(ret0));
	memcpy(payload_8m, ret0, sizeof(ret0));
	for (u32 i = sizeof(ret0); i < LARGE; i++)
		payload_8m[i] = (u8)(i * 7);
	if (launch_seal_image(key, payload_8m, LARGE, sealed_8m))
		exit(1);
}

/* One run to the guest's end; ns, or a negative errno. */
static s64 run_one(enum variant v)
{
	struct machine_config cfg = {
		.ram_size = RAM_SIZE, .nr_cpus = 1, .console_in = -1, .console_out = -1,
		.protected = v >= PROTECTED, .measured = v >= MEASURED,
		.kernel = v == PLAIN || v == PROTECTED ? multiboot : v == MEASURED ? payload :
			  v == MEASURED_8M ? payload_8m : v == SEALED_8M ? sealed_8m :
			  kestrel_launch_stub,
		.kernel_size = v == STUB_BOOT ? (size_t)(kestrel_launch_stub_end - kestrel_launch_stub) :
			       v <= MEASURED ? SMALL : v == MEASURED_8M ? LARGE :
			       LARGE + sizeof(struct sealed_header),
		.image_key = v == SEALED_8M ? key : NULL,
		.kernel_name = names[v],
	};
	struct machine *m;
	u64 t0 = now_ns();
	int status, want = v == STUB_BOOT ? LAUNCH_EXIT_STATUS(LAUNCH_REFUSE_MALFORMED) : 1;
	s64 ret;

	ret = machine_create(&cfg, &m);
	if (ret)
		return ret;
	status = machine_run(m);
	ret = (s64)(now_ns() - t0);
	machine_destroy(m);
	if (status != want) {
		fprintf(stderr, "launch_bench: %s ended with status %d, not %d\n", names[v], status,
			want);
		return -EIO;
	}
	return ret;
}

static int cmp_s64(const void *a, const void *b)
{
	s64 x = *(const s64 *)a, y = *(const s64 *)b;

	return (x > y) - (x < y);
}

static double median_us(s64 *t, unsigned int n)
{
	qsort(t, n, sizeof(*t), cmp_s64);
	return (n % 2 ? (double)t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2.0) / 1000.0;
}

/* MB/s of @fn over LARGE bytes, best of 3. */
static double host_rate(void (*fn)(u8 *buf))
{
	u8 *buf = malloc(LARGE);
	u64 best = ~0ull;

	if (!buf)
		exit(1);
	memcpy(buf, payload_8m, LARGE);
	for (int i = 0; i < 3; i++) {
		u64 t0 = now_ns();

		fn(buf);
		best = MIN(best, now_ns() - t0);
	}
	free(buf);
	return LARGE / (best / 1e3);
}

static void openssl_sha(u8 *buf)
{
	u8 out[32];
	unsigned int n;

	EVP_Digest(buf, LARGE, out, &n, EVP_sha256(), NULL);
}

static void guest_sha(u8 *buf)
{
	struct sha256 s;
	u8 out[32];

	sha256_init(&s);
	sha256_update(&s, buf, LARGE);
	sha256_final(&s, out);
}

static void guest_sha_x86(u8 *buf)
{
	struct sha256 s;
	u8 out[32];

	sha256_init(&s);
	s.blocks = sha256_blocks_x86;
	sha256_update(&s, buf, LARGE);
	sha256_final(&s, out);
}

static void openssl_gcm(u8 *buf)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	u8 iv[12] = { 0 }, tag[16];
	int n;

	EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv);
	EVP_EncryptUpdate(c, buf, &n, buf, LARGE);
	EVP_EncryptFinal_ex(c, buf, &n);
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
	EVP_CIPHER_CTX_free(c);
}

static void guest_gcm(u8 *buf)
{
	u8 iv[12] = { 0 }, tag[16];

	aes256_gcm_encrypt(key, iv, NULL, 0, buf, LARGE, tag);
}

int main(int argc, char **argv)
{
	unsigned int n = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0) : 15;
	s64 *t[NR_VARIANTS];
	double med[NR_VARIANTS], mb = LARGE / 1e6, extra = (LARGE - SMALL) / 1e6;
	double sha_ossl, sha_c, sha_x86, target, per_mb;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("   SKIP: no usable /dev/kvm (%s)\n", strerror(errno));
		return 0;
	}
	close(fd);
	if (!n || n > 10000) {
		fprintf(stderr, "usage: launch_bench [ITERATIONS (1..10000)]\n");
		return 2;
	}
	log_level_set(LOG_WARN);
	make_images();
	for (int v = 0; v < NR_VARIANTS; v++)
		if (!(t[v] = calloc(n, sizeof(s64))))
			return 1;
	/* Round 0 warms up and is not counted. */
	for (unsigned int i = 0; i <= n; i++) {
		for (int v = 0; v < NR_VARIANTS; v++) {
			s64 ns = run_one((enum variant)v);

			if (ns == -EOPNOTSUPP && !i) {
				printf("   SKIP: KVM has no guest_memfd with GUEST_MEMFD_FLAG_MMAP\n");
				return 0;
			}
			if (ns < 0) {
				fprintf(stderr, "launch_bench: %s failed: %s\n", names[v],
					strerror((int)-ns));
				return 1;
			}
			if (i)
				t[v][i - 1] = ns;
		}
	}
	for (int v = 0; v < NR_VARIANTS; v++) {
		med[v] = median_us(t[v], n);
		printf("   %-12s median %9.1f us  (min %.1f, max %.1f)\n", names[v], med[v],
		       t[v][0] / 1000.0, t[v][n - 1] / 1000.0);
		free(t[v]);
	}
	sha_ossl = host_rate(openssl_sha);
	sha_c = host_rate(guest_sha);
	sha_x86 = sha256_x86_usable(sha256_x86_host_features()) ? host_rate(guest_sha_x86) : 0.0;
	target = 1.2 * med[PLAIN] + SMALL / sha_ossl;
	per_mb = (med[MEASURED_8M] - med[MEASURED]) / extra;
	printf("   1 MiB image, start to end, median of %u: protected/plain %.2f, measured/plain %.2f; stub-boot/plain %.2f (its image: %zu KiB)\n",
	       n, med[PROTECTED] / med[PLAIN], med[MEASURED] / med[PLAIN],
	       med[STUB_BOOT] / med[PLAIN],
	       (size_t)(kestrel_launch_stub_end - kestrel_launch_stub) >> 10);
	printf("   target: measured <= 1.2 x plain + SHA-256 of 1 MiB at OpenSSL's rate = %.2f + %.2f = %.2f ms; measured %.2f ms: %s\n",
	       1.2 * med[PLAIN] / 1e3, SMALL / sha_ossl / 1e3, target / 1e3, med[MEASURED] / 1e3,
	       med[MEASURED] <= target ? "met" : "not met");
	printf("   measured launch per extra MB (8M - 1M): %.2f ms (%.0f MB/s), of which %.2f ms the guest's SHA-256 at its rate on the host, the rest the window's fill and zeroing and the copy into fresh private pages\n",
	       per_mb / 1e3, 1e6 / per_mb, 1e3 / (sha_x86 ? sha_x86 : sha_c));
	printf("   AES-256-GCM in ring 3: %.1f MB/s\n",
	       mb / ((med[SEALED_8M] - med[MEASURED_8M]) / 1e6));
	printf("   anchors on the host, 8 MiB: SHA-256 OpenSSL %.0f MB/s, guest C %.0f MB/s, guest x86 SHA extensions %.0f MB/s; AES-256-GCM OpenSSL %.0f MB/s, guest C %.1f MB/s\n",
	       sha_ossl, sha_c, sha_x86, host_rate(openssl_gcm), host_rate(guest_gcm));
	return 0;
}
