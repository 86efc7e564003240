#!/usr/bin/env bash
# The fleet's performance, measured the same way every time (BENCHMARKS.md has the figures).
#
#   scripts/bench.sh all      micro, then flows, then the variants, each on a fresh release-mode
#                             stack of its own; then report
#   scripts/bench.sh micro    hot paths beside their ceilings (same run, same machine), the event
#                             path, event audit, footprint (idle RSS, start → ready, binary sizes)
#   scripts/bench.sh flows    goose user flows through the ingress, RSS under load, event audit
#                             and expiration lateness
#   scripts/bench.sh variants micro again on two variants of the stack: trace export off
#                             (TRACE_EXPORT=off, micro-export-off.json) and the --ha topology
#                             (micro-ha.json); into $BENCH_OUT if set (an earlier run's folder),
#                             else a new one
#   scripts/bench.sh smoke    a few seconds of flows against an already running stack at
#                             $STACK_URL; exits non-zero on any error (the test command runs it)
#   scripts/bench.sh report   BENCHMARKS.md's figures and docs/bench/*.png from the newest run
#
# Runs write JSON (and goose's HTML report) into bench-reports/<time>/ (git-ignored).
# Options (environment):
#   STACK_NAME (bench) PORT_BASE (19100) INGRESS_PORT (18085)   the bench's own stack
#   HA_STACK_NAME (bench-ha) HA_PORT_BASE (19200) HA_INGRESS_PORT (18086)
#                                 the bench's own --ha stack, for the --ha variant
#   BENCH_CONNECTIONS (16) BENCH_DURATION (5) BENCH_WARMUP (1)  closed-loop micro-benchmarks, s
#   BENCH_EVENT_TICKETS (1000)                                  tickets timed on the event path
#   BENCH_PERF=1                  profile each route's service with `perf record` while it is
#                                 measured: bench-reports/<time>/perf-<route>[-<variant>].txt
#   FLOW_USERS (40) FLOW_RATE (200) FLOW_SECONDS (60)           goose users, offered req/s, time
#   FLOW_EXPIRATION_WINDOW (20)   EXPIRATION_WINDOW_SECONDS of the flows' stack, so abandoned
#                                 carts expire during the run and expiry is measured under load
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

export ROOT
export STACK_NAME="${STACK_NAME:-bench}" PORT_BASE="${PORT_BASE:-19100}" INGRESS_PORT="${INGRESS_PORT:-18085}"
# Ports clear of the single-node bench stack's (PORT_BASE+1 … +60 with the bench's own nginx and
# spare ports), of a developer's stacks (3100, 3200) and of the end-to-end tests'.
HA_STACK_NAME="${HA_STACK_NAME:-bench-ha}" HA_PORT_BASE="${HA_PORT_BASE:-19200}" HA_INGRESS_PORT="${HA_INGRESS_PORT:-18086}"
# The load generator signs up and in from one address far faster than any client would, and its
# returning visitors sign in to their own accounts dozens of times a minute: the benchmarks
# measure the fleet, not auth's rate limits (which auth's own tests prove), so both are lifted.
export AUTH_REQUESTS_PER_ADDRESS="${AUTH_REQUESTS_PER_ADDRESS:-1000000}"
export SIGNIN_ATTEMPTS_PER_ACCOUNT="${SIGNIN_ATTEMPTS_PER_ACCOUNT:-1000000}"
# The main run is the report's "export on" (the stack's own receiver); only the export-off
# variant turns it off, so a TRACE_EXPORT left in the shell cannot mislabel the main figures.
export TRACE_EXPORT=on
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# Release binaries of the fleet and of the bench, built at low priority so a machine shared with
# other work stays usable; the same build as scripts/stack.sh's, whose own is then a no-op.
build_release() {
  log "building release binaries (nice)"
  nice -n 10 cargo build --release --bins --quiet || die "cargo build --release failed"
}

# The report with its charts: the bench rebuilt with the `charts` feature (plotters), which the
# default build leaves out so the test command's clippy does not compile it.
report() {
  nice -n 10 cargo build --release -p bench --features charts --bin bench --quiet || die "building the bench's charts failed"
  bench report
}

bench() { BIN_DIR="$TARGET_DIR/release" "$TARGET_DIR/release/bench" "$@"; }

