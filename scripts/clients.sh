#!/usr/bin/env bash
# The three ways people use the service, checked against the binary cargo
# built (docs/clients.md):
#
#   scripts/clients.sh lint          the OpenAPI document (`owned-api openapi`),
#                                    by Redocly CLI and openapi-spec-validator
#   scripts/clients.sh python        a client made by openapi-python-client
#                                    runs clients/python/flow.py
#   scripts/clients.sh typescript    openapi-typescript types + openapi-fetch:
#                                    clients/typescript/flow.ts passes
#                                    `tsc --noEmit` (strict), then runs
#   scripts/clients.sh swagger-ui    scripts/swagger-ui-check.mjs in headless
#                                    Chromium (screenshots in target/swagger-ui/)
#   scripts/clients.sh walkthroughs  the curl walk-throughs; their statuses
#                                    must be the README's
#   scripts/clients.sh all           every check above, in that order
#
# Every check but `lint` starts the service on 127.0.0.1:18301
# (CLIENTS_PORT) over a fresh SQLite database, and stops it after. Tools
# are installed on first use and kept for the next runs: npm packages from
# clients/package-lock.json into target/clients/, pip packages pinned in
# clients/requirements.txt into target/clients-venv/, and Debian's chromium
# when /usr/bin/chromium is missing. Generated clients and every output go
# to target/clients/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT="${CLIENTS_PORT:-18301}"
BASE="http://127.0.0.1:$PORT"
OUT="$ROOT/target/clients"
VENV="$ROOT/target/clients-venv"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/debug/owned-api"
# Redocly CLI phones home for telemetry and update notices; there is no one
# to answer here.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1

say() { printf -- '--- %s\n' "$*"; }

# npm packages: reinstalled only when the committed lock file changes.
ensure_npm() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "Node.js (20.19 or later) and npm are needed for the client checks" >&2
    return 1
  fi
  if [ -d "$OUT/node_modules" ] && cmp -s clients/package-lock.json "$OUT/package-lock.json"; then return; fi
  say "installing npm packages (clients/package-lock.json) into target/clients"
  mkdir -p "$OUT"
  cp clients/package.json clients/package-lock.json "$OUT/"
  (cd "$OUT" && npm ci --no-audit --no-fund --loglevel=error)
}

# pip packages: reinstalled only when clients/requirements.txt changes.
ensure_pip() {
  if [ -x "$VENV/bin/python" ] && cmp -s clients/requirements.txt "$VENV/requirements.txt"; then return; fi
  say "installing pip packages (clients/requirements.txt) into target/clients-venv"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r clients/requirements.txt
  cp clients/requirements.txt "$VENV/requirements.txt"
}

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  say "installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
}

# The document, as generators get it: from the binary, no server needed.
document() {
  cargo build --quiet -p api
  mkdir -p "$OUT"
  "$BIN" openapi > "$ROOT/target/openapi.json"
}

WORK=""
SERVER_PID=""
stop_service() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
  if [ -n "$WORK" ]; then rm -rf "$WORK"; WORK=""; fi
}
trap stop_service EXIT

# A fresh service: its own SQLite file, mail folder and uploads, the default
# rate limits, a cheap bcrypt cost.
start_service() {
  stop_service
  # Another service on the port would answer in ours' place.
  if curl -s -o /dev/null "$BASE/health"; then
    echo "something already answers on $BASE; stop it or set CLIENTS_PORT" >&2
    exit 1
  fi
  WORK=$(mktemp -d)
  HOST=127.0.0.1 PORT=$PORT DATABASE_URL="sqlite://$WORK/app.db" \
    MAIL_DIR="$WORK/mail" STORAGE_URL="file://$WORK/uploads" \
    JWT_SECRET=clients-check-secret-clients-check-secret BCRYPT_COST=4 RUST_LOG=warn \
    "$BIN" > "$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "$BASE/ready" && return
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "the service did not start on $BASE:" >&2
  cat "$WORK/server.log" >&2
  exit 1
}

