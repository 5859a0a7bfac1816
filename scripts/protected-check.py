#!/usr/bin/env python3
"""Look for a protected guest's secret in kestrel's process: the wrapper of
the protected guest tests (guest/x86/unittests.cfg, guest/x86/protected.c).

  scripts/protected-check.py [--expect-found] KESTREL-COMMAND...
  scripts/protected-check.py [--expect-found] --scan-file FILE
  scripts/protected-check.py --run KESTREL-COMMAND...

Runs the command with a pipe on its standard input. When the guest says
"secret in place", this (root) process, a second one beside kestrel,
  - reads every readable mapping of kestrel through /proc/PID/mem and
    searches it for the guest's pattern (guest/x86/protected.c);
  - takes kestrel's own guest_memfd descriptors (pidfd_getfd) and tries
    read() on them, and a mapping of them in a child process;
then sends the guest the byte that lets it read its secret back. With
--expect-found (the unprotected control) the pattern must be found instead.
--scan-file searches FILE (the guest's disk, after the run) the same way.
--run only runs the command. Every run skips (77) where KVM has no usable
guest_memfd (kestrel says so and fails to start).
Output passes through. Exit: kestrel's status; 3 (a guest failure) when a
check fails or the guest never got to its secret.
"""
import ctypes
import mmap
import os
import signal
import subprocess
import sys
import threading

import procmem

SECRET_BASE_OFF = 256   # search a window from inside the pattern
SECRET_LEN = 64
SYS_PIDFD_GETFD = 438
UNSUPPORTED = b"--protected needs KVM's guest_memfd"


def pattern(i):
    return ((i * 167 + 59) ^ (i >> 8) ^ 0xA5) & 0xFF


NEEDLE = bytes(pattern(i) for i in range(SECRET_BASE_OFF, SECRET_BASE_OFF + SECRET_LEN))


def say(msg):
    print(f"protected-check: {msg}", flush=True)


def search_memory(pid):
    """Where NEEDLE occurs in pid's readable memory, and bytes read."""
    found, total = [], 0
    for a, data in procmem.chunks(pid, SECRET_LEN):
        total += len(data)
        at = data.find(NEEDLE)
        if at >= 0:
            found.append(a + at)
    return found, total


def gmem_fds(pid):
    fds = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[kvm-gmem]":
                fds.append(int(fd))
        except OSError:
            pass
    return fds


def probe_gmem(pid, target):
    """Failures (strings) of the attempts to read kestrel's guest_memfd."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, target, 0)
    os.close(pidfd)
    if fd < 0:
        return [f"pidfd_getfd of fd {target}: {os.strerror(ctypes.get_errno())}"]
    bad = []
    try:
        data = os.pread(fd, SECRET_LEN, 0)
        bad.append(f"pread() of the guest_memfd returned {len(data)} bytes")
    except OSError as e:
        say(f"pread() of kestrel's guest_memfd (fd {target}): {e.strerror}")
    child = os.fork()
    if child == 0:
        m = mmap.mmap(fd, 1 << 20, mmap.MAP_SHARED, mmap.PROT_READ)
        sys.stdout.write(m[:SECRET_LEN].hex())   # not reached if it faults
        os._exit(0)
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        say(f"a mapping of it: the reader died of signal {os.WTERMSIG(status)}"
            f"{' (SIGBUS)' if os.WTERMSIG(status) == signal.SIGBUS else ''}")
        if os.WTERMSIG(status) != signal.SIGBUS:
            bad.append("the mapping's reader died of an unexpected signal")
    else:
        bad.append("a mapping of the guest_memfd could be read")
    os.close(fd)
    return bad


def main():
    args = sys.argv[1:]
    expect_found = bool(args) and args[0] == "--expect-found"
    if expect_found:
        args = args[1:]
    if args[:1] == ["--scan-file"] and len(args) == 2:
        with open(args[1], "rb") as f:
            at = f.read().find(NEEDLE)
        say(f"{args[1]}: pattern {'found at ' + hex(at) if at >= 0 else 'not found'}")
        return 0 if (at >= 0) == expect_found else 1
    if args[:1] == ["--run"]:
        out = subprocess.run(args[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        sys.stdout.buffer.write(out.stdout)
        if UNSUPPORTED in out.stdout:
            print("SKIP: this KVM has no guest_memfd with GUEST_MEMFD_FLAG_MMAP")
            return 77
        return out.returncode
    if os.geteuid() != 0:
        print("SKIP: reading another process's memory needs root")
        return 77
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    ready = threading.Event()
    unsupported = threading.Event()

    def pump():
        for line in proc.stdout:
            if UNSUPPORTED in line:
                unsupported.set()
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
            if b"secret in place" in line:
                ready.set()
        ready.set()
    t = threading.Thread(target=pump)
    t.start()
    ready.wait(120)
    failures = []
    if proc.poll() is not None:
        failures.append("kestrel exited before the guest's secret was in place")
    else:
        try:
            found, total = search_memory(proc.pid)
        except OSError as e:  # kestrel died under us
            failures.append(f"cannot read kestrel's memory: {e}")
            found, total = [], 0
        say(f"searched {total >> 20} MiB of kestrel's readable memory: "
            f"pattern {'found at ' + ', '.join(hex(a) for a in found[:4]) if found else 'not found'}")
        if expect_found and not found:
            failures.append("the unprotected guest's pattern was not found (the search is broken)")
        if not expect_found:
            if found:
                failures.append("the protected guest's secret is readable in kestrel's memory")
            fds = gmem_fds(proc.pid)
            if not fds:
                failures.append("kestrel holds no guest_memfd")
            for fd in fds:
                failures += probe_gmem(proc.pid, fd)
        try:
            proc.stdin.write(b"g")
            proc.stdin.flush()
        except OSError:
            pass
    try:
        proc.stdin.close()
    except OSError:
        pass
    rc = proc.wait()
    t.join()
    if unsupported.is_set():
        print("SKIP: this KVM has no guest_memfd with GUEST_MEMFD_FLAG_MMAP")
        return 77
    for f in failures:
        print(f"FAIL: protected-check: {f}", flush=True)
    if rc < 0:
        print(f"FAIL: protected-check: kestrel died of signal {-rc}", flush=True)
        return 128 - rc
    if failures and rc == 1:
        return 3
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # never let a crash here read as the guest's pass (1)
        print(f"FAIL: protected-check: {type(e).__name__}: {e}", flush=True)
        sys.exit(3)
