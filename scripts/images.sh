#!/usr/bin/env bash
# The six service images, built from the one Dockerfile and run as Kubernetes runs them. By hand
# (a cold build takes many minutes); neither the test command nor CI runs it.
#
#   scripts/images.sh build [--bootstrap]   build ticketing/<service> for the six services with
#                                           podman (if installed) or docker; prints each one's
#                                           time and image id
#   scripts/images.sh run                   run each image with the manifests' security settings
#                                           (uid 10001, read-only root filesystem, every capability
#                                           dropped, no privilege escalation) against MongoDB,
#                                           NATS and Redis started on loopback, until its /readyz
#                                           answers 200; then SIGTERM, and it must exit 0
#   scripts/images.sh all [--bootstrap]     build, then run
#   scripts/images.sh bases                 only bootstrap the two bases (see --bootstrap)
#
#   --bootstrap (or BOOTSTRAP=1)   for a machine that cannot pull docker.io/library/rust and
#                                  debian:bookworm-slim: bootstrap both bases from Debian's
#                                  packages (debootstrap, then `import`) and pass them as the
#                                  Dockerfile's RUST_IMAGE and RUNTIME_IMAGE. The build base gets
#                                  this machine's Rust toolchain (`rustup which cargo`), copied
#                                  in. Both are kept (localhost/ticketing-base-*) and reused.
#
# Options (environment):
#   ENGINE (podman, else docker)   the container engine
#   PORT_BASE (15100)              `run`: MongoDB on +1, NATS on +2 (monitoring +3), Redis on +4,
#                                  the six services on +11 … +16; all on 127.0.0.1
#   DEBIAN_MIRROR                  --bootstrap: the mirror (default: this machine's apt mirror,
#                                  else http://deb.debian.org/debian)
#   BUILD_NETWORK                  `build`: the network of the build's RUN steps, if the engine's
#                                  default cannot reach crates.io (e.g. host)
#
# With podman and no containers.conf of the user's (CONTAINERS_CONF unset, none in /etc/containers),
# the script points CONTAINERS_CONF at one of its own in .tools/podman/ (runc, cgroupfs, and
# ulimits a cargo build needs), for machines (containers, CI runners) without systemd; it changes
# nothing system-wide. Data and logs of `run` live in .stack/images (git-ignored).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

SERVICES=(auth tickets orders expiration payments client)
PORT_BASE="${PORT_BASE:-15100}"
MONGO_PORT=$((PORT_BASE + 1)) NATS_PORT=$((PORT_BASE + 2)) NATS_MONITOR_PORT=$((PORT_BASE + 3))
REDIS_PORT=$((PORT_BASE + 4))
RUN_DIR="$ROOT/.stack/images"
BASE_RUNTIME="localhost/ticketing-base-runtime:bookworm"
SUITE=bookworm

service_port() {
  local i
  for i in "${!SERVICES[@]}"; do
    [ "${SERVICES[i]}" = "$1" ] && { echo $((PORT_BASE + 11 + i)); return; }
  done
  die "unknown service $1"
}

# --- engine -----------------------------------------------------------------------------------

choose_engine() {
  if [ -z "${ENGINE:-}" ]; then
    if command -v podman >/dev/null; then ENGINE=podman
    elif command -v docker >/dev/null; then ENGINE=docker
    else die "neither podman nor docker found (on Debian: apt-get install podman runc)"; fi
  fi
  command -v "$ENGINE" >/dev/null || die "$ENGINE not found"
  if [ "$ENGINE" = podman ] && [ -z "${CONTAINERS_CONF:-}" ] && [ ! -f /etc/containers/containers.conf ] \
      && [ ! -f "${XDG_CONFIG_HOME:-$HOME/.config}/containers/containers.conf" ]; then
    local conf="$TOOLS_DIR/podman/containers.conf"
    mkdir -p "$(dirname "$conf")"
    # runc: Debian's podman works with it (crun need not be installed); cgroupfs: no systemd
    # needed; the ulimits: rustc and the linker open many files, cargo runs many processes.
    cat >"$conf" <<'EOF'
# Written by scripts/images.sh (used only through CONTAINERS_CONF by that script).
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
# Netavark (installed with Debian's podman) rather than CNI, whose plugins may be missing.
network_backend = "netavark"
EOF
    export CONTAINERS_CONF="$conf"
  fi
  # docker: the Dockerfile's cache mounts need BuildKit (the default since docker 23).
  [ "$ENGINE" = docker ] && export DOCKER_BUILDKIT=1
  return 0
}

