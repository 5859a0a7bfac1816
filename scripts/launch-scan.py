#!/usr/bin/env python3
"""A sealed image's key and plaintext are not in kestrel's memory once the
guest is sealed (docs/protected.md): the launch-key-scan guest test.

  scripts/launch-scan.py KESTREL run --kernel PAYLOAD ... (from unittests.cfg)

Seals PAYLOAD with a new key (kestrel seal-image), runs it with --image-key
and --cmdline wait; when the payload says it waits, this (root) process
reads every readable mapping of kestrel through /proc/PID/mem and searches
it for the key, for the payload's plaintext (a 64-byte window of it) and,
as the control that shows the search finds what is there, for the sealed
image's ciphertext (which kestrel holds: it read the file). Then it sends
the byte that lets the payload finish. Exit: 1 when all holds (a passing
guest test's status), 3 when not, 77 where KVM has no usable guest_memfd.
"""
import os
import subprocess
import sys
import tempfile

import procmem

UNSUPPORTED = b"--protected needs KVM's guest_memfd"


def say(msg):
    print(f"launch-scan: {msg}", flush=True)


def fail(msg):
    say(f"FAIL: {msg}")
    sys.exit(3)


def search(pid, needles):
    """Which of needles occur in pid's readable memory; bytes read."""
    found, total = set(), 0
    for _, data in procmem.chunks(pid, max(len(n) for n in needles.values())):
        total += len(data)
        found |= {k for k, n in needles.items() if n in data}
    return found, total


def main():
    cmd = sys.argv[1:]
    payload = cmd[cmd.index("--kernel") + 1]
    with tempfile.TemporaryDirectory() as d:
        key, sealed = os.path.join(d, "key"), os.path.join(d, "sealed")
        with open(key, "wb") as f:
            f.write(os.urandom(32))
        if subprocess.run([cmd[0], "seal-image", "--key", key, payload, sealed]).returncode:
            fail("seal-image failed")
        with open(key, "rb") as f:
            key_bytes = f.read()
        with open(payload, "rb") as f:
            plain = f.read()
        with open(sealed, "rb") as f:
            cipher = f.read()[64:]
        needles = {"key": key_bytes, "plaintext": plain[256:320], "ciphertext": cipher[256:320]}
        run = list(cmd)
        run[run.index("--kernel") + 1] = sealed
        p = subprocess.Popen(run + ["--image-key", key, "--cmdline", "wait"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        waited = False
        for line in p.stdout:
            sys.stdout.write(line.decode(errors="replace"))
            sys.stdout.flush()
            if UNSUPPORTED in line:
                p.wait()
                sys.exit(77)
            if line.startswith(b"payload: waiting for the host"):
                waited = True
                found, total = search(p.pid, needles)
                say(f"searched {total >> 20} MiB of kestrel's memory: found {sorted(found) or 'nothing'}")
                p.stdin.write(b"x")
                p.stdin.flush()
        status = p.wait()
    if not waited:
        fail(f"the payload never waited (kestrel exited {status})")
    if "ciphertext" not in found:
        fail("the control: the sealed image kestrel read is not found, so the search proves nothing")
    if "key" in found:
        fail("the image key is in kestrel's memory after the seal")
    if "plaintext" in found:
        fail("the payload's plaintext is in kestrel's memory")
    if status != 1:
        fail(f"kestrel exited {status}, expected 1 (the payload passed)")
    say("PASS: neither the key nor the plaintext is in kestrel's memory after the seal")
    sys.exit(1)


main()
