#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs every test on SQLite
# (the browser tests last) and again on PostgreSQL: every non-browser test and the browser tests marked
# both_databases (PG_BROWSER=all: every one), beside the SQLite browser tests. The PostgreSQL server
# is the project's own, from tools/postgres.sh, which installs Debian's postgresql when it is missing.
# SKIP_POSTGRES=1 runs the SQLite pass only.
# Usage: bash tools/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium for the browser tests, zbar-tools to read QR codes independently of our code,
# nginx-light for the test behind a reverse proxy terminating TLS (started by the test itself, not as a service);
# for the PDF pass sheets, WeasyPrint's Pango and fonts with Vietnamese, and poppler-utils (pdftotext,
# pdftoppm) to read the PDFs back in the tests; pg_dump and pg_restore (postgresql-client) for the
# PostgreSQL backup test.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v zbarimg >/dev/null 2>&1 || need+=(zbar-tools)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
for package in libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-core fonts-dejavu-core; do
  dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v npm >/dev/null 2>&1 || need+=(npm)
[ -n "${SKIP_POSTGRES:-}" ] || command -v pg_restore >/dev/null 2>&1 || need+=(postgresql-client)
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "${need[@]}"
fi

# axe-core for the accessibility checks (and the vendored front-end files' sources), from package-lock.json.
npm ci --no-audit --no-fund --loglevel=error

# The app and its test dependencies, in a virtual environment of the project's own. (tests/test_wheel.py
# builds the wheel with this pip, whose build isolation fetches setuptools as pyproject.toml asks.)
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"

# pytest's status 5 is "no tests collected": a part that the arguments leave empty is no failure.
pytest_part() {
  local part_status=0
  .venv/bin/python -m pytest "$@" || part_status=$?
  [ "$part_status" -eq 5 ] && part_status=0
  return "$part_status"
}

status=0
# The PostgreSQL pass runs in the background from the start, on the second core, beside both SQLite
# passes (the browser tests mostly wait, for Chromium, polls and timers: measured, less than half of
# one core busy); its output is printed when all are done. One after the other, CI took 17 minutes;
# with PostgreSQL beside the browser tests only, 15, one core idle for the first 5.
pg_pid=""
if [ "${SKIP_POSTGRES:-}" != "1" ]; then
  url=$(bash tools/postgres.sh)
  pg_log=$(mktemp)
  # On CI the server goes with the run; on a developer's machine it stays up for the next one.
  # Either way a background pass still running when this script ends goes with it.
  cleanup() {
    [ -n "$pg_pid" ] && kill "$pg_pid" 2>/dev/null
    rm -f "$pg_log"
    [ "${CI:-}" = "true" ] && bash tools/postgres.sh stop
    return 0
  }
  trap cleanup EXIT
  # Every non-browser test that uses the database again, and the browser tests whose flow depends on what the database
  # decides (marked both_databases: conflicts, ordering, search, the live tally, HTTPS end to end).
  # The other browser tests drive the same views over the same SQL, and the SQLite pass ran them all.
  # PG_BROWSER=all runs every one here too.
  # Modules marked database_free (the rules engine's tables, texts, the wheel in its own SQLite)
  # touch no test database: the SQLite pass has run them, and they are left out here.
  pg_select=(-m "(not browser or both_databases) and not database_free")
  [ "${PG_BROWSER:-}" = "all" ] && pg_select=(-m "not database_free")
  echo "== The suite on PostgreSQL: started in the background, printed below =="
  KIOSK_TEST_DATABASE_URL=$url pytest_part "${pg_select[@]}" "$@" >"$pg_log" 2>&1 &
  pg_pid=$!
fi

echo "== The suite on SQLite, without the browser tests =="
pytest_part -m "not browser" "$@" || status=$?

echo "== The browser tests on SQLite =="
pytest_part -m browser "$@" || status=$?

if [ -n "$pg_pid" ]; then
  pg_status=0
  wait "$pg_pid" || pg_status=$?
  pg_pid=""
  echo "== The suite on PostgreSQL =="
  cat "$pg_log"
  [ "$status" -eq 0 ] && status=$pg_status
fi
exit "$status"
