#!/usr/bin/env bash
# The README's curl walk-through: register, log in, make an API key with the
# login token and use it (read, then create a post), list, then patch and
# delete with the login token (the key acts as the same user). Needs a
# running service (default http://127.0.0.1:8080) and jq-free tools only
# (curl, python3). Prints each command's status and body.
set -euo pipefail
BASE="${1:-http://127.0.0.1:8080}/api/v1"
USER="${2:-alice}"
show() { printf '\n$ %s\n' "$1"; }
json() { python3 -c "import sys,json;print(json.load(sys.stdin)$1)"; }

show "POST /auth/register"
curl -s -w '\nHTTP %{http_code}\n' -X POST "$BASE/auth/register" \
  -H 'Content-Type: application/json' \
  -d "{\"username\":\"$USER\",\"email\":\"$USER@example.com\",\"password\":\"Secret123\"}"

show "POST /auth/login (form, as Swagger UI sends it)"
LOGIN=$(curl -s -X POST "$BASE/auth/login" -d "grant_type=password&username=$USER&password=Secret123")
echo "$LOGIN" | python3 -c 'import sys,json;d=json.load(sys.stdin);d["access_token"]=d["access_token"][:16]+"…";d["refresh_token"]=d["refresh_token"][:8]+"…";print(json.dumps(d))'
TOKEN=$(echo "$LOGIN" | json '["access_token"]')

show "POST /users/me/api-keys (with the login token)"
MADE=$(curl -s -w '\n%{http_code}' -X POST "$BASE/users/me/api-keys" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"name":"walk-through","scopes":["write"]}')
# The key is shown once, in this answer; printed cut short like the token.
echo "$MADE" | head -n 1 | python3 -c 'import sys,json;d=json.load(sys.stdin);"key" in d and d.update(key=d["key"][:12]+"…");print(json.dumps(d,ensure_ascii=False,separators=(",",":")))'
echo "HTTP $(echo "$MADE" | tail -n 1)"
KEY=$(echo "$MADE" | head -n 1 | json '.get("key", "")')

show "GET /users/me (with the API key)"
curl -s -w '\nHTTP %{http_code}\n' "$BASE/users/me" -H "X-API-Key: $KEY"

show "POST /posts (with the API key)"
CREATED=$(curl -s -w '\n%{http_code}' -X POST "$BASE/posts" -H "X-API-Key: $KEY" \
  -H 'Content-Type: application/json' -d '{"title":"Hello, Wörld!","body":"My first post.","published":true}')
echo "$CREATED" | head -n 1; echo "HTTP $(echo "$CREATED" | tail -n 1)"
ID=$(echo "$CREATED" | head -n 1 | json '["id"]')

show "GET /posts?author=$USER&limit=10"
curl -s -w '\nHTTP %{http_code}\n' "$BASE/posts?author=$USER&limit=10"

show "PATCH /posts/$ID"
curl -s -w '\nHTTP %{http_code}\n' -X PATCH "$BASE/posts/$ID" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"title":"Hello again"}'

show "PATCH /posts/$ID with title null"
curl -s -w '\nHTTP %{http_code}\n' -X PATCH "$BASE/posts/$ID" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"title":null}'

show "DELETE /posts/$ID"
curl -s -w 'HTTP %{http_code}\n' -X DELETE "$BASE/posts/$ID" -H "Authorization: Bearer $TOKEN"

show "GET /posts/$ID"
curl -s -w '\nHTTP %{http_code}\n' "$BASE/posts/$ID"
