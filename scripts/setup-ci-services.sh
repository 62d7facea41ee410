#!/usr/bin/env bash
# Prepares this Debian machine's local services for Gatehouse's CI (idempotent; run as root):
#   - installs postgresql-<ver>-cron, docker-compose (compose file validation) and chromium (the
#     passkey tests' browser, with its WebAuthn virtual authenticator) if missing
#   - installs pgbouncer (test/pgbouncer.test.ts starts its own on a free port) and keeps the
#     package's own service from running on 6432
#   - makes sure PostgreSQL (Debian cluster <ver>/main on 127.0.0.1:5432) and Redis
#     (127.0.0.1:6379) are running
#   - preloads pg_cron with cron.database_name = gatehouse, restarting PostgreSQL only when the
#     running server does not already have those settings
#   - creates the database gatehouse afresh (the test suite's pg_cron database)
# Prints one line per thing it checked or did.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
PG_USER=postgres
CRON_DB=gatehouse
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
READY_TIMEOUT=${READY_TIMEOUT:-60}

export PGCONNECT_TIMEOUT=5

say() { printf 'setup: %s\n' "$*"; }
die() {
  printf 'setup: error: %s\n' "$*" >&2
  exit 1
}

[[ $(id -u) == 0 ]] || die "must run as root (installs packages, restarts PostgreSQL)"

# The cluster version: the only directory under /etc/postgresql, else 15.
pg_version() {
  local versions
  versions=$(ls /etc/postgresql 2>/dev/null || true)
  if [[ -n $versions && $(wc -w <<<"$versions") == 1 ]]; then
    printf '%s\n' "$versions"
  else
    printf '15\n'
  fi
}
PG_VERSION=${PG_VERSION:-$(pg_version)}

# apt-get that waits for the dpkg/apt locks (another install may be running in the background)
# instead of failing at once.
apt_get() {
  local try out rc
  for try in $(seq 1 60); do
    rc=0
    out=$(DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 "$@" </dev/null 2>&1) || rc=$?
    if ((rc == 0)); then
      return 0
    fi
    if grep -qiE 'could not get lock|unable to acquire|is another process using it' <<<"$out"; then
      say "apt is busy (another install is running); waiting... (try $try)"
      sleep 10
      continue
    fi
    printf '%s\n' "$out" >&2
    return "$rc"
  done
  printf '%s\n' "$out" >&2
  die "apt stayed locked for too long"
}

installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }

