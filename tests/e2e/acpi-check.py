#!/usr/bin/env python3
"""kestrel's ACPI tables through a third-party parser: ACPICA's iasl.

Usage: acpi-check.py [KESTREL]       (default $B/kestrel; exit 0 pass, 1 fail, 77 skip)

For 1, 2 and 4 vCPUs, with a net simulator and a disk (two virtio-mmio
devices), it asks kestrel for the tables it would give the guest:
    kestrel acpi-dump DIR --cpus N --net sim --disk IMG     (writes DIR/<SIG>.dat)
(ACPI_DUMP overrides the command: a template with {kestrel} {dir} {cpus} {disk}),
then:
  * disassembles every table with `iasl -d`: no error, no warning (checksums,
    lengths and AML are iasl's to judge), and recompiles the DSDT from the
    disassembly with `iasl`: 0 errors;
  * checks the RSDP itself (iasl will not take a bare RSDP): signature,
    both checksums, revision 2, the XSDT address;
  * MADT: one enabled Local APIC (or x2APIC) per vCPU, distinct APIC IDs;
  * DSDT: one LNRO0005 device per virtio-mmio device, with the base, size and
    interrupt of include/kestrel/x86/layout.h (device n: BASE + n * SIZE, IRQ0 + n);
  * the ACPI PM block (docs/acpi-pm.md): the FADT's PM1a event/control and PM
    timer blocks at X86_ACPI_PM_PORT, SCI_INT, SMI_CMD 0, not hardware-reduced,
    a 24-bit timer; \_S0, \_S3, \_S5 in the DSDT; the MADT's level/high SCI.
"""
import glob
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
B = os.environ.get("B", "build")
KESTREL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(B, "kestrel")
NDEV = 2
fails = 0


def report(ok, msg):
    global fails
    print("%s: %s" % ("PASS" if ok else "FAIL", msg))
    if not ok:
        fails += 1


def layout():
    txt = open(os.path.join(ROOT, "include/kestrel/x86/layout.h")).read()
    get = lambda n: int(re.search(r"#define\s+%s\s+(0x[0-9a-fA-F]+|\d+)" % n, txt).group(1), 0)
    return get("X86_VIRTIO_MMIO_BASE"), get("X86_VIRTIO_MMIO_SIZE"), get("X86_VIRTIO_MMIO_IRQ0")


def layout_int(name):
    txt = open(os.path.join(ROOT, "include/kestrel/x86/layout.h")).read()
    return int(re.search(r"#define\s+%s\s+(0x[0-9a-fA-F]+|\d+)" % name, txt).group(1), 0)


