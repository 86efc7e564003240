#!/usr/bin/env bash
# The local stack: the whole fleet on one machine, behind nginx as the ingress.
#
#   scripts/stack.sh up            install what is missing, build, start everything, stream logs;
#                                  Ctrl-C (or SIGTERM) stops every process it started
#   scripts/stack.sh up --detach   the same, but return once the fleet is ready (logs in files)
#   scripts/stack.sh down          stop a detached stack
#   scripts/stack.sh status        what runs
#   scripts/stack.sh restart NAME [--kill] [--outage SECONDS]
#                                  stop one part of a running stack (SIGKILL with --kill, else
#                                  SIGTERM), wait SECONDS (0), start it again and wait until it
#                                  is ready: a service, mongod, nats, redis or nginx (the
#                                  fault-injection test's lever)
#
# Options (environment):
#   INGRESS_PORT (8080)            where nginx listens: http://ticketing.localhost:$INGRESS_PORT
#   PORT_BASE (3100)               services and servers take ports PORT_BASE+1 … +25 (Prometheus
#                                  on +24, the OTLP trace receiver on +25)
#   STACK_NAME (dev)               data, logs and pids live in .stack/$STACK_NAME (git-ignored)
#   PROFILE (debug|release)        cargo build profile (release for benchmarks)
#   EXPIRATION_WINDOW_SECONDS      how long an order may stay unpaid (900)
#   JWT_KEY                        session signing key (default: a random one kept per stack)
#   STRIPE_KEY, STRIPE_API_BASE    real Stripe; without a key the offline Stripe stand-in runs
#   STRIPE_PUBLISHABLE_KEY         for the client's Stripe.js; without it the client pays with tok_visa
#   OTEL_EXPORTER_OTLP_ENDPOINT    your OTLP/HTTP collector (Jaeger, Tempo, …); without it the
#                                  stack's own receiver keeps the traces: /traces on PORT_BASE+25
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

STACK_NAME="${STACK_NAME:-dev}"
STACK_DIR="$ROOT/.stack/$STACK_NAME"
INGRESS_PORT="${INGRESS_PORT:-8080}"
PORT_BASE="${PORT_BASE:-3100}"
PROFILE="${PROFILE:-debug}"
AUTH_PORT=$((PORT_BASE + 1)) TICKETS_PORT=$((PORT_BASE + 2)) ORDERS_PORT=$((PORT_BASE + 3))
PAYMENTS_PORT=$((PORT_BASE + 4)) CLIENT_PORT=$((PORT_BASE + 5)) EXPIRATION_PORT=$((PORT_BASE + 6))
STRIPE_STANDIN_PORT=$((PORT_BASE + 7))
MONGO_PORT=$((PORT_BASE + 17)) REDIS_PORT=$((PORT_BASE + 19))
NATS_PORT=$((PORT_BASE + 22)) NATS_MONITOR_PORT=$((PORT_BASE + 23)) PROMETHEUS_PORT=$((PORT_BASE + 24))
OTLP_RECEIVER_PORT=$((PORT_BASE + 25))
URL="http://ticketing.localhost:$INGRESS_PORT"
# Every process the stack starts listens on loopback only (the services read BIND; nginx, mongod,
# nats, redis and Prometheus are told so below): only the ingress is for the browser.
export BIND="${BIND:-127.0.0.1}"

# Services in start order.
SERVICES=(auth tickets orders expiration payments client)

service_port() {
  case $1 in
    auth) echo "$AUTH_PORT" ;; tickets) echo "$TICKETS_PORT" ;; orders) echo "$ORDERS_PORT" ;;
    payments) echo "$PAYMENTS_PORT" ;; client) echo "$CLIENT_PORT" ;; expiration) echo "$EXPIRATION_PORT" ;;
  esac
}

mongo_uri() { echo "mongodb://127.0.0.1:$MONGO_PORT/$1?replicaSet=rs0&directConnection=true"; }

