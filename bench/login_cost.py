"""Redis time of one login's store write, against the number of sessions the user holds.

Renders the default variant, starts a private redis-server on a free port, and times the
session-creating script of the rendered Redis store (Redis' own per-call time from
``INFO commandstats``, so neither the network nor Python is counted) for a user who
already holds each given number of sessions (the cap raised above it for the run).

    .venv/bin/python bench/login_cost.py [--sessions 5 5000] [--logins 200]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import copier
import redis
from servers import PACKAGE, ROOT, start_redis


def script_usec(client: redis.Redis) -> tuple[int, int]:
    stats = client.info("commandstats")
    calls = usec = 0
    for name in ("cmdstat_evalsha", "cmdstat_eval"):
        calls += stats.get(name, {}).get("calls", 0)
        usec += stats.get(name, {}).get("usec", 0)
    return calls, usec


def measure(store_module, token_store, client, held: int, logins: int) -> float:
    """Mean Redis µs of one login's script for a user holding ``held`` sessions."""
    store = store_module.RedisTokenStore.on_client(client, f"bench-{uuid.uuid4().hex[:8]}:")
    user = str(uuid.uuid4())
    cap = held + logins + 1
    now = time.time()

    def create() -> None:
        session = token_store.Session(uuid.uuid4().hex, now, now, now + 86_400, "bench", "-")
        new = token_store.NewSession(session, uuid.uuid4().hex, now + 3600, int(now))
        store.create_session(user, new, None, cap)

    for _ in range(held):
        create()
    client.config_resetstat()
    before = script_usec(client)
    for _ in range(logins):
        create()
    after = script_usec(client)
    calls = after[0] - before[0]
    assert calls == logins, calls
    return (after[1] - before[1]) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[5, 5000])
    parser.add_argument("--logins", type=int, default=200)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=copier.errors.DirtyLocalWarning)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        copier.run_copy(
            str(ROOT), str(project), data={"project_name": "Bench Service"},
            defaults=True, quiet=True, vcs_ref="HEAD",
        )  # fmt: skip
        sys.path.insert(0, str(project / "src"))
        store_module = importlib.import_module(f"{PACKAGE}.repositories.redis_store")
        token_store = importlib.import_module(f"{PACKAGE}.services.token_store")
        process, port = start_redis(Path(tmp) / "redis")
        client = redis.Redis(port=port, decode_responses=True)
        try:
            version = client.info("server")["redis_version"]
            print(f"redis {version}; {args.logins} logins per row; Redis-side µs per login")
            print(f"{'sessions held':>14}  {'µs per login':>12}")
            for held in args.sessions:
                usec = measure(store_module, token_store, client, held, args.logins)
                print(f"{held:>14}  {usec:>12.1f}")
        finally:
            process.terminate()
            process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
