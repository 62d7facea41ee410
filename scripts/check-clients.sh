#!/usr/bin/env bash
# Proves the generated clients work (issue 18): generates each client in clients/ from proto/
# with buf (TypeScript with ts-proto, TypeScript with connect-es, Python with grpcio, Go with
# grpc-go), starts a live Gatehouse on free ports against DATABASE_URL (a fresh database, dropped
# afterwards) and REDIS_URL (its own key prefix), runs each client program against it and
# requires that it exited 0 and printed the expected outcome: register, login and
# ValidateToken succeeded, Register with an invalid email gave VALIDATION_FAILED with a
# BadRequest violation on email, Login with a wrong password gave INVALID_CREDENTIALS. Then
# SIGTERMs the server. Installs the Debian packages it needs when they are missing (as root).
# Run from the repository, with Node >= 24 on PATH and the npm dependencies installed:
#   DATABASE_URL=... REDIS_URL=... bash scripts/check-clients.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/stop-cleanly.sh
source scripts/lib/stop-cleanly.sh

readonly DEADLINE_SEC=${CLIENTS_DEADLINE_SEC:-60}
: "${DATABASE_URL:=postgres://postgres@127.0.0.1:5432/postgres}"
: "${REDIS_URL:=redis://127.0.0.1:6379}"

fail() {
  printf 'check-clients: %s\n' "$*" >&2
  exit 1
}
note() { printf 'check-clients: %s\n' "$*"; }
[[ -d node_modules ]] || fail "run npm ci (scripts/run --install) first"

# --- Tools: protoc + grpc_python_plugin + grpcio for Python, the Go toolchain and Debian's Go
# packages for Go. github.com/golang/protobuf must be 1.4 or newer (backed by
# google.golang.org/protobuf, as 1.5 is): Debian's default 1.3 cannot marshal the messages
# protoc-gen-go (APIv2) generates, and /usr/bin/protoc-gen-go must be that APIv2 one.
gocode=/usr/share/gocode/src
missing=()
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v grpc_python_plugin >/dev/null || missing+=(protobuf-compiler-grpc)
/usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null || missing+=(python3-grpcio python3-protobuf)
command -v go >/dev/null || missing+=(golang-go)
[[ $(protoc-gen-go --version 2>/dev/null) == 'protoc-gen-go v1.'* ]] || missing+=(protoc-gen-go)
command -v protoc-gen-go-grpc >/dev/null || missing+=(protoc-gen-go-grpc)
[[ -d $gocode/google.golang.org/grpc ]] || missing+=(golang-google-grpc-dev)
[[ -d $gocode/google.golang.org/genproto/googleapis/rpc/errdetails ]] || missing+=(golang-google-genproto-dev)
grep -qs 'google.golang.org/protobuf' "$gocode/github.com/golang/protobuf/proto/proto.go" ||
  missing+=(golang-github-golang-protobuf-1-5-dev)