# The environment each service gets: the contract's variable names (docs/architecture.md).
service_env() {
  local nats="NATS_URL=nats://127.0.0.1:$NATS_PORT NATS_CLIENT_ID=$1-$STACK_NAME"
  local common="PORT=$(service_port "$1") RUST_LOG=${RUST_LOG:-info} JWT_KEY=$JWT_KEY COOKIE_SECURE=false"
  common+=" OTEL_EXPORTER_OTLP_ENDPOINT=$OTEL_EXPORTER_OTLP_ENDPOINT OTEL_BSP_SCHEDULE_DELAY=$OTEL_BSP_SCHEDULE_DELAY"
  case $1 in
    # MALLOC_MMAP_THRESHOLD_: argon2's 19 MiB blocks go back to the OS when freed (docs/architecture.md).
    auth) echo "$common MONGO_URI=$(mongo_uri auth) MALLOC_MMAP_THRESHOLD_=1048576" ;;
    tickets) echo "$common $nats MONGO_URI=$(mongo_uri tickets)" ;;
    orders) echo "$common $nats MONGO_URI=$(mongo_uri orders) EXPIRATION_WINDOW_SECONDS=${EXPIRATION_WINDOW_SECONDS:-900}" ;;
    expiration) echo "$common $nats REDIS_HOST=127.0.0.1 REDIS_URL=redis://127.0.0.1:$REDIS_PORT" ;;
    payments) echo "$common $nats MONGO_URI=$(mongo_uri payments) STRIPE_KEY=$STRIPE_KEY STRIPE_API_BASE=$STRIPE_API_BASE" ;;
    client) echo "$common INGRESS_URL=http://127.0.0.1:$INGRESS_PORT ${STRIPE_PUBLISHABLE_KEY:+STRIPE_PUBLISHABLE_KEY=$STRIPE_PUBLISHABLE_KEY}" ;;
  esac
}

bin_dir() { echo "${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE"; }

build() {
  local flags=()
  [ "$PROFILE" = release ] && flags+=(--release)
  command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) first"
  log "building the services ($PROFILE)"
  (cd "$ROOT" && cargo build "${flags[@]}" --bins --quiet) || die "cargo build failed"
}

# Starts `$2…` in the background as "$1", logging to logs/$1.log, pid in pids/$1.pid.
spawn() {
  local name=$1; shift
  # setsid: the process outlives this script in --detach mode and ignores the terminal's signals;
  # stop_all is what stops it.
  setsid "$@" >>"$STACK_DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STACK_DIR/pids/$name.pid"
}

start_infra() {
  log "starting MongoDB (replica set) on $MONGO_PORT, NATS JetStream on $NATS_PORT, Redis on $REDIS_PORT"
  start_mongo "$STACK_DIR/mongo" "$MONGO_PORT"
  if ! pid_alive "$STACK_DIR/pids/nats.pid"; then
    mkdir -p "$STACK_DIR/nats"
    spawn nats "$(nats_server_bin)" -js -sd "$STACK_DIR/nats" -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MONITOR_PORT" -n "ticketing-$STACK_NAME"
  fi
  if ! pid_alive "$STACK_DIR/pids/redis.pid"; then
    mkdir -p "$STACK_DIR/redis"
    spawn redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STACK_DIR/redis" \
      --appendonly yes --save "" --daemonize no --protected-mode yes
  fi
  wait_for "nats-server" curl -fsS "http://127.0.0.1:$NATS_MONITOR_PORT/healthz?js-enabled-only=true" || die "nats-server did not start; see $STACK_DIR/logs/nats.log"
  wait_for "redis-server" port_open "$REDIS_PORT" || die "redis-server did not start; see $STACK_DIR/logs/redis.log"
}

start_nginx() {
  mkdir -p "$STACK_DIR/nginx/tmp"
  sed -e "s|@STACK_DIR@|$STACK_DIR|g" -e "s|@INGRESS_PORT@|$INGRESS_PORT|g" \
      -e "s|@AUTH_PORT@|$AUTH_PORT|g" -e "s|@TICKETS_PORT@|$TICKETS_PORT|g" \
      -e "s|@ORDERS_PORT@|$ORDERS_PORT|g" -e "s|@PAYMENTS_PORT@|$PAYMENTS_PORT|g" \
      -e "s|@CLIENT_PORT@|$CLIENT_PORT|g" \
      "$ROOT/infra/nginx/ticketing.conf.template" >"$STACK_DIR/nginx/nginx.conf"
  nginx -t -q -p "$STACK_DIR/nginx" -c "$STACK_DIR/nginx/nginx.conf" 2>>"$STACK_DIR/logs/nginx-error.log" \
    || die "nginx rejected its config; see $STACK_DIR/logs/nginx-error.log"
  spawn nginx nginx -p "$STACK_DIR/nginx" -c "$STACK_DIR/nginx/nginx.conf"
  wait_for "nginx on $INGRESS_PORT" port_open "$INGRESS_PORT" || die "nginx did not start; see $STACK_DIR/logs/nginx-error.log"
}

