#!/usr/bin/env bash
# The fault-injection test: a stack of its own, a steady workload through its ingress while every
# part is killed with SIGKILL and started again in turn (each service, nats-server, redis-server,
# mongod; one graceful restart), then an audit of every accepted effect (bench/src/faults.rs).
# Ends with "N checks passed, M failed"; exits non-zero on any failure. The test command runs it.
#
# Options (environment): FAULT_RUNS (1) runs in a row, each on a fresh stack.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

export STACK_NAME=fault PORT_BASE=14100 INGRESS_PORT=18090 EXPIRATION_WINDOW_SECONDS=10
export STACK_URL="http://127.0.0.1:$INGRESS_PORT"
trap 'scripts/stack.sh down >/dev/null 2>&1 || true' EXIT

cargo build --workspace --bins --quiet
runs=${FAULT_RUNS:-1}
for run in $(seq 1 "$runs"); do
  log "fault test, run $run of $runs: a fresh stack '$STACK_NAME'"
  scripts/stack.sh down >/dev/null 2>&1 || true
  rm -rf ".stack/$STACK_NAME"
  scripts/stack.sh up --detach >/dev/null || die "the fault test's stack did not start; see .stack/$STACK_NAME/logs"
  BENCH_OUT="$ROOT/bench-reports/faults-$(date -u +%Y-%m-%dT%H-%M-%SZ)" \
    timeout 600 "${CARGO_TARGET_DIR:-$ROOT/target}/debug/bench" faults \
    || die "fault test run $run failed (report in bench-reports/faults-*; logs in .stack/$STACK_NAME/logs)"
done
