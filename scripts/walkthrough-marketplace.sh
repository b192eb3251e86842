#!/usr/bin/env bash
# The README's marketplace walk-through: two users; one posts a cleaning job,
# the other finds it in the feed and offers; the owner accepts.
# Needs a running service (default http://127.0.0.1:8080), curl and python3.
set -euo pipefail
BASE="${1:-http://127.0.0.1:8080}/api/v1"
OWNER="${2:-olivia}"
CLEANER="${3:-carlos}"
show() { printf '\n$ %s\n' "$1"; }
json() { python3 -c "import sys,json;print(json.load(sys.stdin)$1)"; }
token() {
  curl -s -o /dev/null -X POST "$BASE/auth/register" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$1\",\"email\":\"$1@example.com\",\"password\":\"Secret123\"}"
  curl -s -X POST "$BASE/auth/login" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"Secret123\"}" | json '["access_token"]'
}
OWNER_TOKEN=$(token "$OWNER")
CLEANER_TOKEN=$(token "$CLEANER")

show "$OWNER: POST /cleanings"
CREATED=$(curl -s -w '\n%{http_code}' -X POST "$BASE/cleanings" -H "Authorization: Bearer $OWNER_TOKEN" \
  -H 'Content-Type: application/json' -d '{"name":"Two-room flat","description":"Windows too","price":49.50,"cleaning_type":"full_clean"}')
echo "$CREATED" | head -n 1; echo "HTTP $(echo "$CREATED" | tail -n 1)"
ID=$(echo "$CREATED" | head -n 1 | json '["id"]')

show "$CLEANER: GET /cleanings/feed"
curl -s -w '\nHTTP %{http_code}\n' "$BASE/cleanings/feed?limit=5" -H "Authorization: Bearer $CLEANER_TOKEN"

show "$CLEANER: POST /cleanings/$ID/offers"
curl -s -D - -o /tmp/offer.json -X POST "$BASE/cleanings/$ID/offers" -H "Authorization: Bearer $CLEANER_TOKEN" \
  | grep -i -E '^(HTTP|location)' | tr -d '\r'
cat /tmp/offer.json; echo

show "$OWNER: GET /cleanings/$ID/offers"
curl -s -w '\nHTTP %{http_code}\n' "$BASE/cleanings/$ID/offers" -H "Authorization: Bearer $OWNER_TOKEN"

show "$OWNER: POST /cleanings/$ID/offers/$CLEANER/accept"
curl -s -w '\nHTTP %{http_code}\n' -X POST "$BASE/cleanings/$ID/offers/$CLEANER/accept" -H "Authorization: Bearer $OWNER_TOKEN"

show "$CLEANER: POST /cleanings/$ID/offers/$CLEANER/accept (not the owner)"
curl -s -w '\nHTTP %{http_code}\n' -X POST "$BASE/cleanings/$ID/offers/$CLEANER/accept" -H "Authorization: Bearer $CLEANER_TOKEN"
