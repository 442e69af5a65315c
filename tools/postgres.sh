#!/usr/bin/env bash
# A PostgreSQL server of the project's own for the tests: installs Debian's postgresql when it
# is missing, makes a cluster under /tmp, starts it on 127.0.0.1, creates the role and database
# `kiosk`, and prints the URL to give the tests as KIOSK_TEST_DATABASE_URL. Run it again and it
# reuses what is there (and starts the server if it stopped).
#
# Usage: bash tools/postgres.sh          -> prints postgresql+psycopg://kiosk:...@127.0.0.1:PORT/kiosk
#        bash tools/postgres.sh stop     -> stops the server (the cluster stays for next time)
#        bash tools/postgres.sh durable [stop]
#                                        -> the same for a durable cluster (fsync, synchronous_commit
#                                           and full_page_writes on, as in production), in its own
#                                           folder and on its own port: what bench/run.py
#                                           --database postgresql measures
#
# KIOSK_PG_DIR (default /tmp/kiosk-postgres, or /tmp/kiosk-postgres-durable) and KIOSK_PG_PORT
# (default 54329, or 54331) choose where.
# The test cluster is for tests: fsync is off, so a crash of the machine may lose it.
set -euo pipefail

DURABLE=0
if [ "${1:-}" = "durable" ]; then
  DURABLE=1
  shift
fi
if [ "$DURABLE" = 1 ]; then
  BASE=${KIOSK_PG_DIR:-/tmp/kiosk-postgres-durable}
  PORT=${KIOSK_PG_PORT:-54331}
else
  BASE=${KIOSK_PG_DIR:-/tmp/kiosk-postgres}
  PORT=${KIOSK_PG_PORT:-54329}
fi
DATA=$BASE/data
RUN=$BASE/run
PASSWORD_FILE=$BASE/password

say() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

BIN=$(find_bin || true)
if [ -z "$BIN" ]; then
  say "installing Debian's postgresql"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q postgresql >&2
  BIN=$(find_bin) || { say "postgresql installed, but no initdb under /usr/lib/postgresql"; exit 1; }
fi
VERSION=$(basename "$(dirname "$BIN")")

# PostgreSQL refuses to run as root: as root, the server runs as Debian's `postgres` user.
if [ "$(id -u)" -eq 0 ]; then
  OWNER=postgres
  as_owner() { (cd / && runuser -u postgres -- "$@"); }
else
  OWNER=$(id -un)
  as_owner() { "$@"; }
fi

if [ "${1:-}" = "stop" ]; then
  if [ -f "$DATA/postmaster.pid" ]; then
    as_owner "$BIN/pg_ctl" stop -D "$DATA" -m fast >/dev/null
  fi
  exit 0
fi

create_cluster() {
  say "creating a PostgreSQL $VERSION cluster in $DATA"
  rm -rf "$DATA" "$RUN"
  mkdir -p "$DATA" "$RUN"
  chown "$OWNER" "$DATA" "$RUN"
  chmod 700 "$DATA"
  # The superuser signs in through the socket as the OS user (peer); everyone else by password.
  as_owner "$BIN/initdb" -D "$DATA" -U "$OWNER" --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$DATA/postgresql.conf" <<CONF

# tools/postgres.sh: a server on loopback only, its socket beside the data.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$RUN'
max_connections = 200
CONF
  if [ "$DURABLE" = 1 ]; then
    cat >>"$DATA/postgresql.conf" <<CONF
# Durable, as a production server: an acknowledged commit survives a power cut.
fsync = on
synchronous_commit = on
full_page_writes = on
CONF
  else
    cat >>"$DATA/postgresql.conf" <<CONF
# Durability is of no use to throw-away test databases; speed is.
fsync = off
synchronous_commit = off
full_page_writes = off
# Test databases live seconds; a vacuum worker in one would only hold up its DROP.
autovacuum = off
CONF
  fi
}

start_server() {
  as_owner "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1 && return 0
  as_owner "$BIN/pg_ctl" start -D "$DATA" -l "$RUN/server.log" -w -t 60 >/dev/null
}

mkdir -p "$BASE"
if [ ! -f "$DATA/PG_VERSION" ] || [ "$(cat "$DATA/PG_VERSION")" != "$VERSION" ]; then
  create_cluster
fi
if ! start_server; then
  # A cluster left by an earlier session of this machine that will not start holds only test data.
  say "the cluster in $DATA did not start; making a new one"
  create_cluster
  start_server || { say "the server did not start:"; tail -n 20 "$RUN/server.log" >&2; exit 1; }
fi

if [ ! -s "$PASSWORD_FILE" ]; then
  (umask 077 && od -An -tx1 -N18 /dev/urandom | tr -d ' \n' >"$PASSWORD_FILE")
fi
PASSWORD=$(cat "$PASSWORD_FILE")

psql_admin() { as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -U "$OWNER" -d postgres "$@"; }

# Idempotent: the role's password is set on every run, so it always matches the file.
psql_admin -tA >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kiosk') THEN
    CREATE ROLE kiosk LOGIN CREATEDB;
  END IF;
END \$\$;
ALTER ROLE kiosk PASSWORD '$PASSWORD';
SQL
if [ -z "$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = 'kiosk'")" ]; then
  psql_admin -c "CREATE DATABASE kiosk OWNER kiosk" >/dev/null
fi

echo "postgresql+psycopg://kiosk:$PASSWORD@127.0.0.1:$PORT/kiosk"
