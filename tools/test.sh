#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs every test on SQLite,
# then again on PostgreSQL (a server of the project's own, from tools/postgres.sh, which
# installs Debian's postgresql when it is missing; the browser tests marked both_databases only,
# unless PG_BROWSER=all). SKIP_POSTGRES=1 runs the SQLite pass only.
# Usage: bash tools/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium for the browser tests, zbar-tools to read QR codes independently of our code,
# nginx-light for the test behind a reverse proxy terminating TLS (started by the test itself, not as a service);
# for the PDF pass sheets, WeasyPrint's Pango and fonts with Vietnamese, and poppler-utils (pdftotext,
# pdftoppm) to read the PDFs back in the tests.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v zbarimg >/dev/null 2>&1 || need+=(zbar-tools)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
for package in libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-core fonts-dejavu-core; do
  dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v npm >/dev/null 2>&1 || need+=(npm)
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

status=0
echo "== The suite on SQLite =="
.venv/bin/python -m pytest "$@" || status=$?

if [ "${SKIP_POSTGRES:-}" != "1" ]; then
  url=$(bash tools/postgres.sh)
  # On CI the server goes with the run; on a developer's machine it stays up for the next one.
  [ "${CI:-}" = "true" ] && trap 'bash tools/postgres.sh stop' EXIT
  # Every non-browser test again, and the browser tests whose flow depends on what the database
  # decides (marked both_databases: conflicts, ordering, search, the live tally, HTTPS end to end).
  # The other browser tests drive the same views over the same SQL, and the SQLite pass ran them all:
  # running all 90 twice took 5.5 more minutes of the CI's 15. PG_BROWSER=all runs every one here too.
  pg_select=(-m "not browser or both_databases")
  [ "${PG_BROWSER:-}" = "all" ] && pg_select=()
  echo "== The suite on PostgreSQL =="
  pg_status=0
  KIOSK_TEST_DATABASE_URL=$url .venv/bin/python -m pytest "${pg_select[@]}" "$@" || pg_status=$?
  [ "$status" -eq 0 ] && status=$pg_status
fi
exit "$status"
