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
#   --ha (with any command)        the clustered topology: three nats-servers in one JetStream
#                                  cluster (streams and consumers at R3), a three-member MongoDB
#                                  replica set, two processes of every service behind nginx. Its
#                                  parts are nats-1..3, mongod-1..3 and <service>-1..2; restart
#                                  also takes nats-leader (the ticketing stream's leader) and
#                                  mongod-primary. Its defaults (STACK_NAME=ha, PORT_BASE=3200,
#                                  INGRESS_PORT=8081) let it run beside the single-node stack.
#
# Options (environment):
#   INGRESS_PORT (8080)            where nginx listens: http://ticketing.localhost:$INGRESS_PORT
#   PORT_BASE (3100)               services and servers take ports PORT_BASE+1 … +25 (Prometheus
#                                  on +24, the OTLP trace receiver on +25; +1 … +32 with --ha)
#   STACK_NAME (dev)               data, logs and pids live in .stack/$STACK_NAME (git-ignored)
#   PROFILE (debug|release)        cargo build profile (release for benchmarks)
#   EXPIRATION_WINDOW_SECONDS      how long an order may stay unpaid (900)
#   JWT_KEY                        session signing key (default: a random one kept per stack)
#   STRIPE_KEY, STRIPE_API_BASE    real Stripe; without a key the offline Stripe stand-in runs
#   STRIPE_PUBLISHABLE_KEY         for the client's Stripe.js; without it the client pays with tok_visa
#   OTEL_EXPORTER_OTLP_ENDPOINT    your OTLP/HTTP collector (Jaeger, Tempo, …); without it the
#                                  stack's own receiver keeps the traces: /traces on PORT_BASE+25
#   TRACE_EXPORT (on|off)          off: no trace export at all — no receiver started, no endpoint
#                                  given to the services (even if OTEL_EXPORTER_OTLP_ENDPOINT is
#                                  set), so they run without the OpenTelemetry layer; restarts
#                                  of a part keep it off (the benchmarks' export-off variant)
#   NO_BUILD=1                     start the binaries already in $CARGO_TARGET_DIR/$PROFILE
#                                  without running cargo (e.g. from another worktree)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# --ha may stand anywhere among the arguments.
HA=""
ARGS=()
for arg in "$@"; do
  if [ "$arg" = --ha ]; then HA=1; else ARGS+=("$arg"); fi
done
set -- "${ARGS[@]+"${ARGS[@]}"}"
if [ -n "$HA" ]; then
  STACK_NAME="${STACK_NAME:-ha}" PORT_BASE="${PORT_BASE:-3200}" INGRESS_PORT="${INGRESS_PORT:-8081}"
fi

STACK_NAME="${STACK_NAME:-dev}"
STACK_DIR="$ROOT/.stack/$STACK_NAME"
INGRESS_PORT="${INGRESS_PORT:-8080}"
PORT_BASE="${PORT_BASE:-3100}"
PROFILE="${PROFILE:-debug}"
TRACE_EXPORT="${TRACE_EXPORT:-on}"
case $TRACE_EXPORT in
  on | off) ;;
  *) die "TRACE_EXPORT must be on or off, not '$TRACE_EXPORT'" ;;
esac
STRIPE_STANDIN_PORT=$((PORT_BASE + 7))
REDIS_PORT=$((PORT_BASE + 19))
PROMETHEUS_PORT=$((PORT_BASE + 24))
OTLP_RECEIVER_PORT=$((PORT_BASE + 25))
# Member k of the replica set and of the NATS cluster (the single-node stack has member 1 only).
MONGO_PORTS=($((PORT_BASE + 17)) $((PORT_BASE + 18)) $((PORT_BASE + 20)))
NATS_PORTS=($((PORT_BASE + 22)) $((PORT_BASE + 26)) $((PORT_BASE + 28)))
NATS_MONITOR_PORTS=($((PORT_BASE + 23)) $((PORT_BASE + 27)) $((PORT_BASE + 29)))
NATS_ROUTE_PORTS=($((PORT_BASE + 30)) $((PORT_BASE + 31)) $((PORT_BASE + 32)))
MONGO_PORT=${MONGO_PORTS[0]} NATS_MONITOR_PORT=${NATS_MONITOR_PORTS[0]}
if [ -n "$HA" ]; then MEMBERS=(1 2 3) INSTANCES=(1 2); else MEMBERS=(1) INSTANCES=(1); fi
URL="http://ticketing.localhost:$INGRESS_PORT"
# Every process the stack starts listens on loopback only (the services read BIND; nginx, mongod,
# nats, redis and Prometheus are told so below): only the ingress is for the browser.
export BIND="${BIND:-127.0.0.1}"

