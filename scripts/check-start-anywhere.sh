#!/usr/bin/env bash
# Proves the newcomer's `scripts/run start` works from a checkout in a private directory: clones
# this repository (its HEAD) into a fresh `mktemp -d` directory (mode 0700, like a clone in
# root's home directory), reuses the installed node_modules (copied, no second npm ci), starts
# it in embedded mode (no DATABASE_URL, no REDIS_URL) on free ports, waits until /readyz answers
# 200, then SIGTERMs it and requires a clean exit. Run from the repository: bash
# scripts/check-start-anywhere.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stop-cleanly.sh
source scripts/lib/stop-cleanly.sh

readonly DEADLINE_SEC=${START_DEADLINE_SEC:-180}
fail() {
  printf 'check-start-anywhere: %s\n' "$*" >&2
  exit 1
}
[[ -d node_modules ]] || fail "run npm ci (scripts/run --install) first"

work=$(mktemp -d)
pid=
relocated=
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  # As root the embedded cluster of a DATA_DIR the postgres user cannot reach lives outside it.
  if [[ $relocated == /var/lib/gatehouse/embedded-postgres/*/postgres ]]; then
    rm -rf "$(dirname "$relocated")"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
printf 'private directory %s (mode %s)\n' "$work" "$(stat -c %a "$work")"

git clone --quiet --no-hardlinks . "$work/gatehouse"
cp -a node_modules "$work/gatehouse/"
# scripts/run reinstalls when package-lock.json is newer than the install stamp; the clone's
# lock file was just written, the copied stamp was not.
touch "$work/gatehouse/node_modules/.package-lock.json"

# Four free ports (the embedded PostgreSQL's included), chosen by the kernel.
read -r grpc_port http_port connect_port pg_port < <(node -e '
  const net = require("node:net");
  const servers = [0, 1, 2, 3].map(() => net.createServer().listen(0, "127.0.0.1"));
  Promise.all(servers.map((s) => new Promise((r) => s.on("listening", r)))).then(() => {
    console.log(servers.map((s) => s.address().port).join(" "));
    for (const s of servers) s.close();
  });')

log=$work/start.log
(
  cd "$work/gatehouse"
  exec env -u DATABASE_URL -u REDIS_URL GRPC_PORT="$grpc_port" HTTP_PORT="$http_port" \
    CONNECT_PORT="$connect_port" EMBEDDED_POSTGRES_PORT="$pg_port" scripts/run start </dev/null
) >"$log" 2>&1 &
pid=$!

ready=false
for ((waited = 0; waited < DEADLINE_SEC * 5; waited++)); do
  if ! kill -0 "$pid" 2>/dev/null; then
    cat "$log" >&2
    fail "scripts/run start exited before it was ready"
  fi
  if curl -fsS -o /dev/null "http://127.0.0.1:$http_port/readyz" 2>/dev/null; then
    ready=true
    break
  fi
  sleep 0.2
done
relocated=$(sed -n 's/.*"databaseDir":"\([^"]*\)".*/\1/p' "$log" | head -n 1)
if ! $ready; then
  cat "$log" >&2
  fail "not ready within ${DEADLINE_SEC}s"
fi
printf 'ready: /readyz answered 200 on port %s (embedded PostgreSQL data in %s)\n' "$http_port" "$relocated"
# The README's plain JSON call, on the Connect port.
if ! curl -fsS -H 'content-type: application/json' -d '{}' \
  "http://127.0.0.1:$connect_port/gatehouse.auth.v1.AuthService/GetJwks" | grep -q '"jwksJson"'; then
  cat "$log" >&2
  fail "the JSON call to GetJwks on CONNECT_PORT $connect_port did not answer the key set"
fi
printf 'JSON over the Connect port answered GetJwks on port %s\n' "$connect_port"

if ! stop_cleanly "$pid" "$log"; then
  pid=
  fail "SIGTERM did not end in a clean exit (exit $stop_rc)"
fi
pid=
printf 'clean exit after SIGTERM\n'