# A fresh stack (no data from an earlier run: the listing must hold exactly the tickets we seed),
# with EXPIRATION_WINDOW_SECONDS=$1; the rest are stack.sh's (--ha).
fresh_stack() {
  local window=$1; shift
  scripts/stack.sh down "$@" >/dev/null 2>&1 || true
  rm -rf ".stack/$STACK_NAME"
  log "starting a fresh release stack '$STACK_NAME'${*:+ $*} (EXPIRATION_WINDOW_SECONDS=$window TRACE_EXPORT=$TRACE_EXPORT)"
  EXPIRATION_WINDOW_SECONDS=$window PROFILE=release scripts/stack.sh up --detach "$@" >/dev/null \
    || die "the stack did not start; see .stack/$STACK_NAME/logs"
}

# Both of the bench's stacks down, whichever runs (the EXIT trap's, too).
stacks_down() {
  scripts/stack.sh down >/dev/null 2>&1 || true
  STACK_NAME=$HA_STACK_NAME PORT_BASE=$HA_PORT_BASE INGRESS_PORT=$HA_INGRESS_PORT \
    scripts/stack.sh down --ha >/dev/null 2>&1 || true
}

# Each step runs even if the one before failed (a missed target is a finding, not a reason to
# stop measuring); the status says whether any failed.
run_micro() {
  local status=0
  fresh_stack 900
  bench footprint || status=$?
  bench micro || status=$?
  AUDIT_NAME=audit-micro bench audit || status=$?
  bench startup || status=$?
  return $status
}

run_flows() {
  local status=0
  fresh_stack "${FLOW_EXPIRATION_WINDOW:-20}"
  if [ ! -f "$BENCH_OUT/footprint.json" ]; then bench footprint || status=$?; fi
  bench flows || status=$?
  AUDIT_NAME=audit-flows bench audit || status=$?
  return $status
}

# The micro-benchmarks alone on variant `$1` of the stack (micro-$1.json), its environment set
# by the caller, stack.sh's arguments after it; its stack is stopped afterwards. Footprint,
# audit and start-up are the main run's: a variant is about the hot paths' cost.
run_micro_variant() {
  local variant=$1 status=0; shift
  fresh_stack 900 "$@"
  BENCH_VARIANT=$variant bench micro || status=$?
  scripts/stack.sh down "$@" >/dev/null 2>&1 || true
  return $status
}

# Each in a subshell: its environment stays its own, and a stack that does not start (die)
# ends that variant only.
run_variants() {
  local status=0
  (export TRACE_EXPORT=off; run_micro_variant export-off) || status=$?
  (export STACK_NAME=$HA_STACK_NAME PORT_BASE=$HA_PORT_BASE INGRESS_PORT=$HA_INGRESS_PORT STACK_HA=1
   run_micro_variant ha --ha) || status=$?
  return $status
}

new_run_dir() {
  BENCH_OUT="$ROOT/bench-reports/$(date -u +%Y-%m-%dT%H-%M-%SZ)"
  export BENCH_OUT
  mkdir -p "$BENCH_OUT"
  log "results in ${BENCH_OUT#"$ROOT/"}"
}

case "${1:-}" in
  all | micro | flows | variants)
    build_release
    if [ "$1" = variants ] && [ -n "${BENCH_OUT:-}" ]; then
      mkdir -p "$BENCH_OUT"
      export BENCH_OUT
      log "results in ${BENCH_OUT#"$ROOT/"}"
    else
      new_run_dir
    fi
    trap stacks_down EXIT
    status=0
    case $1 in
      # The main run as before, first: a variant that fails cannot cost the main tables' figures.
      all) run_micro || status=$?; run_flows || status=$?; run_variants || status=$? ;;
      micro) run_micro || status=$? ;;
      flows) run_flows || status=$? ;;
      variants) run_variants || status=$? ;;
    esac
    stacks_down
    report
    exit $status
    ;;
  smoke)
    [ -n "${STACK_URL:-}" ] || die "smoke runs against a running stack: set STACK_URL (e.g. http://127.0.0.1:18080)"
    BENCH_OUT="$ROOT/bench-reports/smoke-$(date -u +%Y-%m-%dT%H-%M-%SZ)"
    export BENCH_SMOKE=1 BENCH_OUT
    # Not our stack: no folder of its own to look into.
    unset STACK_NAME
    cargo run --quiet -p bench --bin bench -- smoke
    ;;
  report)
    export BENCH_OUT="${BENCH_OUT:-$(find bench-reports -mindepth 1 -maxdepth 1 -type d ! -name 'smoke-*' | sort | tail -n 1)}"
    [ -n "$BENCH_OUT" ] || die "no run in bench-reports/ yet: scripts/bench.sh all"
    report
    ;;
  *) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 2 ;;
esac
