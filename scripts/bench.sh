#!/usr/bin/env bash
# Benchmark corral against runc (and crun when it works on this host).
# Usage: scripts/bench.sh [N]   (N = timed runs per runtime, default 50)
# Env:   CORRAL=/path/to/corral skips the cargo build and uses that binary.
# Prints ms per container (sequential `run` of /bin/true), the ratio to runc,
# peak RSS (GNU time %M over 5 runs) and the stripped size of corral.
set -euo pipefail

N=${1:-50}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N>0]" >&2; exit 2; }
cd "$(dirname "$0")/.."
REPO=$PWD
die() { echo "bench: error: $*" >&2; exit 1; }

# --- Tools: install only what is missing ---
. scripts/lib.sh
install_deps runc busybox-static time

# --- corral binary ---
if [[ -z ${CORRAL:-} ]]; then
  cargo build --release -p corral
  CORRAL=$BIN_DIR/release/corral
fi
[[ -x $CORRAL ]] || die "corral binary not found: $CORRAL"

# --- Work dir (one --root per runtime) and cleanup, also on error ---
WORK=$(mktemp -d)
declare -A BIN=([corral]=$CORRAL [runc]=$(command -v runc) [crun]=$(command -v crun || true))
# Delete (--force) any container still listed under a runtime's root.
sweep() {
  local rt=$1 bin=${BIN[$1]} root=$WORK/root-$1 id
  [[ -n $bin && -d $root ]] || return 0
  for id in $("$bin" --root "$root" list -q 2>/dev/null); do
    echo "bench: deleting leftover $rt container $id" >&2
    "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
  done
}
cleanup() { local rt; for rt in "${!BIN[@]}"; do sweep "$rt"; done; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Bundle: static busybox rootfs running /bin/true ---
BUNDLE=$REPO/target/bench/bundle
make_bundle "$BUNDLE" "$CORRAL" '["/bin/true"]'
# crun 1.8 refuses ociVersion 1.3.0 ("unknown version specified"); the config is 1.0-clean.
sed -i 's/"ociVersion": "[^"]*"/"ociVersion": "1.0.2"/' "$BUNDLE/config.json"

# One foreground run; abort with the exit status if it fails.
run1() {
  "${BIN[$1]}" --root "$WORK/root-$1" run --bundle "$BUNDLE" "$2" </dev/null >/dev/null ||
    die "$1 run of container $2 failed (exit $?)"
}

# Warm up, time N runs, then measure peak RSS over 5 more runs.
declare -A MS RSS
bench() {
  local rt=$1 i t0 t1 kb max=0
  mkdir -p "$WORK/root-$rt"
  for i in 1 2 3; do run1 "$rt" "w$i"; done
  t0=$(date +%s%N)
  for ((i = 0; i < N; i++)); do run1 "$rt" "b$i"; done
  t1=$(date +%s%N)
  MS[$rt]=$(awk -v ns=$((t1 - t0)) -v n="$N" 'BEGIN { printf "%.2f", ns / n / 1e6 }')
  for i in 1 2 3 4 5; do
    /usr/bin/time -f %M -o "$WORK/rss" "${BIN[$rt]}" --root "$WORK/root-$rt" \
      run --bundle "$BUNDLE" "m$i" </dev/null >/dev/null || die "$rt rss run m$i failed (exit $?)"
    kb=$(tail -n1 "$WORK/rss")
    ((kb > max)) && max=$kb
  done
  RSS[$rt]=$max
}

RUNTIMES=(corral runc)
# crun: probe once; skip it if that single run fails.
if [[ -z ${BIN[crun]} ]]; then
  echo "crun: skipped (not installed)"
elif mkdir -p "$WORK/root-crun" && "${BIN[crun]}" --root "$WORK/root-crun" run \
  --bundle "$BUNDLE" probe </dev/null >/dev/null 2>"$WORK/crun.err"; then
  RUNTIMES+=(crun)
else
  echo "crun: skipped ($(head -n1 "$WORK/crun.err"))"
fi

for rt in "${RUNTIMES[@]}"; do echo "benchmarking $rt ($N runs)..."; bench "$rt"; done

# --- Report ---
echo
printf '%-9s %-14s %-15s %s\n' runtime ms/container ratio-to-runc peak-RSS
for rt in "${RUNTIMES[@]}"; do
  printf '%-9s %-14s %-15s %s\n' "$rt" "${MS[$rt]}" \
    "$(awk -v a="${MS[$rt]}" -v b="${MS[runc]}" 'BEGIN { printf "%.2fx", a / b }')" \
    "$(awk -v k="${RSS[$rt]}" 'BEGIN { printf "%.1f MiB (%d KiB)", k / 1024, k }')"
done
echo "corral/runc time ratio: $(awk -v a="${MS[corral]}" -v b="${MS[runc]}" \
  'BEGIN { printf "%.2f", a / b }') (target <= 0.15)"
strip -o "$WORK/corral.stripped" "$CORRAL" 2>/dev/null || cp "$CORRAL" "$WORK/corral.stripped"
echo "corral stripped size: $(awk -v b="$(stat -c %s "$WORK/corral.stripped")" \
  'BEGIN { printf "%.2f", b / 1048576 }') MiB (target <= 3 MiB)"

# --- Leftover check: every runtime's `list -q` must print nothing ---
for rt in "${!BIN[@]}"; do
  sweep "$rt"
  [[ -n ${BIN[$rt]} && -d $WORK/root-$rt ]] || continue
  left=$("${BIN[$rt]}" --root "$WORK/root-$rt" list -q 2>&1) || true
  [[ -z $left ]] || die "$rt still lists containers: $left"
done
echo "cleanup: no containers left"
