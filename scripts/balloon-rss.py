#!/usr/bin/env python3
# Run a kestrel command line whose guest inflates a virtio-balloon and
# check from the host that kestrel's resident memory fell accordingly:
# unittests.cfg's wrapper for the virtio-balloon guest test.
#
#   scripts/balloon-rss.py KESTREL-COMMAND...
#
# The guest prints "balloon-rss: touched N" once it has written to N
# pages and "balloon-rss: inflated N" once the device took N of them, and
# waits for a byte on its serial port (kestrel's stdin) after each. At
# both points this script reads kestrel's VmRSS from /proc/PID/status,
# then sends the byte. The test fails (exit 3, a guest failure) unless
# RSS fell by at least 80% of the inflated pages; otherwise the exit
# status is kestrel's. Figures are printed either way.
import os
import re
import subprocess
import sys

MIN_SHARE = 0.8


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    if len(sys.argv) < 2:
        print("usage: balloon-rss.py KESTREL-COMMAND...", file=sys.stderr)
        return 2
    p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    before = after = -1
    inflated = 0
    for raw in p.stdout:
        line = raw.decode(errors="replace")
        sys.stdout.write(line)
        sys.stdout.flush()
        m = re.search(r"balloon-rss: (touched|inflated) (\d+)", line)
        if not m:
            continue
        rss = vm_rss_kib(p.pid)
        if m.group(1) == "touched":
            before = rss
        else:
            after = rss
            inflated = int(m.group(2))
        print(f"balloon-rss: kestrel VmRSS {rss} KiB after '{m.group(1)}'", flush=True)
        try:
            p.stdin.write(b"g")
            p.stdin.flush()
        except BrokenPipeError:
            pass
    rc = p.wait()
    if before < 0 or after < 0:
        print("balloon-rss: FAIL: the guest never reached both points")
        return rc if rc != 1 else 3
    fell = before - after
    want = inflated * 4 * MIN_SHARE
    print(f"balloon-rss: RSS {before} KiB -> {after} KiB: fell {fell} KiB; inflated "
          f"{inflated * 4} KiB, at least {int(want)} KiB expected")
    if fell < want:
        print("balloon-rss: FAIL: kestrel's RSS did not fall with the balloon")
        return 3
    return rc


if __name__ == "__main__":
    sys.exit(main())
