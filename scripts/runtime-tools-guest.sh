#!/bin/sh
# Runs in the v2 guest (busybox sh, no python3; scripts/v2-guest.sh --rtools puts it at
# /etc/guest-run): every runtime-tools program under /rtools/bin against each runtime
# named in /rtools/runtimes ("NAME PATH" lines), as scripts/runtime-tools.py does on the
# host: a scratch dir of its own (cwd and TMPDIR), RUNTIME a wrapper adding a --root of its
# own, a timeout. It prints each program's raw output between marker lines for
# scripts/runtime-tools.py --guest-console, with what the runtime left behind, and cleans up.
#   === RTOOLS-BEGIN RUNTIME PROGRAM
#   === RTOOLS-END RUNTIME PROGRAM exit N secs S
#   === RTOOLS-LEFT RUNTIME PROGRAM state|cgroup|suite-cgroup WHAT
# 300 s: linux_cgroups_cpus makes 17 containers, 2-2.5 min under emulation on a loaded host.
timeout=300
uptime() { cut -d' ' -f1 /proc/uptime; }
cgroups() { find /sys/fs/cgroup -mindepth 1 -type d | sort; }
while read -r rt bin; do
  for p in /rtools/bin/*; do
    prog=${p##*/}
    d=/tmp/rtools/$rt/$prog
    mkdir -p "$d/root" "$d/tmp"
    cp /rtools/runtimetest "$d/"
    ln -s /rtools/rootfs-amd64.tar.gz "$d/"
    printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$bin" "$d/root" >"$d/runtime"
    chmod 755 "$d/runtime"
    cgroups >/tmp/rtools/before
    t0=$(uptime)
    echo "=== RTOOLS-BEGIN $rt $prog"
    (cd "$d" && RUNTIME=$d/runtime TMPDIR=$d/tmp timeout -s KILL "$timeout" "$p" </dev/null 2>&1)
    code=$?
    echo "=== RTOOLS-END $rt $prog exit $code secs $(awk -v a="$t0" -v b="$(uptime)" 'BEGIN { printf "%.1f", b - a }')"
    for id in $(ls "$d/root"); do
      echo "=== RTOOLS-LEFT $rt $prog state $id"
      "$bin" --root "$d/root" delete --force "$id" >/dev/null 2>&1
    done
    # New cgroups, deepest first; the suite's own parents for the relative cgroupsPath
    # (testdir/cgrouptest/container) are the suite's, not the runtime's.
    for c in $(cgroups | awk 'NR == FNR { seen[$0]; next } !($0 in seen)' /tmp/rtools/before - | sort -r); do
      case $c in */testdir | */testdir/cgrouptest) what=suite-cgroup ;; *) what=cgroup ;; esac
      echo "=== RTOOLS-LEFT $rt $prog $what $c"
      rmdir "$c" 2>/dev/null
    done
    rm -rf "$d"
  done
done </rtools/runtimes
