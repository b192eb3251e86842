#!/usr/bin/env bash
# The container image (Dockerfile) built and run the way users run it
# (docs/deployment.md), and compose.yaml validated:
#
#   1. the image: the Dockerfile's runtime stage, with the binary from its
#      `prebuilt` stage (BINARY_FROM=prebuilt), so no Rust image is pulled;
#   2. on SQLite with a volume on /data: the README's two walk-throughs
#      (their statuses must be the README's), an avatar upload, the process
#      runs as uid 10001 (not root) as PID 1, the SQLite file, mail and
#      uploads land in /data, the HEALTHCHECK turns healthy, `owned-api
#      health` exits 0 against the service and 1 against a closed port,
#      `docker stop` under load loses no acknowledged write and no in-flight
#      request (exit code 0, checked again from a new container on the same
#      volume);
#   3. on the PostgreSQL and Redis CI runs (a fresh database), with a
#      read-only root file system (only /data, a volume, is writable): the
#      walk-throughs, the HEALTHCHECK, the rate limits counted in Redis, and
#      `docker stop` under load again;
#   4. `docker-compose config` accepts compose.yaml.
#
# No image registry is reachable here, so nothing is pulled: containers run
# with `--pull never` and `--network host` (the service on 127.0.0.1:18401,
# CONTAINER_PORT), and the base image debian:bookworm-slim, when missing, is
# made from Debian's packages with debootstrap (about three minutes) and
# imported under that name. Debian's docker.io (a 20.10 daemon with BuildKit),
# debootstrap and docker-compose are installed when missing, and dockerd is
# started when it does not answer; it keeps running afterwards, like CI's
# PostgreSQL and Redis, so the next run finds the base image and the
# runtime stage's layers cached.
#
# Which binary goes in: CONTAINER_PROFILE=debug (the default) copies the debug
# build the client checks have just made (`cargo build -p api`, already in
# target/debug), stripped; a release build from
# scratch would cost this CI about nine minutes for a binary whose
# behaviour the test suite already checks. What this step tests is the image
# around it: user, settings, volume, health check, signals. Users' images
# (`docker build .`) compile the release binary in the Rust stage;
# CONTAINER_PROFILE=release puts a release build in instead (what the
# image size in docs/deployment.md was measured with).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# Debian's client, of the daemon's own version: a newer `docker` earlier on
# PATH may want the buildx plugin for `docker build`.
DOCKER=/usr/bin/docker
IMAGE=owned-api:ci
BASE_IMAGE=debian:bookworm-slim
PROFILE="${CONTAINER_PROFILE:-debug}"
PORT="${CONTAINER_PORT:-18401}"
BASE="http://127.0.0.1:$PORT"
PG_URL="${CI_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
REDIS_URL="${CI_REDIS_URL:-redis://127.0.0.1:6379}"
PG_DB=owned_container_ci
NAME=owned-api-ci
VOLUME=owned-api-ci-data
OUT="$ROOT/target/container"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
JWT_SECRET=container-check-secret-container-check-secret
REDIS_PREFIX="owned-api-container-ci:$$:"
# psql: no NOTICE for a database that is not there to drop.
export PGOPTIONS='--client-min-messages=warning'
started=$(date +%s)

say() { printf -- '--- %s\n' "$*"; }
fail() { echo "container check failed: $*" >&2; exit 1; }

# Containers, volume and database of this run go; images stay (the cache).
cleanup() {
  "$DOCKER" rm -f -v "$NAME-sqlite" "$NAME-sqlite-2" "$NAME-pg" >/dev/null 2>&1 || true
  "$DOCKER" volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  psql "$PG_URL" -qAtc "drop database if exists $PG_DB with (force)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

ensure_docker() {
  local need=()
  [ -x "$DOCKER" ] && [ -x /usr/sbin/dockerd ] || need+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
  command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
  if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]} (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if "$DOCKER" info >/dev/null 2>&1; then return; fi
  say "starting dockerd (log in /tmp/ci-dockerd.log)"
  setsid /usr/sbin/dockerd >/tmp/ci-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    "$DOCKER" info >/dev/null 2>&1 && return
    sleep 0.5
  done
  tail -n 20 /tmp/ci-dockerd.log >&2
  fail "dockerd did not start"
}

