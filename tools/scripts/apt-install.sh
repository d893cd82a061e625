#!/bin/sh
# Installs the Debian packages named as arguments that are not installed yet.
# Runs apt-get directly as root and through sudo otherwise; prints what it
# does, since a fresh machine spends minutes here.
#   tools/scripts/apt-install.sh PACKAGE...
set -eu

missing=
for pkg in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $pkg"
  fi
done
if [ -z "$missing" ]; then
  echo "apt-install: already installed: $*"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=
elif command -v sudo >/dev/null 2>&1; then
  sudo=sudo
else
  echo "apt-install: need root or sudo to install:$missing" >&2
  exit 1
fi

echo "apt-install: installing$missing"
$sudo apt-get update -qq
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "apt-install: done"
