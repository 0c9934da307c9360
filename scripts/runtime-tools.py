#!/usr/bin/env python3
"""Runs the built OCI runtime-tools validation programs against one runtime (see
scripts/runtime-tools.sh, which builds them and calls this).

Each program runs in a scratch directory of its own (its TMPDIR) with RUNTIME pointing at a
wrapper that gives the runtime a --root of its own, under a timeout. Its TAP is counted per
program; a program that prints no plan, or exits non-zero before its first assertion, has
crashed. After each program, what the runtime left behind (state under its root, processes,
cgroups, mounts) is counted and cleaned; the empty parent cgroups the suite itself asks for
(testdir/cgrouptest) are counted apart.
This process is a child subreaper, so every container process orphaned by a program
reparents to it: those still alive after the program are leftovers.
"""
import argparse
import ctypes
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CGROOT = "/sys/fs/cgroup"
# The cgroupsPaths the suite gives (cgroups/cgroups.go) are /cgrouptest and
# testdir/cgrouptest/container: the containers' own cgroups are the runtime's to delete;
# the parents it makes for the relative one are the suite's.
SUITE_PARENTS = ("testdir", "testdir/cgrouptest")
# delete_only_create_resources makes this one itself, and leaves it when it stops early.
SUITE_MADE = {"delete_only_create_resources": "/pids/cgrouptest"}
TAP = re.compile(r"^(not ok|ok) (\d+)(?: - (.*?))?(?: # (SKIP|TODO)\s*(.*))?$")


def parse_tap(out):
    """[(status, description)], has_plan."""
    results, plan = [], False
    for line in out.splitlines():
        if re.match(r"^1\.\.\d+", line):
            plan = True
        m = TAP.match(line)
        if not m:
            continue
        ok, _, desc, directive, reason = m.groups()
        if directive == "SKIP":
            status, desc = "skip", desc or reason
        elif directive == "TODO":
            status, desc = ("ok" if ok == "ok" else "fail"), reason
        else:
            status = "ok" if ok == "ok" else "fail"
        results.append((status, (desc or "").replace("\t", " ")))
    return results, plan


def no_assertion(out):
    """What a program that ended well without an assertion said: some (hooks, prestart)
    report a failed check only as a YAML diagnostic."""
    m = re.search(r'"error": "(.*?)(?:\\n|")', out)
    return "no assertion (exit 0)" + (f"; diagnostic: {m.group(1)}" if m else "")


def keyed(results):
    """(description, occurrence) -> status: robust to numbering shifts."""
    seen, out = {}, {}
    for status, desc in results:
        n = seen.get(desc, 0)
        seen[desc] = n + 1
        out[(desc, n)] = status
    return out


def own_cgroups():
    """(hierarchy dir, our cgroup dir in it) for every mounted hierarchy."""
    pairs = []
    for line in open("/proc/self/cgroup"):
        _, ctrls, path = line.strip().split(":", 2)
        name = "unified" if ctrls == "" else ctrls.replace("name=", "")
        for d in (os.path.join(CGROOT, name), CGROOT):
            if os.path.isdir(d) and (ctrls == "" or os.path.exists(os.path.join(d, "tasks"))):
                pairs.append((d, os.path.normpath(os.path.join(d, path.lstrip("/")))))
                break
    return pairs


def cgroup_snapshot():
    """The top-level cgroup dirs of every hierarchy and our own cgroup's subtree."""
    found = set()
    for hier, own in own_cgroups():
        found.update(os.path.join(hier, top) for top in os.listdir(hier))
        if own != hier:
            found.update(dirpath for dirpath, _, _ in os.walk(own))
    return {p for p in found if os.path.isdir(p)}


def new_cgroups(before, ids):
    """Cgroup dirs made since `before` that may be the program's: in our own cgroup, or at
    the top of a hierarchy and named like the suite's paths or a container id (other
    developers' cgroups come and go at the top too)."""
    found = set()
    for p in cgroup_snapshot() - before:
        top = os.path.dirname(p) in {h for h, _ in own_cgroups()}
        name = os.path.basename(p)
        # Runtimes name a default cgroup after the id (corral-ID, runc's ID).
        named = any(i in name for i in ids if len(i) >= 8 and "/" not in i)
        if not top or named or name in ("cgrouptest", "testdir"):
            found.update(dirpath for dirpath, _, _ in os.walk(p))
    return found


