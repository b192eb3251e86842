# The service as a container image (docs/deployment.md).
#
#   docker build -t owned-api .
#   docker run -p 8080:8080 -v owned-api-data:/data owned-api
#
# The image is the `runtime` stage: debian:bookworm-slim with the binary,
# Debian's CA certificates and a non-root user. The binary comes from the
# `build` stage, which compiles it on the official Rust image (the cargo
# registry and the target folder in BuildKit cache mounts, so a rebuild
# after a source change compiles only this workspace). BuildKit is needed
# (Docker's default builder since 23.0; DOCKER_BUILDKIT=1 before that).
#
# BINARY_FROM chooses where the binary comes from: `build` (the default) or
# `prebuilt`, which copies target/container/owned-api from the build context
# instead; BuildKit then skips the Rust stage altogether. CI uses it to test
# the very runtime stage users get with the binary it has just built, without
# pulling the Rust image (scripts/container.sh). A prebuilt binary must be
# built against glibc 2.36 or older (Debian 12) to run here.

ARG RUST_VERSION=1.95
ARG BINARY_FROM=build

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
# The workspace's manifests and members, nothing else (not docs, not a
# binary left in target/container by CI).
COPY Cargo.toml Cargo.lock ./
COPY api api
COPY entity entity
COPY migration migration
COPY service service
COPY tests tests
# The Rust image has gcc, libc6-dev and binutils, which the C parts need
# (bundled SQLite, mimalloc, aws-lc). --locked: exactly the committed
# Cargo.lock. The symbol table goes (44 MB instead of 53): a panic still
# says what and where, a backtrace shows addresses only.
RUN --mount=type=cache,id=owned-api-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=owned-api-target,target=/src/target \
    cargo build --release --locked -p api \
 && mkdir -p /out \
 && strip -o /out/owned-api target/release/owned-api

FROM scratch AS prebuilt
COPY target/container/owned-api /out/owned-api

FROM ${BINARY_FROM} AS binary

# Debian's CA certificates, for TLS to S3 (the S3 client trusts the
# system's store). Only their bundle goes into the image: the package would
# bring OpenSSL (10 MB) for its update script. PostgreSQL and SMTP
# connections trust a copy of Mozilla's roots compiled into the binary.
FROM debian:bookworm-slim AS certs
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

FROM debian:bookworm-slim AS runtime
# A system user and group (uid and gid 10001) that own /data and nothing else.
RUN groupadd --system --gid 10001 owned \
 && useradd --system --uid 10001 --gid owned --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin owned \
 && install -d -o owned -g owned -m 0750 /data
COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=binary /out/owned-api /usr/local/bin/owned-api
# Inside a container the service listens on every address, and keeps its
# SQLite file, mail folder (without SMTP_URL) and uploads (without an s3://
# STORAGE_URL) under /data. Every one of these is a setting; override it
# with -e (README.md#settings). NO_COLOR: plain log lines, without
# terminal colour codes, for `docker logs` and log collectors.
ENV HOST=0.0.0.0 \
    PORT=8080 \
    NO_COLOR=1 \
    DATABASE_URL=sqlite:///data/app.db \
    MAIL_DIR=/data/mail \
    STORAGE_URL=file:///data/uploads
WORKDIR /data
VOLUME ["/data"]
# Numeric, so Kubernetes' runAsNonRoot can tell it is not root.
USER 10001:10001
EXPOSE 8080
# The binary is PID 1 and handles SIGTERM itself: it drains for
# SHUTDOWN_DRAIN seconds, lets in-flight requests finish (up to
# SHUTDOWN_TIMEOUT) and exits 0. Give `docker stop` a grace period longer
# than both (`docker stop -t 40`, compose's stop_grace_period).
STOPSIGNAL SIGTERM
# `owned-api health` asks GET /health on 127.0.0.1:$PORT and exits 0 on 200,
# 1 otherwise: no curl in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["owned-api", "health"]
ENTRYPOINT ["owned-api"]
CMD ["serve"]

# Last, so a new version or revision does not invalidate the layers above.
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://example.invalid/owned-resources-api
LABEL org.opencontainers.image.title="owned-api" \
      org.opencontainers.image.description="A REST API of user-owned resources: accounts, a blog, a cleaning-jobs marketplace and a programming-languages catalogue." \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
