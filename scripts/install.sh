#!/usr/bin/env bash
# Installs corral where distributions put a container runtime's files:
#   $DESTDIR$BINDIR/corral                                   (BINDIR: $PREFIX/sbin, as runc)
#   $DESTDIR$PREFIX/share/man/man8/corral*.8                 (man/, as committed)
#   $DESTDIR$PREFIX/share/bash-completion/completions/corral
#   $DESTDIR$PREFIX/share/zsh/site-functions/_corral         (ZSH_COMPLETION_DIR to change)
#   $DESTDIR$PREFIX/share/fish/vendor_completions.d/corral.fish
# PREFIX defaults to /usr/local; DESTDIR (empty by default) is the staging root of a
# package build. The binary is built with the cargo profile PROFILE (release; a packager
# uses `packaging`, which keeps the debug info for its own -dbg/-debuginfo split), or
# taken from CORRAL_BIN. The completions are completions/ as committed (what `corral
# completion SHELL` prints), so a cross build installs them too.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BINDIR=${BINDIR:-$PREFIX/sbin}
MANDIR=${MANDIR:-$PREFIX/share/man}
ZSH_COMPLETION_DIR=${ZSH_COMPLETION_DIR:-$PREFIX/share/zsh/site-functions}
PROFILE=${PROFILE:-release}
bin=${CORRAL_BIN:-}
if [[ -z $bin ]]; then
  cargo build --profile "$PROFILE" -p corral
  bin=$BIN_DIR/$PROFILE/corral
fi

install -D -m 0755 "$bin" "$DESTDIR$BINDIR/corral"
install -d "$DESTDIR$MANDIR/man8"
install -m 0644 man/*.8 "$DESTDIR$MANDIR/man8/"
install -D -m 0644 completions/corral.bash "$DESTDIR$PREFIX/share/bash-completion/completions/corral"
install -D -m 0644 completions/_corral "$DESTDIR$ZSH_COMPLETION_DIR/_corral"
install -D -m 0644 completions/corral.fish "$DESTDIR$PREFIX/share/fish/vendor_completions.d/corral.fish"
echo "installed corral in $DESTDIR$PREFIX"