def mounts_under(prefix):
    out = []
    for line in open("/proc/self/mountinfo"):
        mp = line.split()[4].replace("\\040", " ")
        if mp == prefix or mp.startswith(prefix + "/"):
            out.append(mp)
    return out


def children():
    """Live (non-zombie) processes whose parent is this subreaper, reaping zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    me, out = os.getpid(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z":
            out.append(int(pid))
    return out


def reap_until_exit(proc, deadline):
    """Waits for the program while reaping the orphans that reparent to us as soon as they
    exit, as a host's init would (a zombie container init would look alive to a runtime).
    Returns "timed out" if it had to kill the program."""
    while True:
        info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is not None and info.si_pid == proc.pid:
            proc.wait()
            return None
        if info is not None:
            os.waitpid(info.si_pid, 0)
            continue
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return "timed out"
        time.sleep(0.01)


def outcome(out, returncode, crash):
    """A program's (results, crash reason or None) from its output and exit status; `crash`
    is a reason already known (a timeout)."""
    results, plan = parse_tap(out)
    if crash is None and not plan and not results and returncode == 0:
        # process_rlimits_fail prints nothing and exits 0 when the runtime refused as it should.
        results = [("ok", "exits 0 without TAP (how this program passes)")]
    elif crash is None and not plan:
        lines = [l for l in out.splitlines() if l.strip() and not TAP.match(l)]
        crash = f"no plan (exit {returncode}): " + (lines[-1][:200] if lines else "no output")
    elif crash is None and not results and returncode != 0:
        # A plan of 1..0 and a failed exit: the program stopped before its first assertion
        # (util.Fatal, or a panic).
        lines = [l for l in out.splitlines() if l.strip() and not TAP.match(l) and l != "1..0"]
        lines = [l for l in lines if re.search("error|panic", l)] or lines
        crash = f"no assertion (exit {returncode}): " + (lines[-1][:200] if lines else "no output")
    return results, crash


def run_program(suite, prog, runtime, timeout, scratch):
    d = os.path.join(scratch, prog)
    root, tmp = os.path.join(d, "root"), os.path.join(d, "tmp")
    os.makedirs(root)
    os.makedirs(tmp)
    # A copy, not a symlink: the suite copies runtimetest into each bundle as it finds it.
    shutil.copy(os.path.join(suite, "runtimetest"), d)
    os.symlink(os.path.join(suite, "rootfs-amd64.tar.gz"), os.path.join(d, "rootfs-amd64.tar.gz"))
    calls = os.path.join(d, "calls")
    wrapper = os.path.join(d, "runtime")
    configs = os.path.join(d, "configs")
    os.makedirs(configs)
    with open(wrapper, "w") as w:
        # Each create's config.json is kept (the programs remove their bundles).
        w.write(f'#!/bin/sh\necho "$@" >> {calls}\n'
                'if [ "$1" = create ]; then\n'
                '  b=.; prev=; for a in "$@"; do [ "$prev" = --bundle ] && b=$a; prev=$a; done\n'
                f'  cp "$b/config.json" "{configs}/$prev.json" 2>/dev/null\n'
                'fi\n'
                f'exec {runtime} --root {root} "$@"\n')
    os.chmod(wrapper, 0o755)
    env = dict(os.environ, RUNTIME=wrapper, TMPDIR=tmp)
    before = cgroup_snapshot()
    start = time.monotonic()
    log = open(os.path.join(d, "out"), "w+b")
    proc = subprocess.Popen([os.path.join(suite, "bin", prog)], cwd=d, env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    crash = reap_until_exit(proc, start + timeout)
    if crash:
        crash += f" after {timeout}s"
    secs = time.monotonic() - start
    log.seek(0)
    out = log.read().decode(errors="replace")
    log.close()
    results, crash = outcome(out, proc.returncode, crash)
    ids = set()
    if os.path.exists(calls):
        for line in open(calls):
            ids.update(line.split())
    left = leftovers(runtime, root, d, before, ids)
    shutil.rmtree(d, ignore_errors=True)
    return dict(prog=prog, results=results, crash=crash, secs=secs, out=out, left=left)


def without_process(runtime, root, d, cid):
    """Whether container `cid` is still created and was created from a config without
    `process` (the start program makes one and, as it expects `start` to run it, waits
    for it to stop instead of deleting it: only `delete --force` can remove it)."""
    out = subprocess.run([runtime, "--root", root, "state", cid], capture_output=True,
                         text=True).stdout
    try:
        status = json.loads(out)["status"]
        cfg = json.load(open(os.path.join(d, "configs", cid + ".json")))
    except (ValueError, KeyError, OSError):
        return False
    return status == "created" and "process" not in cfg


def leftovers(runtime, root, d, before, ids):
    """Counts what is left, waiting up to 2 s for exiting processes, then cleans it. The
    containers the suite leaves by design are deleted first and counted apart."""
    made = [c for c in sorted(os.listdir(root)) if without_process(runtime, root, d, c)]
    for cid in made:
        subprocess.run([runtime, "--root", root, "delete", "--force", cid],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 2
    while True:
        state = sorted(os.listdir(root))
        procs = children()
        new = sorted(new_cgroups(before, ids), key=len, reverse=True)
        if (not state and not procs and not new) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    mine, suites = [], []
    for p in new:
        suite_parent = any(p.endswith("/" + s) for s in SUITE_PARENTS)
        suite_parent |= p.endswith(SUITE_MADE.get(os.path.basename(d), "\0"))
        (suites if suite_parent else mine).append(p)
    mounts = mounts_under(d)
    for cid in state:
        subprocess.run([runtime, "--root", root, "delete", "--force", cid],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for pid in children():
        os.kill(pid, signal.SIGKILL)
    for mp in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
    for p in new:
        for _ in range(40):
            try:
                os.rmdir(p)
                break
            except FileNotFoundError:
                break
            except OSError:
                children()
                time.sleep(0.05)
    children()
    return dict(state=state, procs=procs, cgroups=mine, suite_cgroups=suites, mounts=mounts,
                suite_containers=made)


def load_tsv(path):
    """prog -> {(desc, n): status}, prog -> crash reason."""
    per, crashes = {}, {}
    rows = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        prog, _, status, desc = line.rstrip("\n").split("\t", 3)
        if status == "crashed":
            crashes[prog] = desc
        elif status != "none":
            rows.setdefault(prog, []).append((status, desc))
    for prog, res in rows.items():
        per[prog] = keyed(res)
    return per, crashes


def load_allow(path):
    """[(prog, description glob, cause)]; a description of '(crashed)' allows a crash."""
    out = []
    for n, line in enumerate(open(path), 1):
        if line.startswith("#") or not line.strip():
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3 or not parts[2].strip():
            sys.exit(f"{path}:{n}: an entry is PROGRAM<TAB>DESCRIPTION-GLOB<TAB>CAUSE")
        out.append(tuple(parts))
    return out


def compare(runs, ref, allow_path):
    """Problems with `runs` against `ref` (prog -> {(desc, n): status}, as load_tsv gives)
    and the allow-list."""
    allow = load_allow(allow_path)
    used, bad = set(), []

    def allowed(prog, desc):
        for i, (p, pat, _) in enumerate(allow):
            if p == prog and fnmatch.fnmatchcase(desc, pat):
                used.add(i)
                return True
        return False

    for r in runs:
        prog, mine = r["prog"], keyed(r["results"])
        if r["crash"] and not allowed(prog, "(crashed)"):
            bad.append(f"{prog}: crashed ({r['crash']}), not in the allow-list")
        for (desc, n), status in mine.items():
            if status == "fail" and not allowed(prog, desc):
                bad.append(f"{prog}: fails '{desc}' (#{n + 1} of that name), not in the allow-list")
        for (desc, n), status in ref.get(prog, {}).items():
            if status == "ok" and mine.get((desc, n)) not in ("ok", "fail") and not allowed(prog, desc):
                bad.append(f"{prog}: '{desc}' passes in the fixture, here {mine.get((desc, n), 'missing')}")
    progs = {r["prog"] for r in runs}
    for i, (p, pat, cause) in enumerate(allow):
        if i not in used and p in progs:
            print(f"note: allow-list entry not needed in this run: {p}\t{pat}")
    return bad


def report(r, tot, leftover_total):
    """Prints one program's counts, failures and leftovers; adds them to the totals."""
    c = {s: sum(1 for st, _ in r["results"] if st == s) for s in ("ok", "fail", "skip")}
    for s in c:
        tot[s] += c[s]
    tot["crashed"] += bool(r["crash"])
    for k, v in r["left"].items():
        leftover_total[k] += len(v)
    line = f"{r['prog']:40} ok {c['ok']:4} fail {c['fail']:3} skip {c['skip']:4}  {r['secs']:5.1f}s"
    if r["crash"]:
        line += f"  CRASHED: {r['crash']}"
    elif not r["results"]:
        line += f"  {no_assertion(r['out'])}"
    print(line, flush=True)
    for st, desc in r["results"]:
        if st == "fail":
            print(f"    not ok: {desc}")
    for k, v in r["left"].items():
        if v and k == "suite_cgroups":
            print(f"    the suite's own empty cgroups (cleaned): {len(v)}")
        elif v and k == "suite_containers":
            print(f"    the suite's own containers, created without a process "
                  f"(deleted by the runner): {' '.join(v)}")
        elif v:
            print(f"    left behind: {k}: {' '.join(map(str, v))}")