# debian:bookworm-slim from Debian's packages: debootstrap's minimal base,
# trimmed the way the official slim image is (no manuals, no translations,
# no documentation but copyright files; apt told to install none later).
ensure_base_image() {
  if "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
  say "making $BASE_IMAGE with debootstrap from Debian's packages (about three minutes)"
  local root t0=$SECONDS
  root=$(mktemp -d /var/tmp/ci-bookworm.XXXXXX)
  if ! debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian \
      > "$OUT/debootstrap.log" 2>&1; then
    tail -n 20 "$OUT/debootstrap.log" >&2
    rm -rf "$root"
    fail "debootstrap failed (whole log: $OUT/debootstrap.log)"
  fi
  cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{groff,info,lintian,linda,locale,man}/* \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*
  rm -f "$root/etc/apt/sources.list"
  cat > "$root/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  tar -C "$root" -c . | "$DOCKER" import -c 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
  say "$BASE_IMAGE imported in $((SECONDS - t0)) s"
}

# The image: the Dockerfile's runtime stage around the prebuilt binary.
build_image() {
  local src
  if [ "$PROFILE" = release ]; then
    cargo build --quiet --locked --release -p api
    src="$TARGET_DIR/release/owned-api"
  else
    cargo build --quiet --locked -p api
    src="$TARGET_DIR/debug/owned-api"
  fi
  # Stripped, as the Dockerfile's build stage strips the release binary.
  strip -o "$OUT/owned-api" "$src"
  local version revision
  version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
  revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  say "docker build (BINARY_FROM=prebuilt, $PROFILE binary, $(du -m "$OUT/owned-api" | cut -f1) MB)"
  # --network host: the runtime stage's apt-get reaches Debian's mirror as
  # this machine does.
  DOCKER_BUILDKIT=1 "$DOCKER" build --network host --progress plain \
    --build-arg BINARY_FROM=prebuilt --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    -t "$IMAGE" . > "$OUT/build.log" 2>&1 \
    || { tail -n 30 "$OUT/build.log" >&2; fail "docker build failed (log: $OUT/build.log)"; }
  # Images this tag had before are of no use now.
  "$DOCKER" image prune -f --filter label=org.opencontainers.image.title=owned-api >/dev/null
  local size
  size=$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE")
  say "image $IMAGE: $((size / 1000 / 1000)) MB ($(( $("$DOCKER" image inspect -f '{{.Size}}' "$BASE_IMAGE") / 1000 / 1000 )) MB of it $BASE_IMAGE)"
}

# What the image says about itself.
check_image_config() {
  local got
  got=$("$DOCKER" image inspect -f '{{.Config.User}} {{json .Config.ExposedPorts}} {{json .Config.Volumes}} {{json .Config.Healthcheck.Test}} {{json .Config.Entrypoint}}' "$IMAGE")
  say "image config: $got"
  [[ "$got" == '10001:10001 {"8080/tcp":{}} {"/data":{}} ["CMD","owned-api","health"] ["owned-api"]' ]] \
    || fail "unexpected image config"
  for label in source licenses version revision; do
    "$DOCKER" image inspect -f "{{index .Config.Labels \"org.opencontainers.image.$label\"}}" "$IMAGE" | grep -q . \
      || fail "label org.opencontainers.image.$label is missing"
  done
  [ "$("$DOCKER" image inspect -f '{{index .Config.Labels "org.opencontainers.image.licenses"}}' "$IMAGE")" = MIT ] \
    || fail "the licence label is not MIT"
}

# run_container NAME [options...]: starts it with --network host --pull never
# (test traffic stays on 127.0.0.1, no registry is asked) and waits for /ready.
run_container() {
  local name=$1
  shift
  if curl -s -o /dev/null "$BASE/health"; then
    fail "something already answers on $BASE; stop it or set CONTAINER_PORT"
  fi
  "$DOCKER" run -d --name "$name" --network host --pull never \
    -e PORT="$PORT" -e JWT_SECRET="$JWT_SECRET" -e BCRYPT_COST=4 -e RUST_LOG=warn \
    "$@" "$IMAGE" >/dev/null
  for _ in $(seq 1 150); do
    curl -sf -o /dev/null "$BASE/ready" && return
    [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$name")" = true ] || break
    sleep 0.2
  done
  "$DOCKER" logs "$name" 2>&1 | tail -n 30 >&2
  fail "$name did not become ready on $BASE"
}

logs_tail() { "$DOCKER" logs "$1" 2>&1 | tail -n 30 >&2; }

walkthroughs() {
  local name=$1 db=$2
  say "$db: scripts/walkthrough.sh against $name"
  scripts/walkthrough.sh "$BASE" > "$OUT/walkthrough-$db.txt"
  python3 scripts/readme-statuses.py README.md "A walk-through with curl" "$OUT/walkthrough-$db.txt" \
    || { logs_tail "$name"; fail "walk-through on $db"; }
  say "$db: scripts/walkthrough-marketplace.sh against $name"
  scripts/walkthrough-marketplace.sh "$BASE" > "$OUT/walkthrough-marketplace-$db.txt"
  python3 scripts/readme-statuses.py README.md "The marketplace: two users" "$OUT/walkthrough-marketplace-$db.txt" \
    || { logs_tail "$name"; fail "marketplace walk-through on $db"; }
  say "$db: an avatar upload"
  python3 scripts/container-check.py avatar "$BASE" || { logs_tail "$name"; fail "avatar on $db"; }
}

# PID 1 is the service, running as uid and gid 10001.
check_process() {
  local name=$1 status cmd
  status=$("$DOCKER" exec "$name" cat /proc/1/status)
  cmd=$("$DOCKER" exec "$name" cat /proc/1/cmdline | tr '\0' ' ')
  say "PID 1: $cmd; $(grep -E '^(Uid|Gid):' <<<"$status" | tr -s '\t' ' ' | paste -sd ';')"
  [[ "$cmd" == "owned-api serve " ]] || fail "PID 1 is not the service"
  grep -Eq '^Uid:\s+10001\s+10001\s+10001\s+10001$' <<<"$status" || fail "the service does not run as uid 10001"
  grep -Eq '^Gid:\s+10001\s+10001\s+10001\s+10001$' <<<"$status" || fail "the service does not run as gid 10001"
}

# `owned-api health`: 0 against the service, 1 against a closed port.
check_health_command() {
  local name=$1 out
  out=$("$DOCKER" exec "$name" owned-api health) || fail "owned-api health failed against a running service"
  say "owned-api health: $out"
  if out=$("$DOCKER" exec -e PORT=9 "$name" owned-api health 2>&1); then
    fail "owned-api health exited 0 against a closed port: $out"
  fi
  say "owned-api health against a closed port: exit 1 ($out)"
}

# Docker's own HEALTHCHECK (every 10 s) says healthy.
wait_healthy() {
  local name=$1 status
  for _ in $(seq 1 60); do
    status=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$name")
    if [ "$status" = healthy ]; then
      say "HEALTHCHECK: healthy ($("$DOCKER" inspect -f '{{(index .State.Health.Log 0).Output}}' "$name" | tr -d '\n'))"
      return
    fi
    [ "$status" = unhealthy ] && break
    sleep 1
  done
  "$DOCKER" inspect -f '{{json .State.Health}}' "$name" >&2
  fail "$name is $status, not healthy"
}

# `docker stop` while posts are being written; the container must exit 0
# (the service stopped by itself, not killed after the grace period).
stop_under_load() {
  local name=$1 db=$2
  say "$db: docker stop under load"
  python3 scripts/container-check.py load "$BASE" "$OUT/load-$db.json" -- "$DOCKER" stop -t 40 "$name" \
    || { logs_tail "$name"; fail "docker stop under load on $db"; }
  local code
  code=$("$DOCKER" inspect -f '{{.State.ExitCode}} {{.State.OOMKilled}}' "$name")
  say "exit code, OOM-killed: $code"
  [ "$code" = "0 false" ] || { logs_tail "$name"; fail "the service did not exit 0 on SIGTERM"; }
}

mkdir -p "$OUT"
ensure_docker
ensure_base_image
build_image
check_image_config

say "SQLite, volume $VOLUME on /data"
cleanup
run_container "$NAME-sqlite" -v "$VOLUME:/data"
walkthroughs "$NAME-sqlite" sqlite
check_process "$NAME-sqlite"
check_health_command "$NAME-sqlite"
# The welcome mails of the walk-throughs, as files (no SMTP_URL).
for _ in $(seq 1 50); do
  [ "$("$DOCKER" exec "$NAME-sqlite" sh -c 'ls /data/mail/*.eml 2>/dev/null | wc -l')" -ge 3 ] && break
  sleep 0.2
done
listing=$("$DOCKER" exec "$NAME-sqlite" sh -c 'ls -ln /data; echo "mail files: $(ls /data/mail | wc -l), uploaded files: $(find /data/uploads -type f | wc -l)"')
say "/data:"$'\n'"$listing"
"$DOCKER" exec "$NAME-sqlite" sh -c 'test -s /data/app.db && test "$(ls /data/mail/*.eml | wc -l)" -ge 3 && test -n "$(find /data/uploads -type f)" && test "$(stat -c %u /data/app.db)" = 10001' \
  || fail "the SQLite file, the mail or the uploads are not in /data"
wait_healthy "$NAME-sqlite"
stop_under_load "$NAME-sqlite" sqlite
"$DOCKER" rm "$NAME-sqlite" >/dev/null
say "SQLite: a new container on the same volume"
run_container "$NAME-sqlite-2" -v "$VOLUME:/data"
python3 scripts/container-check.py verify "$BASE" "$OUT/load-sqlite.json" \
  || { logs_tail "$NAME-sqlite-2"; fail "writes lost on SQLite"; }
"$DOCKER" rm -f -v "$NAME-sqlite-2" >/dev/null

say "PostgreSQL ($PG_URL, database $PG_DB) and Redis ($REDIS_URL)"
psql "$PG_URL" -qAtc "drop database if exists $PG_DB with (force)" >/dev/null
psql "$PG_URL" -qAtc "create database $PG_DB" >/dev/null
# The URL CI's PostgreSQL has, with this run's database in place of its own.
pg_db_url="${PG_URL%/*}/$PG_DB?sslmode=disable"
run_container "$NAME-pg" --read-only -e DATABASE_URL="$pg_db_url" -e REDIS_URL="$REDIS_URL" -e REDIS_KEY_PREFIX="$REDIS_PREFIX"
walkthroughs "$NAME-pg" postgres
keys=$(redis-cli -u "$REDIS_URL" --scan --pattern "$REDIS_PREFIX*" | wc -l)
say "Redis keys under $REDIS_PREFIX: $keys"
[ "$keys" -ge 1 ] || fail "the rate limits were not counted in Redis"
wait_healthy "$NAME-pg"
stop_under_load "$NAME-pg" postgres
"$DOCKER" rm -v "$NAME-pg" >/dev/null
run_container "$NAME-pg" --read-only -e DATABASE_URL="$pg_db_url" -e REDIS_URL="$REDIS_URL" -e REDIS_KEY_PREFIX="$REDIS_PREFIX"
python3 scripts/container-check.py verify "$BASE" "$OUT/load-postgres.json" \
  || { logs_tail "$NAME-pg"; fail "writes lost on PostgreSQL"; }

say "docker-compose config (compose.yaml)"
docker-compose -f compose.yaml config -q

say "container checks passed in $(( $(date +%s) - started )) s"
