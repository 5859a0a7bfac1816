/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_SNAPSHOT_H
#define KESTREL_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include <kestrel/types.h>

/*
 * Snapshot files (docs/snapshot.md): a directory holding "state" (typed
 * sections, each with a SHA-256) and "memory" (guest RAM, zero pages left
 * as holes), optionally encrypted and authenticated with AES-256-GCM in
 * chunks. Writers add sections in any order; readers look them up by type
 * and instance. The files are hostile input to the reader: every length
 * is bounded, every section checked before anyone sees it.
 */

struct address_space;
struct snap_writer;
struct snap_reader;

/* Section types (the "type" field; docs/snapshot.md lists each payload). */
enum snap_section_type {
	SNAP_SEC_END		= 0,	/* last section, no payload */
	SNAP_SEC_MACHINE	= 1,	/* struct snap_machine */
	SNAP_SEC_MEM_ZERO	= 2,	/* encrypted memory: bitmap of zero chunks */
	SNAP_SEC_DIFF_BASE	= 3,	/* diff: the base's id, then its memory file's path */
	/* VM-wide architecture state */
	SNAP_SEC_CLOCK		= 0x10,	/* struct kvm_clock_data */
	SNAP_SEC_IOAPIC		= 0x11,	/* the userspace IOAPIC */
	SNAP_SEC_IRQCHIP	= 0x12,	/* struct kvm_irqchip, instance = chip id */
	SNAP_SEC_PIT		= 0x13,	/* struct kvm_pit_state2 */
	SNAP_SEC_CPUID		= 0x14,	/* the VM's CPUID template (x86/cpuid.c) */
	/* per vCPU, instance = vCPU id */
	SNAP_SEC_VCPU_REGS	= 0x20,	/* struct kvm_regs */
	SNAP_SEC_VCPU_SREGS	= 0x21,	/* struct kvm_sregs */
	SNAP_SEC_VCPU_XSAVE	= 0x22,	/* KVM_GET_XSAVE2 area */
	SNAP_SEC_VCPU_FPU	= 0x23,	/* struct kvm_fpu (no XSAVE) */
	SNAP_SEC_VCPU_XCRS	= 0x24,	/* struct kvm_xcrs */
	SNAP_SEC_VCPU_MSRS	= 0x25,	/* struct kvm_msr_entry[] */
	SNAP_SEC_VCPU_LAPIC	= 0x26,	/* struct kvm_lapic_state */
	SNAP_SEC_VCPU_EVENTS	= 0x27,	/* struct kvm_vcpu_events */
	SNAP_SEC_VCPU_DEBUGREGS	= 0x28,	/* struct kvm_debugregs */
	SNAP_SEC_VCPU_MP_STATE	= 0x29,	/* struct kvm_mp_state */
	SNAP_SEC_VCPU_TSC_KHZ	= 0x2a,	/* u32, KVM_GET_TSC_KHZ */
	/* platform devices, instance 0 */
	SNAP_SEC_SERIAL		= 0x40,
	SNAP_SEC_PONG		= 0x41,
	SNAP_SEC_I8042		= 0x42,
	SNAP_SEC_BOOTTIMER	= 0x43,
	SNAP_SEC_RTC		= 0x44,
	SNAP_SEC_ACPI_PM	= 0x45,
	SNAP_SEC_TESTDEV	= 0x46,
	SNAP_SEC_TESTDEV_WINDOW	= 0x47,
	/* virtio devices, instance = virtio-mmio slot */
	SNAP_SEC_VIRTIO_DEV	= 0x50,	/* the device's spec, a NUL-terminated string */
	SNAP_SEC_VIRTIO_MMIO	= 0x51,	/* transport registers and queue positions */
	SNAP_SEC_VIRTIO_LABEL	= 0x52,	/* the caller's id for it, a NUL-terminated string */
	SNAP_SEC_VIRTIO_STATE	= 0x53,	/* the device's own state (vdpa_get_dev_state()) */
};

/**
 * struct snap_machine - the SNAP_SEC_MACHINE payload: what the restoring
 *	process must build before it loads the rest
 * @ram_size: guest RAM bytes
 * @nr_cpus: vCPUs
 * @irqchip: enum vm_irqchip
 * @pit: an in-kernel PIT
 * @testdev: QEMU's pc-testdev
 * @pad: zero
 */
struct snap_machine {
	u64 ram_size;
	u32 nr_cpus;
	u32 irqchip;
	u8 pit;
	u8 testdev;
	u8 pad[6];
};
_Static_assert(sizeof(struct snap_machine) == 24, "snapshot machine section layout");

#define SNAP_KEY_SIZE		32

/**
 * struct snap_key - an AES-256 key for snapshots at rest
 * @bytes: the key, exactly SNAP_KEY_SIZE bytes of a key file
 */
struct snap_key {
	u8 bytes[SNAP_KEY_SIZE];
};

/**
 * snap_key_load() - read a key file: exactly 32 bytes
 * @path: the file
 * @out: the key
 * @err: one-line reason on failure
 * @errlen: bytes at @err
 *
 * Return: 0, or a negative errno (-EINVAL: not 32 bytes).
 */
int snap_key_load(const char *path, struct snap_key *out, char *err, size_t errlen);

/*
 * snap_crypto_cpu_probe() - libcrypto's CPU feature probe, run before the
 * library's first use; defined (src/snapshot/cpuid.c) in the static kestrel
 * only, which keeps the probe out of its start-up. Weak: NULL elsewhere.
 */
void snap_crypto_cpu_probe(void) __attribute__((weak));

/**
 * snap_writer_create() - an empty snapshot
 * @out: the writer, freed by snap_writer_destroy()
 * Return: 0 or -ENOMEM.
 */
