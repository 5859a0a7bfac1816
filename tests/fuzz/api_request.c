// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: sequences of API requests fed to api_handle() of one
 * instance with a fake VMM (so InstanceStart, pause and the post-boot
 * rules are reached), then the rest of the input as a --config-file
 * document. Each record is
 *
 *   u8 method (low 2 bits: GET, PUT, PATCH, other; bit 7: last record,
 *      the rest is a config file) | path up to '\n' | u16 body length | body
 *
 * Every answer must be 200 with a JSON body, 204 without one, or 400 with
 * {"fault_message": string}. The sources are built with open() routed to
 * fuzz_open(), which opens nothing outside FUZZ_DIR: a drive path or
 * log_path the fuzzer invents never reaches a real device or file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/api/internal.h"
#include "../unit/api/fake_vmm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_open(const char *path, int flags, ...);

#define CHECK(c)	do { if (!(c)) __builtin_trap(); } while (0)
#define FUZZ_DIR	"/tmp/kestrel-fuzz-api"

int fuzz_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	va_start(ap, flags);
	if (flags & O_CREAT)
		mode = va_arg(ap, mode_t);
	va_end(ap);
	if (strncmp(path, FUZZ_DIR "/", strlen(FUZZ_DIR) + 1) || strstr(path, "..")) {
		errno = ENOENT;
		return -1;
	}
	return openat(AT_FDCWD, path, flags, mode);
}

static void check_response(const struct api_response *r)
{
	json_t *j;

	if (r->status == 204) {
		CHECK(!r->body);
		return;
	}
	CHECK(r->status == 200 || r->status == 400);
	CHECK(r->body);
	j = json_loads(r->body, 0, NULL);
	CHECK(j);
	if (r->status == 400)
		CHECK(json_is_string(json_object_get(j, "fault_message")));
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool once;
	struct fake_vmm f;
	struct api *api;
	char err[API_ERR_MAX];

	if (!once) {
		once = true;
		mkdir(FUZZ_DIR, 0700);
		close(openat(AT_FDCWD, FUZZ_DIR "/disk", O_RDWR | O_CREAT, 0600));
		log_level_set(LOG_ERR);
	}
	fake_vmm_init(&f);
	CHECK(!api_create(&f.vmm, "fuzz", &api));
	while (size) {
		u8 m = data[0];
		const u8 *nl;
		char path[257];
		size_t plen, blen;
		struct api_response r;

		data++, size--;
		if (m & 0x80)
			break;
		nl = memchr(data, '\n', MIN(size, sizeof(path) - 1));
		plen = nl ? (size_t)(nl - data) : MIN(size, sizeof(path) - 1);
		memcpy(path, data, plen);
		path[plen] = '\0';
		data += plen + (nl ? 1 : 0);
		size -= plen + (nl ? 1 : 0);
		blen = size >= 2 ? MIN((size_t)(data[0] | data[1] << 8), size - 2) : 0;
		data += MIN(size, 2), size -= MIN(size, 2);
		/* The odd fake failure, so every op's error path is taken too. */
		f.fail_next = (m & 0x40) ? -EIO : 0;
		api_handle(api, (enum api_method)(m & 3), path, (const char *)data, blen, &r);
		check_response(&r);
		free(r.body);
		data += blen, size -= blen;
	}
	if (size && api_load_config(api, (const char *)data, size, err, sizeof(err)))
		CHECK(err[0]);
	api_destroy(api);
	api_logger_close();
	log_level_set(LOG_ERR);
	return 0;
}