# Prometheus on PORT_BASE+24, scraping the six services' /metrics every 5 s, with the alert
# rules of infra/prometheus/alerts.yml; its data lives with the stack's.
start_prometheus() {
  mkdir -p "$STACK_DIR/prometheus/data"
  local config="$STACK_DIR/prometheus/prometheus.yml" s
  {
    echo "global: { scrape_interval: 5s, evaluation_interval: 5s }"
    echo "rule_files: [ '$ROOT/infra/prometheus/alerts.yml' ]"
    echo "scrape_configs:"
    echo "  - job_name: ticketing"
    echo "    static_configs:"
    for s in "${SERVICES[@]}"; do
      echo "      - { targets: ['127.0.0.1:$(service_port "$s")'], labels: { service: $s } }"
    done
  } >"$config"
  promtool check config "$config" >>"$STACK_DIR/logs/prometheus.log" 2>&1 \
    || die "prometheus rejected its config; see $STACK_DIR/logs/prometheus.log"
  spawn prometheus prometheus --config.file="$config" --storage.tsdb.path="$STACK_DIR/prometheus/data" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --storage.tsdb.retention.time=2d
  wait_for "prometheus on $PROMETHEUS_PORT" curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" \
    || die "prometheus did not start; see $STACK_DIR/logs/prometheus.log"
}

start_stripe_standin() {
  if [ -n "${STRIPE_KEY:-}" ]; then
    STRIPE_API_BASE="${STRIPE_API_BASE:-https://api.stripe.com}"
    log "payments charges real Stripe at $STRIPE_API_BASE"
    return
  fi
  STRIPE_KEY="sk_test_local_standin"
  STRIPE_API_BASE="http://127.0.0.1:$STRIPE_STANDIN_PORT"
  if [ -x "$(bin_dir)/stripe-standin" ]; then
    log "no STRIPE_KEY given: payments charges the offline Stripe stand-in at $STRIPE_API_BASE"
    PORT=$STRIPE_STANDIN_PORT spawn stripe-standin "$(bin_dir)/stripe-standin"
    wait_for "stripe stand-in" curl -fsS "$STRIPE_API_BASE/healthz" || die "the Stripe stand-in did not start"
  fi
}

# Traces go to the operator's collector if OTEL_EXPORTER_OTLP_ENDPOINT names one, else to the
# stack's own receiver (crates/otlp-receiver), exported every half second so a trace shows at once.
start_otlp_receiver() {
  OTEL_BSP_SCHEDULE_DELAY="${OTEL_BSP_SCHEDULE_DELAY:-500}"
  if [ -n "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]; then
    log "traces are exported to $OTEL_EXPORTER_OTLP_ENDPOINT"
    return
  fi
  OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$OTLP_RECEIVER_PORT"
  PORT=$OTLP_RECEIVER_PORT spawn otlp-receiver "$(bin_dir)/otlp-receiver"
  wait_for "OTLP receiver on $OTLP_RECEIVER_PORT" curl -fsS "$OTEL_EXPORTER_OTLP_ENDPOINT/healthz" \
    || die "the OTLP receiver did not start; see $STACK_DIR/logs/otlp-receiver.log"
}

start_services() {
  local s
  for s in "${SERVICES[@]}"; do
    spawn_service "$s"
  done
  for s in "${SERVICES[@]}"; do
    wait_service "$s"
  done
}

spawn_service() {
  # shellcheck disable=SC2046 # word splitting of KEY=value pairs is intended
  spawn "$1" env $(service_env "$1") "$(bin_dir)/$1"
}

wait_service() {
  WAIT_SECONDS=60 wait_for "$1 to be ready" service_ready "$1" \
    || die "$1 did not become ready; last lines of $STACK_DIR/logs/$1.log:
$(tail -n 5 "$STACK_DIR/logs/$1.log")"
}

# What `up` chose that a restart of one part must reuse, kept beside the stack's data (0600:
# it may hold a real Stripe key).
save_settings() {
  local name
  (umask 077
   for name in EXPIRATION_WINDOW_SECONDS STRIPE_KEY STRIPE_API_BASE STRIPE_PUBLISHABLE_KEY RUST_LOG PROFILE JWT_KEY \
      OTEL_EXPORTER_OTLP_ENDPOINT OTEL_BSP_SCHEDULE_DELAY; do
     printf '%s=%q\n' "$name" "${!name:-}"
   done >"$STACK_DIR/settings.env")
}

# Stops one part of the running stack and starts it again, as `up` started it.
restart_part() {
  local name=$1 how=$2 outage=$3 pidfile pid
  [ -f "$STACK_DIR/settings.env" ] || die "no stack '$STACK_NAME' is running (start it with: up --detach)"
  set -a; source "$STACK_DIR/settings.env"; set +a
  case $name in
    mongod) pidfile="$STACK_DIR/mongo/mongod.pid" ;;
    nats | redis | nginx) pidfile="$STACK_DIR/pids/$name.pid" ;;
    *) printf '%s\n' "${SERVICES[@]}" | grep -qx "$name" || die "unknown part '$name'"; pidfile="$STACK_DIR/pids/$name.pid" ;;
  esac
  pid_alive "$pidfile" || die "$name is not running"
  if [ "$how" = kill ]; then
    pid=$(cat "$pidfile")
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$pidfile"
  else
    stop_pid "$pidfile"
  fi
  [ "$name" = mongod ] && rm -f "$STACK_DIR/mongo/initiated"
  sleep "$outage"
  case $name in
    mongod | nats | redis) start_infra >/dev/null ;;
    nginx) start_nginx ;;
    *) spawn_service "$name"; wait_service "$name" ;;
  esac
}