def iasl(args, cwd):
    r = subprocess.run(["iasl"] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def check_rsdp(path, dirn):
    d = open(path, "rb").read()
    ok = len(d) >= 36 and d[:8] == b"RSD PTR " and sum(d[:20]) % 256 == 0
    ok = ok and d[15] >= 2 and struct.unpack_from("<I", d, 20)[0] == 36 and sum(d[:36]) % 256 == 0
    xsdt = struct.unpack_from("<Q", d, 24)[0] if len(d) >= 32 else 0
    report(ok and xsdt != 0, "RSDP: signature, checksums, revision %d, XSDT at %#x" %
           (d[15] if len(d) > 15 else -1, xsdt))


def check_one(cpus, base, size, irq0):
    w = tempfile.mkdtemp(prefix="kestrel-acpi.")
    try:
        disk = os.path.join(w, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        dump = os.path.join(w, "tables")
        os.mkdir(dump)
        tmpl = os.environ.get("ACPI_DUMP", "{kestrel} acpi-dump {dir} --cpus {cpus} --net sim --disk {disk}")
        cmd = tmpl.format(kestrel=KESTREL, dir=dump, cpus=cpus, disk=disk).split()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        tables = sorted(glob.glob(os.path.join(dump, "*.dat")))
        if r.returncode != 0 or not tables:
            report(False, "%d vCPU(s): `%s` failed (status %d): %s" %
                   (cpus, " ".join(cmd), r.returncode, r.stdout.decode()[-300:].strip()))
            return
        names = [os.path.basename(t)[:-4] for t in tables]
        for want in ("APIC", "DSDT", "FACP", "XSDT"):
            if want not in names:
                report(False, "%d vCPU(s): no %s table among %s" % (cpus, want, names))
        for t in tables:
            sig = os.path.basename(t)[:-4]
            if sig == "RSDP":
                check_rsdp(t, dump)
                continue
            rc, out = iasl(["-d", os.path.basename(t)], dump)
            bad = [l for l in out.splitlines() if re.search(r"\b(Error|Warning)\b|Incorrect|Invalid", l)]
            dsl = t[:-4] + ".dsl"
            report(rc == 0 and not bad and os.path.exists(dsl),
                   "%d vCPU(s): iasl -d %s.dat%s" % (cpus, sig, (": status %d %s" % (rc, bad[:3])) if rc or bad else ""))
        dsdt = os.path.join(dump, "DSDT.dsl")
        apic = os.path.join(dump, "APIC.dsl")
        if os.path.exists(dsdt):
            rc, out = iasl(["-p", os.path.join(w, "recompiled"), dsdt], dump)
            m = re.search(r"(\d+) Errors?, (\d+) Warnings?", out)
            report(rc == 0 and m and m.group(1) == "0",
                   "%d vCPU(s): DSDT recompiles from iasl's disassembly (%s)" % (cpus, m.group(0) if m else out[-200:]))
            txt = open(dsdt).read()
            devs = re.findall(r'Device \((\w+)\)\s*\{(.*?)\n        \}', txt, re.S)
            mm = []
            for name, body in devs:
                if '"LNRO0005"' not in body:
                    continue
                b = re.search(r"Memory32Fixed \(\w+,\s*0x([0-9A-F]+),.*?\n\s*0x([0-9A-F]+),", body, re.S)
                i = re.search(r"Interrupt \(([^)]*)\)\s*\{\s*0x([0-9A-F]+),", body, re.S)
                mm.append((name, int(b.group(1), 16) if b else None, int(b.group(2), 16) if b else None,
                           int(i.group(2), 16) if i else None, i.group(1) if i else ""))
            want = [(base + n * size, size, irq0 + n) for n in range(NDEV)]
            got = sorted((a, s, q) for _, a, s, q, _ in mm)
            report(got == want, "%d vCPU(s): DSDT virtio-mmio devices %s, want %s" % (
                cpus, ["%s@%#x+%#x irq %s" % (n, a or 0, s or 0, q) for n, a, s, q, _ in mm],
                ["%#x+%#x irq %d" % x for x in want]))
        facp = os.path.join(dump, "FACP.dsl")
        if os.path.exists(facp) and os.path.exists(dsdt) and os.path.exists(apic):
            f, d, a = open(facp).read(), open(dsdt).read(), open(apic).read()
            pm = layout_int("X86_ACPI_PM_PORT")
            want = {
                "PM1A Event Block Address": "%08X" % pm,
                "PM1A Control Block Address": "%08X" % (pm + 4),
                "PM Timer Block Address": "%08X" % (pm + 8),
                "SCI Interrupt": "%04X" % layout_int("X86_ACPI_SCI_IRQ"),
                "SMI Command Port": "00000000",
                "Hardware Reduced (V5)": "0",
                "32-bit PM Timer (V1)": "0",
            }
            got = {k: (re.search(r"%s : (\w+)" % re.escape(k), f) or [None, None])[1] for k in want}
            sleep = [n for n in ("_S0", "_S3", "_S5") if "Name (%s, Package (0x04)" % n in d]
            sci = re.search(r"Source : 09\s*\n.*Interrupt : 00000009\s*\n.*Flags \(decoded below\) : 000D", a)
            report(got == want and sleep == ["_S0", "_S3", "_S5"] and sci,
                   "%d vCPU(s): FADT PM blocks/SCI %s, DSDT %s, MADT SCI override %s" % (
                       cpus, "as layout.h" if got == want else got, sleep, "level/high" if sci else "missing"))
        if os.path.exists(apic):
            txt = open(apic).read()
            subs = re.split(r"\n(?=\[[0-9A-F]+h [0-9]+ +\d+\] +Subtable Type :)", txt)
            ids = []
            for s in subs:
                m = re.search(r"Subtable Type : (\w+) \[(Processor Local APIC|Processor Local x2APIC)\]", s)
                if not m:
                    continue
                en = re.search(r"Processor Enabled : (\d)", s)
                aid = re.search(r"(?:Local Apic ID|Processor x2Apic ID) : (\w+)", s)
                if en and en.group(1) == "1" and aid:
                    ids.append(int(aid.group(1), 16))
            report(len(ids) == cpus and len(set(ids)) == cpus,
                   "%d vCPU(s): MADT enabled local APICs %s" % (cpus, ids))
    finally:
        shutil.rmtree(w, ignore_errors=True)


def main():
    if not shutil.which("iasl"):
        print("SKIP: no iasl (apt-get install acpica-tools)")
        sys.exit(77)
    if not os.access(KESTREL, os.X_OK):
        print("FAIL: no %s (build it first)" % KESTREL)
        sys.exit(1)
    h = subprocess.run([KESTREL, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode()
    if "acpi-dump" not in h and "ACPI_DUMP" not in os.environ:
        print("SKIP: kestrel has no acpi-dump command yet (kestrel --help)")
        sys.exit(77)
    base, size, irq0 = layout()
    for cpus in (1, 2, 4):
        check_one(cpus, base, size, irq0)
    print("acpi-check: %s" % ("all passed" if not fails else "%d failed" % fails))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
