#!/usr/bin/env bash
# Benchmark corral against the bare-syscall floor, runc and crun, in two views of the
# host's cgroups: "hybrid" (this host as it is: v1 hierarchies) and "v2" (a private mount
# namespace with a fresh cgroup2 mount at /sys/fs/cgroup: a pure v2 host; see HOST.md).
# Usage: scripts/bench.sh [N] [ROUNDS]   (N runs per runtime in a round, default 20;
#        ROUNDS interleaved rounds, default 3: each figure is the best round's mean)
# Env:   CORRAL=/path/to/corral skips the cargo build and uses that binary.
# Prints per view: ms per `run` of /bin/true on a busybox bundle and the ratios to the
# floor, crun and runc; ms per `exec` of /bin/true into a running container; 50
# concurrent `run`s (total time, none may fail, nothing may be left); corral's phases from
# its --debug trace; then peak RSS and corral's stripped size. crun 1.8 refuses hybrid
# hosts: it is measured in the v2 view only. Each figure is wall time and CPU time (user +
# system of the runtime and all its children: the steadier one on a loaded machine); the
# roots and bundles are on a tmpfs.
set -euo pipefail

N=${1:-20}
ROUNDS=${2:-3}
[[ $N =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] || {
  echo "usage: $0 [N>0] [ROUNDS>0]" >&2
  exit 2
}
cd "$(dirname "$0")/.."
REPO=$PWD
die() { echo "bench: error: $*" >&2; exit 1; }

. scripts/lib.sh
install_deps runc crun busybox-static time gcc

if [[ -z ${CORRAL:-} ]]; then
  cargo build --release -p corral
  CORRAL=$BIN_DIR/release/corral
fi
[[ -x $CORRAL ]] || die "corral binary not found: $CORRAL"

WORK=$(mktemp -d /tmp/corral-bench.XXXXXX)
# Every runtime's --root and the bundles live on a tmpfs, as /run does on production hosts:
# on this host's ext4 the fdatasync of each state file (crash safety) would be most of a
# container's wall time, and it costs nothing on tmpfs.
mount -t tmpfs -o mode=0700 corral-bench "$WORK"
echo "bench: --root dirs and bundles on a tmpfs at $WORK (as /run is in production)"
declare -A BIN=([corral]=$CORRAL [runc]=$(command -v runc) [crun]=$(command -v crun))
VIEWS=(hybrid v2)
# Runs "$@" in VIEW: as is on the host, or in the pure cgroup-v2 view.
inview() {
  local view=$1
  shift
  if [[ $view == hybrid ]]; then
    "$@"
  else
    unshare -m --propagation private bash -c \
      'umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' bench "$@"
  fi
}
# Deletes (--force) every container left under a runtime's root, in the view it was made in.
sweep() {
  local view=$1 rt=$2 root=$WORK/root-$1-$2 id
  [[ -d $root ]] || return 0
  for id in $(inview "$view" "${BIN[$rt]}" --root "$root" list -q 2>/dev/null); do
    echo "bench: deleting leftover $rt container $id ($view)" >&2
    inview "$view" "${BIN[$rt]}" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
  done
}
cleanup() {
  local v rt
  for v in "${VIEWS[@]}"; do for rt in corral runc crun; do sweep "$v" "$rt"; done; done
  umount "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- The floor program and the bundles (/bin/true, and /bin/sleep for exec) ---
gcc -O2 -o "$WORK/floor" scripts/floor.c
FLOOR=$WORK/floor
BUNDLE=$WORK/bundle
make_bundle "$BUNDLE" "$CORRAL" '["/bin/true"]'
# crun 1.8 refuses ociVersion 1.3.0 ("unknown version specified"); the config is 1.0-clean.
sed -i 's/"ociVersion": "[^"]*"/"ociVersion": "1.0.2"/' "$BUNDLE/config.json"
SLEEPER=$WORK/sleeper
mkdir -p "$SLEEPER"
python3 - "$BUNDLE/config.json" "$SLEEPER/config.json" "$BUNDLE/rootfs" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["process"]["args"] = ["/bin/sleep", "100000"]
cfg["root"]["path"] = sys.argv[3]
json.dump(cfg, open(sys.argv[2], "w"), indent=2)
PY

# The floor's cgroup parents: where the runtimes put a container without cgroupsPath
# (below the bench's own cgroup), one per v1 hierarchy, or the one v2 directory.
floor_args() {
  if [[ $1 == v2 ]]; then
    echo "v2 /sys/fs/cgroup"
    return
  fi
  local line dirs=() h rel
  while IFS=: read -r _ h rel; do
    [[ -z $h ]] && continue
    h=${h#name=}
    dirs+=("/sys/fs/cgroup/${h%%,*}${rel%/}")
  done </proc/self/cgroup
  echo "v1 ${dirs[*]}"
}

# runtimes VIEW: those measured there.
runtimes() { if [[ $1 == v2 ]]; then echo corral crun runc; else echo corral runc; fi; }

# RUN, EXEC: "wall cpu" ms, the best round's of each; CONC: the concurrent runs' line.
declare -A RUN EXEC CONC PH
# best "W C" "W C": the smaller wall and the smaller CPU figure of the two.
best() {
  awk -v a="${1:-}" -v b="$2" 'BEGIN {
    if (a == "") { print b; exit }
    split(a, x, " "); split(b, y, " ")
    printf "%s %s\n", (y[1] < x[1] ? y[1] : x[1]), (y[2] < x[2] ? y[2] : x[2]) }'
}
wall() { echo "${1%% *}"; }
cpu() { echo "${1##* }"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }

# One round of sequential runs in VIEW: floor, then each runtime, N each.
round() {
  local view=$1 r=$2 rt ms
  # shellcheck disable=SC2046
  ms=$(inview "$view" "$FLOOR" "$N" "$BUNDLE/rootfs" $(floor_args "$view")) || die "floor failed ($view)"
  RUN[$view,floor]=$(best "${RUN[$view,floor]:-}" "$ms")
  for rt in $(runtimes "$view"); do
    mkdir -p "$WORK/root-$view-$rt"
    ms=$(inview "$view" "$FLOOR" spawn "$N" "${BIN[$rt]}" --root "$WORK/root-$view-$rt" run \
      --bundle "$BUNDLE" "r$r-{}" </dev/null) || die "$rt run failed ($view)"
    RUN[$view,$rt]=$(best "${RUN[$view,$rt]:-}" "$ms")
  done
}

# exec of /bin/true into a running container, N times per runtime, ROUNDS interleaved.
exec_bench() {
  local view=$1 rt r ms root
  for rt in $(runtimes "$view"); do
    root=$WORK/root-$view-$rt
    inview "$view" "${BIN[$rt]}" --root "$root" run -d --bundle "$SLEEPER" sleeper \
      </dev/null >/dev/null 2>"$WORK/err" || die "$rt run -d failed ($view): $(cat "$WORK/err")"
  done
  for ((r = 0; r < ROUNDS; r++)); do
    for rt in $(runtimes "$view"); do
      ms=$(inview "$view" "$FLOOR" spawn "$N" "${BIN[$rt]}" --root "$WORK/root-$view-$rt" \
        exec sleeper /bin/true) || die "$rt exec failed ($view)"
      EXEC[$view,$rt]=$(best "${EXEC[$view,$rt]:-}" "$ms")
    done
  done
  for rt in $(runtimes "$view"); do
    inview "$view" "${BIN[$rt]}" --root "$WORK/root-$view-$rt" delete --force sleeper
  done
}

# 50 concurrent runs of distinct ids under one root per runtime: total ms; all must succeed.
concurrent() {
  local view=$1 rt root
  for rt in $(runtimes "$view"); do
    root=$WORK/root-$view-$rt-conc
    mkdir -p "$root"
    CONC[$view,$rt]=$(inview "$view" bash -c '
      bin=$1 root=$2 bundle=$3
      t0=$(date +%s%N)
      for i in $(seq 50); do
        "$bin" --root "$root" run --bundle "$bundle" "bench-conc-$i" </dev/null >/dev/null &
      done
      fail=0
      for j in $(jobs -p); do wait "$j" || fail=$((fail + 1)); done
      t1=$(date +%s%N)
      left=$("$bin" --root "$root" list -q | wc -l)
      echo "$(((t1 - t0) / 1000000)) ms, $fail failed, $left left"' bench "${BIN[$rt]}" "$root" "$BUNDLE")
    # No cgroup may be left either, in any hierarchy (v2 view: the host's unified mount).
    cgs=$(find /sys/fs/cgroup -maxdepth 5 -type d -name 'bench-conc-*' | wc -l)
    CONC[$view,$rt]+=", $cgs cgroups left"
  done
}

# corral's phases (--debug trace), averaged over N runs: "NAME ms" lines.
phases() {
  local view=$1 log=$WORK/trace-$1.log
  rm -f "$log"
  # All N in one view: a fresh cgroup2 mount per run would put its first lookups (about a
  # millisecond) in every run's cgroup phase, which the timed rounds never see.
  inview "$view" bash -c 'for ((i = 0; i < $1; i++)); do
      "$2" --debug --log "$3" --root "$4" run --bundle "$5" "t$i" </dev/null >/dev/null || exit 1
    done' phases "$N" "$CORRAL" "$log" "$WORK/root-$view-corral" "$BUNDLE" ||
    die "corral --debug run failed ($view)"
  python3 - "$log" "$N" <<'PY'
import re, sys
from collections import OrderedDict
tot = OrderedDict()
for line in open(sys.argv[1]):
    m = re.search(r'msg="?phase (\S+) ([0-9.]+) ms( \(init\))?', line)
    if m:
        key = ("  init: " if m.group(3) else "") + m.group(1)
        tot[key] = tot.get(key, 0.0) + float(m.group(2))
    m = re.search(r'msg="?phases total ([0-9.]+) ms', line)
    if m:
        tot["total (traced)"] = tot.get("total (traced)", 0.0) + float(m.group(1))
n = int(sys.argv[2])
print("  ".join(f"{k.strip()}={v / n:.2f}" for k, v in tot.items() if not k.startswith("  ")))
print("  init: " + "  ".join(f"{k[8:]}={v / n:.2f}" for k, v in tot.items() if k.startswith("  ")))
PY
}

# CPU time the hypervisor gave to others while this VM's CPUs wanted it (/proc/stat's
# steal column, in USER_HZ): a busy host stretches every figure, the floor's too.
steal() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.1f", $9 / hz }' /proc/stat; }
for view in "${VIEWS[@]}"; do
  echo "== view $view: $ROUNDS interleaved rounds of $N runs each (best round shown; ms per" \
    "container; cpu = user + system of the runtime and its children; load $(cut -d' ' -f1-3 /proc/loadavg)) =="
  steal0=$(steal)
  for ((r = 0; r < ROUNDS; r++)); do round "$view" "$r"; done
  exec_bench "$view"
  concurrent "$view"
  PH[$view]=$(phases "$view")
  f=$(wall "${RUN[$view,floor]}")
  fc=$(cpu "${RUN[$view,floor]}")
  printf '%-7s %-8s %-8s %-8s %-8s %-8s %-9s %-8s %-8s %s\n' runtime run-ms run-cpu x-floor \
    x-crun x-runc cpu-floor exec-ms exec-cpu "50 concurrent runs"
  printf '%-7s %-8s %-8s\n' floor "$f" "$fc"
  for rt in $(runtimes "$view"); do
    w=$(wall "${RUN[$view,$rt]}")
    printf '%-7s %-8s %-8s %-8s %-8s %-8s %-9s %-8s %-8s %s\n' "$rt" "$w" "$(cpu "${RUN[$view,$rt]}")" \
      "$(ratio "$w" "$f")" \
      "$([[ $view == v2 ]] && ratio "$w" "$(wall "${RUN[$view,crun]}")" || echo -)" \
      "$(ratio "$w" "$(wall "${RUN[$view,runc]}")")" "$(ratio "$(cpu "${RUN[$view,$rt]}")" "$fc")" \
      "$(wall "${EXEC[$view,$rt]}")" "$(cpu "${EXEC[$view,$rt]}")" "${CONC[$view,$rt]}"
  done
  echo "steal: $(awk -v a="$steal0" -v b="$(steal)" 'BEGIN { printf "%.1f", b - a }') s of CPU" \
    "taken by the hypervisor during this view"
  echo "corral phases, ms per run (--debug trace, mean of $N):"
  echo "${PH[$view]}" | sed 's/^/  /'
  for m in wall cpu; do
    r() { ratio "$($m "${1}")" "$($m "${2}")"; }
    if [[ $view == v2 ]]; then
      echo "targets ($m): run <= 2x floor: $(r "${RUN[v2,corral]}" "${RUN[v2,floor]}"); <= 0.45x" \
        "crun: $(r "${RUN[v2,corral]}" "${RUN[v2,crun]}"); exec <= 0.5x crun:" \
        "$(r "${EXEC[v2,corral]}" "${EXEC[v2,crun]}"), <= 0.15x runc:" \
        "$(r "${EXEC[v2,corral]}" "${EXEC[v2,runc]}")"
    else
      echo "targets ($m): run <= 1.2x floor: $(r "${RUN[hybrid,corral]}" "${RUN[hybrid,floor]}");" \
        "<= 0.15x runc: $(r "${RUN[hybrid,corral]}" "${RUN[hybrid,runc]}"); exec <= 0.15x runc:" \
        "$(r "${EXEC[hybrid,corral]}" "${EXEC[hybrid,runc]}")"
    fi
  done
  echo
done

# --- Peak RSS (GNU time %M, max over 5 runs, on the host) and binary size ---
for rt in corral runc; do
  max=0
  for i in 1 2 3 4 5; do
    /usr/bin/time -f %M -o "$WORK/rss" "${BIN[$rt]}" --root "$WORK/root-hybrid-$rt" \
      run --bundle "$BUNDLE" "m$i" </dev/null >/dev/null || die "$rt rss run m$i failed"
    kb=$(tail -n1 "$WORK/rss")
    ((kb > max)) && max=$kb
  done
  echo "$rt peak RSS: $(awk -v k="$max" 'BEGIN { printf "%.1f MiB (%d KiB)", k / 1024, k }')"
done
echo "(target for corral: <= 3 MiB)"
strip -o "$WORK/corral.stripped" "$CORRAL" 2>/dev/null || cp "$CORRAL" "$WORK/corral.stripped"
echo "corral stripped size: $(awk -v b="$(stat -c %s "$WORK/corral.stripped")" \
  'BEGIN { printf "%.2f", b / 1048576 }') MiB (target <= 3 MiB)"

# --- Leftover check: every runtime's `list -q` prints nothing, in both views ---
for view in "${VIEWS[@]}"; do
  for rt in corral runc crun; do
    for root in "$WORK"/root-"$view"-"$rt"*; do
      [[ -d $root ]] || continue
      left=$(inview "$view" "${BIN[$rt]}" --root "$root" list -q 2>&1) || true
      [[ -z $left ]] || die "$rt still lists containers under $root ($view): $left"
    done
  done
done
echo "cleanup: no containers left"
