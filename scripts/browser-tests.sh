#!/usr/bin/env bash
# The browser tests: Playwright (playwright-core from npm) driving Debian's Chromium headless,
# run by node's built-in test runner, against the local stack. Installs what is missing
# (apt: chromium, nodejs, npm; npm ci in browser-tests/).
#
#   scripts/browser-tests.sh                 run every flow
#   scripts/browser-tests.sh purchase        run the flows whose file name contains "purchase"
#
# STACK_URL names the stack to test (scripts/test.sh starts one and exports it). Without it this
# script starts its own with `scripts/stack.sh up --detach` (STACK_NAME=client, PORT_BASE=17100,
# INGRESS_PORT=18084, EXPIRATION_WINDOW_SECONDS=6 unless set) and stops it afterwards.
# Screenshots of every page each flow visits land in screenshots/<flow>/ (git-ignored).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

pkgs=()
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || pkgs+=(chromium)
[ ${#pkgs[@]} -gt 0 ] && apt_install "${pkgs[@]}"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || die "node 20 or newer is needed for the browser tests (found $(node --version))"

# npm ci only when the lock file changed since the last install.
if [ ! -f browser-tests/node_modules/.package-lock.json ] \
  || [ browser-tests/package-lock.json -nt browser-tests/node_modules/.package-lock.json ]; then
  log "installing the browser tests' packages (npm ci)"
  (cd browser-tests && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ -z "${STACK_URL:-}" ]; then
  export STACK_NAME="${STACK_NAME:-client}" PORT_BASE="${PORT_BASE:-17100}" INGRESS_PORT="${INGRESS_PORT:-18084}"
  export EXPIRATION_WINDOW_SECONDS="${EXPIRATION_WINDOW_SECONDS:-6}"
  trap '"$ROOT/scripts/stack.sh" down >/dev/null 2>&1 || true' EXIT
  STACK_URL=$("$ROOT/scripts/stack.sh" up --detach | tail -n 1)
fi
export STACK_URL

files=()
for file in browser-tests/tests/*.test.mjs; do
  [[ -z "${1:-}" || "$(basename "$file")" == *"$1"* ]] && files+=("${file#browser-tests/}")
done
[ ${#files[@]} -gt 0 ] || die "no browser test matches '${1:-}'"

log "browser tests against $STACK_URL (screenshots in screenshots/)"
cd browser-tests
# One flow at a time: two cores, and each flow runs its own Chromium.
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