def totals():
    return dict(ok=0, fail=0, skip=0, crashed=0), dict(state=0, procs=0, cgroups=0, mounts=0,
                                                       suite_cgroups=0, suite_containers=0)


GUEST = re.compile(r"^=== RTOOLS-(BEGIN|END|LEFT) (\S+) (\S+)(?: (.*))?$")


def guest_runs(console):
    """runtime -> [run] from the console of scripts/v2-guest.sh --rtools (the markers of
    scripts/runtime-tools-guest.sh)."""
    runs, cur, out = {}, None, []
    for line in open(console, errors="replace"):
        line = line.rstrip("\r\n")
        m = GUEST.match(line)
        if not m:
            if cur:
                out.append(line)
            continue
        kind, rt, prog, rest = m.groups()
        if kind == "BEGIN":
            cur, out = (rt, prog), []
        elif kind == "END" and cur == (rt, prog):
            code, secs = re.match(r"exit (\d+) secs ([\d.]+)", rest).groups()
            # busybox timeout -s KILL: the program was killed (128 + 9).
            crash = "timed out" if code == "137" else None
            text = "\n".join(out)
            results, crash = outcome(text, int(code), crash)
            left = dict(state=[], procs=[], cgroups=[], mounts=[], suite_cgroups=[],
                        suite_containers=[])
            runs.setdefault(rt, []).append(dict(prog=prog, results=results, crash=crash,
                                                secs=float(secs), out=text, left=left))
            cur = None
        elif kind == "LEFT":
            what, thing = rest.split(" ", 1)
            key = {"state": "state", "cgroup": "cgroups", "suite-cgroup": "suite_cgroups"}[what]
            runs[rt][-1]["left"][key].append(thing)
    return runs


