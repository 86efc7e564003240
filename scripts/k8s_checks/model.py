"""Loading the repository's deployment files: manifests under infra/k8s*/, skaffold.yaml, Dockerfile."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

# libyaml's loader when PyYAML has it (much faster), the pure-Python one otherwise.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet")


class LoadError(Exception):
    pass


@dataclass(frozen=True)
class Resource:
    path: str  # relative to the repository root
    index: int  # position of the document in its file
    obj: dict

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", "?"))

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", "?"))

    @property
    def namespace(self) -> str:
        return str((self.obj.get("metadata") or {}).get("namespace") or "default")

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}/{self.name}"

    # --- pod-bearing workloads -------------------------------------------------------------

    @property
    def is_workload(self) -> bool:
        return self.kind in WORKLOAD_KINDS

    @property
    def pod_template(self) -> dict:
        spec = self.obj.get("spec") or {}
        return spec.get("template") or {}

    @property
    def pod_spec(self) -> dict:
        return self.pod_template.get("spec") or {}

    @property
    def pod_labels(self) -> dict:
        return (self.pod_template.get("metadata") or {}).get("labels") or {}

    def containers(self, include_init: bool = True) -> list[dict]:
        spec = self.pod_spec
        found = list(spec.get("containers") or [])
        if include_init:
            found += list(spec.get("initContainers") or [])
        return found


class Repo:
    """A checkout (or a test's broken copy of one)."""

    MANIFEST_DIRS = "infra/k8s*"

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self._cache: dict[str, list[Resource]] = {}

    # --- files ----------------------------------------------------------------------------

    def manifest_files(self) -> list[str]:
        files = []
        for directory in sorted(self.root.glob(self.MANIFEST_DIRS)):
            if directory.is_dir():
                for path in sorted(directory.rglob("*")):
                    if path.suffix in (".yaml", ".yml") and path.is_file():
                        files.append(path.relative_to(self.root).as_posix())
        return files

    def load_file(self, rel: str) -> list[Resource]:
        if rel not in self._cache:
            try:
                text = (self.root / rel).read_text()
                docs = list(yaml.load_all(text, Loader=_LOADER))
            except (OSError, yaml.YAMLError) as error:
                raise LoadError(f"{rel}: cannot load: {error}") from error
            resources = []
            for index, doc in enumerate(docs):
                if doc is None:
                    continue
                if not isinstance(doc, dict):
                    raise LoadError(f"{rel}: document {index} is not a mapping")
                resources.append(Resource(rel, index, doc))
            self._cache[rel] = resources
        return self._cache[rel]

    def resources(self, files: list[str] | None = None) -> list[Resource]:
        found: list[Resource] = []
        for rel in self.manifest_files() if files is None else files:
            found += self.load_file(rel)
        return found

    # --- skaffold -------------------------------------------------------------------------

    def skaffold(self) -> dict:
        path = self.root / "skaffold.yaml"
        try:
            docs = [doc for doc in yaml.load_all(path.read_text(), Loader=_LOADER) if doc is not None]
        except (OSError, yaml.YAMLError) as error:
            raise LoadError(f"skaffold.yaml: cannot load: {error}") from error
        if len(docs) != 1 or not isinstance(docs[0], dict):
            raise LoadError("skaffold.yaml: expected exactly one config document")
        return docs[0]

    def artifacts(self) -> list[dict]:
        return list(((self.skaffold().get("build") or {}).get("artifacts")) or [])

    def raw_yaml_sets(self) -> dict[str, list[str]]:
        """The manifest globs skaffold deploys: the default set and each profile that sets its own."""
        config = self.skaffold()
        sets = {"default": list(((config.get("manifests") or {}).get("rawYaml")) or [])}
        for profile in config.get("profiles") or []:
            raw = ((profile.get("manifests") or {}).get("rawYaml")) or []
            if raw:
                sets[f"profile {profile.get('name')}"] = list(raw)
        return sets

    def expand(self, pattern: str) -> list[str]:
        matches = glob.glob(str(self.root / pattern), recursive=True)
        return sorted(Path(m).relative_to(self.root).as_posix() for m in matches if Path(m).is_file())

    def deploy_sets(self) -> dict[str, list[Resource]]:
        """What skaffold would apply, per set: the resources of the files its globs match."""
        sets = {}
        for name, patterns in self.raw_yaml_sets().items():
            files = sorted({f for pattern in patterns for f in self.expand(pattern)})
            sets[name] = self.resources(files)
        return sets


def env_map(container: dict) -> dict[str, dict]:
    """name -> env entry (the whole entry: value or valueFrom)."""
    return {entry.get("name"): entry for entry in container.get("env") or [] if isinstance(entry, dict)}


def split_image(image: str) -> tuple[str, str | None]:
    """`docker.io/library/mongo:7.0` -> ("mongo", "7.0"); a digest counts as the tag."""
    name, tag = image, None
    if "@" in name:
        name, tag = name.split("@", 1)
    else:
        last = name.rsplit("/", 1)[-1]
        if ":" in last:
            name, tag = name.rsplit(":", 1)
    for prefix in ("docker.io/library/", "docker.io/", "library/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return name, tag


def iter_probes(container: dict) -> Iterator[tuple[str, Any]]:
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        if container.get(kind):
            yield kind, container[kind]