image_exists() {
  if [ "$ENGINE" = podman ]; then podman image exists "$1"; else docker image inspect "$1" >/dev/null 2>&1; fi
}

image_id() { "$ENGINE" image inspect --format '{{.Id}}' "$1"; }

# --- bases from Debian's packages (--bootstrap) -----------------------------------------------

debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
    | grep -oE 'https?://[^ ]*/debian/?' | grep -v security | head -n 1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# debootstrap --variant=minbase into a fresh directory, the extra packages $2 (comma-separated)
# included, apt's caches emptied; prints the directory.
debootstrap_tree() {
  local name=$1 include=$2 dir="$TOOLS_DIR/images/$1"
  command -v debootstrap >/dev/null || apt_install debootstrap
  rm -rf "$dir"
  mkdir -p "$TOOLS_DIR/images/debs"
  log "debootstrap $SUITE ($name${include:+: $include}) from $(debian_mirror)"
  as_root debootstrap --variant=minbase --cache-dir="$TOOLS_DIR/images/debs" ${include:+--include="$include"} \
    "$SUITE" "$dir" "$(debian_mirror)" >"$TOOLS_DIR/images/$name.log" 2>&1 \
    || die "debootstrap failed; see $TOOLS_DIR/images/$name.log"
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/log/*.log
  echo "$dir"
}

# Imports tree $1 as image $2, the remaining arguments --change instructions.
import_tree() {
  local dir=$1 image=$2; shift 2
  local changes=() change
  for change in "$@"; do changes+=(--change "$change"); done
  tar -C "$dir" --numeric-owner -c . | "$ENGINE" import "${changes[@]}" - "$image" >/dev/null \
    || die "$ENGINE import of $image failed"
  rm -rf "$dir"
}

# The Rust toolchain this machine builds with (rustup's active one, or the one cargo belongs to).
host_toolchain() {
  local cargo
  if command -v rustup >/dev/null; then cargo=$(rustup which cargo); else cargo=$(command -v cargo || true); fi
  if [ -z "$cargo" ] || [ ! -x "$cargo" ]; then die "--bootstrap needs a Rust toolchain on this machine (cargo not found)"; fi
  dirname "$(dirname "$(readlink -f "$cargo")")"
}

HOST_CA_BUNDLE="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"

bootstrap_bases() {
  local toolchain version base_rust dir
  [ -f "$HOST_CA_BUNDLE" ] || die "--bootstrap: no CA bundle at $HOST_CA_BUNDLE (set SSL_CERT_FILE)"
  toolchain=$(host_toolchain)
  version=$("$toolchain/bin/rustc" --version | awk '{print $2}')
  base_rust="localhost/ticketing-base-rust:$version-$SUITE"
  if image_exists "$BASE_RUNTIME"; then
    log "runtime base $BASE_RUNTIME exists"
  else
    # As debian:bookworm-slim: no CA bundle (the Dockerfile copies the build stage's).
    dir=$(debootstrap_tree runtime "")
    import_tree "$dir" "$BASE_RUNTIME" 'CMD ["/bin/bash"]'
    log "imported $BASE_RUNTIME"
  fi
  if image_exists "$base_rust"; then
    log "build base $base_rust exists"
  else
    # ring's build script compiles C (gcc, libc6-dev); crates.io over TLS (ca-certificates).
    dir=$(debootstrap_tree rust ca-certificates,gcc,libc6-dev,pkg-config)
    log "copying the Rust toolchain $version from $toolchain (without its docs)"
    mkdir -p "$dir/usr/local/rust" "$dir/usr/local/cargo"
    tar -C "$toolchain" --exclude=./share/doc -c . | tar -C "$dir/usr/local/rust" -x
    # cargo reaches crates.io trusting what this machine trusts (a machine behind a TLS-inspecting
    # proxy has its CA there); the system bundle, the one the images get, stays Debian's.
    cp "$HOST_CA_BUNDLE" "$dir/usr/local/cargo/host-ca-certificates.crt"
    import_tree "$dir" "$base_rust" \
      'ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      'ENV CARGO_HOME=/usr/local/cargo' 'ENV CARGO_HTTP_CAINFO=/usr/local/cargo/host-ca-certificates.crt' \
      'CMD ["/bin/bash"]'
    log "imported $base_rust"
  fi
  BUILD_ARGS+=(--build-arg "RUST_IMAGE=$base_rust" --build-arg "RUNTIME_IMAGE=$BASE_RUNTIME")
}

# --- build ------------------------------------------------------------------------------------

BUILD_ARGS=()

build() {
  local bootstrap=${BOOTSTRAP:-} arg
  for arg in "$@"; do
    case $arg in
      --bootstrap) bootstrap=1 ;;
      *) die "unknown option $arg (usage: $0 build [--bootstrap])" ;;
    esac
  done
  choose_engine
  [ -n "$bootstrap" ] && bootstrap_bases
  [ -n "${BUILD_NETWORK:-}" ] && BUILD_ARGS+=(--network "$BUILD_NETWORK")
  local s start total_start=$SECONDS
  for s in "${SERVICES[@]}"; do
    start=$SECONDS
    log "building ticketing/$s ($ENGINE build --target $s)"
    "$ENGINE" build "${BUILD_ARGS[@]}" --target "$s" --tag "ticketing/$s" --file Dockerfile . \
      || die "building ticketing/$s failed${bootstrap:-" (if the base images cannot be pulled here: --bootstrap)"}"
    log "ticketing/$s: $((SECONDS - start)) s, $(image_id "ticketing/$s")"
  done
  log "six images in $((SECONDS - total_start)) s"
}

# --- run --------------------------------------------------------------------------------------

# What `run` started, stopped on any exit.
CONTAINERS=()
cleanup() {
  local c
  for c in "${CONTAINERS[@]+"${CONTAINERS[@]}"}"; do "$ENGINE" rm -f "$c" >/dev/null 2>&1 || true; done
  stop_pid "$RUN_DIR/redis.pid"
  stop_pid "$RUN_DIR/nats.pid"
  stop_pid "$RUN_DIR/mongo/mongod.pid"
}

start_servers() {
  command -v redis-server >/dev/null || apt_install redis-server
  command -v curl >/dev/null || apt_install curl
  mongod_bin >/dev/null
  nats_server_bin >/dev/null
  cleanup  # what a run killed before its trap could fire left behind
  rm -rf "$RUN_DIR"
  mkdir -p "$RUN_DIR/logs" "$RUN_DIR/nats" "$RUN_DIR/redis"
  log "starting MongoDB on $MONGO_PORT, NATS JetStream on $NATS_PORT, Redis on $REDIS_PORT (127.0.0.1)"
  start_mongo "$RUN_DIR/mongo" "$MONGO_PORT"
  "$(nats_server_bin)" -js -sd "$RUN_DIR/nats" -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MONITOR_PORT" -n ticketing-images \
    >"$RUN_DIR/logs/nats.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/nats.pid"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$RUN_DIR/redis" --save "" --appendonly no \
    --daemonize no --protected-mode yes >"$RUN_DIR/logs/redis.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/redis.pid"
  WAIT_SECONDS=60 wait_for nats curl -fsS "http://127.0.0.1:$NATS_MONITOR_PORT/healthz?js-enabled-only=true" \
    || die "nats-server did not start; see $RUN_DIR/logs/nats.log"
  wait_for redis port_open "$REDIS_PORT" || die "redis-server did not start; see $RUN_DIR/logs/redis.log"
}

# The environment of service $1: the variables its infra/k8s Deployment sets, with this machine's
# addresses. BIND keeps it on loopback (it shares the host's network).
service_env() {
  local s=$1 mongo="mongodb://127.0.0.1:$MONGO_PORT/$1?replicaSet=rs0&directConnection=true"
  local nats=(NATS_URL="nats://127.0.0.1:$NATS_PORT" NATS_CLIENT_ID="$s-images")
  local env=(PORT="$(service_port "$s")" BIND=127.0.0.1 RUST_LOG=info)
  case $s in
    auth) env+=(MONGO_URI="$mongo" JWT_KEY="$JWT_KEY" TRUSTED_PROXIES=127.0.0.1/32 MALLOC_MMAP_THRESHOLD_=1048576) ;;
    tickets) env+=(MONGO_URI="$mongo" "${nats[@]}" JWT_KEY="$JWT_KEY") ;;
    orders) env+=(MONGO_URI="$mongo" "${nats[@]}" JWT_KEY="$JWT_KEY" EXPIRATION_WINDOW_SECONDS=900) ;;
    expiration) env+=("${nats[@]}" REDIS_HOST=127.0.0.1 REDIS_URL="redis://127.0.0.1:$REDIS_PORT") ;;
    # Nothing is charged: /readyz does not call Stripe.
    payments) env+=(MONGO_URI="$mongo" "${nats[@]}" JWT_KEY="$JWT_KEY" STRIPE_KEY=sk_test_images_sh) ;;
    client) env+=(INGRESS_URL="http://127.0.0.1:$((PORT_BASE + 10))") ;;
  esac
  printf '%s\n' "${env[@]}"
}

container_running() {
  [ "$("$ENGINE" inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || return 99
}

service_ready() {
  container_running "$1" || return 99
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/readyz")" = 200 ]
}

# Runs image ticketing/$1 as the manifests run it; fails unless /readyz answers 200, the process
# runs as 10001:10001 with no capabilities on a read-only root, and SIGTERM stops it with status 0.
run_one() {
  local s=$1 port name="ticketing-images-$1" envs=() line status uid caps
  port=$(service_port "$s")
  while IFS= read -r line; do envs+=(--env "$line"); done < <(service_env "$s")
  local security=(--user 10001:10001 --read-only --cap-drop=ALL --security-opt=no-new-privileges)
  # podman mounts tmpfs on /tmp, /run and /var/tmp under --read-only unless told not to; the
  # manifests give the pods no writable volume at all.
  [ "$ENGINE" = podman ] && security+=(--read-only-tmpfs=false)
  "$ENGINE" rm -f "$name" >/dev/null 2>&1 || true
  CONTAINERS+=("$name")
  "$ENGINE" run --detach --name "$name" --network host "${security[@]}" "${envs[@]}" "ticketing/$s" >/dev/null \
    || die "$ENGINE run ticketing/$s failed"
  local start=$SECONDS
  if ! WAIT_SECONDS=60 wait_for "$s's /readyz" service_ready "$name" "$port"; then
    "$ENGINE" logs --tail 20 "$name" >&2 || true
    die "$s did not answer /readyz with 200"
  fi
  # The service's own process (pid 1), seen from inside: real and effective uid and gid, and its
  # effective, permitted and bounding capability sets.
  status=$("$ENGINE" exec "$name" cat /proc/1/status) || die "cannot read $s's /proc/1/status"
  uid=$(awk '/^Uid:|^Gid:/ {printf "%s%s:%s", sep, $2, $3; sep=" "}' <<<"$status")
  caps=$(awk '/^CapEff:|^CapPrm:|^CapBnd:/ {printf "%s%s", sep, $2; sep=" "}' <<<"$status")
  [ "$uid" = "10001:10001 10001:10001" ] || die "$s runs as uid/gid $uid, not 10001"
  [ "$caps" = "0000000000000000 0000000000000000 0000000000000000" ] || die "$s has capabilities (CapEff CapPrm CapBnd: $caps)"
  # /tmp is world-writable in the image: only a read-only root filesystem refuses the write.
  if "$ENGINE" exec "$name" sh -c ': > /tmp/written' 2>/dev/null; then
    die "$s could write to its root filesystem (/tmp)"
  fi
  "$ENGINE" kill --signal TERM "$name" >/dev/null
  status=$(timeout 45 "$ENGINE" wait "$name" 2>/dev/null | tail -n 1) || die "$s did not stop within 45 s of SIGTERM"
  [ "$status" = 0 ] || { "$ENGINE" logs --tail 20 "$name" >&2 || true; die "$s exited with status $status after SIGTERM"; }
  log "ticketing/$s: /readyz 200 after $((SECONDS - start)) s on :$port as uid 10001, read-only root, no capabilities; SIGTERM -> exit 0"
  "$ENGINE" rm -f "$name" >/dev/null 2>&1 || true
}

run() {
  choose_engine
  local s
  for s in "${SERVICES[@]}"; do
    image_exists "ticketing/$s" || die "no image ticketing/$s: run '$0 build' first"
  done
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  JWT_KEY="$(head -c 24 /dev/urandom | base64)"
  start_servers
  for s in "${SERVICES[@]}"; do run_one "$s"; done
  log "all six images reached /readyz 200 and stopped cleanly"
}

case "${1:-}" in
  build) shift; build "$@" ;;
  run) shift; [ $# -eq 0 ] || die "usage: $0 run"; run ;;
  all) shift; build "$@"; run ;;
  bases) shift; [ $# -eq 0 ] || die "usage: $0 bases"; choose_engine; bootstrap_bases ;;
  *) echo "usage: $0 build [--bootstrap] | run | all [--bootstrap] | bases" >&2; exit 2 ;;
esac
