#!/usr/bin/env bash
# Runs one command as root inside a QEMU guest (software emulation, no KVM) that boots
# Debian 12 with systemd as PID 1 on a pure cgroup v2 hierarchy: the production host of
# most users, which the build host (hybrid cgroups, no systemd) cannot be.
# See README "The systemd guest" and /work/shared/HOST.md.
#
# usage: scripts/systemd-guest.sh [--build-only] [--keep] CMD [ARG...]
#   --build-only  build (or find) the cached image and stop
#   --keep        keep this run's disk and logs under target/systemd-guest/run-*/
# CMD runs as root in the guest, in the directory the script was started from, after boot
# (multi-user.target) is complete; its stdout and stderr are this script's stdout, and the
# script exits with CMD's status (1 when the guest gave no result).
# The guest sees, at the same absolute paths as here: this checkout's tracked files, the
# binaries cargo built into $CARGO_TARGET_DIR (default target/), debug info stripped, and
# every path named in CORRAL_GUEST_FILES (space-separated). Its disk is thrown away after
# every run (QEMU -snapshot): every run starts from the freshly built image.
# Environment: CORRAL_GUEST_FILES, CORRAL_GUEST_MEM (MiB, default 2048),
# CORRAL_GUEST_TIMEOUT (seconds for boot + CMD, default 1800), CORRAL_GUEST_CACHE,
# CORRAL_GUEST_APPEND (more kernel parameters, e.g. systemd.unified_cgroup_hierarchy=0
# for systemd's hybrid cgroup v1 layout).
#
# The image (built once, about 5 minutes, then cached): mmdebstrap of bookworm with
# systemd, dbus, podman, containerd, docker.io, runc, crun, uidmap, slirp4netns,
# fuse-overlayfs, busybox-static and apparmor; a user `corraltest` (uid 1000, subordinate ids
# 1100000-1165535, lingering); an ext4 image made with `mkfs.ext4 -d`; Debian's cloud kernel
# with an initramfs that loads virtio-blk. It is cached outside the checkout, so that every
# checkout and CI's fresh clone on this machine share it: in $CORRAL_GUEST_CACHE (default
# /var/cache/corral)/systemd-guest/image-KEY, KEY being the hash of the recipe (the lines
# between the two `recipe` markers below) and of the kernel's package name: editing the
# recipe rebuilds it, editing the rest of this script does not.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

usage() { sed -n '7,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

build_only=0 keep=0
while (($#)); do
  case $1 in
    --build-only) build_only=1; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) echo "unknown option: $1" >&2; usage ;;
    *) break ;;
  esac
