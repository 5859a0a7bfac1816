#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The fresh-machine check: what the build uses, scripts/setup.sh installs.

A machine where setup.sh has already run (this one, CI's) builds fine even
when setup.sh forgot a package, so a green build proves nothing. This test
asks instead where each thing the build uses comes from:

  - every system header any compile includes (the compile commands of a
    dry run, `make -n -B`, re-run with -M),
  - every file the linker opens for each set of link flags (-l libraries,
    static libc, crt files, sanitizer runtimes: a stub linked with those
    flags and -Wl,--verbose),
  - the compilers the recipes run,

maps each file to its Debian package with `dpkg -S`, and fails when that
package is not installed by `scripts/setup.sh GROUP` for the target that
uses it ("build" for `make` / `make run`, "test" for `make check` /
`make bench` / `make fuzz`), nor pulled in by a Depends/Pre-Depends of
what the group installs, nor Essential (present on every Debian).

It also checks the Makefile runs setup.sh with the right group before its
first compile for each of those targets, and, so that it cannot pass
vacuously, that taking liburing-dev out of the build group (issue 10's
fresh-machine failure: liburing.h missing) is caught.

Exit 0 pass, 1 fail, 77 skip (not Debian: no dpkg; or no make/cc).
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

TOP = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
COMPILERS = {"cc", "gcc", "clang", "gcc-12", "clang-14"}
SRC_EXT = (".c", ".S", ".s")

# Built by test scripts at run time, not by make ("test" group).
EXTRA_COMPILES = [
    "cc -static -O2 -Wall -o l2-net tests/e2e/l2-net.c",        # tests/e2e/check.sh, peers
    "cc -std=gnu11 -O2 -Wall -o boottime bench/tools/boottime.c",  # bench/boot-bench.sh
    # tests/build/lib-install.sh, against the installed headers (the same files)
    "cc -std=gnu11 -O2 -Wall -Iinclude -c -o vdpa-serve.o examples/vdpa-serve.c",
]

# The make goals each group serves, and the goals whose compiles we inspect.
GOAL_GROUP = {"all": "build", "run": "build", "bench": "test", "check": "test"}
INSPECT = [("build", ["all"]), ("test", ["all", "fuzz"])]

failures = 0


def report(ok, msg):
    global failures
    print(("PASS: " if ok else "FAIL: ") + msg)
    if not ok:
        failures += 1
    return ok


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(77)


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=TOP, capture_output=True, text=True, **kw)


def setup_list(group):
    r = run(["scripts/setup.sh", "--list", group])
    if r.returncode:
        report(False, f"scripts/setup.sh --list {group}: {r.stderr.strip()}")
        sys.exit(1)
    return [p for p in r.stdout.split() if p]


def dry_run(goals, builddir, setup=True):
    """The commands `make -n -B` would run, one list of words each."""
    cmd = ["make", "-n", "-B", "--no-print-directory", f"B={builddir}"]
    if not setup:
        cmd.append("SETUP=0")
    r = run(cmd + goals)
    if r.returncode:
        report(False, f"make -n {' '.join(goals)} fails: {r.stderr.strip()[-300:]}")
        sys.exit(1)
    out = []
    for line in r.stdout.splitlines():
        try:
            out.append(shlex.split(line))
        except ValueError:
            pass  # shell loops and the like: not compiler commands
    return out


def is_compiler(words):
    return bool(words) and os.path.basename(words[0]) in COMPILERS


def strip_outputs(words):
    """Drop -o X, -MF X, -MT X, -MMD, -MP, -MD, -c."""
    out, it = [], iter(words)
    for w in it:
        if w in ("-o", "-MF", "-MT", "-MQ"):
            next(it, None)
        elif w in ("-MMD", "-MP", "-MD", "-c"):
            continue
        else:
            out.append(w)
    return out


def headers_of(words):
    """System headers one compile command includes: {path: source}."""
    args = strip_outputs(words)
    srcs = [a for a in args[1:] if a.endswith(SRC_EXT)]
    # Link-only words do not matter to the preprocessor; -l would be ignored.
    flags = [a for a in args[1:] if not a.endswith(SRC_EXT) and not a.startswith(("-l", "-Wl,"))]
    # -MG: a file the build generates (seccomp-filters.inc) is not there
    # in a dry run; it is the build's own, not a package's.
    r = run([args[0], "-M", "-MG"] + flags + srcs)
    if r.returncode:
        return None, f"{' '.join(srcs)}: {r.stderr.strip()[:300]}"
    found = {}
    for tok in r.stdout.replace("\\\n", " ").split():
        if tok.endswith(":") or tok.endswith(SRC_EXT):
            continue
        path = os.path.normpath(os.path.join(TOP, tok))
        if not path.startswith(TOP + os.sep):
            found[path] = srcs[0] if srcs else words[0]
    return found, None