ensure_packages() {
  local pkg missing=()
  for pkg in "postgresql-$PG_VERSION-cron" docker-compose chromium pgbouncer; do
    if installed "$pkg"; then
      say "package $pkg: already installed"
    else
      missing+=("$pkg")
    fi
  done
  ((${#missing[@]} > 0)) || return 0
  say "installing ${missing[*]} (apt-get update + install)..."
  apt_get update -qq >/dev/null
  # No recommends: docker-compose would otherwise pull in the Docker engine (chromium runs
  # headless without its recommends).
  apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for pkg in "${missing[@]}"; do
    installed "$pkg" || die "package $pkg did not install"
    say "package $pkg: installed"
  done
}

psql_q() {
  psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -tA "$@" </dev/null
}

pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -t 2 >/dev/null 2>&1; }

wait_pg() {
  local deadline=$((SECONDS + READY_TIMEOUT))
  until pg_ready; do
    ((SECONDS < deadline)) || die "PostgreSQL not ready on $PG_HOST:$PG_PORT after ${READY_TIMEOUT}s (log: /var/log/postgresql/postgresql-$PG_VERSION-main.log)"
    sleep 0.5
  done
}

ensure_postgres_running() {
  if pg_ready; then
    say "postgresql $PG_VERSION/main: running"
    return
  fi
  say "postgresql $PG_VERSION/main: not answering; starting it"
  # "start" fails when the cluster is already up but still starting: the wait decides.
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start || true
  wait_pg
  say "postgresql $PG_VERSION/main: started"
}

# shared_preload_libraries of the running server, with pg_cron appended if it is not there.
wanted_preload() {
  local current=$1
  if [[ -z $current ]]; then
    printf 'pg_cron\n'
  else
    printf '%s,pg_cron\n' "$current"
  fi
}

preload_has_pg_cron() {
  local preload
  preload=$(psql_q -d postgres -c 'SHOW shared_preload_libraries')
  [[ ,${preload// /}, == *,pg_cron,* ]]
}

restart_pg() {
  say "restarting postgresql $PG_VERSION/main ($1)..."
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main restart
  wait_pg
}

# Both settings take effect only at server start. PostgreSQL 15 refuses ALTER SYSTEM for
# cron.database_name until pg_cron is loaded, so a first run restarts twice; later runs never.
ensure_pg_cron() {
  local preload cron_db changed=0
  preload=$(psql_q -d postgres -c 'SHOW shared_preload_libraries')
  if preload_has_pg_cron; then
    say "shared_preload_libraries = '$preload': pg_cron already loaded"
  else
    local wanted
    wanted=$(wanted_preload "$preload")
    psql_q -d postgres -c "ALTER SYSTEM SET shared_preload_libraries = '$wanted'"
    say "ALTER SYSTEM SET shared_preload_libraries = '$wanted' (was '$preload')"
    restart_pg "to preload pg_cron"
    preload_has_pg_cron ||
      die "pg_cron still not preloaded after restart (shared_preload_libraries = '$(psql_q -d postgres -c 'SHOW shared_preload_libraries')')"
    changed=1
  fi
  cron_db=$(psql_q -d postgres -c 'SHOW cron.database_name')
  if [[ $cron_db == "$CRON_DB" ]]; then
    say "cron.database_name = '$CRON_DB': already set"
  else
    psql_q -d postgres -c "ALTER SYSTEM SET cron.database_name = '$CRON_DB'"
    say "ALTER SYSTEM SET cron.database_name = '$CRON_DB' (was '$cron_db')"
    restart_pg "for cron.database_name"
    cron_db=$(psql_q -d postgres -c 'SHOW cron.database_name')
    [[ $cron_db == "$CRON_DB" ]] || die "cron.database_name is '$cron_db' after restart, expected '$CRON_DB'"
    changed=1
  fi
  if ((changed)); then
    say "postgresql: shared_preload_libraries = '$(psql_q -d postgres -c 'SHOW shared_preload_libraries')', cron.database_name = '$cron_db'"
  else
    say "postgresql: no restart needed"
  fi
}

ensure_database() {
  # The cron database holds only what the test suite puts there: start each run from an empty
  # one, so a machine reused between runs gives the same result as a fresh one.
  if [[ $(psql_q -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$CRON_DB'") == 1 ]]; then
    psql_q -d postgres -c "DROP DATABASE $CRON_DB WITH (FORCE)"
    say "database $CRON_DB: dropped (left over from an earlier run)"
  fi
  psql_q -d postgres -c "CREATE DATABASE $CRON_DB"
  say "database $CRON_DB: created"
}

# pg_cron runs each job over a libpq connection to cron.host (default localhost); check, without
# changing anything, that this connection is accepted without a password.
check_localhost_trust() {
  if psql -X -w -d "host=localhost port=$PG_PORT user=$PG_USER dbname=$CRON_DB" -tAc 'SELECT 1' \
    </dev/null >/dev/null 2>&1; then
    say "pg_hba: passwordless connection to localhost:$PG_PORT accepted (pg_cron jobs can connect)"
  else
    say "WARNING: a passwordless connection to localhost:$PG_PORT as $PG_USER is refused;" \
      "pg_cron jobs will fail until pg_hba.conf trusts host 127.0.0.1 (left unchanged)"
  fi
}

redis_up() { [[ $(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null </dev/null) == PONG ]]; }

ensure_redis() {
  # redis-server and redis-cli also start the private Redis Cluster of test/redisCluster.test.ts.
  if ! installed redis-server || ! installed redis-tools; then
    say "installing redis-server redis-tools (apt-get update + install)..."
    apt_get update -qq >/dev/null
    apt_get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
    installed redis-server && installed redis-tools || die "redis-server/redis-tools did not install"
    say "package redis-server, redis-tools: installed"
  fi
  if redis_up; then
    say "redis $REDIS_HOST:$REDIS_PORT: running"
    return
  fi
  say "redis $REDIS_HOST:$REDIS_PORT: not answering; starting it"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no </dev/null >/dev/null
  local deadline=$((SECONDS + READY_TIMEOUT))
  until redis_up; do
    ((SECONDS < deadline)) || die "Redis not answering on $REDIS_HOST:$REDIS_PORT after ${READY_TIMEOUT}s"
    sleep 0.2
  done
  say "redis $REDIS_HOST:$REDIS_PORT: started"
}

# Debian's package may start a pgbouncer service on 6432; the tests need none (they start their
# own), so stop it and keep it from starting again.
ensure_pgbouncer_service_stopped() {
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet pgbouncer 2>/dev/null; then
    systemctl disable --now pgbouncer >/dev/null 2>&1 || true
    say "pgbouncer service: stopped and disabled (the tests start their own)"
  elif [[ -x /etc/init.d/pgbouncer ]] && /etc/init.d/pgbouncer status >/dev/null 2>&1; then
    /etc/init.d/pgbouncer stop >/dev/null 2>&1 || true
    say "pgbouncer service: stopped (the tests start their own)"
  else
    say "pgbouncer service: not running (the tests start their own)"
  fi
}

ensure_packages
ensure_pgbouncer_service_stopped
ensure_postgres_running
ensure_pg_cron
ensure_database
check_localhost_trust
ensure_redis
say "done"
