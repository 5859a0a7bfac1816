// SPDX-License-Identifier: GPL-2.0-only
/*
 * Snapshot files (include/kestrel/snapshot.h, docs/snapshot.md).
 *
 * The state file is small (registers and device state, a few KiB per
 * vCPU): it is built in memory, then written or read whole. The memory
 * file is as large as guest RAM: written page run by page run, zero pages
 * skipped so they stay holes, and restored by mapping it MAP_PRIVATE over
 * guest RAM (plain) or by decrypting it chunk by chunk (encrypted).
 *
 * Encryption: one AES-256-GCM key per snapshot, HMAC-SHA256(user key,
 * label || snapshot id), the id being 16 random bytes. A chunk's 96-bit
 * nonce is (file kind, chunk index): unique under that key, so no nonce
 * is ever used twice with one key. The AAD of every chunk is the file's
 * header (which names the id, the chunk count and the plaintext length)
 * plus the file kind and the chunk index, so a chunk moved, a file cut
 * short, a header edited or a file of another snapshot fails its tag.
 */
#include <kestrel/snapshot.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* SHA256_Init() and co., deprecated in 3.0: see section_sha256() */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/parse.h>
#include <kestrel/memory.h>

#define SNAP_VERSION		1
#define SNAP_F_ENCRYPTED	(1u << 0)
#define SNAP_F_DIFF		(1u << 1)
#define SNAP_CHUNK		(64u * 1024)
#define SNAP_TAG		16
#define SNAP_MEM_DATA_OFF	4096
#define SNAP_STATE_MAX		(64u << 20)	/* state file bytes we accept */
#define SNAP_MAX_SECTIONS	8192
#define SNAP_PAGE		4096

#define SNAP_KIND_STATE		1
#define SNAP_KIND_MEMORY	2

static const char state_magic[8] = "KSTRLSNP";
static const char memory_magic[8] = "KSTRLMEM";
static const char key_label[] = "kestrel snapshot key v1";
static const char check_label[] = "kestrel snapshot key check";

/* Both files start with this (little-endian, as the whole format). */
struct snap_file_header {
	char magic[8];
	u32 version;
	u32 flags;
	u8 id[16];
	u64 nr_chunks;		/* encrypted: chunks that follow; plain: 0 */
	u64 body_len;		/* plaintext bytes: sections, or RAM */
	u8 key_check[16];	/* encrypted: proves the key; plain: zero */
};
_Static_assert(sizeof(struct snap_file_header) == 64, "snapshot header layout");

struct snap_section_header {
	u32 type;
	u32 instance;
	u64 len;
	u8 sha256[SHA256_DIGEST_LENGTH];
};
_Static_assert(sizeof(struct snap_section_header) == 48, "snapshot section layout");

struct snap_writer {
	u8 *buf;
	size_t len, cap;
	char *diff_base;		/* diff: the base's memory file */
	u8 diff_base_id[16];
	const u64 *const *dirty;	/* diff: per region, pages to write */
};

struct snap_section {
	u32 type, instance;
	const u8 *data;
	size_t len;
};

struct snap_reader {
	struct snap_file_header hdr;
	struct snap_file_header mem_hdr;
	bool encrypted;
	u8 file_key[32];
	u8 *body;
	size_t body_len;
	struct snap_section *secs;
	unsigned int nr_secs;
	int mem_fd;
	char *mem_path;
};

/*
 * A section's checksum. SHA256_Init/Update/Final rather than EVP: a
 * restore checks every section before it uses any, and the first EVP
 * digest in a process costs about 0.6 ms here (OpenSSL 3 loads its default
 * provider and builds its method store), a quarter of a whole restore;
 * these calls go straight to the same SHA-256 code. They are deprecated in
 * OpenSSL 3.0 (kept through 3.x): where they go, EVP_Q_digest() is the
 * drop-in, at that cost. Encryption keeps EVP (AES-256-GCM, HMAC).
 */
static void section_sha256(const void *data, size_t len, u8 out[SHA256_DIGEST_LENGTH])
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, data, len);
	SHA256_Final(out, &c);
}

/* ---- keys and chunks ------------------------------------------------------- */

/*
 * The library as the static binary needs it: built-in algorithms only, no
 * openssl.cnf read (nothing opened behind the caller's back).
 */
static int crypto_init(void)
{
	if (snap_crypto_cpu_probe)	/* the static kestrel: src/snapshot/cpuid.c */
		snap_crypto_cpu_probe();
	return OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) ? 0 : -EIO;
}


