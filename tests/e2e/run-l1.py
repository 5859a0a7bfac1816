#!/usr/bin/env python3
"""Boot L1 under QEMU (TCG, emulated AMD SVM), keep its console, judge the markers.

Usage: run-l1.py --cases FILE --log FILE [--timeout S] [--quiet] -- QEMU-COMMAND...

Runs QEMU (its own child, killed by PID at --timeout), writes every console line
to --log prefixed with host seconds since QEMU started, and echoes the marker
lines (E2E-*, L2-*, kestrel's boot-timer line, panics) as they come. Then, for
every case in --cases ("<name> <flavour> <bzimage|pvh> <vcpus> <devs> [run|fc|fcput] [<l2 words>]"),
it expects one E2E-CHECK line per check that case implies (init, boot-timer,
cpus, modules, virtio-mmio, keyboard, acpi, exit; net with net; blk-read and
blk-write with blk; tap with tap; vsock-* (L2's and L1's) with vsock; rootfs with e2eroot=1 among the L2 words;
ctrl-alt-del with fc; api with fcput; s3 and s3-host with e2es3=N among the
L2 words; packed with e2epacked=1) and an E2E-CASE line; a FAIL or a missing line fails the case.
Prints a report and exits 0 only when every case passed (1 otherwise).
"""
import argparse
import re
import signal
import subprocess
import sys
import threading
import time

ECHO = re.compile(r"E2E-|L2-INIT-REACHED|L2-CHECK|L2-DONE|L2-CTRL-ALT-DEL|BOOT-TIMER-MARKER|Kernel panic|"
                  r"KVM internal error|emulation failure|Call Trace|BUG:|Oops")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--quiet", action="store_true", help="echo nothing while running")
    ap.add_argument("cmd", nargs="+")
    a = ap.parse_args()

    cases = []
    for line in open(a.cases):
        w = line.split()
        if len(w) >= 5 and not w[0].startswith("#"):
            cases.append(w[:5] + [w[5] if len(w) > 5 else "run", w[6] if len(w) > 6 else ""])

    t0 = time.monotonic()
    p = subprocess.Popen(a.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    timed_out = []

    def killer():
        try:
            p.wait(a.timeout)
        except subprocess.TimeoutExpired:
            timed_out.append(1)
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
    threading.Thread(target=killer, daemon=True).start()

    lines = []
    with open(a.log, "w") as f:
        f.write("# %s\n" % " ".join(a.cmd))
        for raw in p.stdout:
            t = time.monotonic() - t0
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            line = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc|\r", "", line)
            f.write("[%8.3f] %s\n" % (t, line))
            f.flush()
            lines.append((t, line))
            if not a.quiet and ECHO.search(line):
                print("[%7.1f] %s" % (t, line[:300]), flush=True)
    rc = p.wait()
    total = time.monotonic() - t0

    checks, results = {}, {}
    l1_done = None
    for t, line in lines:
        m = re.search(r"E2E-CHECK (\S+) (\S+) (PASS|FAIL) ?(.*)", line)
        if m:
            checks.setdefault(m.group(1), []).append((m.group(2), m.group(3), m.group(4)))
        m = re.search(r"E2E-CASE (\S+) (PASS|FAIL) (.*)", line)
        if m:
            results[m.group(1)] = (m.group(2), m.group(3), t)
        if "E2E-L1-DONE" in line:
            l1_done = t
    kvm = [l for _, l in lines if "E2E-L1-KVM" in l]

    print()
    print("e2e: QEMU exited rc=%s after %.1f s%s; log %s" % (
        rc, total, " (TIMED OUT at %.0f s, killed)" % a.timeout if timed_out else "", a.log))
    if kvm:
        print("e2e: L1: " + kvm[0][kvm[0].index("E2E-L1-KVM"):][:200])
    else:
        print("e2e: L1 never reported loading kvm_amd (L1 boot failed? see the log)")
    npass = 0
    for name, fl, kind, cpus, devs, how, l2words in cases:
        transport = "virtio-pci" if "e2etransport=pci" in l2words.split(",") else "virtio-mmio"
        want = ["init", "boot-timer", "cpus", "modules", transport, "keyboard"]
        if "net" in devs.split(","):
            want.append("net")
        if "tap" in devs.split(","):
            want.append("tap")
        if "vsock" in devs.split(","):
            want += ["vsock-listen", "vsock-connect", "vsock-peer-killed",
                     "vsock-host-listen", "vsock-host-connect", "vsock-host-killed"]
        if "e2eroot=1" in l2words.split(","):
            want.append("rootfs")
        if "blk" in devs.split(","):
            want += ["blk-read", "blk-write"]
        want.append("acpi")
        if "e2epacked=1" in l2words.split(","):
            want.append("packed")
        if any(re.fullmatch(r"e2emq=[2-9]", x) for x in l2words.split(",")):
            want.append("mq")
        if any(re.fullmatch(r"e2es3=[1-9][0-9]*", x) for x in l2words.split(",")):
            want += ["s3", "s3-host"]
        if how == "fc":
            want.append("ctrl-alt-del")
        if how == "fcput":
            want.append("api")
        want.append("exit")
        got = checks.get(name, [])
        ok = name in results and results[name][0] == "PASS"
        rows = []
        for c in want:
            r = [g for g in got if g[0] == c]
            if not r:
                rows.append(("FAIL", c, "no result from L1 (L1 or the run died before reporting)"))
                ok = False
            for g in r:
                rows.append((g[1], c, g[2]))
                ok = ok and g[1] == "PASS"
        for g in got:
            if g[0] not in want:
                rows.append((g[1], g[0], g[2]))
                ok = ok and g[1] == "PASS"
        info = results[name][1] if name in results else "no E2E-CASE line"
        print("e2e: %s %-16s %s L2, %s, %s vCPU(s), devices %s%s%s: %s" % (
            "PASS" if ok else "FAIL", name, fl, kind, cpus, devs,
            {"fc": ", Firecracker API (--config-file)", "fcput": ", Firecracker API (PUT calls)"}.get(how, ""),
            " (%s)" % l2words if l2words else "", info))
        for st, c, d in rows:
            print("        %s %-12s %s" % (st, c, d[:220]))
        npass += ok
    print("e2e: %d/%d cases passed" % (npass, len(cases)))
    sys.exit(0 if npass == len(cases) and cases else 1)


if __name__ == "__main__":
    main()
