#!/usr/bin/env bash
# The fault-injection test: a stack of its own, a steady workload through its ingress while every
# part is killed with SIGKILL and started again in turn (each service, nats-server, redis-server,
# mongod; one graceful restart), then an audit of every accepted effect (bench/src/faults.rs).
# Ends with "N checks passed, M failed"; exits non-zero on any failure. The test command runs it.
#
#   scripts/fault-test.sh         on the single-node stack
#   scripts/fault-test.sh --ha    on the clustered one (stack.sh up --ha): kills the NATS stream
#                                 leader twice, the MongoDB primary and one process of each
#                                 service, restarts every service process by process, and also
#                                 checks that only requests in flight on a killed process failed
#                                 and records the failover times; the first run then passes the
#                                 end-to-end suite against the same stack
#
# Options (environment): FAULT_RUNS (1) runs in a row, each on a fresh stack.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

ha=()
if [ "${1:-}" = --ha ]; then
  ha=(--ha)
  export STACK_NAME=fault-ha PORT_BASE=14200 INGRESS_PORT=18091 STACK_HA=1
else
  export STACK_NAME=fault PORT_BASE=14100 INGRESS_PORT=18090
fi
export EXPIRATION_WINDOW_SECONDS=10
export STACK_URL="http://127.0.0.1:$INGRESS_PORT"
trap 'scripts/stack.sh down "${ha[@]}" >/dev/null 2>&1 || true' EXIT

cargo build --workspace --bins --quiet
runs=${FAULT_RUNS:-1}
for run in $(seq 1 "$runs"); do
  log "fault test${ha:+ (HA)}, run $run of $runs: a fresh stack '$STACK_NAME'"
  scripts/stack.sh down "${ha[@]}" >/dev/null 2>&1 || true
  rm -rf ".stack/$STACK_NAME"
  scripts/stack.sh up "${ha[@]}" --detach >/dev/null || die "the fault test's stack did not start; see .stack/$STACK_NAME/logs"
  BENCH_OUT="$ROOT/bench-reports/faults-${ha:+ha-}$(date -u +%Y-%m-%dT%H-%M-%SZ)" \
    timeout 600 "${CARGO_TARGET_DIR:-$ROOT/target}/debug/bench" faults \
    || die "fault test run $run failed (report in bench-reports/faults-*; logs in .stack/$STACK_NAME/logs)"
  if [ ${#ha[@]} -gt 0 ] && [ "$run" = 1 ]; then
    # The clustered stack, after all it went through, still passes the end-to-end suite.
    log "the end-to-end suite against the HA stack"
    STACK_URL="http://ticketing.localhost:$INGRESS_PORT" cargo nextest run -p e2e --no-fail-fast \
      || die "the end-to-end suite failed against the HA stack (logs in .stack/$STACK_NAME/logs)"
  fi
done