# Services in start order.
SERVICES=(auth tickets orders expiration payments client)

# The part `$1` number `$2`: `orders`, `nats`, `mongod` on the single-node stack; `orders-2`,
# `nats-3`, `mongod-1` with --ha.
part_name() { if [ -n "$HA" ]; then echo "$1-$2"; else echo "$1"; fi; }
mongo_dir() { echo "$STACK_DIR/$(part_name mongo "$1")"; }

# Process `$2` (1, or 2 with --ha) of service `$1`: the first on PORT_BASE+1 … +6, the second
# seven above.
service_port() {
  local offset
  case $1 in
    auth) offset=1 ;; tickets) offset=2 ;; orders) offset=3 ;;
    payments) offset=4 ;; client) offset=5 ;; expiration) offset=6 ;;
  esac
  echo $((PORT_BASE + offset + 7 * (${2:-1} - 1)))
}

join_by() { local IFS=$1; shift; echo "$*"; }

# The single-node set is reached directly; the three-member one through its seed list, so the
# driver follows the primary wherever an election puts it.
mongo_uri() {
  if [ -z "$HA" ]; then
    echo "mongodb://127.0.0.1:$MONGO_PORT/$1?replicaSet=rs0&directConnection=true"
    return
  fi
  local k hosts=()
  for k in "${MEMBERS[@]}"; do hosts+=("127.0.0.1:${MONGO_PORTS[k - 1]}"); done
  echo "mongodb://$(join_by , "${hosts[@]}")/$1?replicaSet=rs0"
}

nats_url() {
  local k urls=()
  for k in "${MEMBERS[@]}"; do urls+=("nats://127.0.0.1:${NATS_PORTS[k - 1]}"); done
  join_by , "${urls[@]}"
}

# The environment process `$2` of service `$1` gets: the contract's variable names
# (docs/architecture.md).
service_env() {
  local name
  name=$(part_name "$1" "$2")
  local nats="NATS_URL=$(nats_url) NATS_CLIENT_ID=$name-$STACK_NAME NATS_STREAM_REPLICAS=${#MEMBERS[@]}"
  local common="PORT=$(service_port "$1" "$2") RUST_LOG=${RUST_LOG:-info} JWT_KEY=$JWT_KEY COOKIE_SECURE=false"
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
  if [ "${NO_BUILD:-}" = 1 ]; then
    # Another checkout's binaries, say: cargo here would rebuild them from this one's sources.
    local s
    for s in "${SERVICES[@]}" otlp-receiver stripe-standin; do
      [ -x "$(bin_dir)/$s" ] || die "NO_BUILD=1 but $(bin_dir)/$s is missing: build it first"
    done
    log "not building: the $PROFILE binaries in $(bin_dir) as they are"
    return
  fi
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
  log "starting MongoDB (replica set) on ${MONGO_PORTS[*]:0:${#MEMBERS[@]}}, NATS JetStream on ${NATS_PORTS[*]:0:${#MEMBERS[@]}}, Redis on $REDIS_PORT"
  local k ports=()
  for k in "${MEMBERS[@]}"; do
    spawn_mongod "$(mongo_dir "$k")" "${MONGO_PORTS[k - 1]}"
    ports+=("${MONGO_PORTS[k - 1]}")
  done
  mongo_initiate "${ports[@]}"
  for k in "${MEMBERS[@]}"; do spawn_nats "$k"; done
  if ! pid_alive "$STACK_DIR/pids/redis.pid"; then
    mkdir -p "$STACK_DIR/redis"
    spawn redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STACK_DIR/redis" \
      --appendonly yes --save "" --daemonize no --protected-mode yes
  fi
  # A clustered server is healthy once it has joined the JetStream cluster and its streams are
  # current; a single one as soon as JetStream runs.
  local health="healthz?js-enabled-only=true"
  [ -n "$HA" ] && health=healthz
  for k in "${MEMBERS[@]}"; do
    WAIT_SECONDS=60 wait_for "$(part_name nats "$k")" curl -fsS "http://127.0.0.1:${NATS_MONITOR_PORTS[k - 1]}/$health" \
      || die "$(part_name nats "$k") did not start; see $STACK_DIR/logs/$(part_name nats "$k").log"
  done
  wait_for "redis-server" port_open "$REDIS_PORT" || die "redis-server did not start; see $STACK_DIR/logs/redis.log"
}

