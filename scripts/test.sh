#!/usr/bin/env bash
# Every test of corral: format, lints, unit and CLI tests, then the conformance suite as
# root against corral and against runc (drop-in behaviour), then part of it against corral
# again in a QEMU guest with pure cgroup v2 (this host is hybrid; see scripts/v2-guest.sh),
# and with Linux 5.10 there,
# then the engine suite (podman, containerd, Docker) against runc and corral, then the
# corpus of configs those engines write, replayed against corral and runc.
# Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
install_deps libseccomp-dev busybox-static runc python3 pkg-config uidmap podman containerd docker.io
[[ $(id -u) == 0 ]] || { echo "scripts/test.sh runs containers: run it as root" >&2; exit 1; }
# The rootless cases (integration/src/cases/userns.rs) run the runtime as this user.
ensure_test_user corraltest
command -v cargo >/dev/null || { echo "cargo is needed (rustup)" >&2; exit 1; }

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace
cargo test --workspace
# The size budget of the release binary (stripped, static): 3 MiB.
cargo build --release -p corral
size=$(stat -c %s "$BIN_DIR"/release/corral)
echo "corral release binary: $size bytes (budget $((3 * 1024 * 1024)))"
(( size <= 3 * 1024 * 1024 )) || { echo "corral's release binary is over 3 MiB" >&2; exit 1; }
echo "=== conformance: runc $(runc --version | head -n1) ==="
"$BIN_DIR"/debug/corral-conformance --runtime "$(command -v runc)"
echo "=== conformance: corral ==="
"$BIN_DIR"/debug/corral-conformance --runtime "$BIN_DIR"/debug/corral
# The conformance suite against corral in a QEMU guest (scripts/v2-guest.sh's flags).
guest() {
  CORRAL_BIN="$BIN_DIR"/debug/corral CONFORMANCE_BIN="$BIN_DIR"/debug/corral-conformance \
    scripts/v2-guest.sh "$@"
}
echo "=== conformance in a cgroup v2 guest: corral ==="
# Software emulation makes the whole suite take minutes in the guest: CI runs the cases
# the cgroup version can change (lifecycle, filesystem, cgroups, exec), the AppArmor cases (the
# guest kernel has AppArmor, this host does not) and the scheduler cases (real-time
# policies need a kernel without RT group scheduling); scripts/v2-guest.sh
# alone runs them all.
guest --filter lifecycle_ --filter fs_ --filter cgroup_ --filter proc_apparmor \
  --filter proc_scheduler --filter exec_
echo "=== the cases a kernel before 5.12 changes, in a guest booting Debian 11's 5.10 ==="
# No mount_setattr (binds remounted after attaching, idmapped mounts refused) and no
# CLOSE_RANGE_CLOEXEC (fds marked one by one): the mount, lifecycle, exec and escape cases.
guest --kernel-5.10 --filter fs_ --filter lifecycle_ --filter exec_ --filter escape_
echo "=== the SELinux cases in a guest booted with SELinux (permissive) ==="
guest --selinux --filter proc_selinux --filter exec_process_label
# The engines users run corral under, end to end (integration/src/engines): runc is the
# reference run, then corral. Each run keeps all engine state under one temporary
# directory and stops its daemons by pid.
echo "=== engines: runc $(runc --version | head -n1) ==="
"$BIN_DIR"/debug/corral-engines --runtime "$(command -v runc)"
echo "=== engines: corral ==="
"$BIN_DIR"/debug/corral-engines --runtime "$BIN_DIR"/debug/corral
# The corpus of real configs (integration/corpus, scripts/capture-corpus.sh) replayed
# against corral and runc: a difference not in integration/corpus/known-differences fails.
echo "=== corpus: corral against runc ==="
"$BIN_DIR"/debug/corral-corpus --runtime "$BIN_DIR"/debug/corral --reference "$(command -v runc)"
echo "=== the cgroup cases in a legacy cgroup v1 guest (hugetlb, rdma, net_cls, net_prio) ==="
guest --cgroup-v1 --filter cgroup_
