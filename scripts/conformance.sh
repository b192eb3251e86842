#!/usr/bin/env bash
# Conformance fuzzing: runs schemathesis (every check, fixed seed, bounded
# examples) against the running service's own /api-docs/openapi.json, logged
# in as two peer users so the object-level authorisation (BOLA) check runs.
#
#   scripts/conformance.sh [sqlite|postgres]     (default: sqlite)
#
# Starts the debug binary on 127.0.0.1:18181 (CONFORMANCE_PORT) over a fresh database (for
# postgres, a random database on $CI_POSTGRES_URL's server, dropped after),
# installs schemathesis into target/schemathesis-venv on first use, and exits
# with schemathesis's status. Configuration: .ci/schemathesis/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BACKEND="${1:-sqlite}"
PORT="${CONFORMANCE_PORT:-18181}"
BASE="http://127.0.0.1:$PORT"
PG_URL="${CI_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
SCHEMATHESIS_VERSION=4.32.5
VENV="$ROOT/target/schemathesis-venv"

if [ ! -x "$VENV/bin/schemathesis" ] || ! "$VENV/bin/schemathesis" --version | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet -p api
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK=$(mktemp -d)
DB_NAME=""
case "$BACKEND" in
  sqlite) DATABASE_URL="sqlite://$WORK/conformance.db" ;;
  postgres)
    DB_NAME="conformance_$(date +%s)_$$"
    psql "$PG_URL" -qc "CREATE DATABASE $DB_NAME"
    DATABASE_URL="${PG_URL%/*}/$DB_NAME"
    ;;
  *) echo "usage: $0 [sqlite|postgres]" >&2; exit 2 ;;
esac

cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [ -n "$DB_NAME" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The limits are turned off: the fuzzer sends thousands of requests from one
# address, and the limiter has tests of its own.
HOST=127.0.0.1 PORT=$PORT DATABASE_URL="$DATABASE_URL" \
  JWT_SECRET=conformance-secret-conformance-secret-0123 BCRYPT_COST=4 \
  RATE_LIMIT_PER_MINUTE=0 AUTH_RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn \
  "$TARGET_DIR/debug/owned-api" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 50); do
  curl -sf "$BASE/health" >/dev/null && break
  sleep 0.2
done

for user in st_alice st_bob; do
  if ! curl -sS --fail-with-body -o "$WORK/register.out" -X POST "$BASE/api/v1/auth/register" \
    -H 'Content-Type: application/json' \
    -d "{\"username\":\"$user\",\"email\":\"$user@example.com\",\"password\":\"Fuzzing123\"}"; then
    echo "registering $user failed: $(cat "$WORK/register.out" 2>/dev/null)" >&2
    tail -n 20 "$WORK/server.log" >&2
    exit 1
  fi
done

cd "$ROOT/.ci/schemathesis"
status=0
# No `--checks all`: a check named on the command line overrides the
# configuration file, per operation too, which would switch the object-level
# check back on where schemathesis.toml turns it off. The file itself turns
# every check on.
REPORT="$ROOT/target/conformance-$BACKEND.txt"
"$VENV/bin/schemathesis" run "$BASE/api-docs/openapi.json" --workers 1 \
  --no-color > "$REPORT" 2>&1 || status=$?
# The full report (kept in $REPORT) can be megabytes of generated bodies;
# print each failure's lines cut short, then the summary.
sed -n '/= FAILURES =/,/= WARNINGS =\|= SUMMARY =/p' "$REPORT" | cut -c1-400 | head -n 300
sed -n '/= SUMMARY =/,$p' "$REPORT"
if [ "$status" -ne 0 ]; then
  echo "schemathesis failed on $BACKEND (status $status); server log tail:" >&2
  tail -n 20 "$WORK/server.log" >&2
fi
exit "$status"
