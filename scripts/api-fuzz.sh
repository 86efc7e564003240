#!/usr/bin/env bash
# Fuzzes the API from its OpenAPI document with schemathesis, against a running stack at
# $STACK_URL (the test command runs it against its end-to-end stack):
#
#   STACK_URL=http://ticketing.localhost:18080 scripts/api-fuzz.sh
#
# The document is the one the ingress serves (GET /api/docs/openapi.json, checked in as
# services/client/static/openapi.json). Every operation gets the document's examples, the
# coverage phase (boundaries and each kind of invalid value), generated positive and negative
# requests, and the stateful phase, which follows the document's links: sell a ticket, order
# it, pay for it, cancel. Requests carry the session cookie of a user signed up here, so the
# signed-in paths are reached; every response must be no 5xx and conform to the document
# (status, content type, headers, body schema), invalid input must be refused and valid input
# accepted. All of schemathesis' checks run but use_after_free ("a deleted resource is gone"):
# the one DELETE, `DELETE /api/orders/{orderId}`, cancels the order, as the original's does, and
# the order stays readable as `cancelled`.
#
# Bounded so it fits CI: API_FUZZ_EXAMPLES cases per operation and phase (default 30) and
# API_FUZZ_SECONDS for the run (default 120). The seed is API_FUZZ_SEED (default 1, so a failure
# in CI reproduces); set another, or `random`, to explore. Reports land in .stack/api-fuzz/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

url=${STACK_URL:?set STACK_URL to the stack under test (e.g. http://ticketing.localhost:18080)}
url=${url%/}
# curl resolves *.localhost to loopback by itself (RFC 6761), Python's resolver does not: the
# fuzzer is sent to 127.0.0.1 with the stack's name in the Host header instead.
host=${url#*://}; host=${host%%/*}; hostname=${host%%:*}
fuzz_url=$url
case "$hostname" in
  *.localhost) fuzz_url=${url/$hostname/127.0.0.1} ;;
esac
examples=${API_FUZZ_EXAMPLES:-30}
seconds=${API_FUZZ_SECONDS:-120}
seed=${API_FUZZ_SEED:-1}
[ "$seed" = random ] && seed=$RANDOM$RANDOM
schemathesis=$(schemathesis_bin)
reports="$ROOT/.stack/api-fuzz"
rm -rf "$reports" && mkdir -p "$reports"

# The document the ingress serves is the one checked in.
curl -fsS "$url/api/docs/openapi.json" -o "$reports/openapi.json" \
  || die "GET $url/api/docs/openapi.json failed: is the stack up?"
cmp -s "$reports/openapi.json" services/client/static/openapi.json \
  || die "the stack serves another OpenAPI document than services/client/static/openapi.json (rebuild it)"

# A user of our own, for the signed-in operations (scripts/api-fuzz.toml sends its cookie).
email="fuzz-$(date +%s%N)@example.com"
session=$(curl -fsS -o /dev/null -D - -H 'content-type: application/json' \
  --data "{\"email\":\"$email\",\"password\":\"fuzz-pass\"}" "$url/api/users/signup" \
  | tr -d '\r' | sed -n 's/^set-cookie: session=\([^;]*\).*/\1/Ip' | head -n 1)
[ -n "$session" ] || die "signing up $email gave no session cookie"
export API_FUZZ_SESSION=$session

log "schemathesis: seed $seed, at most $examples examples per operation and phase, $seconds s"
# From the reports folder: schemathesis keeps its own files beside it, not in the checkout.
cd "$reports"
"$schemathesis" --config-file "$ROOT/scripts/api-fuzz.toml" run "$reports/openapi.json" \
  --url "$fuzz_url" \
  --header "Host: $host" \
  --phases examples,coverage,fuzzing,stateful \
  --checks all \
  --exclude-checks use_after_free \
  --max-examples "$examples" \
  --max-time "$seconds" \
  --seed "$seed" \
  --workers 1 \
  --request-timeout 10 \
  --report junit,ndjson --report-dir "$reports" \
  --output-truncate true
