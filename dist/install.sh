#!/bin/sh
# Installs MCIAS: the binaries, the systemd unit, the man pages, example
# configuration, a dedicated user and its directories. Idempotent: running it
# again updates binaries, unit and man pages and keeps existing configuration.
# It never starts the service.
#
# Usage: install.sh [BINDIR]
#   BINDIR  directory holding mciassrv, mciasctl and mciasdb
#           (default: ./bin beside this script, then ./target/release)
#
# Environment:
#   DESTDIR  stage into this root (packaging); no user is created and no
#            ownership is changed
#   PREFIX   installation prefix (default /usr/local)
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
top=$(CDPATH='' cd -- "$here/.." && pwd)
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
user=mcias

if [ "$#" -gt 0 ]; then
    bindir=$1
elif [ -x "$here/bin/mciassrv" ]; then
    bindir=$here/bin
else
    bindir=$top/target/release
fi

for b in mciassrv mciasctl mciasdb; do
    if [ ! -x "$bindir/$b" ]; then
        echo "install.sh: $bindir/$b not found; build with 'make build' or pass BINDIR" >&2
        exit 1
    fi
done

if [ -d "$here/man" ]; then
    mandir_src=$here/man
else
    mandir_src=$top/man
fi

say() { printf '%s\n' "install.sh: $*"; }

if [ -z "$DESTDIR" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install.sh: run as root (or set DESTDIR to stage the files)" >&2
        exit 1
    fi
    if ! id "$user" >/dev/null 2>&1; then
        nologin=/usr/sbin/nologin
        [ -x "$nologin" ] || nologin=/sbin/nologin
        [ -x "$nologin" ] || nologin=/bin/false
        if command -v useradd >/dev/null 2>&1; then
            useradd --system --user-group --home-dir /var/lib/mcias \
                --no-create-home --shell "$nologin" "$user"
        else
            addgroup -S "$user"
            adduser -S -D -H -h /var/lib/mcias -s "$nologin" -G "$user" "$user"
        fi
        say "created system user $user"
    fi
fi

# owner USER:GROUP PATH: change ownership unless staging.
owner() {
    if [ -z "$DESTDIR" ]; then
        chown "$1" "$2"
    fi
}

install -d -m 0755 "$DESTDIR$PREFIX/bin"
for b in mciassrv mciasctl mciasdb; do
    install -m 0755 "$bindir/$b" "$DESTDIR$PREFIX/bin/$b"
done
say "installed binaries in $PREFIX/bin"

for section in 1 5 8; do
    install -d -m 0755 "$DESTDIR$PREFIX/share/man/man$section"
    for page in "$mandir_src/man$section"/*."$section"; do
        [ -e "$page" ] || continue
        install -m 0644 "$page" "$DESTDIR$PREFIX/share/man/man$section/"
    done
done
say "installed man pages in $PREFIX/share/man"

install -d -m 0755 "$DESTDIR/etc/systemd/system"
sed "s|/usr/local/bin/mciassrv|$PREFIX/bin/mciassrv|" "$here/mcias.service" \
    >"$DESTDIR/etc/systemd/system/mcias.service"
chmod 0644 "$DESTDIR/etc/systemd/system/mcias.service"
say "installed /etc/systemd/system/mcias.service"

install -d -m 0750 "$DESTDIR/etc/mcias"
owner "root:$user" "$DESTDIR/etc/mcias"
install -d -m 0700 "$DESTDIR/var/lib/mcias"
owner "$user:$user" "$DESTDIR/var/lib/mcias"

if [ ! -e "$DESTDIR/etc/mcias/mcias.toml" ]; then
    install -m 0640 "$here/mcias.conf.example" "$DESTDIR/etc/mcias/mcias.toml"
    owner "root:$user" "$DESTDIR/etc/mcias/mcias.toml"
    say "wrote /etc/mcias/mcias.toml from the example: edit it before starting"
fi
if [ ! -e "$DESTDIR/etc/mcias/env" ]; then
    install -m 0640 "$here/mcias.env.example" "$DESTDIR/etc/mcias/env"
    owner "root:$user" "$DESTDIR/etc/mcias/env"
fi
install -m 0644 "$here/mcias.conf.example" "$DESTDIR/etc/mcias/mcias.conf.example"

if [ -z "$DESTDIR" ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi

say "done. Next: put a TLS certificate and key in /etc/mcias/tls/, create the"
say "master key (umask 077; openssl rand -hex 32 > /etc/mcias/master.key;"
say "chown $user /etc/mcias/master.key), create the first admin with"
say "sudo -u $user mciasdb --config /etc/mcias/mcias.toml bootstrap-admin --username admin --password-stdin"
say "(run mciasdb as the service user), then: systemctl enable --now mcias"
