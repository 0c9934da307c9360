#!/usr/bin/env bash
# Runs inside the systemd guest (scripts/systemd-guest.sh scripts/systemd-engines.sh …):
# the engine flows of a systemd host (corral-engines) with each runtime given, each
# runtime in turn as the engines' OCI runtime:
#   1. the engines' systemd cgroup drivers: podman rootful (`--cgroup-manager systemd`),
#      rootless podman as corraltest (through the user's systemd manager), Docker
#      (`native.cgroupdriver=systemd`), containerd through ctr (`SystemdCgroup`, i.e.
#      `--runc-systemd-cgroup`);
#   2. rootful podman with its cgroupfs driver on the same host.
# A runtime whose `features` does not say linux.cgroup.systemd (systemdUser) true runs
# only 2 (only 1 and 2 without rootless podman); the summary says so.
# After each flow corral-engines checks that nothing is left: no process, mount, runtime
# state, cgroup, or systemd unit (system or the user's) that was not there before it.
#
# usage: scripts/systemd-engines.sh [--filter S]... CORRAL_ENGINES RUNTIME...
#   --filter S   run only the flows whose name holds S (default: the flows below)
set -uo pipefail

filters=()
while [[ ${1:-} == --filter ]]; do filters+=(--filter "$2"); shift 2; done
(($# >= 2)) || { sed -n '15,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
engines_bin=$1; shift
# The flows run by default (a `$` ends a name): podman's run, exec, stop, pause/unpause,
# stats, limits and rm -f; rootless podman's exec (run -d, exec, rm -f) and limits (run
# --rm with the delegated limits read inside): its run_rm and rm_force repeat those steps
# and would add about a minute under emulation; Docker's run, exec, memory limit and
# rm -f; containerd's run, exec, pause/resume, metrics, kill and task delete. The other
# flows of the suite run on the build host (scripts/test.sh).
if ((${#filters[@]} == 0)); then
  for f in podman_run_rm docker_run_rm containerd_run_rm _exec$ podman_stop podman_pause \
    containerd_pause podman_stats _limits _memory podman_rm_force docker_rm_force \
    containerd_kill _metrics containerd_task_delete; do
    filters+=(--filter "$f")
  done
fi

# Which manager runs the system: the flows below depend on it.
[[ -d /run/systemd/system ]] || { echo "systemd does not run this host" >&2; exit 1; }
# Docker and containerd are started by corral-engines itself, under its temporary directory.
# Each engine command may take 5 min instead of 1 (software emulation on a loaded host:
# dockerd's first `run` compiles its AppArmor profile).
export CORRAL_ENGINES_TIMEOUT=${CORRAL_ENGINES_TIMEOUT:-300}
status=0
declare -a summary=()
for rt in "$@"; do
  # The systemd flows need the runtime's systemd cgroup driver (`--systemd-cgroup`), the
  # rootless ones its driver for a user's manager: what its `features` says it has.
  features=$("$rt" features 2>/dev/null || true)
  modes=(cgroupfs)
  if grep -Eq '"systemd": *true' <<<"$features"; then
    modes=(systemd cgroupfs)
    engines_systemd=(--engine podman --engine containerd --engine docker)
    if grep -Eq '"systemdUser": *true' <<<"$features"; then
      engines_systemd+=(--engine podman-rootless)
    else
      summary+=("$(basename "$rt") rootless: not run ($rt features: linux.cgroup.systemdUser is not true)")
    fi
  else
    summary+=("$(basename "$rt") systemd: not run ($rt features: linux.cgroup.systemd is not true)")
  fi
  for mode in "${modes[@]}"; do
    if [[ $mode == systemd ]]; then
      engines=("${engines_systemd[@]}")
    else
      engines=(--engine podman)
    fi
    echo "=== engines on systemd: $rt, the engines' $mode cgroup driver ==="
    start=$(date +%s)
    out=$(mktemp)
    "$engines_bin" --runtime "$rt" --cgroup-manager "$mode" "${engines[@]}" "${filters[@]}" \
      2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    ((rc == 0)) || status=1
    summary+=("$(basename "$rt") $mode: $(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n1) ($(($(date +%s) - start)) s)")
    rm -f "$out"
  done
done
echo "=== engines on systemd: summary ==="
printf '%s\n' "${summary[@]}"
exit "$status"
