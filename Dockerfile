# One image per Ticketing service, all from this file:
#
#   docker build --build-arg SERVICE=auth -t ticketing/auth .
#
# SERVICE is one of auth, tickets, orders, expiration, payments, client (skaffold.yaml passes it).
#
# Stages: `chef` (toolchain + cargo-chef), `planner` (dependency recipe of the service),
# `builder` (dependencies compiled in their own cached layer, then our sources), and the runtime
# image, which holds the binary and the CA bundle only, and runs as an unprivileged user.
#
# Only the shared workspace members (crates/*, e2e, bench, ops; their tests are in .dockerignore) and
# `services/$SERVICE` are copied, never the other services, so a change in one service neither
# invalidates another's layers nor (through skaffold's Dockerfile dependency detection) triggers
# another's rebuild. With the other services absent, the workspace glob `services/*` simply has
# one member; Cargo.lock still pins every version (cargo drops the absent members' entries from
# it, which is why the builds below cannot use `--locked`). A new workspace member outside
# services/ must be copied here too (scripts/check-k8s.sh checks that).

ARG RUST_IMAGE=docker.io/library/rust:1-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${RUST_IMAGE} AS chef
ARG CARGO_CHEF_VERSION=0.1.78
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}" \
    && rm -rf "${CARGO_HOME:-/usr/local/cargo}/registry"
WORKDIR /app

FROM chef AS planner
ARG SERVICE
RUN case "${SERVICE}" in \
      auth|tickets|orders|expiration|payments|client) ;; \
      *) echo "build with --build-arg SERVICE=<auth|tickets|orders|expiration|payments|client> (got '${SERVICE}')" >&2; exit 1 ;; \
    esac
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY e2e e2e
COPY bench bench
COPY ops ops
COPY services/${SERVICE} services/${SERVICE}
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ARG SERVICE
# Dependencies only: this layer is reused until Cargo.toml/Cargo.lock (the recipe) change.
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --package "${SERVICE}" --recipe-path recipe.json
# Our sources.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY e2e e2e
COPY bench bench
COPY ops ops
COPY services/${SERVICE} services/${SERVICE}
RUN cargo build --release --package "${SERVICE}" --bin "${SERVICE}" \
    && install -D -m 0755 "target/release/${SERVICE}" /out/service

FROM ${RUNTIME_IMAGE} AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="ticketing-${SERVICE}"
# The CA bundle lets a service reach TLS endpoints (Stripe) if its TLS stack reads the system store.
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /out/service /usr/local/bin/service
ENV PORT=3000
EXPOSE 3000
# Numeric, so Kubernetes' runAsNonRoot can verify it; no home directory needed, nothing is written.
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/service"]