def guest_main(console, allow_path):
    """Counts per runtime from the guest's console and corral compared with runc from the
    same run."""
    runs = guest_runs(console)
    if set(runs) != {"corral", "runc"}:
        sys.exit(f"runtime-tools (guest): {console} has runs of {sorted(runs)}, not corral and runc")
    for rt in ("runc", "corral"):
        print(f"--- {rt} in the v2 guest")
        tot, lt = totals()
        for r in runs[rt]:
            report(r, tot, lt)
        print(f"runtime-tools in the v2 guest ({rt}): ok {tot['ok']}, fail {tot['fail']}, "
              f"skip {tot['skip']}, crashed {tot['crashed']} of {len(runs[rt])} programs; "
              f"left behind: state {lt['state']}, cgroups {lt['cgroups']}; the suite's own "
              f"empty parent cgroups (cleaned): {lt['suite_cgroups']}")
    ref = {r["prog"]: keyed(r["results"]) for r in runs["runc"]}
    bad = compare(runs["corral"], ref, allow_path)
    # A program that stops early leaves its container (delete_only_create_resources does
    # on v2 with either runtime): corral may leave only what runc leaves in the same program.
    runc_left = {r["prog"]: r["left"] for r in runs["runc"]}
    for r in runs["corral"]:
        for k in ("state", "cgroups"):
            if r["left"][k] and not runc_left.get(r["prog"], {}).get(k):
                bad.append(f"{r['prog']}: corral left {k} behind, runc nothing: {r['left'][k]}")
    for b in bad:
        print(f"REGRESSION: {b}")
    print(f"runtime-tools in the v2 guest, corral against runc: {len(bad)} unexplained")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite")
    ap.add_argument("--runtime")
    ap.add_argument("--guest-console", help="compare corral with runc from the console of "
                    "scripts/v2-guest.sh --rtools instead of running anything")
    ap.add_argument("--filter", action="append", default=[])
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--tsv")
    ap.add_argument("--compare")
    ap.add_argument("--allow")
    ap.add_argument("--verbose", action="store_true", help="print each program's TAP")
    a = ap.parse_args()
    if a.guest_console:
        sys.exit(guest_main(a.guest_console, a.allow or os.devnull))
    if not a.suite or not a.runtime:
        ap.error("--suite and --runtime are required (without --guest-console)")
    if os.getuid() != 0:
        sys.exit("runtime-tools: the suite runs containers: run it as root")
    runtime = os.path.abspath(a.runtime)
    a.suite = os.path.abspath(a.suite)
    # PR_SET_CHILD_SUBREAPER: orphaned container processes reparent to us.
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
    progs = sorted(os.listdir(os.path.join(a.suite, "bin")))
    if a.filter:
        progs = [p for p in progs if any(f in p for f in a.filter)]
    scratch = tempfile.mkdtemp(prefix="rtools-")
    # Traversable: a container's mapped root in a user namespace must reach its bundle.
    os.chmod(scratch, 0o755)
    runs = []
    tot, leftover_total = totals()
    start = time.monotonic()
    try:
        for prog in progs:
            r = run_program(a.suite, prog, runtime, a.timeout, scratch)
            runs.append(r)
            report(r, tot, leftover_total)
            if a.verbose:
                print(r["out"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"runtime-tools total ({a.runtime}): ok {tot['ok']}, fail {tot['fail']}, "
          f"skip {tot['skip']}, crashed {tot['crashed']} of {len(progs)} programs "
          f"in {time.monotonic() - start:.0f}s")
    lt = leftover_total
    print(f"runtime-tools left behind by the runtime: state {lt['state']}, processes {lt['procs']}, "
          f"cgroups {lt['cgroups']}, mounts {lt['mounts']}; the suite's own empty parent "
          f"cgroups (cleaned): {lt['suite_cgroups']}, containers (deleted): "
          f"{lt['suite_containers']}")
    if a.tsv:
        with open(a.tsv, "w") as f:
            f.write("# program\tnumber\tstatus\tdescription\n")
            for r in runs:
                for n, (st, desc) in enumerate(r["results"], 1):
                    f.write(f"{r['prog']}\t{n}\t{st}\t{desc}\n")
                if r["crash"]:
                    f.write(f"{r['prog']}\t-\tcrashed\t{r['crash']}\n")
                elif not r["results"]:
                    f.write(f"{r['prog']}\t-\tnone\t{no_assertion(r['out'])}\n")
    failed = False
    if a.compare:
        bad = compare(runs, load_tsv(a.compare)[0], a.allow or os.devnull)
        for b in bad:
            print(f"REGRESSION: {b}")
        print(f"runtime-tools against {os.path.basename(a.compare)}: {len(bad)} unexplained")
        failed = bool(bad)
    if any(lt[k] for k in ("state", "procs", "cgroups", "mounts")) and a.compare:
        print("runtime-tools: the runtime left things behind (above)")
        failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