def linked_files(words, tmp, n):
    """Files the linker opens for @words' flags, with a stub for the inputs."""
    args = strip_outputs(words)
    flags = [a for a in args[1:] if not a.endswith((".o", ".a") + SRC_EXT)]
    # The build's own linker script ($(B)/gen/kestrel.ld) places sections;
    # it is generated, not a system file, and absent in this dry run.
    # libkestrel-vdpa's symbol map names functions the stub lacks; it is
    # the tree's own file and opens nothing either.
    flags = [a for a in flags if not a.startswith(("-Wl,-T,", "-Wl,--version-script="))
             and a != "-Wl,--no-undefined-version"]
    fuzz = any(a.startswith("-fsanitize=") and "fuzzer" in a for a in flags)
    stub = os.path.join(tmp, f"stub{n}")
    with open(stub + ".c", "w") as f:
        f.write("int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n"
                "int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)"
                " { return 0; }\n" if fuzz else "int main(void) { return 0; }\n")
    r = run([args[0], "-c", "-o", stub + ".o", stub + ".c"])
    if not r.returncode:
        r = run([args[0]] + flags + [stub + ".o", "-o", stub, "-Wl,--verbose"])
    if r.returncode:
        return None, f"{' '.join(flags)}: {r.stderr.strip()[:300]}"
    opened = {os.path.normpath(p) for p in
              re.findall(r"attempt to open (\S+) succeeded", r.stdout + r.stderr)}
    return {p: "link: " + " ".join(flags) for p in opened
            if not p.startswith((tmp, tempfile.gettempdir() + os.sep))}, None


def usrmerge_variants(path):
    """dpkg records some files under /lib, /bin; Debian 12 merges /usr."""
    yield path
    real = os.path.realpath(path)
    yield real
    for p in (path, real):
        for a, b in (("/usr/lib/", "/lib/"), ("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/")):
            if p.startswith(a):
                yield b + p[len(a):]
            elif p.startswith(b):
                yield a + p[len(b):]


def owners(paths):
    """{path: set of packages} via dpkg -S; a path dpkg does not know maps to set()."""
    result = {p: set() for p in paths}
    pending = {p: list(dict.fromkeys(usrmerge_variants(p))) for p in paths}
    while pending:
        ask = {}
        for p, variants in pending.items():
            if variants:
                ask.setdefault(variants.pop(0), []).append(p)
        if not ask:
            break
        r = run(["dpkg", "-S"] + sorted(ask))
        for line in r.stdout.splitlines():
            if line.startswith("diversion "):
                continue
            pkgs, _, f = line.rpartition(": ")
            if f in ask:
                for p in ask[f]:
                    result[p] |= {q.strip().split(":")[0] for q in pkgs.split(",")}
        pending = {p: v for p, v in pending.items() if not result[p] and v}
    return result


def installed_db():
    r = run(["dpkg-query", "-W", "-f",
             "${Package}\t${Status}\t${Essential}\t${Provides}\t${Depends}\t${Pre-Depends}\n"])
    db, provides = {}, {}
    for line in r.stdout.splitlines():
        f = line.split("\t")
        if len(f) < 6 or not f[1].endswith(" installed"):
            continue
        db[f[0]] = {"essential": f[2] == "yes", "deps": f[4] + "," + f[5]}
        for v in f[3].split(","):
            v = v.strip().split(" ")[0].split(":")[0]
            if v:
                provides.setdefault(v, []).append(f[0])
    return db, provides


def closure(roots, db, provides):
    """What installing @roots (with --no-install-recommends) brings: Depends
    and Pre-Depends, recursively. Of alternatives "a | b" apt takes the
    first it can: the first that is a package (or provided) here."""
    seen, todo = set(), [r for r in roots if r in db]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        for group in db[p]["deps"].split(","):
            for alt in group.split("|"):
                name = alt.strip().split(" ")[0].split(":")[0]
                if not name:
                    continue
                cands = ([name] if name in db else []) + provides.get(name, [])
                if cands:
                    todo.extend(cands)
                    break
    return seen


