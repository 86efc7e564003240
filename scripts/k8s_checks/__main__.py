"""python -m k8s_checks [--root DIR]: validate every manifest strictly against the Kubernetes
schemas, then run every consistency check; exit 1 if anything fails."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import contract
from .checks import CHECKS
from .model import LoadError, Repo
from .schema import check_schemas


def run(root: Path) -> int:
    repo = Repo(root)
    failed = 0
    named = [(f"schema (Kubernetes {contract.K8S_VERSION}, strict)", check_schemas)] + list(CHECKS.items())
    for name, check in named:
        try:
            errors = check(repo)
        except LoadError as error:
            errors = [str(error)]
        status = "ok" if not errors else f"FAILED ({len(errors)})"
        print(f"  {name:<40} {status}")
        for error in errors:
            print(f"      - {error}")
        failed += bool(errors)
    files = repo.manifest_files()
    print(f"  {len(files)} manifest files, {len(repo.resources())} resources checked" if not failed
          else f"  {failed} check(s) failed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="k8s_checks", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2],
                        help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    return run(args.root)


if __name__ == "__main__":
    sys.exit(main())
