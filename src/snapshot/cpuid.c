// SPDX-License-Identifier: GPL-2.0-only
/*
 * The static kestrel's hold on libcrypto's CPU feature probe.
 *
 * libcrypto.a calls OPENSSL_cpuid_setup() from its .init section, so the
 * probe would run at every start of kestrel, faulting two 64 KiB blocks of
 * libcrypto's text in, though only a snapshot uses the library (peak RSS,
 * docs/snapshot.md). kestrel links with -Wl,--wrap=OPENSSL_cpuid_setup
 * (Makefile, static builds only, with this file): the .init call lands in
 * the empty __wrap_ function and snap_crypto_cpu_probe(), which the
 * snapshot code calls before its first use of the library, runs the real
 * probe (once: it keeps its own guard). Dynamic links (the tests, the
 * sanitizer build) leave this file out; the library's .init probes there.
 */
#include <kestrel/snapshot.h>

void __wrap_OPENSSL_cpuid_setup(void);
void __real_OPENSSL_cpuid_setup(void);

void __wrap_OPENSSL_cpuid_setup(void)
{
}

void snap_crypto_cpu_probe(void)
{
	__real_OPENSSL_cpuid_setup();
}