server_log_tail() {
  [ -n "$WORK" ] && [ -f "$WORK/server.log" ] && { echo "server log tail:" >&2; tail -n 20 "$WORK/server.log" >&2; }
  return 0
}

check_lint() {
  ensure_npm
  ensure_pip
  document
  say "Redocly CLI (clients/redocly.yaml)"
  (cd clients && "$OUT/node_modules/.bin/redocly" lint ../target/openapi.json --config redocly.yaml --format stylish)
  say "openapi-spec-validator"
  "$VENV/bin/openapi-spec-validator" --validation-errors all target/openapi.json
}

check_python() {
  ensure_pip
  document
  local sdk="$OUT/python/owned-api-client" log="$OUT/python-generate.log"
  rm -rf "$sdk"
  mkdir -p "$OUT/python"
  say "openapi-python-client generate (clients/python/config.yaml)"
  # A warning means part of the document was left out of the client: fail.
  # (ruff, from the venv, formats the generated code.)
  PATH="$VENV/bin:$PATH" "$VENV/bin/openapi-python-client" generate --path target/openapi.json \
    --config clients/python/config.yaml --output-path "$sdk" --fail-on-warning > "$log" 2>&1 \
    || { cat "$log" >&2; echo "openapi-python-client failed or warned (above)" >&2; return 1; }
  start_service
  say "clients/python/flow.py against $BASE"
  PYTHONPATH="$sdk" "$VENV/bin/python" clients/python/flow.py "$BASE" || { server_log_tail; return 1; }
}

check_typescript() {
  ensure_npm
  document
  local dir="$OUT/typescript"
  rm -rf "$dir"
  mkdir -p "$dir"
  cp clients/typescript/flow.ts clients/typescript/tsconfig.json "$dir/"
  say "openapi-typescript"
  "$OUT/node_modules/.bin/openapi-typescript" target/openapi.json -o "$dir/schema.d.ts" --silent
  say "tsc --noEmit (strict)"
  (cd "$dir" && "$OUT/node_modules/.bin/tsc" --noEmit -p tsconfig.json)
  start_service
  say "clients/typescript/flow.ts against $BASE"
  (cd "$dir" && "$OUT/node_modules/.bin/tsx" flow.ts "$BASE") || { server_log_tail; return 1; }
}

check_swagger_ui() {
  ensure_npm
  ensure_chromium
  cargo build --quiet -p api
  local shots="$ROOT/target/swagger-ui"
  rm -rf "$shots"
  mkdir -p "$shots"
  # Node resolves playwright-core from the script's own folder upwards.
  cp scripts/swagger-ui-check.mjs "$OUT/"
  start_service
  say "Swagger UI in headless Chromium against $BASE"
  SCREENSHOT_DIR="$shots" node "$OUT/swagger-ui-check.mjs" "$BASE" \
    || { echo "screenshots: $shots" >&2; server_log_tail; return 1; }
}

check_walkthroughs() {
  cargo build --quiet -p api
  mkdir -p "$OUT"
  start_service
  say "scripts/walkthrough.sh against $BASE"
  scripts/walkthrough.sh "$BASE" > "$OUT/walkthrough.txt"
  python3 scripts/readme-statuses.py README.md "A walk-through with curl" "$OUT/walkthrough.txt" \
    || { server_log_tail; return 1; }
  start_service
  say "scripts/walkthrough-marketplace.sh against $BASE"
  scripts/walkthrough-marketplace.sh "$BASE" > "$OUT/walkthrough-marketplace.txt"
  python3 scripts/readme-statuses.py README.md "The marketplace: two users" "$OUT/walkthrough-marketplace.txt" \
    || { server_log_tail; return 1; }
}

case "${1:-all}" in
  lint) check_lint ;;
  python) check_python ;;
  typescript) check_typescript ;;
  swagger-ui) check_swagger_ui ;;
  walkthroughs) check_walkthroughs ;;
  all) check_lint; check_python; check_typescript; check_swagger_ui; check_walkthroughs ;;
  *) echo "usage: $0 [lint|python|typescript|swagger-ui|walkthroughs|all]" >&2; exit 2 ;;
esac