int snap_key_load(const char *path, struct snap_key *out, char *err, size_t errlen)
{
	u8 buf[SNAP_KEY_SIZE + 1];
	ssize_t n;
	int fd, ret;

	if (crypto_init())
		return -EIO;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return ret;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n != SNAP_KEY_SIZE) {
		OPENSSL_cleanse(buf, sizeof(buf));
		return parse_fail(err, errlen, "'%s' is not a key: a key file holds exactly %d bytes",
			    path, SNAP_KEY_SIZE);
	}
	memcpy(out->bytes, buf, SNAP_KEY_SIZE);
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static int derive_key(const struct snap_key *key, const u8 id[16], u8 out[32], u8 check[16])
{
	u8 msg[sizeof(key_label) + 16], mac[32];
	unsigned int len = 32;

	memcpy(msg, key_label, sizeof(key_label));
	memcpy(msg + sizeof(key_label), id, 16);
	if (!HMAC(EVP_sha256(), key->bytes, SNAP_KEY_SIZE, msg, sizeof(msg), out, &len))
		return -EIO;
	len = 32;
	if (!HMAC(EVP_sha256(), out, 32, (const u8 *)check_label, sizeof(check_label), mac, &len))
		return -EIO;
	memcpy(check, mac, 16);
	return 0;
}

/*
 * Encrypt (@enc) or decrypt-and-verify @len bytes of chunk @index of a
 * file of @kind in place; the tag is written to / checked against @tag.
 * Return: 0, -EBADMSG if the tag does not match, -EIO on a library error.
 */
static int chunk_crypt(EVP_CIPHER_CTX *ctx, bool enc, const u8 key[32],
		       const struct snap_file_header *hdr, u32 kind, u64 index,
		       u8 *data, size_t len, u8 tag[SNAP_TAG])
{
	u8 iv[12], aad[sizeof(*hdr) + 12];
	int outl, ok;

	memcpy(iv, &kind, 4);
	memcpy(iv + 4, &index, 8);
	memcpy(aad, hdr, sizeof(*hdr));
	memcpy(aad + sizeof(*hdr), iv, sizeof(iv));
	ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv, enc) &&
	     EVP_CipherUpdate(ctx, NULL, &outl, aad, sizeof(aad));
	if (ok && len)
		ok = EVP_CipherUpdate(ctx, data, &outl, data, (int)len);
	if (!ok)
		return -EIO;
	if (enc) {
		ok = EVP_CipherFinal_ex(ctx, data + len, &outl) &&
		     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SNAP_TAG, tag);
		return ok ? 0 : -EIO;
	}
	if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SNAP_TAG, tag))
		return -EIO;
	return EVP_CipherFinal_ex(ctx, data + len, &outl) ? 0 : -EBADMSG;
}

static u64 chunks_of(u64 len)
{
	return (len + SNAP_CHUNK - 1) / SNAP_CHUNK;
}

static size_t chunk_len(u64 total, u64 index)
{
	u64 off = index * SNAP_CHUNK;

	return (size_t)MIN((u64)SNAP_CHUNK, total - off);
}

/* ---- RAM as one stream: the regions in address order ------------------------ */

/* Copy @len bytes at stream offset @off between RAM and @buf. */
static void ram_copy(struct address_space *as, u64 off, u8 *buf, size_t len, bool to_ram)
{
	unsigned int n = address_space_nr_regions(as);
	u64 base = 0;

	for (unsigned int i = 0; i < n && len; i++) {
		const struct mem_region *r = address_space_region(as, i);
		u64 in, take;

		if (off >= base + r->size) {
			base += r->size;
			continue;
		}
		in = off - base;
		take = MIN((u64)len, r->size - in);
		if (to_ram)
			memcpy((u8 *)r->hva + in, buf, take);
		else
			memcpy(buf, (u8 *)r->hva + in, take);
		buf += take;
		len -= take;
		off += take;
		base += r->size;
	}
}

