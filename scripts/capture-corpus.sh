#!/usr/bin/env bash
# Recaptures integration/corpus/: the config.json that each engine installed here (podman,
# containerd's ctr, Docker) writes for a matrix of common flags, plus `runc spec`,
# `runc spec --rootless`, `crun spec` and `corral spec`. The engines run runc through a
# wrapper that copies the bundle's config.json on `create`, then execs runc; a run that
# runc then fails (Docker's --privileged here) is still captured. The copies are made
# neutral by scripts/corpus-normalize.py (busybox rootfs, ids, host paths, namespace
# paths as placeholders that corral-corpus fills in). All engine state lives under one
# temporary directory; the daemons are stopped by pid.
#
# usage: scripts/capture-corpus.sh [CORRAL]   (CORRAL: the corral binary for `corral spec`)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
install_deps busybox-static runc crun python3 podman containerd docker.io uidmap
[[ $(id -u) == 0 ]] || { echo "scripts/capture-corpus.sh runs engines: run it as root" >&2; exit 1; }
CORRAL=${1:-$BIN_DIR/debug/corral}
[[ -x $CORRAL ]] || { echo "no corral binary at $CORRAL (cargo build -p corral)" >&2; exit 1; }
CORRAL=$(realpath "$CORRAL")
OUT=$PWD/integration/corpus
T=$(mktemp -d /tmp/corral-corpus-capture.XXXXXX)
PIDS=()
cleanup() {
  local p
  # Containers first (their engines are still up), then the daemons, newest first.
  [[ -n ${POD_CLI:-} ]] && "${POD[@]}" rm -a -f -t 0 >/dev/null 2>&1 || true
  [[ -n ${POD_CLI:-} ]] && "${POD[@]}" pod rm -a -f >/dev/null 2>&1 || true
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    p=${PIDS[i]}
    kill "$p" 2>/dev/null || continue
    for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  grep -o " $T[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T"/{raw,bin,state,vol}

# The wrapper: named runc (engines pick behaviour by the name). On create it copies
# config.json to raw/NAME.json (NAME from $T/current; the first create of a case wins)
# with the container id beside it, then runs runc with the state root under $T.
cat >"$T/bin/runc" <<EOF
#!/bin/sh
bundle=. id= create=
prev=
for a in "\$@"; do
  case "\$prev" in --bundle|-b) bundle=\$a ;; esac
  case "\$a" in create) create=1 ;; esac
  prev=\$a; id=\$a
done
case "\$*" in *--root*) root= ;; *) root="--root $T/state/podman-\$(id -u)" ;; esac
if [ -n "\$create" ] && [ -s "$T/current" ]; then
  name=\$(cat "$T/current")
  if [ ! -e "$T/raw/\$name.json" ]; then
    cp "\$bundle/config.json" "$T/raw/\$name.json"
    printf '%s\n' "\$id" >"$T/raw/\$name.id"
  fi
fi
exec /usr/sbin/runc \$root "\$@"
EOF
chmod 755 "$T/bin/runc"

# The image: a busybox rootfs (no registry to pull from).
R=$T/rootfs
mkdir -p "$R"/{bin,etc,proc,sys,dev,root,tmp}
chmod 1777 "$R/tmp"
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do [[ $a == busybox ]] || ln -s busybox "$R/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' >"$R/etc/group"
# podman's --infra-command takes one word: the pod's infra process.
printf '#!/bin/sh\nexec sleep 600\n' >"$R/bin/corpus-pause"
chmod 755 "$R/bin/corpus-pause"
tar -C "$R" -cf "$T/rootfs.tar" .
IMG=localhost/corral-corpus-busybox:1

# capture NAME COMMAND...: runs COMMAND with the wrapper recording NAME.
capture() {
  local name=$1
  shift
  echo "$name" >"$T/current"
  echo "== $name: $*"
  printf '%s\t%s\n' "$name" "$*" >>"$T/commands"
  timeout 60 "$@" >"$T/last.out" 2>&1 || echo "   (exited $?: $(tail -n1 "$T/last.out"))"
  : >"$T/current"
  [[ -e $T/raw/$name.json ]] || { echo "   no config.json captured for $name" >&2; exit 1; }
}

# --- podman ---
P=$T/podman
mkdir -p "$P"
# The pod's infra container gets no --ulimit: the limits go in containers.conf too.
printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nruntime_supports_json = ["runc"]\n' \
  >"$P/containers.conf"
export CONTAINERS_CONF=$P/containers.conf
POD=(podman --root "$P/root" --runroot "$P/run" --tmpdir "$P/tmp" --network-config-dir "$P/net"
  --storage-driver vfs --events-backend file --cgroup-manager cgroupfs --runtime "$T/bin/runc")
