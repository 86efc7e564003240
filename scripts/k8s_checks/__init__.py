"""Offline checks of the Kubernetes deployment (infra/k8s*, skaffold.yaml, Dockerfile).

Run through scripts/check-k8s.sh, which installs what they need into .tools/k8s-venv:

    python -m k8s_checks [--root DIR]     # from scripts/: schema validation + consistency checks
"""
