#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Name the resident pages of kestrel's image.

usage: rss-pages.py PAGES KESTREL [LINK.map]

PAGES is a file api_start writes with KESTREL_PAGES=DIR (a "map" line per
mapping of /proc/PID/maps, then each resident page). Prints KiB resident per
mapping, then for each 64 KiB block of kestrel's file (the kernel maps such
a block around every page fault on it) the pages resident and the archive
or object most of its symbols come from (with a link map, -Wl,-Map), and
the largest symbols in it.
"""
import collections, re, subprocess, sys

pages_f, exe = sys.argv[1], sys.argv[2]
lmap = sys.argv[3] if len(sys.argv) > 3 else None
maps, pages = [], set()
for line in open(pages_f):
    f = line.split()
    if f[0] == 'map':
        maps.append((int(f[1], 16), int(f[2], 16), f[3], f[4] if len(f) > 4 else ''))
    else:
        pages.add(int(f[0], 16))

syms = []
for line in subprocess.run(['nm', '-n', '-S', exe], capture_output=True, text=True).stdout.splitlines():
    f = line.split()
    if len(f) == 4:
        syms.append((int(f[0], 16), int(f[1], 16), f[3]))

origin = []  # (addr, size, file) of input sections, from the link map
if lmap:
    sec = None
    for line in open(lmap):
        m = re.match(r'^ (\.\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$', line)
        if m:
            origin.append((int(m.group(2), 16), int(m.group(3), 16), m.group(4)))
    origin.sort()

def where(a):
    import bisect
    i = bisect.bisect_right(origin, (a, 1 << 62, '')) - 1
    if i >= 0 and origin[i][0] <= a < origin[i][0] + origin[i][1]:
        o = origin[i][2]
        m = re.match(r'.*/(lib[^/]+\.a)\((.*)\)', o)
        return m.group(1) if m else re.sub(r'.*/build/', '', o)
    return '?'

total = 0
for lo, hi, perms, name in maps:
    n = sum(1 for p in pages if lo <= p < hi)
    total += n
    if n:
        print('%6d KiB  %x-%x %s %s' % (n * 4, lo, hi, perms, name))
print('%6d KiB  total' % (total * 4))
by_src = collections.Counter()
for lo, hi, perms, name in maps:
    if not name.endswith('kestrel'):
        continue
    for blk in range(lo & ~0xffff, hi, 0x10000):
        res = sorted(p for p in pages if blk <= p < blk + 0x10000 and lo <= p < hi)
        if not res:
            continue
        inblk = [s for s in syms if blk <= s[0] < blk + 0x10000 and s[1]]
        src = collections.Counter()
        for s in inblk:
            src[where(s[0])] += s[1]
        top = ', '.join(s[2] for s in sorted(inblk, key=lambda s: -s[1])[:4])
        srcs = ', '.join('%s %dK' % (k, v // 1024) for k, v in src.most_common(3))
        print('  %x %s %2d pages  [%s]  %s' % (blk, perms, len(res), srcs, top))
        for p in res:
            by_src[(perms, where(p) if origin else '?')] += 4
print('resident KiB by mapping and origin of its first byte:')
for (perms, o), kib in by_src.most_common(25):
    print('%6d  %s %s' % (kib, perms, o))