def check_makefile_wiring(tmp):
    """Each goal runs setup.sh with its group before its first compile."""
    for goal, group in GOAL_GROUP.items():
        cmds = dry_run([goal], os.path.join(tmp, "wiring"))
        first_cc = next((i for i, w in enumerate(cmds) if is_compiler(w)), None)
        first_setup = next((i for i, w in enumerate(cmds)
                            if w and w[0].endswith("scripts/setup.sh")), None)
        report(first_setup is not None and first_cc is not None and first_setup < first_cc
               and cmds[first_setup][1:2] == [group],
               f"make {goal} runs scripts/setup.sh {group} before it compiles"
               + ("" if first_setup is None else f" (runs: {' '.join(cmds[first_setup])})"))


def main():
    for tool in ("dpkg", "dpkg-query", "make", "cc"):
        if not shutil.which(tool):
            skip(f"no {tool}: this check maps files to Debian packages")
    db, provides = installed_db()
    essential = closure([p for p, v in db.items() if v["essential"]], db, provides)
    groups = {g: setup_list(g) for g in ("build", "test")}
    allowed = {g: closure(pkgs, db, provides) | essential for g, pkgs in groups.items()}

    with tempfile.TemporaryDirectory(prefix="kestrel-packages.") as tmp:
        check_makefile_wiring(tmp)
        uses = {}  # group -> {path: where}
        for group, goals in INSPECT:
            cmds = [w for w in dry_run(goals, os.path.join(tmp, "b"), setup=False)
                    if is_compiler(w)]
            if group == "test":
                cmds += [shlex.split(c) for c in EXTRA_COMPILES]
            compiles = [w for w in cmds if any(a.endswith(SRC_EXT) for a in w)]
            links = {}
            for w in cmds:
                if "-c" not in w:
                    key = tuple(a for a in strip_outputs(w)
                                if not a.endswith((".o", ".a") + SRC_EXT))
                    links.setdefault(key, w)
            used = uses.setdefault(group, {})
            with ThreadPoolExecutor(max_workers=2) as pool:
                for found, err in pool.map(headers_of, compiles):
                    if err:
                        report(False, f"preprocessing fails: {err}")
                    else:
                        used.update({k: v for k, v in found.items() if k not in used})
            for n, w in enumerate(links.values()):
                found, err = linked_files(w, tmp, n)
                if err:
                    report(False, f"stub link fails: {err}")
                else:
                    used.update({k: v for k, v in found.items() if k not in used})
            for w in cmds:
                exe = shutil.which(w[0])
                if exe:
                    used.setdefault(exe, "compiler")
            print(f"INFO: {group}: {len(compiles)} compiles, {len(links)} link flag sets, "
                  f"{len(used)} system files")

        every = sorted(set().union(*uses.values()))
        own = owners(every)
        for group, used in uses.items():
            bad = 0
            for path, where in sorted(used.items()):
                pkgs = own[path]
                if not pkgs:
                    bad += 1
                    report(False, f"{group}: {path} (used by {where}) belongs to no Debian "
                           "package: setup.sh cannot install it")
                elif not pkgs & allowed[group]:
                    bad += 1
                    report(False, f"{group}: {path} (used by {where}) comes from "
                           f"{', '.join(sorted(pkgs))}, which `scripts/setup.sh {group}` "
                           "does not install")
            pkgs_used = sorted(set().union(*(own[p] for p in used)) & allowed[group])
            report(bad == 0, f"{group}: all {len(used)} headers, libraries and compilers "
                   f"come from packages setup.sh installs: {' '.join(pkgs_used)}")

        # Negative control: without liburing-dev the build group must fail on liburing.h.
        without = closure([p for p in groups["build"] if p != "liburing-dev"], db, provides)
        caught = [p for p in uses["build"] if own[p] and not own[p] & (without | essential)]
        report(any(p.endswith("/liburing.h") for p in caught),
               "a build group without liburing-dev is caught (liburing.h: "
               + ", ".join(os.path.basename(p) for p in caught[:4]) + ")")

    print(f"{'FAIL' if failures else 'PASS'}: {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
