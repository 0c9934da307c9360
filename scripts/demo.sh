#!/usr/bin/env bash
# The demo: builds corral, makes a busybox bundle under target/demo, and runs a container
# that prints its hostname, its pid and its namespaces next to the host's. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
install_deps libseccomp-dev busybox-static python3
cargo build --release -p corral
CORRAL=$BIN_DIR/release/corral
BUNDLE=$PWD/target/demo/bundle
make_bundle "$BUNDLE" "$CORRAL" '["sh", "-c", "echo \"hostname: $(hostname)\"; echo \"my pid:   $$\"; for n in mnt pid uts ipc net cgroup; do echo \"$n: $(readlink /proc/self/ns/$n)\"; done"]'
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
echo "--- inside the container ---"
"$CORRAL" --root "$ROOT" run --bundle "$BUNDLE" demo
echo "--- on the host ---"
for n in mnt pid uts ipc net cgroup; do echo "$n: $(readlink /proc/self/ns/$n)"; done
echo "--- after run: containers left under the root (none expected) ---"
"$CORRAL" --root "$ROOT" list -q