if ((${#missing[@]} > 0)); then
  ((EUID == 0)) || fail "missing Debian packages; install them: sudo apt-get install ${missing[*]}"
  note "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi

# --- Generate every client from proto/ (and the vendored google/rpc module).
clients=(ts-proto connect-es python go)
for client in "${clients[@]}"; do
  npx --no-install buf generate --template "clients/$client/buf.gen.yaml" </dev/null
done
note "generated ${clients[*]} into clients/*/gen"
# The TypeScript programs against their generated code (not part of `npm run typecheck`:
# the generated code exists only after this script's buf generate).
npx --no-install tsc -p clients </dev/null
note "tsc -p clients: the TypeScript clients typecheck"

work=$(mktemp -d)
pid=
database=
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [[ -n $database ]]; then
    node "$work/db.mjs" drop "$database" </dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- A fresh database on the DATABASE_URL server (the server migrates it on start).
cat >"$work/db.mjs" <<'JS'
import pg from 'pg';
const [action, name] = process.argv.slice(2);
const base = new URL(process.env.DATABASE_URL);
if (action === 'url') {
  base.pathname = `/${name}`;
  console.log(base.href);
} else {
  const client = new pg.Client({ connectionString: base.href });
  await client.connect();
  await client.query(action === 'create' ? `CREATE DATABASE ${name}` : `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await client.end();
}
JS
# Resolved from the repository's node_modules: db.mjs runs with the repository as its cwd.
ln -s "$PWD/node_modules" "$work/node_modules"
database=gatehouse_clients_$$
node "$work/db.mjs" create "$database" </dev/null
database_url=$(node "$work/db.mjs" url "$database" </dev/null)

# --- The server: free ports chosen by the kernel (port 0), read back from its log line.
log=$work/server.log
env NODE_ENV=development MAIL_TRANSPORT=log LOG_LEVEL=info DATABASE_URL="$database_url" \
  REDIS_URL="$REDIS_URL" REDIS_KEY_PREFIX="gh-clients-$$:" GRPC_HOST=127.0.0.1 GRPC_PORT=0 \
  HTTP_HOST=127.0.0.1 HTTP_PORT=0 CONNECT_HOST=127.0.0.1 CONNECT_PORT=0 node src/main.ts </dev/null >"$log" 2>&1 &
pid=$!

grpc_port=
http_port=
connect_port=
for ((tick = 0; tick < DEADLINE_SEC * 10; tick++)); do
  if ! kill -0 "$pid" 2>/dev/null; then
    cat "$log" >&2
    fail "the server exited before it was listening"
  fi
  listening=$(grep -m1 '"msg":"gatehouse is listening"' "$log" || true)
  if [[ -n $listening ]]; then
    grpc_port=$(sed -n 's/.*"grpcPort":\([0-9]*\).*/\1/p' <<<"$listening")
    http_port=$(sed -n 's/.*"httpPort":\([0-9]*\).*/\1/p' <<<"$listening")
    connect_port=$(sed -n 's/.*"connectPort":\([0-9]*\).*/\1/p' <<<"$listening")
    if curl -fsS -o /dev/null "http://127.0.0.1:$http_port/readyz" 2>/dev/null; then break; fi
  fi
  sleep 0.1
done
[[ -n $grpc_port ]] && curl -fsS -o /dev/null "http://127.0.0.1:$http_port/readyz" ||
  {
    cat "$log" >&2
    fail "the server was not ready within ${DEADLINE_SEC}s"
  }
target=127.0.0.1:$grpc_port
note "Gatehouse is ready: gRPC on $target, Connect on 127.0.0.1:$connect_port (database $database)"

# --- Each client, and what it must have printed.
run_client() {
  local client=$1
  shift
  local out=$work/$client.out start=$SECONDS rc=0
  timeout "$DEADLINE_SEC" "$@" </dev/null >"$out" 2>&1 || rc=$?
  sed "s/^/  [$client] /" "$out"
  ((rc == 0)) || fail "$client: exited $rc"
  local expected
  for expected in '^register: ok user_id=.' '^login: ok session_id=.' \
    '^validate: active=true user_id=.' \
    '^register (invalid email): [A-Za-z_]* reason=VALIDATION_FAILED domain=gatehouse' \
    '^  field violation: email: .' \
    '^login (wrong password): [A-Za-z_]* reason=INVALID_CREDENTIALS domain=gatehouse'; do
    grep -q "$expected" "$out" || fail "$client: no line matching: $expected"
  done
  [[ $(tail -n 1 "$out") == ok ]] || fail "$client: did not end with ok"
  note "$client: ok ($((SECONDS - start))s)"
}
run_client ts-proto node clients/ts-proto/main.ts "$target"
run_client connect-es node clients/connect-es/main.ts "$target"
run_client connect-es-connect node clients/connect-es/main.ts "127.0.0.1:$connect_port" connect
run_client connect-es-grpc-web node clients/connect-es/main.ts "127.0.0.1:$connect_port" grpc-web
run_client python /usr/bin/python3 clients/python/client.py "$target"
run_client go bash clients/go/run-debian.sh -service-config clients/service-config.json "$target"

# --- Stop the server; it must drain and exit cleanly.
if ! stop_cleanly "$pid" "$log"; then
  pid=
  fail "the server did not exit cleanly after SIGTERM (exit $stop_rc)"
fi
pid=
note "all clients ok; server stopped cleanly"
