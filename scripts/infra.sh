#!/usr/bin/env bash
# Infrastructure for the tests, started once and shared: a MongoDB single-node replica set on
# loopback (tests isolate by database name). NATS and Redis servers are started per test by the
# test-support crate, which needs only their binaries.
#
#   scripts/infra.sh install      install every server binary the project uses
#   scripts/infra.sh test-mongo   ensure the test mongod runs; print its URI
#   scripts/infra.sh stop         stop the test mongod
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

TEST_DIR="$ROOT/.stack/test"
TEST_MONGO_PORT="${TEST_MONGO_PORT:-27219}"

case "${1:-}" in
  install)
    install_servers ;;
  test-mongo)
    mkdir -p "$TEST_DIR"
    # Parallel test processes may all ask at once: one starts it, the others wait.
    exec 9>"$TEST_DIR/.lock"
    flock 9
    install_servers
    start_mongo "$TEST_DIR/mongo" "$TEST_MONGO_PORT"
    echo "mongodb://127.0.0.1:$TEST_MONGO_PORT/?replicaSet=rs0&directConnection=true" ;;
  stop)
    stop_pid "$TEST_DIR/mongo/mongod.pid" ;;
  *)
    echo "usage: $0 install|test-mongo|stop" >&2; exit 2 ;;
esac