POD_CLI=1
"${POD[@]}" import "$T/rootfs.tar" "$IMG" >/dev/null
"${POD[@]}" save --format docker-archive -o "$T/image-docker.tar" "$IMG" >/dev/null
# This host lacks CAP_SYS_RESOURCE: podman's default nofile 1048576 is above the hard
# limit (HOST.md), so every podman run passes the limits the engine suite passes.
PRUN=("${POD[@]}" run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
capture podman-default "${PRUN[@]}" "$IMG" true
capture podman-privileged "${PRUN[@]}" --privileged "$IMG" true
capture podman-cap-add-drop "${PRUN[@]}" --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-drop CHOWN --cap-drop KILL "$IMG" true
capture podman-user "${PRUN[@]}" --user 1000:1000 "$IMG" true
capture podman-read-only "${PRUN[@]}" --read-only "$IMG" true
capture podman-device "${PRUN[@]}" --device /dev/zero:/dev/corpus-zero "$IMG" true
capture podman-ulimit "${PRUN[@]}" --ulimit core=0:0 --ulimit memlock=65536:65536 "$IMG" true
capture podman-ipc-pid-host "${PRUN[@]}" --ipc host --pid host "$IMG" true
capture podman-no-new-privileges "${PRUN[@]}" --security-opt no-new-privileges "$IMG" true
capture podman-seccomp-unconfined "${PRUN[@]}" --security-opt seccomp=unconfined "$IMG" true
capture podman-resources "${PRUN[@]}" --memory 64m --memory-reservation 32m --pids-limit 100 \
  --cpus 0.5 --cpu-shares 512 --cpuset-cpus 0 "$IMG" true
capture podman-volume-tmpfs "${PRUN[@]}" -v "$T/vol:/data" --tmpfs /scratch:size=1m --workdir /data \
  --env FOO=bar --hostname corpus-host "$IMG" true
capture podman-cgroupns-private "${PRUN[@]}" --cgroupns private "$IMG" true
capture podman-init "${PRUN[@]}" --init "$IMG" true
# A container whose namespaces the next ones join, and a pod with an infra container.
: >"$T/current"
"${POD[@]}" run -d --name corpus-peer --network none --ulimit nofile=20000:20000 \
  --ulimit nproc=32768:32768 "$IMG" sleep 600 >/dev/null
capture podman-ipc-pid-container "${PRUN[@]}" --ipc container:corpus-peer --pid container:corpus-peer "$IMG" true
capture podman-uts-container "${PRUN[@]}" --uts container:corpus-peer "$IMG" true
"${POD[@]}" pod create --name corpus-pod --network none --infra-image "$IMG" \
  --infra-command /bin/corpus-pause >/dev/null
"${POD[@]}" pod start corpus-pod >/dev/null
capture podman-pod "${PRUN[@]}" --pod corpus-pod "$IMG" true
"${POD[@]}" rm -f -t 0 corpus-peer >/dev/null
"${POD[@]}" pod rm -f corpus-pod >/dev/null
POD_CLI=

# --userns=keep-id is rootless only: podman as the test user (scripts/lib.sh), its storage
# under $T too. Rootless podman leaves a pause process: stopped by the pid it records.
ensure_test_user corraltest
U=$T/rootless
mkdir -p "$U"/{xdg,home}
chmod 755 "$T"
chmod 1777 "$T/raw" "$T/state"
chown -R corraltest: "$U"
chmod 644 "$T/rootfs.tar"
RL=(runuser -u corraltest -- env XDG_RUNTIME_DIR="$U/xdg" HOME="$U/home" CONTAINERS_CONF="$CONTAINERS_CONF"
  podman --root "$U/root" --runroot "$U/run" --tmpdir "$U/tmp" --storage-driver vfs
  --events-backend file --cgroup-manager cgroupfs --runtime "$T/bin/runc")
"${RL[@]}" import "$T/rootfs.tar" "$IMG" >/dev/null
capture podman-userns-keep-id "${RL[@]}" run --rm --network none --userns keep-id "$IMG" true
for f in $(find "$U" -name pause.pid); do PIDS+=("$(cat "$f")"); done

# --- containerd (ctr) ---
C=$T/containerd
mkdir -p "$C"
cat >"$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$C/containerd.sock"
[ttrpc]
  address = "$C/containerd.sock.ttrpc"
[debug]
  address = "$C/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$C/opt"
EOF
containerd --config "$C/config.toml" >"$C/log" 2>&1 &
PIDS+=($!)
CTR=(ctr --address "$C/containerd.sock")
for _ in $(seq 300); do "${CTR[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done
"${CTR[@]}" images import --base-name "${IMG%:*}" --digests "$T/image-docker.tar" >/dev/null
CRUN=("${CTR[@]}" run --rm --fifo-dir "$C/fifo" --runc-binary "$T/bin/runc" --runc-root "$T/state/ctr")
capture ctr-default "${CRUN[@]}" "$IMG" corpus-ctr-default true
capture ctr-privileged "${CRUN[@]}" --privileged "$IMG" corpus-ctr-privileged true
capture ctr-seccomp "${CRUN[@]}" --seccomp "$IMG" corpus-ctr-seccomp true
capture ctr-resources "${CRUN[@]}" --memory-limit 67108864 --cpus 0.5 --cpu-shares 512 "$IMG" \
  corpus-ctr-resources true
capture ctr-read-only-mount "${CRUN[@]}" --read-only --mount "type=bind,src=$T/vol,dst=/data,options=rbind:ro" \
  "$IMG" corpus-ctr-read-only-mount true
# A process whose network, ipc and uts namespaces the next container joins.
unshare --net --ipc --uts sleep 600 &
HOLDER=$!
PIDS+=($HOLDER)
for _ in $(seq 100); do [[ $(readlink /proc/$HOLDER/ns/net) != $(readlink /proc/self/ns/net) ]] && break; sleep 0.05; done
capture ctr-with-ns "${CRUN[@]}" --with-ns "network:/proc/$HOLDER/ns/net" \
  --with-ns "ipc:/proc/$HOLDER/ns/ipc" "$IMG" corpus-ctr-with-ns true

# --- Docker, on the same containerd ---
D=$T/docker
mkdir -p "$D"
printf '{"deprecated-key-path": "%s"}\n' "$D/key.json" >"$D/daemon.json"
dockerd --config-file "$D/daemon.json" --data-root "$D/data" --exec-root "$D/exec" \
  --pidfile "$D/dockerd.pid" -H "unix://$D/docker.sock" --containerd "$C/containerd.sock" \
  --iptables=false --ip6tables=false --bridge=none --add-runtime "corpus=$T/bin/runc" \
  >"$D/log" 2>&1 &
PIDS+=($!)
DOCK=(/usr/bin/docker -H "unix://$D/docker.sock")
for _ in $(seq 300); do "${DOCK[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done
"${DOCK[@]}" load -i "$T/image-docker.tar" >/dev/null
DRUN=("${DOCK[@]}" run --rm --runtime corpus)
capture docker-default "${DRUN[@]}" --network none "$IMG" true
capture docker-privileged "${DRUN[@]}" --network none --privileged "$IMG" true
capture docker-network-host "${DRUN[@]}" --network host "$IMG" true
capture docker-ipc-pid-host "${DRUN[@]}" --network none --ipc host --pid host "$IMG" true
capture docker-device "${DRUN[@]}" --network none --device /dev/zero:/dev/corpus-zero "$IMG" true
capture docker-no-new-privileges "${DRUN[@]}" --network none --security-opt no-new-privileges "$IMG" true
capture docker-kernel-memory "${DRUN[@]}" --network none --kernel-memory 64m "$IMG" true
capture docker-seccomp-unconfined "${DRUN[@]}" --network none --security-opt seccomp=unconfined "$IMG" true
capture docker-user-cap-read-only "${DRUN[@]}" --network none --user 1000:1000 --cap-add SYS_ADMIN \
  --cap-drop CHOWN --read-only "$IMG" true
capture docker-resources "${DRUN[@]}" --network none --memory 64m --memory-swap 128m --pids-limit 100 \
  --cpus 0.5 --cpu-shares 512 --oom-score-adj 100 --shm-size 16m "$IMG" true
capture docker-volume-tmpfs "${DRUN[@]}" --network none -v "$T/vol:/data" --tmpfs /scratch --workdir /data \
  --hostname corpus-host --group-add 10 --sysctl kernel.msgmax=65536 "$IMG" true
capture docker-cap-drop-all "${DRUN[@]}" --network none --cap-drop ALL --cap-add NET_BIND_SERVICE "$IMG" true

# --- the spec generators ---
spec() {
  local name=$1 dir=$T/spec/$1
  shift
  mkdir -p "$dir"
  echo "== $name: $*"
  printf '%s\t%s\n' "$name" "${1##*/} ${*:2}" >>"$T/commands"
  (cd "$dir" && "$@")
  cp "$dir/config.json" "$T/raw/$name.json"
}
spec runc-spec runc spec
spec runc-spec-rootless runc spec --rootless
spec crun-spec crun spec
spec corral-spec "$CORRAL" spec

mkdir -p "$OUT"
rm -f "$OUT"/*.json
[[ -n ${CORPUS_RAW:-} ]] && { rm -rf "$CORPUS_RAW"; cp -r "$T/raw" "$CORPUS_RAW"; cp "$T/commands" "$CORPUS_RAW/"; }
python3 scripts/corpus-normalize.py "$T" "$OUT"
echo "corpus: $(ls "$OUT"/*.json | wc -l) configs in $OUT"