done
((build_only || $#)) || usage

[[ $(id -u) == 0 ]] || { echo "scripts/systemd-guest.sh needs root (apt-get, mmdebstrap, the image's files are root's)" >&2; exit 1; }
install_deps qemu-system-x86 mmdebstrap e2fsprogs cpio busybox-static

checkout=$PWD
# The runs (disks, logs) live in the checkout; the image and the packages in the cache.
runs=$checkout/target/systemd-guest
out=${CORRAL_GUEST_CACHE:-/var/cache/corral}/systemd-guest
mkdir -p "$runs" "$out"
say() { echo "systemd guest: $*" >&2; }

kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
[[ -n $kpkg ]] || { echo "cannot find the package linux-image-cloud-amd64 depends on" >&2; exit 1; }
key=$( (sed -n '/^# >>> recipe/,/^# <<< recipe/p' "$0"; echo "$kpkg") | sha256sum | cut -c1-16)
image=$out/image-$key

# >>> recipe: what the image is made of (its hash keys the cache).
# The Debian packages of the guest. Recommends are not installed (mmdebstrap's default):
# what the engines need is named here. docker.io wants iptables for its default bridge,
# and apparmor's parser: the kernel has AppArmor, and dockerd refuses to run a container
# when it cannot load its docker-default profile (Debian's docker.io recommends apparmor).
PACKAGES=(
  systemd systemd-sysv dbus dbus-user-session libpam-systemd udev kmod procps iproute2
  iptables podman containerd docker.io runc crun catatonit uidmap slirp4netns
  fuse-overlayfs busybox-static apparmor
)
PACKAGES+=(criu) # checkpoint/restore (issue 15): CRIU 3.17, its libraries and crit's python3
SUITES=(bookworm bookworm-updates)

# build_image DIR: the whole recipe; DIR ends up holding vmlinuz, initrd.gz, rootfs.img.
build_image() {
  local dir=$1 t0 tree kdir kver
  t0=$(date +%s)
  rm -rf "$dir" && mkdir -p "$dir"
  tree=$dir/tree kdir=$dir/kernel

  # The kernel, extracted rather than installed.
  say "fetching kernel $kpkg"
  mkdir -p "$kdir/deb"
  # (apt warns that it downloads unsandboxed as root: _apt cannot write under target/.)
  (cd "$kdir/deb" && apt-get download -q "$kpkg" >/dev/null 2>&1)
  dpkg-deb -x "$kdir"/deb/*.deb "$kdir/root"
  kver=$(basename "$(find "$kdir/root/lib/modules" -mindepth 1 -maxdepth 1 -type d)")
  cp "$kdir/root/boot/vmlinuz-$kver" "$dir/vmlinuz"

  # The tree. The downloaded packages are kept in $out/debs across recipe changes (the
  # documented mmdebstrap idiom), so a rebuild downloads only what changed. mmdebstrap
  # (root mode) mounts /proc, /sys and /dev into the tree: in a private mount namespace,
  # so none of it can reach the host's mount table.
  say "mmdebstrap bookworm with ${#PACKAGES[@]} packages"
  mkdir -p "$out/debs"
  local sources=() s
  for s in "${SUITES[@]}"; do sources+=("deb http://deb.debian.org/debian $s main"); done
  sources+=("deb http://deb.debian.org/debian-security bookworm-security main")
  unshare -m --propagation private mmdebstrap --mode=root --variant=minbase --quiet \
    --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    --skip=download/empty \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="sync-in $out/debs /var/cache/apt/archives/" \
    --customize-hook="sync-out /var/cache/apt/archives $out/debs" \
    --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
    bookworm "$tree" "${sources[@]}"

  # The kernel's modules (overlay, fuse, veth, bridge, nf_tables, … for the engines).
  mkdir -p "$tree/lib/modules"
  cp -a "$kdir/root/lib/modules/$kver" "$tree/lib/modules/"
  chroot "$tree" depmod "$kver"

  # The system: a fixed machine id (an uninitialized one would make every boot a "first
  # boot" whose systemd-firstboot prompts on the console), no login prompts, no timers,
  # and the daemons started on demand by the command, not at boot.
  echo corral-systemd-guest >"$tree/etc/hostname"
  printf '%s\n' "/dev/vda / ext4 rw,errors=remount-ro 0 0" >"$tree/etc/fstab"
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$tree/etc/machine-id"
  echo >>"$tree/etc/machine-id"
  chroot "$tree" systemctl mask -q systemd-firstboot.service serial-getty@ttyS0.service \
    getty@tty1.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
    fstrim.timer systemd-tmpfiles-clean.timer e2scrub_reap.service podman-auto-update.timer \
    podman-auto-update.service podman-restart.service 2>/dev/null || true
  chroot "$tree" systemctl disable -q docker.service docker.socket containerd.service 2>/dev/null || true

  # The unprivileged user: the same uid and subordinate ranges as scripts/lib.sh's
  # ensure_test_user on the host; lingering, as `loginctl enable-linger` records it.
  chroot "$tree" useradd -m -u 1000 -s /bin/bash corraltest
  echo corraltest:1100000:65536 >"$tree/etc/subuid"
  echo corraltest:1100000:65536 >"$tree/etc/subgid"
  mkdir -p "$tree/var/lib/systemd/linger"
  touch "$tree/var/lib/systemd/linger/corraltest"
  # Every controller delegated to the users' managers (systemd delegates fewer by default),
  # which rootless engines need for limits.
  mkdir -p "$tree/etc/systemd/system/user@.service.d"
  printf '[Service]\nDelegate=cpu cpuset io memory pids\n' \
    >"$tree/etc/systemd/system/user@.service.d/delegate.conf"

  # The command runner: after boot, mount the run disk (/dev/vdb), copy its files into
  # place, run the command with its output on the second serial port (the script's
  # stdout), then the marker, then power off.
  cat >"$tree/usr/local/sbin/corral-guest-run" <<'EOF'
#!/bin/bash
exec </dev/null >/dev/ttyS1 2>&1
echo "guest: runner starts at uptime $(cut -d' ' -f1 /proc/uptime) s" >/dev/console
stty -F /dev/ttyS1 raw -echo
mkdir -p /run/corral-guest
mount -o ro /dev/vdb /run/corral-guest
cp -a /run/corral-guest/files/. /
mapfile -d '' -t argv </run/corral-guest/argv
cd "$(cat /run/corral-guest/cwd)"
echo "guest: boot done, command starts at uptime $(cut -d' ' -f1 /proc/uptime) s" >/dev/console
systemd-analyze time >/dev/console 2>&1 || true
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
[ -s /run/corral-guest/target-dir ] && export CARGO_TARGET_DIR="$(cat /run/corral-guest/target-dir)"
"${argv[@]}"
code=$?
echo "CORRAL-GUEST-EXIT=$code"
sync
systemctl poweroff --force --force
EOF
  chmod 755 "$tree/usr/local/sbin/corral-guest-run"
  cat >"$tree/etc/systemd/system/corral-guest-run.service" <<'EOF'
[Unit]
Description=The command of scripts/systemd-guest.sh
After=multi-user.target
ConditionPathExists=/dev/vdb

# Type=simple: the start job ends once the command runs, so boot completes (a oneshot
# would hold `systemctl is-system-running --wait` and friends until it ended).
[Service]
Type=simple
ExecStart=/usr/local/sbin/corral-guest-run

[Install]
WantedBy=multi-user.target
EOF
  chroot "$tree" systemctl enable -q corral-guest-run.service

  # The disk: the tree plus 2 GiB of room for the engines' images and containers (sparse).
  local size
  size=$(($(du -sm "$tree" | cut -f1) + 2048))
  say "mkfs.ext4 -d (${size} MiB, sparse)"
  mkfs.ext4 -q -F -L root -d "$tree" "$dir/rootfs.img" "${size}M"

  # The initramfs: busybox and virtio-blk (a module in this kernel; ext4 is built in).
  local ird=$dir/initramfs m
  mkdir -p "$ird"/{bin,dev,proc,sys,newroot,lib/modules}
  cp /bin/busybox "$ird/bin/busybox"
  for m in sh mount umount insmod sleep switch_root; do ln -s busybox "$ird/bin/$m"; done
  for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
    cp "$(find "$kdir/root/lib/modules/$kver" -name "$m.ko")" "$ird/lib/modules/"
  done
  cat >"$ird/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
  insmod /lib/modules/$m.ko
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "initramfs: cannot mount /dev/vda"; exec sh; }
umount /proc /sys /dev
exec switch_root /newroot /lib/systemd/systemd
EOF
  chmod 755 "$ird/init"
  (cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir/initrd.gz"

  local tree_mb
  tree_mb=$(du -sm "$tree" | cut -f1)
  rm -rf "$tree" "$ird" "$kdir"
  printf 'built %s in %d s: tree %d MiB, rootfs.img %s MiB apparent / %s MiB on disk\n' \
    "$(date -u +%FT%TZ)" $(($(date +%s) - t0)) "$tree_mb" "$size" \
    "$(du -sm "$dir/rootfs.img" | cut -f1)" >"$dir/build.txt"
}
# <<< recipe

# Build once per recipe, one builder at a time. The cache is shared by every checkout
# (which may hold other recipes): an image not used for two days goes when a new one is done.
exec 9>"$out/build.lock"
flock 9
if [[ ! -e $image/rootfs.img || ! -e $image/build.txt ]]; then
  say "building the image $key (recipe changed or never built)"
  build_image "$image.new"
  rm -rf "$image" && mv "$image.new" "$image"
  find "$out" -mindepth 1 -maxdepth 1 -name 'image-*' ! -name "image-$key" \
    ! -newermt '-2 days' -exec rm -rf {} +
  say "$(cat "$image/build.txt")"
fi
touch "$image"
flock -u 9
((build_only)) && { say "image $image: $(cat "$image/build.txt")"; exit 0; }

# The run disk: the command, its directory, and the files at their host paths.
run=$(mktemp -d "$runs/run-XXXXXX")
cleanup() { ((keep)) || rm -rf "$run"; }
trap cleanup EXIT
files=$run/disk/files
mkdir -p "$files"
printf '%s\0' "$@" >"$run/disk/argv"
echo "$checkout" >"$run/disk/cwd"
echo "${CARGO_TARGET_DIR:-}" >"$run/disk/target-dir"
mkdir -p "$files$checkout"
git ls-files -z | cpio -0 -pdm --quiet "$files$checkout" 2>/dev/null
# target/{debug,release}/ (a plain `cargo build`, see .cargo/config.toml) and
# target/x86_64-unknown-linux-gnu/{debug,release}/ (a build with --target).
bins=$(realpath -m "${CARGO_TARGET_DIR:-$checkout/target}")
for b in "$bins"/{,x86_64-unknown-linux-gnu/}{debug,release}/*; do
  [[ -f $b && -x $b ]] || continue
  mkdir -p "$files$(dirname "$b")"
  strip --strip-debug -o "$files$b" "$b"
done
for p in ${CORRAL_GUEST_FILES:-}; do
  p=$(realpath "$p")
  mkdir -p "$files$(dirname "$p")"
  cp -a "$p" "$files$p"
done
mkfs.ext4 -q -F -L run -d "$run/disk" "$run/run.img" "$(($(du -sm "$run/disk" | cut -f1) + 32))M"
rm -rf "$run/disk"

# Boot. Console (kernel, systemd) on ttyS0 into a log; the command's output and the marker
# on ttyS1, which is QEMU's stdout. The root disk is used with -snapshot semantics: writes
# go to a temporary file and are dropped. panic=-1 + -no-reboot: a panic ends QEMU at once.
# no_timer_check: on a loaded host the emulated 8254 timer can miss the kernel's boot
# check, which then panics ("IO-APIC + timer doesn't work"); seen here with load 15.
# timeout --foreground keeps QEMU in this script's process group, so ^C or a kill of the
# group stops it too.
say "booting ($(cat "$image/build.txt" | sed 's/^built [^ ]* //'))"
boot=$(date +%s.%N)
set +e
timeout --foreground "${CORRAL_GUEST_TIMEOUT:-1800}" qemu-system-x86_64 -accel tcg,thread=multi -cpu max \
  -m "${CORRAL_GUEST_MEM:-2048}" -smp 2 -display none -vga none -monitor none -no-reboot \
  -kernel "$image/vmlinuz" -initrd "$image/initrd.gz" \
  -append "console=ttyS0 root=/dev/vda panic=-1 quiet systemd.show_status=0 no_timer_check ${CORRAL_GUEST_APPEND:-}" \
  -drive "file=$image/rootfs.img,if=virtio,format=raw,snapshot=on" \
  -drive "file=$run/run.img,if=virtio,format=raw,readonly=on" \
  -serial "file:$run/console.log" -serial stdio -nic none </dev/null | tee "$run/output.log"
qemu_rc=${PIPESTATUS[0]}
set -e
end=$(date +%s.%N)
cp "$run/console.log" "$runs/console.log"

code=$(tr -d '\r' <"$run/output.log" | sed -n 's/^CORRAL-GUEST-EXIT=\([0-9]*\)$/\1/p' | tail -n1)
started=$(tr -d '\r' <"$run/console.log" | sed -n 's/^guest: boot done, command starts at uptime \([0-9.]*\) s$/\1/p')
awk -v s="${started:-?}" -v b="$boot" -v e="$end" \
  'BEGIN { printf "systemd guest: boot to command %s s (guest uptime), boot+command+poweroff %.1f s\n", s, e - b }' >&2
if [[ -z $code ]]; then
  if ((qemu_rc == 124)); then
    say "no result: QEMU was stopped after ${CORRAL_GUEST_TIMEOUT:-1800} s (console in $runs/console.log)"
  else
    say "no result: the guest ended (QEMU exit $qemu_rc) without a CORRAL-GUEST-EXIT line (console in $runs/console.log)"
  fi
  exit 1
fi
exit "$code"
