#!/usr/bin/env python3
"""Extract the uncompressed vmlinux ELF from a Linux x86 bzImage.

Usage: extract-vmlinux.py BZIMAGE OUT

The setup header says where the compressed kernel is (boot protocol >= 2.08:
payload_offset at 0x248 and payload_length at 0x24c, relative to the protected-
mode part, which starts after (setup_sects + 1) * 512 bytes). The compressor is
told by the payload's magic (Debian 12: XZ for the generic kernel, LZ4 legacy
frames for the cloud kernel); the kernel build appends the uncompressed size as
a 32-bit little-endian word, which is checked against the output. Decompression
uses python's lzma/zlib, or the xz / lz4 / zstd / bzip2 tools. The result is
checked to be an x86-64 ELF with a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY),
which is what kestrel's PVH loader boots.
"""
import lzma
import os
import struct
import subprocess
import sys
import zlib

MAGICS = [
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x02\x21\x4c\x18", "lz4"),
    (b"BZh", "bzip2"),
    (b"\x5d\x00\x00", "lzma"),
]
TOOLS = {"zstd": ["zstd", "-dc"], "lz4": ["lz4", "-dc"], "bzip2": ["bzip2", "-dc"]}


def die(msg):
    print("extract-vmlinux: " + msg, file=sys.stderr)
    sys.exit(1)


def decompress(kind, data):
    if kind == "xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
    if kind == "lzma":
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data)
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    # The tools may complain about the trailing size word; keep what they wrote.
    r = subprocess.run(TOOLS[kind], input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.stdout


def has_pvh_note(elf):
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or struct.unpack_from("<H", elf, 18)[0] != 62:
        return False
    phoff, = struct.unpack_from("<Q", elf, 32)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    for i in range(phnum):
        ptype, _, off, _, _, filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if ptype != 4:  # PT_NOTE
            continue
        p, end = off, off + filesz
        while p + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, p)
            name = elf[p + 12:p + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == 18:
                return True
            p += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    return False


def main():
    if len(sys.argv) != 3:
        die("usage: extract-vmlinux.py BZIMAGE OUT")
    img = open(sys.argv[1], "rb").read()
    if img[0x202:0x206] != b"HdrS":
        die("%s: no Linux setup header" % sys.argv[1])
    version, = struct.unpack_from("<H", img, 0x206)
    if version < 0x208:
        die("boot protocol %#x has no payload fields" % version)
    setup_sects = img[0x1f1] or 4
    poff, plen = struct.unpack_from("<II", img, 0x248)
    start = (setup_sects + 1) * 512 + poff
    payload = img[start:start + plen]
    if len(payload) != plen:
        die("payload runs past the end of the file")
    kind = next((k for m, k in MAGICS if payload.startswith(m)), None)
    if not kind:
        die("unknown compression, payload starts %s" % payload[:8].hex())
    want, = struct.unpack_from("<I", payload, plen - 4)
    elf = decompress(kind, payload)
    if len(elf) < want:
        die("%s: got %d bytes, header says %d" % (kind, len(elf), want))
    elf = elf[:want]
    if not has_pvh_note(elf):
        die("decompressed %s payload is not an x86-64 ELF with a PVH note" % kind)
    tmp = sys.argv[2] + ".part"
    with open(tmp, "wb") as f:
        f.write(elf)
    os.rename(tmp, sys.argv[2])
    print("extract-vmlinux: %s payload, %d bytes, PVH note present -> %s" % (kind, len(elf), sys.argv[2]))


if __name__ == "__main__":
    main()
