#!/usr/bin/env bash
# Every test of corral: format, lints, unit and CLI tests, then the conformance suite as
# root against corral and against runc (drop-in behaviour). Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
install_deps libseccomp-dev busybox-static runc python3 pkg-config uidmap
[[ $(id -u) == 0 ]] || { echo "scripts/test.sh runs containers: run it as root" >&2; exit 1; }
# The rootless cases (integration/src/cases/userns.rs) run the runtime as this user.
ensure_test_user corraltest
command -v cargo >/dev/null || { echo "cargo is needed (rustup)" >&2; exit 1; }

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace
cargo test --workspace
echo "=== conformance: runc $(runc --version | head -n1) ==="
"$BIN_DIR"/debug/corral-conformance --runtime "$(command -v runc)"
echo "=== conformance: corral ==="
"$BIN_DIR"/debug/corral-conformance --runtime "$BIN_DIR"/debug/corral