# Ready, or gone for good: a service that exited is not waited for.
service_ready() {
  pid_alive "$STACK_DIR/pids/$1.pid" || return 99
  curl -fsS "http://127.0.0.1:$(service_port "$1")/readyz"
}

stop_all() {
  local name
  for name in prometheus client payments expiration orders tickets auth otlp-receiver stripe-standin nginx redis nats; do
    stop_pid "$STACK_DIR/pids/$name.pid"
  done
  stop_pid "$STACK_DIR/mongo/mongod.pid"
  rm -f "$STACK_DIR/mongo/initiated"
}

up() {
  local detach=${1:-}
  install_servers
  command -v nginx >/dev/null || die "nginx not installed"
  mkdir -p "$STACK_DIR/logs" "$STACK_DIR/pids"
  # A previous run that crashed or was killed -9 may have left processes and pid files behind.
  stop_all
  # Each run's logs start empty (the previous run's are kept as *.log.1).
  local logfile
  for logfile in "$STACK_DIR"/logs/*.log; do
    [ -f "$logfile" ] && mv -f "$logfile" "$logfile.1"
  done
  if [ -z "${JWT_KEY:-}" ]; then
    [ -s "$STACK_DIR/jwt_key" ] || (umask 077; head -c 32 /dev/urandom | base64 | tr -d '=+/\n' >"$STACK_DIR/jwt_key")
    chmod 600 "$STACK_DIR/jwt_key"
    JWT_KEY=$(cat "$STACK_DIR/jwt_key")
  fi
  build
  if [ "$detach" != --detach ]; then
    trap 'echo >&2; log "stopping"; stop_all; kill $(jobs -p) 2>/dev/null; exit 0' INT TERM
    trap 'stop_all; kill $(jobs -p) 2>/dev/null' EXIT
  fi
  start_infra
  start_stripe_standin
  start_otlp_receiver
  save_settings
  start_services
  start_nginx
  start_prometheus
  log "the fleet is up: $URL  (services: ${SERVICES[*]})"
  log "data and logs in ${STACK_DIR#"$ROOT/"}; NATS monitoring at http://127.0.0.1:$NATS_MONITOR_PORT/jsz; Prometheus at http://127.0.0.1:$PROMETHEUS_PORT; traces to $OTEL_EXPORTER_OTLP_ENDPOINT"
  if [ "$detach" = --detach ]; then
    echo "$URL"
    return
  fi
  log "streaming logs; Ctrl-C stops everything"
  local name
  for name in "${SERVICES[@]}"; do
    tail -n +1 -F "$STACK_DIR/logs/$name.log" 2>/dev/null | sed -u "s/^/[$name] /" &
  done
  wait
}

status() {
  local name
  for name in mongo/mongod nginx redis nats stripe-standin otlp-receiver prometheus "${SERVICES[@]}"; do
    local pidfile="$STACK_DIR/pids/$name.pid"
    [ "$name" = mongo/mongod ] && pidfile="$STACK_DIR/mongo/mongod.pid"
    if pid_alive "$pidfile"; then echo "${name#mongo/}: running (pid $(cat "$pidfile"))"; else echo "${name#mongo/}: stopped"; fi
  done
  echo "prometheus: http://127.0.0.1:$PROMETHEUS_PORT (alerts: /alerts)"
  if pid_alive "$STACK_DIR/pids/otlp-receiver.pid"; then
    echo "traces: http://127.0.0.1:$OTLP_RECEIVER_PORT/traces (one trace: /traces/<trace id>)"
  fi
}

case "${1:-}" in
  up) shift; up "${1:-}" ;;
  down) stop_all; log "stopped" ;;
  status) status ;;
  restart)
    shift
    [ -n "${1:-}" ] || die "usage: $0 restart NAME [--kill] [--outage SECONDS]"
    part=$1 how=term outage=0; shift
    while [ $# -gt 0 ]; do
      case $1 in
        --kill) how=kill ;;
        --outage) outage=${2:?--outage takes seconds}; shift ;;
        *) die "unknown option $1" ;;
      esac
      shift
    done
    restart_part "$part" "$how" "$outage" ;;
  *) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 2 ;;
esac