int snap_writer_create(struct snap_writer **out);

/**
 * snap_write_section() - add one section (copied)
 * @w: the writer
 * @type: enum snap_section_type
 * @instance: which one of that type (a vCPU id, a chip id, 0)
 * @data: the payload
 * @len: its bytes
 * Return: 0, -ENOMEM, or -E2BIG past the state file's size limit.
 */
int snap_write_section(struct snap_writer *w, u32 type, u32 instance, const void *data,
		       size_t len);

/**
 * snap_writer_commit() - write @dir/state and @dir/memory
 * @w: the writer with every section added
 * @dir: an existing directory
 * @key: encrypt with this key, or NULL for plain files
 * @as: the guest RAM to write (every region, in address order)
 * @err: one-line reason on failure
 * @errlen: bytes at @err
 *
 * Each file is written to a temporary name in @dir, fsync()ed and renamed
 * over the old one, memory first, then the directory is fsync()ed: a crash
 * leaves the previous snapshot's state file in place (its memory file may
 * already be the new one; the reader then refuses the pair, as their ids
 * differ).
 *
 * Return: 0 or a negative errno.
 */
int snap_writer_commit(struct snap_writer *w, const char *dir, const struct snap_key *key,
		       struct address_space *as, char *err, size_t errlen);

/**
 * snap_writer_commit_files() - snap_writer_commit() into two named files
 *	(Firecracker's snapshot_path and mem_file_path)
 * @w: the writer
 * @state_path: the state file
 * @mem_path: the memory file
 * @key: encrypt with this key, or NULL
 * @as: the guest RAM
 * @err: one-line reason on failure
 * @errlen: bytes at @err
 *
 * The same temporary-file, fsync and rename steps, memory first; the
 * pair is only consistent once both are renamed (a crash between the two
 * leaves files of two snapshots, which the reader refuses).
 *
 * Return: 0 or a negative errno.
 */
int snap_writer_commit_files(struct snap_writer *w, const char *state_path,
			     const char *mem_path, const struct snap_key *key,
			     struct address_space *as, char *err, size_t errlen);

/**
 * snap_writer_set_diff() - make @w a diff snapshot: its memory file holds
 *	only the pages @dirty marks, and names the base memory file they
 *	apply to
 * @w: the writer
 * @base_path: the base's memory file (absolute), copied
 * @base_id: the base snapshot's id (snap_reader_id())
 * @dirty: per RAM region, one bit per 4 KiB page; kept until the commit
 *
 * Diff snapshots are plain (no key). Return: 0, -ENOMEM or -EINVAL.
 */
int snap_writer_set_diff(struct snap_writer *w, const char *base_path, const u8 base_id[16],
			 const u64 *const *dirty);

/** snap_writer_destroy() - free @w (may be NULL) */
void snap_writer_destroy(struct snap_writer *w);

/**
 * snap_reader_open() - read and check @dir/state
 * @dir: the snapshot directory
 * @key: the key it was encrypted with, or NULL for a plain snapshot
 * @out: the reader
 * @err: one-line reason on failure
 * @errlen: bytes at @err
 *
 * The whole state file is read, decrypted and authenticated (encrypted)
 * or checksummed (plain) here, and its memory file's header checked
 * against it, so a reader that opens is one whose state can be trusted as
 * far as the format can tell.
 *
 * Return: 0; -EINVAL for a file that is not a snapshot this version
 * reads, altered, truncated, of another snapshot or under another key;
 * another negative errno if it cannot be read.
 */
int snap_reader_open(const char *dir, const struct snap_key *key, struct snap_reader **out,
		     char *err, size_t errlen);

/**
 * snap_reader_open_files() - snap_reader_open() of two named files
 * @state_path: the state file
 * @mem_path: the memory file written with it
 * @key: its key, or NULL
 * @out: the reader
 * @err: one-line reason on failure
 * @errlen: bytes at @err
 * Return: as snap_reader_open().
 */
int snap_reader_open_files(const char *state_path, const char *mem_path,
			   const struct snap_key *key, struct snap_reader **out, char *err,
			   size_t errlen);

/**
 * snap_read_section() - find a section
 * @r: the reader
 * @type: enum snap_section_type
 * @instance: which one
 * @data: its payload, valid until snap_reader_destroy()
 * @len: its bytes
 * Return: 0 or -ENOENT.
 */
int snap_read_section(struct snap_reader *r, u32 type, u32 instance, const void **data,
		      size_t *len);

/**
 * snap_reader_load_memory() - put the snapshot's RAM into @as
 * @r: the reader
 * @as: guest RAM of the same layout as the snapshot's (checked)
 * @err: one-line reason on failure
 * @errlen: bytes at @err
 *
 * A plain memory file is mapped MAP_PRIVATE over each region (copy on
 * write: the cost does not grow with the RAM size). An encrypted one is
 * decrypted into the regions chunk by chunk, every chunk authenticated.
 *
 * Return: 0, -EINVAL (layout differs, a chunk does not authenticate, the
 * file is short), or another negative errno.
 */
int snap_reader_load_memory(struct snap_reader *r, struct address_space *as, char *err,
			    size_t errlen);

/**
 * snap_reader_id() - the snapshot's id
 * @r: the reader
 * @id: 16 bytes
 * Return: true if it is a full plain snapshot (one a diff can be based on).
 */
bool snap_reader_id(const struct snap_reader *r, u8 id[16]);

/** snap_reader_memory_path() - the memory file @r opened */
const char *snap_reader_memory_path(const struct snap_reader *r);

/** snap_reader_destroy() - free @r (may be NULL) */
void snap_reader_destroy(struct snap_reader *r);

#endif /* KESTREL_SNAPSHOT_H */
