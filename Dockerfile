# The six Ticketing service images, all from this file and one build of the workspace:
#
#   docker build --target auth -t ticketing/auth .
#
# The target is one of auth, tickets, orders, expiration, payments, client (skaffold.yaml's
# `docker.target`; scripts/images.sh builds all six, with podman or docker).
#
# Stages: `build` compiles the six service binaries in one `cargo build` (the same stage for every
# target, so the first image built compiles the workspace and the other five reuse the stage from
# the engine's layer cache); `runtime` is the base every service image shares (CA bundle,
# unprivileged user, entrypoint); then one stage per service that adds only its binary.
#
# The build stage copies every workspace member (tools/ included: cargo refuses to load a
# workspace whose member glob matches nothing), so Cargo.lock stays whole and the build is
# `--locked`. Its `cargo build` runs with BuildKit cache mounts (podman/buildah has them too) for
# cargo's registry and git checkouts and for target/: after a source change, cargo recompiles
# only the crates that changed and those that depend on them, not the dependencies. A cache
# mount is not part of the image, so the binaries are copied out of target/ into /out (with
# their times: a binary cargo did not relink is copied byte for byte, time included). Which
# changes rebuild what: a change to any copied source re-runs the build stage (the COPY's
# content changes), but an image whose binary comes out byte-identical keeps its layers and id
# (measured with podman: BENCHMARKS.md, "Images: one build for six services").
#
# RUST_IMAGE must keep CARGO_HOME at /usr/local/cargo (the official image does; the bases
# scripts/images.sh --bootstrap makes from Debian's packages, for a machine that cannot pull from
# docker.io, do too).

ARG RUST_IMAGE=docker.io/library/rust:1-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /app
# The workspace (tests, docs, infra and scripts are left out by .dockerignore).
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY services services
COPY tools tools
COPY e2e e2e
COPY bench bench
COPY ops ops
RUN --mount=type=cache,id=ticketing-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=ticketing-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=ticketing-target,target=/app/target,sharing=locked \
    cargo build --release --locked \
      --package auth --package tickets --package orders --package expiration --package payments --package client \
    && mkdir -p /out \
    && for service in auth tickets orders expiration payments client; do \
         install -p -m 0755 "target/release/${service}" "/out/${service}"; \
       done

FROM ${RUNTIME_IMAGE} AS runtime
# The CA bundle lets a service reach TLS endpoints (Stripe) if its TLS stack reads the system store.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PORT=3000
EXPOSE 3000
# Numeric, so Kubernetes' runAsNonRoot can verify it; no home directory needed, nothing is written.
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/service"]

FROM runtime AS auth
LABEL org.opencontainers.image.title="ticketing-auth"
COPY --from=build /out/auth /usr/local/bin/service

FROM runtime AS tickets
LABEL org.opencontainers.image.title="ticketing-tickets"
COPY --from=build /out/tickets /usr/local/bin/service

FROM runtime AS orders
LABEL org.opencontainers.image.title="ticketing-orders"
COPY --from=build /out/orders /usr/local/bin/service

FROM runtime AS expiration
LABEL org.opencontainers.image.title="ticketing-expiration"
COPY --from=build /out/expiration /usr/local/bin/service

FROM runtime AS payments
LABEL org.opencontainers.image.title="ticketing-payments"
COPY --from=build /out/payments /usr/local/bin/service

FROM runtime AS client
LABEL org.opencontainers.image.title="ticketing-client"
COPY --from=build /out/client /usr/local/bin/service
