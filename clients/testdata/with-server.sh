#!/usr/bin/env bash
# Runs a command against a fresh `mciassrv dev` on a free loopback port.
#   clients/testdata/with-server.sh CMD ARGS...
# The server binary is $MCIASSRV or target/debug/mciassrv (build it first:
# `cargo build --bin mciassrv`). See README.md beside this file.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${MCIASSRV:-$root/target/debug/mciassrv}
if [ ! -x "$bin" ]; then
  echo "with-server: $bin not found; run 'cargo build --bin mciassrv' first" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcias-clients.XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A free port can be taken between the probe and the bind: try a few.
for attempt in 1 2 3; do
  port=$(free_port)
  "$bin" dev --data-dir "$tmp/data" --listen "127.0.0.1:$port" >"$tmp/stdout" 2>"$tmp/stderr" &
  pid=$!
  # The banner goes to stdout once the listener is bound.
  for _ in $(seq 1 300); do
    if grep -q "listening:" "$tmp/stdout" 2>/dev/null; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null && grep -q "listening:" "$tmp/stdout"; then
    break
  fi
  echo "with-server: server did not start (attempt $attempt):" >&2
  cat "$tmp/stderr" >&2
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
  rm -rf "$tmp/data"
done
if [ -z "$pid" ]; then
  exit 1
fi

# The port accepts TLS: wait for a handshake with the development CA.
for _ in $(seq 1 100); do
  if python3 - "$tmp/data/tls/ca.pem" "$port" <<'PY' 2>/dev/null; then break; fi
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=2) as s:
    with ctx.wrap_socket(s, server_hostname="localhost"):
        pass
PY
  sleep 0.1
done

export MCIAS_SERVER="localhost:$port"
export MCIAS_CA_CERT="$tmp/data/tls/ca.pem"
MCIAS_ADMIN_PASSWORD=$(cat "$tmp/data/admin-password")
export MCIAS_ADMIN_PASSWORD
export MCIAS_CONTRACT="$root/clients/testdata/contract.json"

echo "with-server: mciassrv dev on $MCIAS_SERVER" >&2
set +e
"$@"
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "with-server: command failed ($rc); server log:" >&2
  tail -n 40 "$tmp/stderr" >&2
fi
exit "$rc"