# nats-server number `$1`, unless it runs; with --ha one of a cluster routed on loopback.
spawn_nats() {
  local k=$1 name dir args
  name=$(part_name nats "$k")
  pid_alive "$STACK_DIR/pids/$name.pid" && return 0
  dir="$STACK_DIR/$name"
  mkdir -p "$dir"
  args=(-js -sd "$dir" -a 127.0.0.1 -p "${NATS_PORTS[k - 1]}" -m "${NATS_MONITOR_PORTS[k - 1]}")
  if [ -z "$HA" ]; then
    args+=(-n "ticketing-$STACK_NAME")
  else
    local m routes=()
    for m in "${MEMBERS[@]}"; do routes+=("nats://127.0.0.1:${NATS_ROUTE_PORTS[m - 1]}"); done
    # Server names are the parts' names: the stream's leader is reported as one of them.
    args+=(-n "$name" --cluster_name "ticketing-$STACK_NAME" --cluster "nats://127.0.0.1:${NATS_ROUTE_PORTS[k - 1]}"
      --routes "$(join_by , "${routes[@]}")")
  fi
  spawn "$name" "$(nats_server_bin)" "${args[@]}"
}

# The `ticketing` stream's leader (nats-1..3), as the cluster reports it.
nats_stream_leader() {
  local k
  for k in "${MEMBERS[@]}"; do
    curl -fsS "http://127.0.0.1:${NATS_MONITOR_PORTS[k - 1]}/jsz?streams=true" 2>/dev/null \
      | python3 -c 'import json, sys
for account in json.load(sys.stdin).get("account_details") or []:
    for stream in account.get("stream_detail") or []:
        if stream.get("name") == "ticketing" and (stream.get("cluster") or {}).get("leader"):
            print(stream["cluster"]["leader"]); sys.exit(0)
sys.exit(1)' && return 0
  done
  return 1
}

# The member (1..3) that is MongoDB's primary now.
mongo_primary() {
  local k port
  port=$(python3 "$ROOT/scripts/lib/rs_initiate.py" --primary "${MONGO_PORTS[@]:0:${#MEMBERS[@]}}")
  for k in "${MEMBERS[@]}"; do
    [ "${MONGO_PORTS[k - 1]}" = "$port" ] && { echo "$k"; return 0; }
  done
  return 1
}

# The `server` lines of service `$1`'s upstream: one per process.
upstream_servers() {
  local i lines=""
  for i in "${INSTANCES[@]}"; do
    lines+="server 127.0.0.1:$(service_port "$1" "$i") max_fails=1 fail_timeout=2s; "
  done
  echo "$lines"
}

