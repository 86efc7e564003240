"""Strict validation of every manifest against the Kubernetes JSON schemas bundled by
kubernetes-validate (PyPI). Unlike its command line, a kind without a schema is a failure here,
not a warning: a typo in `kind` or `apiVersion` must not pass silently. Gateway API resources
(CRDs, unknown to kubernetes-validate) are validated against gateway.py's closed subset schema."""

from __future__ import annotations

import functools

import kubernetes_validate
import kubernetes_validate.utils as kv_utils

from . import contract, gateway
from .model import Repo

# Each validation re-reads the 1.5 MB definitions file; read every schema file once per process.
kv_utils.schema_contents = functools.lru_cache(maxsize=None)(kv_utils.schema_contents)


def check_schemas(repo: Repo, version: str = contract.K8S_VERSION) -> list[str]:
    errors = []
    for resource in repo.resources():
        if gateway.is_gateway_api(resource.obj):
            errors += [f"{resource}: not valid Gateway API ({contract.GATEWAY_API_VERSION} subset, strict): {problem}"
                       for problem in gateway.validate(resource.obj)]
            continue
        try:
            kubernetes_validate.validate(resource.obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(part) for part in error.path) or "(top level)"
            errors.append(f"{resource}: not valid for Kubernetes {error.version} (strict): {where}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            errors.append(f"{resource}: no Kubernetes {version} schema for kind {error.kind} "
                          f"in apiVersion {error.api_version}")
        except (KeyError, TypeError) as error:
            errors.append(f"{resource}: not a Kubernetes resource (missing {error})")
    return errors
