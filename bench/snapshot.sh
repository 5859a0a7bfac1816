#!/bin/bash
# Snapshot create and restore times (docs/snapshot.md), 256 MiB and 2 GiB
# guests, plain and encrypted, against a cold boot of the same guest in
# the same run; the AES-256-GCM throughput of this CPU beside them.
#
#   boot      exec of "kestrel run" -> the guest's first console line
#   create    SIGUSR1 -> "kestrel run --snapshot" exited (pause, write, fsync,
#             teardown)
#   restore   exec of "kestrel restore" -> the guest's first console line
#             (the guest halts for its next 5 ms timer tick first), and
#             kestrel's own "restored in" figure: start of main's restore
#             -> machine built and every saved state loaded, before vm_run
#   disk      bytes the snapshot's files take on disk (holes are free)
#   diff      a diff against the plain snapshot (kestrel restore --snapshot-diff),
#             about 20 counts after its restore, restored on that base
#
# Figures, never pass/fail. Needs /dev/kvm.
set -u
B=${B:-build}
KESTREL=${KESTREL:-$B/kestrel}
GUEST=$B/guest/x86/snapshot-count.elf
if [[ ! -e /dev/kvm || ! -x $KESTREL || ! -f $GUEST ]]; then
	echo "   skipped: needs /dev/kvm, $KESTREL and $GUEST (make)"
	exit 0
fi
[[ -x $B/bench/snapshot_evp ]] && "$B/bench/snapshot_evp"
work=$(mktemp -d "${TMPDIR:-/tmp}/kestrel-snap-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
head -c 32 /dev/urandom >"$work/key"

python3 - "$KESTREL" "$GUEST" "$work" <<'PY'
import os, signal, subprocess, sys, time
kestrel, guest, work = sys.argv[1:]
key = os.path.join(work, 'key')

def first_line(argv, stop=True):
    """Seconds from exec to the first console line; the process is killed."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE if stop
                         else subprocess.DEVNULL)
    p.stdout.readline()
    t = time.monotonic() - t0
    if stop:
        p.kill()
        p.wait()
        p.log = p.stderr.read().decode(errors='replace')
    return t, p

def restored_ms(log):
    for line in log.splitlines():
        if 'restored in' in line:
            return float(line.split('restored in')[1].split()[0])
    return float('nan')

def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]

for mem in ('256M', '2G'):
    run = [kestrel, 'run', '--kernel', guest, '--memory', mem]
    boot = median([first_line(run)[0] for _ in range(5)])
    print(f'   {mem} cold boot to first line: {boot * 1e3:7.1f} ms (anchor)')
    for enc in (False, True):
        d = os.path.join(work, f'{mem}-{enc}')
        os.makedirs(d, exist_ok=True)
        kargs = ['--snapshot-key', key] if enc else []
        creates, restores, inner = [], [], []
        for _ in range(3):
            _, p = first_line(run + ['--snapshot', d] + kargs, stop=False)
            for _ in range(5):
                p.stdout.readline()
            t0 = time.monotonic()
            p.send_signal(signal.SIGUSR1)
            p.stdout.read()
            p.wait()
            creates.append(time.monotonic() - t0)
            t, rp = first_line([kestrel, 'restore', d] + kargs)
            restores.append(t)
            inner.append(restored_ms(rp.log))
        disk = sum(os.stat(os.path.join(d, f)).st_blocks * 512 for f in os.listdir(d))
        name = 'encrypted' if enc else 'plain    '
        print(f'   {mem} {name} create {median(creates) * 1e3:7.1f} ms, '
              f'restored in {median(inner):6.2f} ms, '
              f'to first line {median(restores) * 1e3:6.1f} ms '
              f'({median(restores) / boot:.2f}x boot), disk {disk / 1024:.0f} KiB')
        if enc:
            continue
        # A diff against that (plain) snapshot, then restored on it.
        dd = os.path.join(work, f'{mem}-diff')
        os.makedirs(dd, exist_ok=True)
        creates, restores, inner = [], [], []
        for _ in range(3):
            _, p = first_line([kestrel, 'restore', d, '--snapshot', dd, '--snapshot-diff'],
                              stop=False)
            for _ in range(20):
                p.stdout.readline()
            t0 = time.monotonic()
            p.send_signal(signal.SIGUSR1)
            p.stdout.read()
            p.wait()
            creates.append(time.monotonic() - t0)
            t, rp = first_line([kestrel, 'restore', dd])
            restores.append(t)
            inner.append(restored_ms(rp.log))
        disk = sum(os.stat(os.path.join(dd, f)).st_blocks * 512 for f in os.listdir(dd))
        print(f'   {mem} diff      create {median(creates) * 1e3:7.1f} ms, '
              f'restored in {median(inner):6.2f} ms, '
              f'to first line {median(restores) * 1e3:6.1f} ms '
              f'({median(restores) / boot:.2f}x boot), disk {disk / 1024:.0f} KiB')
PY
