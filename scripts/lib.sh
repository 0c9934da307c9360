# Shared by the scripts: sourced, not run.

# Where cargo puts binaries (target/, or $CARGO_TARGET_DIR), as an absolute path: a build
# for the host's own architecture needs no --target (see .cargo/config.toml).
BIN_DIR=$(realpath -m "${CARGO_TARGET_DIR:-target}")

# install_deps PKG...: installs the Debian packages that are missing (apt-get update only then).
install_deps() {
  local need=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  ((${#need[@]})) || return 0
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

# make_bundle DIR CORRAL ARGS_JSON: a fresh bundle in DIR with a busybox-static rootfs and
# `corral spec`'s config.json running ARGS_JSON (a JSON array of strings).
make_bundle() {
  local dir=$1 corral=$2 args=$3 applet
  rm -rf "$dir"
  mkdir -p "$dir"/rootfs/{bin,proc,sys,dev,tmp,etc}
  cp /bin/busybox "$dir/rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    # busybox lists itself: a link named busybox would replace the binary.
    [[ $applet == busybox ]] || ln -s busybox "$dir/rootfs/bin/$applet"
  done
  "$corral" spec --bundle "$dir"
  python3 - "$dir/config.json" "$args" <<'PY'
import json, sys
path, args = sys.argv[1], json.loads(sys.argv[2])
with open(path) as f:
    cfg = json.load(f)
cfg["process"]["args"] = args
with open(path, "w") as f:
    json.dump(cfg, f, indent=2)
PY
}

# ensure_test_user NAME: the unprivileged user the rootless conformance cases run the
# runtime as, with 65536 subordinate uids and gids for newuidmap/newgidmap. Idempotent.
ensure_test_user() {
  local name=$1
  id "$name" >/dev/null 2>&1 || useradd -m "$name"
  grep -q "^$name:" /etc/subuid 2>/dev/null || usermod --add-subuids 1100000-1165535 "$name"
  grep -q "^$name:" /etc/subgid 2>/dev/null || usermod --add-subgids 1100000-1165535 "$name"
}
