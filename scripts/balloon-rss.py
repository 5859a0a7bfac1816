#!/usr/bin/env python3
# Run a kestrel guest that inflates a virtio-balloon and check from the
# host that kestrel's resident memory fell accordingly: unittests.cfg's
# wrapper for the virtio-balloon guest tests.
#
#   scripts/balloon-rss.py KESTREL run --kernel GUEST.elf ...
#   scripts/balloon-rss.py --api [--restore] KESTREL run --kernel GUEST.elf ...
#
# The guest prints "balloon-rss: touched N" once it has written to N
# pages and "balloon-rss: inflated N" once the device took N of them, and
# waits for a byte on its serial port (kestrel's stdin) after each. At
# both points this script reads kestrel's VmRSS from /proc/PID/status,
# then sends the byte. The test fails (exit 3, a guest failure) unless
# RSS fell by at least 80% of the inflated pages; otherwise the exit
# status is kestrel's. Figures are printed either way.
#
# With --api the same guest boots in Firecracker mode instead: the
# balloon is PUT with amount_mib 0 and statistics every second, and when
# the guest says "balloon-rss: waiting for a target" the script sends
# PATCH /balloon {"amount_mib": 32}. After the inflation it also checks
# GET /balloon/statistics (actual_pages, the guest's free_memory), the
# balloon group of the metrics, and that a snapshot taken then saves the
# balloon with the PATCHed target. With --restore the first process is
# killed there and the guest finishes in a second one, restored from that
# snapshot (PUT /snapshot/load): its balloon, statistics buffer included,
# goes on where it was.
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile

MIN_SHARE = 0.8
API_TARGET_MIB = 32


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


class Api:
    def __init__(self, path):
        self.path = path
        self.failures = []

    def call(self, method, url, body=None, want=None):
        c = UnixConnection(self.path)
        c.request(method, url, json.dumps(body) if body is not None else None,
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        print(f"balloon-rss: {method} {url} -> {r.status} {text}", flush=True)
        if want is not None and r.status != want:
            self.failures.append(f"{method} {url}: {r.status}, expected {want}: {text}")
        return r.status, (json.loads(text) if text else None)

    def check(self, ok, what):
        print(f"balloon-rss: {'ok' if ok else 'FAIL'}: {what}", flush=True)
        if not ok:
            self.failures.append(what)


def wait_socket(path, p):
    import time
    for _ in range(500):
        if os.path.exists(path) or p.poll() is not None:
            return
        time.sleep(0.01)


def main():
    args = sys.argv[1:]
    api_mode = bool(args) and args[0] == "--api"
    if api_mode:
        args = args[1:]
    restore = api_mode and bool(args) and args[0] == "--restore"
    if restore:
        args = args[1:]
    if len(args) < 2:
        print("usage: balloon-rss.py [--api [--restore]] KESTREL-COMMAND...",
              file=sys.stderr)
        return 2
    api = None
    tmp = None
    if api_mode:
        kernel = args[args.index("--kernel") + 1]
        tmp = tempfile.mkdtemp(prefix="kestrel-balloon-")
        sock = os.path.join(tmp, "api.sock")
        metrics = os.path.join(tmp, "metrics")
        cmd = [args[0], "--api-sock", sock, "--id", "balloon"]
    else:
        cmd = args
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    if api_mode:
        wait_socket(sock, p)
        api = Api(sock)
        api.call("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}, 204)
        api.call("PUT", "/boot-source", {"kernel_image_path": kernel}, 204)
        api.call("PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": True,
                                     "stats_polling_interval_s": 1,
                                     "free_page_reporting": True}, 204)
        api.call("PUT", "/metrics", {"metrics_path": metrics}, 204)
        api.call("PUT", "/actions", {"action_type": "InstanceStart"}, 204)
    before = after = -1
    inflated = 0
    while True:
        raw = p.stdout.readline()
        if not raw:
            break
        line = raw.decode(errors="replace")
        sys.stdout.write(line)
        sys.stdout.flush()
        m = re.search(r"balloon-rss: (touched|inflated|waiting for a target)", line)
        if not m:
            continue
        if m.group(1) == "waiting for a target":
            if api:
                api.call("PATCH", "/balloon", {"amount_mib": API_TARGET_MIB}, 204)
            continue
        rss = vm_rss_kib(p.pid)
        if m.group(1) == "touched":
            before = rss
        else:
            after = rss
            inflated = int(re.search(r"inflated (\d+)", line).group(1))
        print(f"balloon-rss: kestrel VmRSS {rss} KiB after '{m.group(1)}'", flush=True)
        if api and m.group(1) == "inflated":
            _, st = api.call("GET", "/balloon/statistics", None, 200)
            st = st or {}
            api.check(st.get("target_mib") == API_TARGET_MIB and
                      st.get("actual_pages") == inflated and
                      st.get("free_memory") == 123 << 20,
                      "GET /balloon/statistics: the target, the guest's actual and its "
                      "free_memory")
            _, cfg = api.call("GET", "/balloon", None, 200)
            api.check((cfg or {}).get("amount_mib") == API_TARGET_MIB,
                      "GET /balloon has the PATCHed amount_mib")
            api.call("PUT", "/actions", {"action_type": "FlushMetrics"}, 204)
            with open(metrics) as f:
                last = json.loads(f.read().splitlines()[-1])
            api.check(last.get("balloon", {}).get("inflate_count", 0) >= inflated,
                      f"metrics: balloon inflate_count {last.get('balloon')}")
            # A snapshot saves the balloon with the target PATCH set.
            state = os.path.join(tmp, "state")
            api.call("PATCH", "/vm", {"state": "Paused"}, 204)
            api.call("PUT", "/snapshot/create", {"snapshot_path": state,
                                                 "mem_file_path": os.path.join(tmp, "mem")},
                     204)
            api.call("PATCH", "/vm", {"state": "Resumed"}, 204)
            with open(state, "rb") as f:
                saved = f.read()
            api.check(f"amount_mib={API_TARGET_MIB}".encode() in saved,
                      "the snapshot saves the balloon with its current target")
            if restore:
                # The guest goes on in a new process, restored from it.
                p.kill()
                p.wait()
                os.unlink(sock)
                p = subprocess.Popen([args[0], "--api-sock", sock, "--id", "restored"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
                wait_socket(sock, p)
                api.call("PUT", "/snapshot/load", {"snapshot_path": state,
                                                   "mem_file_path": os.path.join(tmp, "mem"),
                                                   "resume_vm": True}, 204)
        try:
            p.stdin.write(b"g")
            p.stdin.flush()
        except BrokenPipeError:
            pass
    rc = p.wait()
    if tmp:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
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
    if api and api.failures:
        print("balloon-rss: FAIL: " + "; ".join(api.failures))
        return 3
    return rc


if __name__ == "__main__":
    sys.exit(main())
