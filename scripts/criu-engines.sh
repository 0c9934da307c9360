#!/usr/bin/env bash
# Checkpoint and restore under the engines (issue 15): the engine suite's checkpoint flows
# (`corral-engines --criu --filter checkpoint`: podman container checkpoint/restore, its
# --export/--import, ctr tasks checkpoint and ctr containers checkpoint/restore) in the
# systemd guest, whose image has Debian's criu, against runc 1.1.5 and then corral.
# CRIU 3.17 does not run on the build host's kernel. As root; boots the guest once.
#
# usage: scripts/criu-engines.sh [--systemd] [--corral-only] [--filter SUBSTRING]...
#        (default: every checkpoint flow, runc then corral)
#   --corral-only  leave out runc's reference run (CI, for time)
#   --systemd  the engines' systemd cgroup drivers (podman --cgroup-manager systemd, ctr
#              --runc-systemd-cgroup: the runtime restores with --systemd-cgroup) instead of
#              cgroupfs
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
[[ $(id -u) == 0 ]] || { echo "scripts/criu-engines.sh needs root (the guest)" >&2; exit 1; }
filters=() manager=cgroupfs reference=/usr/sbin/runc
while (($#)); do
  case $1 in
    --systemd) manager=systemd; shift ;;
    --corral-only) reference=; shift ;;
    --filter) (($# >= 2)) || { echo "--filter needs a value" >&2; exit 2; }; filters+=("$1" "$2"); shift 2 ;;
    *) echo "usage: scripts/criu-engines.sh [--systemd] [--corral-only] [--filter SUBSTRING]..." >&2; exit 2 ;;
  esac
done
((${#filters[@]})) || filters=(--filter checkpoint)
# Environment: CORRAL_BIN (the corral to test; default the debug build), and
# systemd-guest.sh's (CORRAL_GUEST_TIMEOUT, ...).
cargo build -q -p corral -p corral-conformance
corral=$(realpath "${CORRAL_BIN:-$BIN_DIR/debug/corral}")
engines=$BIN_DIR/debug/corral-engines
# The binaries reach the guest at the same paths (see the header of systemd-guest.sh).
export CORRAL_GUEST_FILES="$corral $engines ${CORRAL_GUEST_FILES:-}"
exec scripts/systemd-guest.sh bash -c '
  echo "criu: $(criu --version | head -n1); criu check: $(criu check 2>&1 | tail -n1)"
  engines=$1 corral=$2 manager=$3 reference=$4
  shift 4
  code=0
  for rt in $reference "$corral"; do
    echo "=== engines with checkpoint/restore: $rt, the engines'"'"' $manager cgroup driver"
    "$engines" --runtime "$rt" --criu --cgroup-manager "$manager" "$@" || code=1
  done
  exit $code' criu-engines "$engines" "$corral" "$manager" "$reference" "${filters[@]}"
