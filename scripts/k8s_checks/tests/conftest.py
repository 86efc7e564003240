"""Fixtures: a scratch copy of the repository's deployment files that a test breaks on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest
import yaml

from k8s_checks.model import Repo

REPO_ROOT = Path(__file__).resolve().parents[3]
COPIED = ("Cargo.toml", "Dockerfile", ".dockerignore", "skaffold.yaml", "infra/k8s", "infra/k8s-dev", "infra/k8s-prod",
          "infra/prometheus", "infra/nginx/ticketing.conf.template",
          "infra/k8s-dev-gateway", "infra/k8s-prod-gateway", "scripts/requirements/nats-server.txt")


class Scratch:
    def __init__(self, root: Path):
        self.root = root

    def repo(self) -> Repo:
        return Repo(self.root)

    def edit(self, rel: str, kind: str, name: str, mutate: Callable[[dict], object]) -> None:
        """Applies `mutate` to the document kind/name in file `rel` (comments are not kept)."""
        path = self.root / rel
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        hits = [d for d in docs if d.get("kind") == kind and d["metadata"]["name"] == name]
        assert len(hits) == 1, f"{kind}/{name} not found in {rel}"
        mutate(hits[0])
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))

    def container(self, rel: str, kind: str, name: str, mutate: Callable[[dict], object], index: int = 0) -> None:
        self.edit(rel, kind, name, lambda d: mutate(d["spec"]["template"]["spec"]["containers"][index]))

    def edit_skaffold(self, mutate: Callable[[dict], object]) -> None:
        path = self.root / "skaffold.yaml"
        config = yaml.safe_load(path.read_text())
        mutate(config)
        path.write_text(yaml.safe_dump(config, sort_keys=False))

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def replace(self, rel: str, old: str, new: str) -> None:
        path = self.root / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new))


@pytest.fixture
def scratch(tmp_path: Path) -> Scratch:
    for rel in COPIED:
        source, target = REPO_ROOT / rel, tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    return Scratch(tmp_path)


def env_set(container: dict, name: str, entry: dict | None) -> None:
    """Sets (entry) or removes (None) env var `name` of a container."""
    env = [e for e in container.get("env", []) if e["name"] != name]
    if entry is not None:
        env.append(dict(entry, name=name))
    container["env"] = env


def assert_fails(errors: list[str], *fragments: str) -> None:
    """Some error mentions every fragment."""
    assert errors, "the check passed a broken copy"
    assert any(all(f in e for f in fragments) for e in errors), \
        f"no error mentions {fragments}; got:\n" + "\n".join(errors)