static bool is_zero(const u8 *p, size_t len)
{
	const u64 *w = (const u64 *)p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i])
			return false;
	for (size_t i = len & ~(size_t)7; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- writing --------------------------------------------------------------- */

int snap_writer_create(struct snap_writer **out)
{
	struct snap_writer *w;

	if (crypto_init())
		return -EIO;
	w = xzalloc(sizeof(*w));

	if (!w)
		return -ENOMEM;
	*out = w;
	return 0;
}

void snap_writer_destroy(struct snap_writer *w)
{
	if (!w)
		return;
	if (w->buf)
		munmap(w->buf, w->cap);
	free(w->diff_base);
	free(w);
}

int snap_writer_set_diff(struct snap_writer *w, const char *base_path, const u8 base_id[16],
			 const u64 *const *dirty)
{
	if (base_path[0] != '/' || strlen(base_path) >= 4096)
		return -EINVAL;
	free(w->diff_base);
	w->diff_base = strdup(base_path);
	if (!w->diff_base)
		return -ENOMEM;
	memcpy(w->diff_base_id, base_id, 16);
	w->dirty = dirty;
	return 0;
}

int snap_write_section(struct snap_writer *w, u32 type, u32 instance, const void *data,
		       size_t len)
{
	struct snap_section_header h = { .type = type, .instance = instance, .len = len };
	size_t need = sizeof(h) + ALIGN_UP(len, 8);

	if (len > SNAP_STATE_MAX || w->len + need > SNAP_STATE_MAX)
		return -E2BIG;
	if (w->len + need > w->cap) {
		/*
		 * Mapped, not malloc()ed: glibc trims a thread's heap after a
		 * large free and first opens /proc/sys/vm/overcommit_memory to
		 * know whether it may, an open the filters of the threads that
		 * write snapshots refuse (docs/sandbox.md).
		 */
		size_t cap = ALIGN_UP(MAX(w->cap * 2, w->len + need + 4096), 4096);
		u8 *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return -ENOMEM;
		if (w->buf) {
			memcpy(p, w->buf, w->len);
			munmap(w->buf, w->cap);
		}
		w->buf = p;
		w->cap = cap;
	}
	section_sha256(data, len, h.sha256);
	memcpy(w->buf + w->len, &h, sizeof(h));
	if (len)
		memcpy(w->buf + w->len + sizeof(h), data, len);
	memset(w->buf + w->len + sizeof(h) + len, 0, ALIGN_UP(len, 8) - len);
	w->len += need;
	return 0;
}

static int write_all(int fd, const void *buf, size_t len, off_t off)
{
	const u8 *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Plain RAM: runs of non-zero pages at their offsets; zero pages stay holes. */
static int memory_write_plain(int fd, struct address_space *as)
{
	unsigned int n = address_space_nr_regions(as);
	off_t base = SNAP_MEM_DATA_OFF;

	for (unsigned int i = 0; i < n; i++) {
		const struct mem_region *r = address_space_region(as, i);
		const u8 *p = r->hva;

		for (u64 off = 0; off < r->size;) {
			u64 end;
			int ret;

			if (is_zero(p + off, SNAP_PAGE)) {
				off += SNAP_PAGE;
				continue;
			}
			for (end = off + SNAP_PAGE; end < r->size && !is_zero(p + end, SNAP_PAGE);)
				end += SNAP_PAGE;
			ret = write_all(fd, p + off, end - off, base + (off_t)off);
			if (ret)
				return ret;
			off = end;
		}
		base += (off_t)r->size;
	}
	return 0;
}

/* Diff RAM: exactly the dirty pages, zero or not, at their offsets. */
static int memory_write_diff(int fd, struct address_space *as, const u64 *const *dirty)
{
	unsigned int n = address_space_nr_regions(as);
	off_t base = SNAP_MEM_DATA_OFF;

	for (unsigned int i = 0; i < n; i++) {
		const struct mem_region *r = address_space_region(as, i);
		const u8 *p = r->hva;
		u64 pages = r->size / SNAP_PAGE;

		for (u64 pg = 0; pg < pages;) {
			u64 end;
			int ret;

			if (!(dirty[i][pg / 64] & (1ULL << (pg % 64)))) {
				pg++;
				continue;
			}
			for (end = pg + 1; end < pages && (dirty[i][end / 64] & (1ULL << (end % 64)));)
				end++;
			ret = write_all(fd, p + pg * SNAP_PAGE, (end - pg) * SNAP_PAGE,
					base + (off_t)(pg * SNAP_PAGE));
			if (ret)
				return ret;
			pg = end;
		}
		base += (off_t)r->size;
	}
	return 0;
}

/* Encrypted RAM: every non-zero chunk sealed at its slot; zero chunks in @zmap. */
static int memory_write_encrypted(int fd, struct address_space *as, const u8 key[32],
				  const struct snap_file_header *hdr, u8 *zmap)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	u64 total = hdr->body_len;
	u8 *buf = malloc(SNAP_CHUNK + SNAP_TAG);
	int ret = 0;

	if (!ctx || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (u64 i = 0; i < hdr->nr_chunks; i++) {
		size_t len = chunk_len(total, i);

		ram_copy(as, i * SNAP_CHUNK, buf, len, false);
		if (is_zero(buf, len)) {
			zmap[i / 8] |= (u8)(1u << (i % 8));
			continue;
		}
		ret = chunk_crypt(ctx, true, key, hdr, SNAP_KIND_MEMORY, i, buf, len, buf + len);
		if (!ret)
			ret = write_all(fd, buf, len + SNAP_TAG,
					SNAP_MEM_DATA_OFF + (off_t)(i * (SNAP_CHUNK + SNAP_TAG)));
		if (ret)
			break;
	}
out:
	OPENSSL_cleanse(buf, buf ? SNAP_CHUNK + SNAP_TAG : 0);
	free(buf);
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

static void id_hex(const u8 id[16], char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* "@path" -> ".@base.tmp" in the same directory, opened for writing. */
static int open_tmp(const char *path, char *tmp, size_t len)
{
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash)
		snprintf(tmp, len, "%.*s/.%s.tmp", (int)(slash - path), path, slash + 1);
	else
		snprintf(tmp, len, ".%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

static int finish_file(int fd, const char *tmp, const char *path)
{
	int ret = 0;

	if (fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* fsync() the directory @path is in (its rename is then durable). */
static int fsync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int fd, ret = 0;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + 1 : 1,
		 slash ? path : ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Memory files of earlier snapshots in @dir, now that @keep is the one, and
 * temporary files a crashed writer left behind.
 */
static void remove_old_memory(const char *dir, const char *keep)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[4096];

		if ((strncmp(e->d_name, "memory-", 7) && strncmp(e->d_name, ".memory-", 8)) ||
		    !strcmp(e->d_name, keep))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
}

/* The memory file, then its zero-chunk map as a section (encrypted). */
static int commit_memory(struct snap_writer *w, const char *path, const struct snap_key *key,
			 const u8 file_key[32], const struct snap_file_header *shdr,
			 struct address_space *as, char *err, size_t errlen)
{
	struct snap_file_header mh = *shdr;
	u64 ram = address_space_ram_size(as), end;
	char tmp[4096];
	u8 *zmap = NULL;
	int fd, ret;

	memcpy(mh.magic, memory_magic, sizeof(mh.magic));
	mh.body_len = ram;
	mh.nr_chunks = key ? chunks_of(ram) : 0;
	end = SNAP_MEM_DATA_OFF + (key ? mh.nr_chunks * SNAP_TAG + ram : ram);
	fd = open_tmp(path, tmp, sizeof(tmp));
	if (fd < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", tmp, strerror(-fd));
		return fd;
	}
	ret = write_all(fd, &mh, sizeof(mh), 0);
	if (!ret && ftruncate(fd, (off_t)end) < 0)
		ret = -errno;
	if (!ret && key) {
		zmap = xzalloc(mh.nr_chunks / 8 + 1);
		ret = zmap ? memory_write_encrypted(fd, as, file_key, &mh, zmap) : -ENOMEM;
		if (!ret)
			ret = snap_write_section(w, SNAP_SEC_MEM_ZERO, 0, zmap, mh.nr_chunks / 8 + 1);
		free(zmap);
	} else if (!ret && w->dirty) {
		ret = memory_write_diff(fd, as, w->dirty);
	} else if (!ret) {
		ret = memory_write_plain(fd, as);
	}
	if (ret) {
		close(fd);
		unlink(tmp);
	} else {
		ret = finish_file(fd, tmp, path);
	}
	if (ret)
		snprintf(err, errlen, "cannot write the memory file '%s': %s", path,
			 strerror(-ret));
	return ret;
}

static int commit_state(struct snap_writer *w, const char *path, const u8 *file_key,
			struct snap_file_header *hdr, char *err, size_t errlen)
{
	EVP_CIPHER_CTX *ctx = NULL;
	size_t out_len = sizeof(*hdr) + w->len + (size_t)hdr->nr_chunks * SNAP_TAG;
	u8 *out = malloc(out_len);
	char tmp[4096];
	int fd, ret = 0;

	if (!out)
		return -ENOMEM;
	memcpy(out, hdr, sizeof(*hdr));
	if (file_key) {
		u8 *p = out + sizeof(*hdr);

		ctx = EVP_CIPHER_CTX_new();
		if (!ctx)
			ret = -ENOMEM;
		for (u64 i = 0; !ret && i < hdr->nr_chunks; i++) {
			size_t len = chunk_len(w->len, i);

			memcpy(p, w->buf + i * SNAP_CHUNK, len);
			ret = chunk_crypt(ctx, true, file_key, hdr, SNAP_KIND_STATE, i, p, len,
					  p + len);
			p += len + SNAP_TAG;
		}
		EVP_CIPHER_CTX_free(ctx);
	} else {
		memcpy(out + sizeof(*hdr), w->buf, w->len);
	}
	if (ret)
		goto out;
	fd = open_tmp(path, tmp, sizeof(tmp));
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	ret = write_all(fd, out, out_len, 0);
	if (ret) {
		close(fd);
		unlink(tmp);
	} else {
		ret = finish_file(fd, tmp, path);
	}
out:
	if (ret)
		snprintf(err, errlen, "cannot write the state file '%s': %s", path,
			 strerror(-ret));
	free(out);
	return ret;
}

/*
 * Write both files: the memory file at @mem_path or, when NULL, as
 * "memory-<id>" in @dir, whose older memory files then go.
 */
static int writer_commit(struct snap_writer *w, const char *state_path, const char *mem_path,
			 const char *dir, const struct snap_key *key, struct address_space *as,
			 char *err, size_t errlen)
{
	struct snap_file_header hdr = { .version = SNAP_VERSION };
	u8 file_key[32];
	char name[64], hex[33], path[4096];
	int ret;

	err[0] = '\0';
	memcpy(hdr.magic, state_magic, sizeof(hdr.magic));
	if (getrandom(hdr.id, sizeof(hdr.id), 0) != sizeof(hdr.id)) {
		snprintf(err, errlen, "cannot draw a snapshot id: %s", strerror(errno));
		return -EIO;
	}
	if (w->dirty) {
		u8 sec[16 + 4096];
		size_t plen = strlen(w->diff_base) + 1;

		if (key) {
			snprintf(err, errlen, "diff snapshots cannot be encrypted yet");
			return -EOPNOTSUPP;
		}
		hdr.flags |= SNAP_F_DIFF;
		memcpy(sec, w->diff_base_id, 16);
		memcpy(sec + 16, w->diff_base, plen);
		ret = snap_write_section(w, SNAP_SEC_DIFF_BASE, 0, sec, 16 + plen);
		if (ret)
			return ret;
	}
	if (key) {
		hdr.flags = SNAP_F_ENCRYPTED;
		ret = derive_key(key, hdr.id, file_key, hdr.key_check);
		if (ret) {
			snprintf(err, errlen, "cannot derive the snapshot key");
			return ret;
		}
	}
	id_hex(hdr.id, hex);
	snprintf(name, sizeof(name), "memory-%s", hex);
	if (!mem_path) {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		mem_path = path;
	}
	ret = commit_memory(w, mem_path, key, file_key, &hdr, as, err, errlen);
	if (!ret)
		ret = snap_write_section(w, SNAP_SEC_END, 0, NULL, 0);
	if (!ret) {
		hdr.body_len = w->len;
		hdr.nr_chunks = key ? chunks_of(w->len) : 0;
		ret = commit_state(w, state_path, key ? file_key : NULL, &hdr, err, errlen);
	}
	if (!ret)
		ret = fsync_dir(state_path);
	/* A diff's base may be one of them. */
	if (!ret && dir && !w->dirty)
		remove_old_memory(dir, name);
	else if (ret && !err[0])
		snprintf(err, errlen, "cannot write the snapshot '%s': %s", state_path,
			 strerror(-ret));
	OPENSSL_cleanse(file_key, sizeof(file_key));
	return ret;
}

int snap_writer_commit(struct snap_writer *w, const char *dir, const struct snap_key *key,
		       struct address_space *as, char *err, size_t errlen)
{
	char state[4096];

	snprintf(state, sizeof(state), "%s/state", dir);
	return writer_commit(w, state, NULL, dir, key, as, err, errlen);
}

int snap_writer_commit_files(struct snap_writer *w, const char *state_path,
			     const char *mem_path, const struct snap_key *key,
			     struct address_space *as, char *err, size_t errlen)
{
	return writer_commit(w, state_path, mem_path, NULL, key, as, err, errlen);
}

/* ---- reading --------------------------------------------------------------- */

void snap_reader_destroy(struct snap_reader *r)
{
	if (!r)
		return;
	if (r->mem_fd >= 0)
		close(r->mem_fd);
	free(r->mem_path);
	OPENSSL_cleanse(r->file_key, sizeof(r->file_key));
	free(r->body);
	free(r->secs);
	free(r);
}

static int read_file(const char *path, u8 **out, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	u8 *buf;
	size_t done = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)SNAP_STATE_MAX + (off_t)sizeof(struct snap_file_header) +
	    (off_t)(SNAP_STATE_MAX / SNAP_CHUNK + 1) * SNAP_TAG) {
		close(fd);
		return parse_fail(err, errlen, "'%s' is not a snapshot state file (not a regular file of at most %u MiB)",
			    path, SNAP_STATE_MAX >> 20);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	close(fd);
	if (ret) {
		free(buf);
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(-ret));
		return ret;
	}
	*out = buf;
	*len = done;
	return 0;
}

static int check_header(const struct snap_file_header *h, const char *magic, const char *what,
			char *err, size_t errlen)
{
	if (memcmp(h->magic, magic, sizeof(h->magic)))
		return parse_fail(err, errlen, "the %s is not a kestrel snapshot file", what);
	if (h->version != SNAP_VERSION)
		return parse_fail(err, errlen, "the %s has format version %u (this kestrel reads %u)",
			    what, h->version, SNAP_VERSION);
	if (h->flags & ~(SNAP_F_ENCRYPTED | SNAP_F_DIFF) ||
	    (h->flags & SNAP_F_ENCRYPTED && h->flags & SNAP_F_DIFF))
		return parse_fail(err, errlen, "the %s has unknown flags %#x", what, h->flags);
	return 0;
}

/* Split the plaintext body into sections, checking each one. */
static int parse_sections(struct snap_reader *r, char *err, size_t errlen)
{
	size_t off = 0;

	r->secs = xzalloc(SNAP_MAX_SECTIONS * sizeof(*r->secs));
	if (!r->secs)
		return -ENOMEM;
	for (;;) {
		struct snap_section_header h;
		u8 sum[SHA256_DIGEST_LENGTH];

		if (r->body_len - off < sizeof(h))
			return parse_fail(err, errlen, "state file: section %u is cut short", r->nr_secs);
		memcpy(&h, r->body + off, sizeof(h));
		off += sizeof(h);
		if (h.len > r->body_len - off || ALIGN_UP(h.len, 8) > r->body_len - off)
			return parse_fail(err, errlen, "state file: section %u (type %#x) runs past the end",
				    r->nr_secs, h.type);
		section_sha256(r->body + off, h.len, sum);
		if (memcmp(sum, h.sha256, sizeof(sum)))
			return parse_fail(err, errlen, "state file: section %u (type %#x) fails its checksum",
				    r->nr_secs, h.type);
		if (h.type == SNAP_SEC_END) {
			if (off != r->body_len || h.len)
				return parse_fail(err, errlen, "state file: data after the end section");
			return 0;
		}
		for (unsigned int i = 0; i < r->nr_secs; i++)
			if (r->secs[i].type == h.type && r->secs[i].instance == h.instance)
				return parse_fail(err, errlen, "state file: section type %#x instance %u twice",
					    h.type, h.instance);
		if (r->nr_secs == SNAP_MAX_SECTIONS)
			return parse_fail(err, errlen, "state file: more than %d sections",
				    SNAP_MAX_SECTIONS);
		r->secs[r->nr_secs++] = (struct snap_section){
			.type = h.type, .instance = h.instance,
			.data = r->body + off, .len = (size_t)h.len,
		};
		off += ALIGN_UP(h.len, 8);
	}
}

/* Decrypt (or take) the body of the state file in @file. */
static int state_body(struct snap_reader *r, const struct snap_key *key, u8 *file,
		      size_t file_len, char *err, size_t errlen)
{
	const struct snap_file_header *h = &r->hdr;
	size_t payload = file_len - sizeof(*h);
	EVP_CIPHER_CTX *ctx;
	u8 check[16];
	u8 *src, *dst;
	int ret = 0;

	if (!r->encrypted) {
		if (key)
			return parse_fail(err, errlen, "the snapshot is not encrypted, but a key was given");
		if (h->nr_chunks || h->body_len != payload)
			return parse_fail(err, errlen, "state file: %zu bytes of sections, the header says %llu (truncated or altered)",
				    payload, (unsigned long long)h->body_len);
		r->body = malloc(payload + 1);
		if (!r->body)
			return -ENOMEM;
		memcpy(r->body, file + sizeof(*h), payload);
		r->body_len = payload;
		return 0;
	}
	if (!key)
		return parse_fail(err, errlen, "the snapshot is encrypted: give its key (--snapshot-key FILE)");
	if (derive_key(key, h->id, r->file_key, check))
		return -EIO;
	if (CRYPTO_memcmp(check, h->key_check, sizeof(check)))
		return parse_fail(err, errlen, "wrong key for this snapshot (or its header was altered)");
	if (h->body_len > SNAP_STATE_MAX || h->nr_chunks != chunks_of(h->body_len) ||
	    payload != h->body_len + h->nr_chunks * SNAP_TAG)
		return parse_fail(err, errlen, "state file: %zu bytes, the header says %llu in %llu chunks (truncated or altered)",
			    payload, (unsigned long long)h->body_len,
			    (unsigned long long)h->nr_chunks);
	r->body = malloc(h->body_len + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (!r->body || !ctx) {
		EVP_CIPHER_CTX_free(ctx);
		return -ENOMEM;
	}
	src = file + sizeof(*h);
	dst = r->body;
	for (u64 i = 0; !ret && i < h->nr_chunks; i++) {
		size_t len = chunk_len(h->body_len, i);

		ret = chunk_crypt(ctx, false, r->file_key, h, SNAP_KIND_STATE, i, src, len,
				  src + len);
		if (ret == -EBADMSG)
			ret = parse_fail(err, errlen, "state file: chunk %llu does not authenticate (altered, moved or from another snapshot)",
				   (unsigned long long)i);
		memcpy(dst, src, len);
		src += len + SNAP_TAG;
		dst += len;
	}
	EVP_CIPHER_CTX_free(ctx);
	r->body_len = h->body_len;
	return ret;
}

static int open_memory(struct snap_reader *r, const char *path, char *err, size_t errlen)
{
	struct stat st;
	u64 want;
	ssize_t n;
	int ret;

	r->mem_path = realpath(path, NULL);
	r->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->mem_fd < 0 || !r->mem_path)
		return parse_fail(err, errlen, "cannot open the memory file '%s': %s", path,
			    strerror(errno));
	n = pread(r->mem_fd, &r->mem_hdr, sizeof(r->mem_hdr), 0);
	if (n != (ssize_t)sizeof(r->mem_hdr))
		return parse_fail(err, errlen, "memory file: shorter than its header");
	ret = check_header(&r->mem_hdr, memory_magic, "memory file", err, errlen);
	if (ret)
		return ret;
	if (memcmp(r->mem_hdr.id, r->hdr.id, sizeof(r->hdr.id)) ||
	    r->mem_hdr.flags != r->hdr.flags || memcmp(r->mem_hdr.key_check, r->hdr.key_check, 16))
		return parse_fail(err, errlen, "memory file: belongs to another snapshot");
	if (r->mem_hdr.body_len % SNAP_PAGE || r->mem_hdr.body_len > (1ULL << 42) ||
	    r->mem_hdr.nr_chunks != (r->encrypted ? chunks_of(r->mem_hdr.body_len) : 0))
		return parse_fail(err, errlen, "memory file: impossible size in its header");
	want = SNAP_MEM_DATA_OFF + r->mem_hdr.body_len + r->mem_hdr.nr_chunks * SNAP_TAG;
	if (fstat(r->mem_fd, &st) < 0 || (u64)st.st_size != want)
		return parse_fail(err, errlen, "memory file: %lld bytes, expected %llu (truncated or altered)",
			    (long long)st.st_size, (unsigned long long)want);
	return 0;
}

static int reader_open(const char *path, const char *mem_path, const char *dir,
		       const struct snap_key *key, struct snap_reader **out, char *err,
		       size_t errlen)
{
	struct snap_reader *r;
	char mem[4096], hex[33];
	u8 *file = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	err[0] = '\0';
	if (crypto_init())
		return -EIO;
	r = xzalloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->mem_fd = -1;
	ret = read_file(path, &file, &len, err, errlen);
	if (ret)
		goto err_destroy;
	if (len < sizeof(r->hdr)) {
		ret = parse_fail(err, errlen, "state file: shorter than its header");
		goto err_destroy;
	}
	memcpy(&r->hdr, file, sizeof(r->hdr));
	ret = check_header(&r->hdr, state_magic, "state file", err, errlen);
	if (ret)
		goto err_destroy;
	r->encrypted = r->hdr.flags & SNAP_F_ENCRYPTED;
	ret = state_body(r, key, file, len, err, errlen);
	if (!ret)
		ret = parse_sections(r, err, errlen);
	if (!ret && !mem_path) {
		id_hex(r->hdr.id, hex);
		snprintf(mem, sizeof(mem), "%s/memory-%s", dir, hex);
		mem_path = mem;
	}
	if (!ret)
		ret = open_memory(r, mem_path, err, errlen);
	if (ret)
		goto err_destroy;
	free(file);
	*out = r;
	return 0;

err_destroy:
	if (!err[0])
		snprintf(err, errlen, "cannot read the snapshot: %s", strerror(-ret));
	free(file);
	snap_reader_destroy(r);
	return ret;
}

int snap_reader_open(const char *dir, const struct snap_key *key, struct snap_reader **out,
		     char *err, size_t errlen)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/state", dir);
	return reader_open(path, NULL, dir, key, out, err, errlen);
}

int snap_reader_open_files(const char *state_path, const char *mem_path,
			   const struct snap_key *key, struct snap_reader **out, char *err,
			   size_t errlen)
{
	return reader_open(state_path, mem_path, NULL, key, out, err, errlen);
}

int snap_read_section(struct snap_reader *r, u32 type, u32 instance, const void **data,
		      size_t *len)
{
	for (unsigned int i = 0; i < r->nr_secs; i++) {
		if (r->secs[i].type != type || r->secs[i].instance != instance)
			continue;
		*data = r->secs[i].data;
		*len = r->secs[i].len;
		return 0;
	}
	return -ENOENT;
}

static int memory_map_plain(struct snap_reader *r, struct address_space *as, char *err,
			    size_t errlen)
{
	unsigned int n = address_space_nr_regions(as);
	off_t off = SNAP_MEM_DATA_OFF;

	for (unsigned int i = 0; i < n; i++) {
		const struct mem_region *reg = address_space_region(as, i);
		void *p;

		/* Same address: KVM's memslot and every device mapping stay valid. */
		p = mmap(reg->hva, reg->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, r->mem_fd, off);
		if (p == MAP_FAILED)
			return parse_fail(err, errlen, "cannot map the memory file: %s", strerror(errno));
		madvise(p, reg->size, MADV_DONTDUMP);
		madvise(p, reg->size, MADV_DONTFORK);
		off += (off_t)reg->size;
	}
	return 0;
}

static int memory_decrypt(struct snap_reader *r, struct address_space *as, char *err,
			  size_t errlen)
{
	const struct snap_file_header *h = &r->mem_hdr;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	u8 *buf = malloc(SNAP_CHUNK + SNAP_TAG);
	const void *zmap;
	size_t zlen;
	int ret = 0;

	if (!ctx || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	if (snap_read_section(r, SNAP_SEC_MEM_ZERO, 0, &zmap, &zlen) ||
	    zlen != h->nr_chunks / 8 + 1) {
		ret = parse_fail(err, errlen, "state file: no zero-chunk map of the right size");
		goto out;
	}
	for (u64 i = 0; !ret && i < h->nr_chunks; i++) {
		size_t len = chunk_len(h->body_len, i);
		off_t off = SNAP_MEM_DATA_OFF + (off_t)(i * (SNAP_CHUNK + SNAP_TAG));
		ssize_t got;

		if (((const u8 *)zmap)[i / 8] & (1u << (i % 8)))
			continue;	/* fresh RAM is zero already */
		got = pread(r->mem_fd, buf, len + SNAP_TAG, off);
		if (got != (ssize_t)(len + SNAP_TAG)) {
			ret = parse_fail(err, errlen, "memory file: chunk %llu cannot be read",
				   (unsigned long long)i);
			break;
		}
		ret = chunk_crypt(ctx, false, r->file_key, h, SNAP_KIND_MEMORY, i, buf, len,
				  buf + len);
		if (ret == -EBADMSG)
			ret = parse_fail(err, errlen, "memory file: chunk %llu does not authenticate (altered, moved or from another snapshot)",
				   (unsigned long long)i);
		else if (!ret)
			ram_copy(as, i * SNAP_CHUNK, buf, len, true);
	}
out:
	if (buf)
		OPENSSL_cleanse(buf, SNAP_CHUNK + SNAP_TAG);
	free(buf);
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

/* The pages a diff holds, over its base mapped as a full snapshot is. */
static int memory_apply_diff(struct snap_reader *r, struct address_space *as, char *err,
			     size_t errlen)
{
	struct snap_reader base = { .mem_fd = -1 };
	const char *path;
	const void *data;
	size_t len;
	u8 buf[64 * 1024];
	off_t end, off = SNAP_MEM_DATA_OFF;
	int ret;

	if (snap_read_section(r, SNAP_SEC_DIFF_BASE, 0, &data, &len) || len < 18 ||
	    ((const char *)data)[len - 1] || strlen((const char *)data + 16) != len - 17) {
		return parse_fail(err, errlen, "state file: a diff snapshot without a usable base");
	}
	path = (const char *)data + 16;
	memcpy(base.hdr.id, data, 16);
	base.hdr.flags = 0;
	ret = open_memory(&base, path, err, errlen);
	if (!ret && base.mem_hdr.body_len != r->mem_hdr.body_len)
		ret = parse_fail(err, errlen, "the base memory file '%.200s' has another RAM size", path);
	if (!ret)
		ret = memory_map_plain(&base, as, err, errlen);
	if (ret)
		goto out;
	end = lseek(r->mem_fd, 0, SEEK_END);
	while (off < end) {
		off_t data_off = lseek(r->mem_fd, off, SEEK_DATA), hole;

		if (data_off < 0)
			break;		/* ENXIO: no data after @off */
		hole = lseek(r->mem_fd, data_off, SEEK_HOLE);
		if (hole < 0)
			hole = end;
		for (off = data_off; off < hole;) {
			size_t n = (size_t)MIN((off_t)sizeof(buf), hole - off);

			if (pread(r->mem_fd, buf, n, off) != (ssize_t)n) {
				ret = parse_fail(err, errlen, "memory file: cannot read the diff at %lld",
					   (long long)off);
				goto out;
			}
			ram_copy(as, (u64)(off - SNAP_MEM_DATA_OFF), buf, n, true);
			off += (off_t)n;
		}
	}
out:
	if (base.mem_fd >= 0)
		close(base.mem_fd);
	free(base.mem_path);
	return ret;
}

bool snap_reader_id(const struct snap_reader *r, u8 id[16])
{
	memcpy(id, r->hdr.id, 16);
	return !r->hdr.flags;
}

const char *snap_reader_memory_path(const struct snap_reader *r)
{
	return r->mem_path;
}

int snap_reader_load_memory(struct snap_reader *r, struct address_space *as, char *err,
			    size_t errlen)
{
	if (r->mem_hdr.body_len != address_space_ram_size(as))
		return parse_fail(err, errlen, "memory file: %llu bytes of RAM, the machine has %llu",
			    (unsigned long long)r->mem_hdr.body_len,
			    (unsigned long long)address_space_ram_size(as));
	if (r->encrypted)
		return memory_decrypt(r, as, err, errlen);
	if (r->hdr.flags & SNAP_F_DIFF)
		return memory_apply_diff(r, as, err, errlen);
	return memory_map_plain(r, as, err, errlen);
}
