#!/usr/bin/env python3
"""The host side of the virtio-vsock guest test (guest/x86/virtio-vsock.c):
the wrapper of its guest/x86/unittests.cfg entry.

  scripts/vsock-peer.py KESTREL-COMMAND...
  scripts/vsock-peer.py --uds PATH KESTREL-COMMAND...

KESTREL-COMMAND holds --vsock cid=3,uds=PATH, or --uds gives PATH (the
Firecracker mode, whose vsock comes from its API or config file). Before starting it, this
listens at PATH_5000 (the guest connects to host port 5000 there). Once
kestrel listens on PATH, it connects, writes "CONNECT 1234\\n", expects
"OK <port>\\n" once the guest accepts, sends 64 KiB and checks the guest's
answer: the FNV-1a hash of those bytes, then 16 KiB of the guest's
pattern, then EOF. On PATH_5000 it reads the guest's 64 KiB, checks them
and answers with their hash. Output passes through; each host check
prints PASS or FAIL. Exit: kestrel's status, or 3 (a failure) when a host
check failed.
"""
import os
import socket
import struct
import subprocess
import sys
import threading
import time

BULK = 64 * 1024
REPLY = 16 * 1024
fails = []


def report(ok, what):
    print(("PASS: " if ok else "FAIL: ") + "host: " + what, flush=True)
    if not ok:
        fails.append(what)


def pattern(n, seed):
    return bytes((i * 7 + seed * 13 + (i >> 8)) & 0xFF for i in range(n))


def fnv(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def host_connects(path):
    """Part 1: the guest listens on port 1234."""
    deadline = time.time() + 30
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.02)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    try:
        s.connect(path)
        s.sendall(b"CONNECT 1234\n")
        line = b""
        while not line.endswith(b"\n") and len(line) < 32:
            c = s.recv(1)
            if not c:
                break
            line += c
        ok = line.startswith(b"OK ") and line[3:-1].isdigit() and int(line[3:-1]) >= 1 << 30
        report(ok, "CONNECT 1234 answered %r" % line)
        data = pattern(BULK, 1)
        s.sendall(data)
        h = read_exact(s, 8)
        report(len(h) == 8 and struct.unpack("<Q", h)[0] == fnv(data),
               "the guest's hash of our %d bytes is right" % BULK)
        reply = read_exact(s, REPLY)
        report(reply == pattern(REPLY, 2), "the guest's %d bytes arrived intact" % REPLY)
        report(s.recv(1) == b"", "EOF after the guest's SHUTDOWN")
    except OSError as e:
        report(False, "host connection: %s" % e)
    finally:
        s.close()


def host_listens(lsock):
    """Part 2: the guest connects to host port 5000."""
    lsock.settimeout(90)
    try:
        c, _ = lsock.accept()
    except OSError as e:
        report(False, "no guest connection on PATH_5000: %s" % e)
        return
    c.settimeout(60)
    try:
        data = read_exact(c, BULK)
        report(data == pattern(BULK, 3), "%d bytes from the guest, intact" % len(data))
        c.sendall(struct.pack("<Q", fnv(data)))
        report(c.recv(1) == b"", "EOF after the guest's RST")
    except OSError as e:
        report(False, "guest connection: %s" % e)
    finally:
        c.close()


def main():
    cmd = sys.argv[1:]
    uds = None
    if len(cmd) > 2 and cmd[0] == "--uds":
        uds, cmd = cmd[1], cmd[2:]
    for i, a in enumerate(cmd[:-1] if not uds else []):
        if a == "--vsock":
            for f in cmd[i + 1].split(","):
                if f.startswith("uds="):
                    uds = f[4:]
    if not uds:
        print("FAIL: vsock-peer.py: no --vsock ...,uds=PATH in the command", flush=True)
        return 3
    lpath = uds + "_5000"
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(lpath)
    lsock.listen(4)
    proc = subprocess.Popen(cmd)
    threads = [threading.Thread(target=host_connects, args=(uds,)),
               threading.Thread(target=host_listens, args=(lsock,))]
    for t in threads:
        t.daemon = True
        t.start()
    rc = proc.wait()
    for t in threads:
        t.join(5)
    lsock.close()
    os.unlink(lpath)
    if rc == 1 and fails:
        return 3
    return rc


if __name__ == "__main__":
    sys.exit(main())