start_nginx() {
  mkdir -p "$STACK_DIR/nginx/tmp"
  sed -e "s|@STACK_DIR@|$STACK_DIR|g" -e "s|@INGRESS_PORT@|$INGRESS_PORT|g" \
      -e "s|@AUTH_SERVERS@|$(upstream_servers auth)|g" -e "s|@TICKETS_SERVERS@|$(upstream_servers tickets)|g" \
      -e "s|@ORDERS_SERVERS@|$(upstream_servers orders)|g" -e "s|@PAYMENTS_SERVERS@|$(upstream_servers payments)|g" \
      -e "s|@CLIENT_SERVERS@|$(upstream_servers client)|g" \
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
  local config="$STACK_DIR/prometheus/prometheus.yml" s i
  {
    echo "global: { scrape_interval: 5s, evaluation_interval: 5s }"
    echo "rule_files: [ '$ROOT/infra/prometheus/alerts.yml' ]"
    echo "scrape_configs:"
    echo "  - job_name: ticketing"
    echo "    static_configs:"
    for s in "${SERVICES[@]}"; do
      for i in "${INSTANCES[@]}"; do
        echo "      - { targets: ['127.0.0.1:$(service_port "$s" "$i")'], labels: { service: $s, process: $(part_name "$s" "$i") } }"
      done
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
# With TRACE_EXPORT=off the endpoint is emptied: the services export only when it is non-empty
# (common::telemetry), which is what the benchmarks compare against.
start_otlp_receiver() {
  OTEL_BSP_SCHEDULE_DELAY="${OTEL_BSP_SCHEDULE_DELAY:-500}"
  if [ "$TRACE_EXPORT" = off ]; then
    OTEL_EXPORTER_OTLP_ENDPOINT=""
    log "trace export is off (TRACE_EXPORT=off): no OTLP receiver, no endpoint for the services"
    return
  fi
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
  local s i
  for s in "${SERVICES[@]}"; do
    for i in "${INSTANCES[@]}"; do spawn_service "$s" "$i"; done
  done
  for s in "${SERVICES[@]}"; do
    for i in "${INSTANCES[@]}"; do wait_service "$s" "$i"; done
  done
}

# Process `$2` of service `$1`.
spawn_service() {
  # shellcheck disable=SC2046 # word splitting of KEY=value pairs is intended
  spawn "$(part_name "$1" "$2")" env $(service_env "$1" "$2") "$(bin_dir)/$1"
}

wait_service() {
  local name
  name=$(part_name "$1" "$2")
  WAIT_SECONDS=60 wait_for "$name to be ready" service_ready "$1" "$2" \
    || die "$name did not become ready; last lines of $STACK_DIR/logs/$name.log:
$(tail -n 5 "$STACK_DIR/logs/$name.log")"
}

# What `up` chose that a restart of one part must reuse, kept beside the stack's data (0600:
# it may hold a real Stripe key).
save_settings() {
  local name
  (umask 077
   for name in EXPIRATION_WINDOW_SECONDS STRIPE_KEY STRIPE_API_BASE STRIPE_PUBLISHABLE_KEY RUST_LOG PROFILE JWT_KEY \
      OTEL_EXPORTER_OTLP_ENDPOINT OTEL_BSP_SCHEDULE_DELAY TRACE_EXPORT; do
     printf '%s=%q\n' "$name" "${!name:-}"
   done >"$STACK_DIR/settings.env")
}

# Stops one part of the running stack and starts it again, as `up` started it. With --ha,
# `nats-leader` and `mongod-primary` name whichever member holds that role now.
restart_part() {
  local name=$1 how=$2 outage=$3 pidfile pid service="" instance=1 member
  [ -f "$STACK_DIR/settings.env" ] || die "no stack '$STACK_NAME' is running (start it with: up --detach)"
  set -a; source "$STACK_DIR/settings.env"; set +a
  if [ -n "$HA" ]; then
    case $name in
      nats-leader) name=$(nats_stream_leader) || die "the ticketing stream has no leader now" ;;
      mongod-primary) name="mongod-$(mongo_primary)" || die "the replica set has no primary now" ;;
    esac
  fi
  case $name in
    mongod | mongod-[1-3]) member=${name#mongod}; member=${member#-}; pidfile="$(mongo_dir "${member:-1}")/mongod.pid" ;;
    nats | nats-[1-3] | redis | nginx) pidfile="$STACK_DIR/pids/$name.pid" ;;
    *)
      service=${name%-[12]}
      [ "$service" != "$name" ] && instance=${name##*-}
      # Not `printf … | grep -q`: grep stops at the first match, printf may then die of SIGPIPE,
      # and pipefail turns that into "unknown part" (it did, for auth, the first service).
      [[ " ${SERVICES[*]} " == *" $service "* ]] && [ "$(part_name "$service" "$instance")" = "$name" ] \
        || die "unknown part '$name'"
      pidfile="$STACK_DIR/pids/$name.pid" ;;
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
  sleep "$outage"
  case $name in
    mongod* | nats* | redis) start_infra >/dev/null ;;
    nginx) start_nginx ;;
    *) spawn_service "$service" "$instance"; wait_service "$service" "$instance" ;;
  esac
  echo "$name"
}

