"""Gateway API resources (CRDs, so kubernetes-validate has no schema for them): a strict schema of
the subset of gateway.networking.k8s.io/v1 Gateway and HTTPRoute this project uses, closed
(additionalProperties: false) so a misspelt or unsupported field fails here. Types, enums, limits
and patterns follow the Gateway API v1 spec (standard channel) for the fields kept."""

from __future__ import annotations

import jsonschema

from . import contract

# RFC 1123 hostname, optionally with a leading wildcard label (Gateway API's Hostname).
_HOSTNAME = {"type": "string", "minLength": 1, "maxLength": 253,
             "pattern": r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"}
# Gateway API's ObjectName / SectionName.
_NAME = {"type": "string", "minLength": 1, "maxLength": 253, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"}
_SECTION = {"type": "string", "minLength": 1, "maxLength": 253, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}


def _closed(properties: dict, *required: str) -> dict:
    schema: dict = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


_METADATA = _closed({
    "name": _NAME,
    "namespace": _NAME,
    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
}, "name")

_ALLOWED_ROUTES = _closed({
    "namespaces": _closed({"from": {"enum": ["All", "Same", "Selector"]}}),
})

GATEWAY_SCHEMA = _closed({
    "apiVersion": {"const": contract.GATEWAY_API_VERSION},
    "kind": {"const": "Gateway"},
    "metadata": _METADATA,
    "spec": _closed({
        "gatewayClassName": _NAME,
        "listeners": {
            "type": "array", "minItems": 1, "maxItems": 64,
            "items": _closed({
                "name": _SECTION,
                "hostname": _HOSTNAME,
                "port": _PORT,
                "protocol": {"enum": ["HTTP", "HTTPS"]},
                "tls": _closed({
                    "mode": {"enum": ["Terminate"]},
                    "certificateRefs": {
                        "type": "array", "minItems": 1, "maxItems": 64,
                        "items": _closed({"group": {"const": ""}, "kind": {"const": "Secret"}, "name": _NAME,
                                          "namespace": _NAME}, "name"),
                    },
                }, "certificateRefs"),
                "allowedRoutes": _ALLOWED_ROUTES,
            }, "name", "port", "protocol"),
        },
    }, "gatewayClassName", "listeners"),
}, "apiVersion", "kind", "metadata", "spec")

HTTPROUTE_SCHEMA = _closed({
    "apiVersion": {"const": contract.GATEWAY_API_VERSION},
    "kind": {"const": "HTTPRoute"},
    "metadata": _METADATA,
    "spec": _closed({
        "parentRefs": {
            "type": "array", "minItems": 1, "maxItems": 32,
            "items": _closed({"group": {"const": "gateway.networking.k8s.io"}, "kind": {"const": "Gateway"},
                              "name": _NAME, "namespace": _NAME, "sectionName": _SECTION, "port": _PORT}, "name"),
        },
        "hostnames": {"type": "array", "maxItems": 16, "items": _HOSTNAME},
        "rules": {
            "type": "array", "minItems": 1, "maxItems": 16,
            "items": _closed({
                "matches": {
                    "type": "array", "maxItems": 64,
                    "items": _closed({
                        "path": _closed({
                            "type": {"enum": ["Exact", "PathPrefix", "RegularExpression"]},
                            "value": {"type": "string", "maxLength": 1024, "pattern": "^/"},
                        }, "type", "value"),
                    }),
                },
                "backendRefs": {
                    "type": "array", "minItems": 1, "maxItems": 16,
                    "items": _closed({"group": {"const": ""}, "kind": {"const": "Service"}, "name": _NAME,
                                      "namespace": _NAME, "port": _PORT,
                                      "weight": {"type": "integer", "minimum": 0, "maximum": 1000000}},
                                     "name", "port"),
                },
            }),
        },
    }, "parentRefs", "rules"),
}, "apiVersion", "kind", "metadata", "spec")

SCHEMAS = {(contract.GATEWAY_API_VERSION, "Gateway"): GATEWAY_SCHEMA,
           (contract.GATEWAY_API_VERSION, "HTTPRoute"): HTTPROUTE_SCHEMA}


def is_gateway_api(obj: dict) -> bool:
    return str(obj.get("apiVersion", "")).startswith("gateway.networking.k8s.io/")


def validate(obj: dict) -> list[str]:
    """Problems of a Gateway API object against the subset schema ('' path: top level)."""
    schema = SCHEMAS.get((obj.get("apiVersion"), obj.get("kind")))
    if schema is None:
        return [f"(top level): {obj.get('kind')} in {obj.get('apiVersion')} is not a Gateway API kind this "
                f"project's schema knows (Gateway, HTTPRoute in {contract.GATEWAY_API_VERSION})"]
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '(top level)'}: {error.message}"
            for error in jsonschema.Draft7Validator(schema).iter_errors(obj)]
