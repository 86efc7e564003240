#!/usr/bin/env bash
# Offline checks of the Kubernetes deployment: every manifest under infra/k8s* validated strictly
# against the Kubernetes JSON schemas (kubernetes-validate; Gateway API resources against a closed
# subset schema of our own), the consistency checks of scripts/k8s_checks, run on every set
# skaffold deploys (dev, prod, and their Gateway API variants): skaffold.yaml <-> images <->
# Deployments <-> Services <-> Ingress/HTTPRoutes <-> infra/nginx, required env and cluster
# addresses, the clustered topology of the prod sets (NATS cluster, MongoDB replica sets, replicas,
# autoscalers, disruption budgets, spread, NetworkPolicies, drift from dev), probes/resources/
# security, no secrets, Dockerfile; and those checks' own tests.
# No cluster, kubectl or docker needed. Installs its tools into .tools/k8s-venv on first run.
#
#   scripts/check-k8s.sh          exit status non-zero if anything fails
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

VENV="$TOOLS_DIR/k8s-venv"
# Bump together: the venv is rebuilt when this line changes.
REQUIREMENTS="kubernetes-validate==1.37.0 pytest>=8,<10"

ensure_venv() {
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.requirements" 2>/dev/null)" = "$REQUIREMENTS" ]; then
    return
  fi
  command -v python3 >/dev/null || apt_install python3
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    local minor; minor="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    apt_install python3-venv || apt_install "python${minor}-venv"
  fi
  log "creating .tools/k8s-venv (kubernetes-validate, pytest)"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed"
  # shellcheck disable=SC2086 # word splitting of the requirement list is intended
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $REQUIREMENTS >&2 \
    || die "pip install $REQUIREMENTS failed"
  echo "$REQUIREMENTS" > "$VENV/.requirements"
}

ensure_venv
# The nats-users check has nats-server itself check each NATS config (`nats-server -t`).
NATS_SERVER="$(nats_server_bin)"
export NATS_SERVER
cd "$ROOT/scripts"
export PYTHONDONTWRITEBYTECODE=1
status=0
echo "k8s: manifests and consistency checks"
"$VENV/bin/python" -m k8s_checks --root "$ROOT" || status=1
echo "k8s: tests of the checks"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider k8s_checks/tests || status=1
exit "$status"
