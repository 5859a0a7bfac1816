"""Reading another process's memory as a second root process would: every
readable mapping through /proc/PID/mem (scripts/protected-check.py,
scripts/launch-scan.py)."""


def chunks(pid, overlap, step=8 << 20):
    """(address, bytes) for every readable mapping of pid, in pieces of
    step bytes that overlap by overlap so a needle that long is never split;
    pieces that cannot be read are left out."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if fields[1][0] != "r" or (len(fields) > 5 and fields[5] == "[vvar]"):
                continue
            for a in range(lo, hi, step):
                try:
                    mem.seek(a)
                    data = mem.read(min(step + overlap, hi - a))
                except OSError:
                    continue
                yield a, data