# Ready, or gone for good: a service that exited is not waited for.
service_ready() {
  pid_alive "$STACK_DIR/pids/$(part_name "$1" "$2").pid" || return 99
  curl -fsS "http://127.0.0.1:$(service_port "$1" "$2")/readyz"
}

# Every part of both topologies (whichever `up` started), services first, MongoDB last.
stop_all() {
  local name s i k
  stop_pid "$STACK_DIR/pids/prometheus.pid"
  for s in client payments expiration orders tickets auth; do
    for name in "$s" "$s-1" "$s-2"; do stop_pid "$STACK_DIR/pids/$name.pid"; done
  done
  for name in otlp-receiver stripe-standin nginx redis nats nats-1 nats-2 nats-3; do
    stop_pid "$STACK_DIR/pids/$name.pid"
  done
  for name in mongo mongo-1 mongo-2 mongo-3; do
    stop_pid "$STACK_DIR/$name/mongod.pid"
  done
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
  local topology="services: ${SERVICES[*]}"
  [ -n "$HA" ] && topology="HA: nats-1..3 (R3), mongod-1..3, two processes of each of ${SERVICES[*]}"
  log "the fleet is up: $URL  ($topology)"
  log "data and logs in ${STACK_DIR#"$ROOT/"}; NATS monitoring at http://127.0.0.1:$NATS_MONITOR_PORT/jsz; Prometheus at http://127.0.0.1:$PROMETHEUS_PORT; traces to ${OTEL_EXPORTER_OTLP_ENDPOINT:-nowhere (export off)}"
  if [ "$detach" = --detach ]; then
    echo "$URL"
    return
  fi
  log "streaming logs; Ctrl-C stops everything"
  local name
  local s i
  for s in "${SERVICES[@]}"; do
    for i in "${INSTANCES[@]}"; do
      name=$(part_name "$s" "$i")
      tail -n +1 -F "$STACK_DIR/logs/$name.log" 2>/dev/null | sed -u "s/^/[$name] /" &
    done
  done
  wait
}

status() {
  local name k s i primary="" leader="" role
  if [ -n "$HA" ]; then
    primary=$(mongo_primary 2>/dev/null) || primary=""
    leader=$(nats_stream_leader 2>/dev/null) || leader=""
  fi
  for k in "${MEMBERS[@]}"; do
    name=$(part_name mongod "$k") role=""
    [ -n "$HA" ] && { [ "$k" = "$primary" ] && role=", primary" || role=", secondary"; }
    print_part "$name" "$(mongo_dir "$k")/mongod.pid" "port ${MONGO_PORTS[k - 1]}$role"
  done
  for k in "${MEMBERS[@]}"; do
    name=$(part_name nats "$k") role=""
    [ -n "$leader" ] && [ "$name" = "$leader" ] && role=", stream leader"
    print_part "$name" "$STACK_DIR/pids/$name.pid" "port ${NATS_PORTS[k - 1]}$role"
  done
  for name in nginx redis stripe-standin otlp-receiver prometheus; do
    print_part "$name" "$STACK_DIR/pids/$name.pid" ""
  done
  for s in "${SERVICES[@]}"; do
    for i in "${INSTANCES[@]}"; do
      name=$(part_name "$s" "$i")
      print_part "$name" "$STACK_DIR/pids/$name.pid" "port $(service_port "$s" "$i")"
    done
  done
  echo "prometheus: http://127.0.0.1:$PROMETHEUS_PORT (alerts: /alerts)"
  if pid_alive "$STACK_DIR/pids/otlp-receiver.pid"; then
    echo "traces: http://127.0.0.1:$OTLP_RECEIVER_PORT/traces (one trace: /traces/<trace id>)"
  fi
}

print_part() {
  local detail=${3:+, $3}
  if pid_alive "$2"; then echo "$1: running (pid $(cat "$2")$detail)"; else echo "$1: stopped"; fi
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
