#!/usr/bin/env bash
# Every test of the project, as CI runs it. Installs what is missing first.
#
#   1. cargo fmt --check and cargo clippy --all-targets -D warnings
#   2. offline checks of the Kubernetes manifests (scripts/check-k8s.sh) and of the alert rules
#      (promtool check rules / test rules on infra/prometheus/)
#   3. an end-to-end local stack of its own; against it the browser tests (Playwright + Debian's
#      Chromium) and a few-second smoke run of the load generator (scripts/bench.sh smoke)
#   4. all Rust tests (unit, black-box per service, end-to-end through nginx) with cargo-nextest,
#      against a real MongoDB replica set, NATS JetStream, Redis and nginx on loopback
#   5. schemathesis against the same stack, from the API's OpenAPI document (scripts/api-fuzz.sh,
#      about 2 minutes): no 5xx, every answer as the document says
#   6. the fault-injection test (scripts/fault-test.sh): a workload on a stack of its own while
#      each part is killed and restarted, then an audit of every accepted effect (about 2.5 min);
#      then the same on the clustered topology (scripts/fault-test.sh --ha: NATS leader, MongoDB
#      primary, one process of each service killed, a rolling restart; about 5 min), after
#      which the end-to-end suite runs against that stack
#
# Options (environment): SKIP_LINT=1, SKIP_BROWSER=1, SKIP_FUZZ=1, SKIP_FAULTS=1 to leave a stage out while iterating;
# any arguments are passed to cargo nextest (e.g. `scripts/test.sh -p auth`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) first"
install_servers
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

if [ -z "${SKIP_LINT:-}" ]; then
  log "cargo fmt --check"
  cargo fmt --all --check
  log "cargo clippy --all-targets -- -D warnings"
  cargo clippy --workspace --all-targets --quiet -- -D warnings
fi

if [ -x scripts/check-k8s.sh ]; then
  log "Kubernetes manifests: schema validation and consistency checks"
  scripts/check-k8s.sh
fi

log "alert rules: promtool check rules, promtool test rules (a unit test per alert)"
promtool check rules infra/prometheus/alerts.yml
(cd infra/prometheus && promtool test rules alerts.test.yml)

log "building"
cargo build --workspace --bins --quiet
cargo nextest run --workspace --no-run --cargo-quiet

export TEST_MONGO_URI
TEST_MONGO_URI=$(scripts/infra.sh test-mongo)

# The end-to-end stack: its own name, ports and data, a short expiration window so expiry is
# observable in seconds. Stopped whatever happens.
export STACK_NAME=e2e PORT_BASE=13100 INGRESS_PORT=18080 EXPIRATION_WINDOW_SECONDS=6
trap 'scripts/stack.sh down >/dev/null 2>&1 || true' EXIT
rm -rf .stack/e2e
export STACK_URL
STACK_URL=$(scripts/stack.sh up --detach | tail -n 1)

if [ -z "${SKIP_BROWSER:-}" ] && [ -x scripts/browser-tests.sh ]; then
  log "browser tests"
  scripts/browser-tests.sh
fi

if [ -x scripts/bench.sh ]; then
  log "load generator smoke (goose flows, a few seconds; the benchmarks themselves are scripts/bench.sh all)"
  scripts/bench.sh smoke
fi

log "Rust tests"
cargo nextest run --workspace --no-fail-fast "$@"

# After the Rust tests: its thousands of sign-in attempts from one address use up that address's
# sign-in allowance (the rate limit it is meant to meet), which the tests above must not see.
if [ -z "${SKIP_FUZZ:-}" ]; then
  log "API fuzzing (schemathesis, from the OpenAPI document)"
  scripts/api-fuzz.sh
fi

if [ -z "${SKIP_FAULTS:-}" ]; then
  # After the e2e stack is down, so the two stacks do not share the two cores.
  scripts/stack.sh down >/dev/null 2>&1 || true
  log "fault-injection test"
  scripts/fault-test.sh
  log "fault-injection test on the clustered topology (stack.sh up --ha)"
  scripts/fault-test.sh --ha
fi
