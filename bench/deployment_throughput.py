"""Protected-request throughput of one rendered service on a single Redis server and on a
3-master Redis Cluster, side by side.

Renders the default variant of a framework, starts a private redis-server and a private
Cluster, and one real ``serve`` on each. Then ``wrk`` loads ``GET /auth/me`` with one
valid token on each in turn, alternating the order over rounds, and prints req/s, p50 and
p99 per round and the ratio cluster ÷ single (median, min–max).

    .venv/bin/python bench/deployment_throughput.py [--framework fastapi] [--workers 1]
        [--rounds 4] [--seconds 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from servers import Service, render, start_cluster, start_redis, stop_all


def wrk(base: str, token: str, seconds: int, connections: int) -> tuple[float, str, str]:
    """req/s, p50 and p99 of ``GET /auth/me``; any non-2xx answer is an error."""
    result = subprocess.run(
        [shutil.which("wrk") or "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-H", f"Authorization: Bearer {token}", f"{base}/auth/me"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    out = result.stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"\s50%\s+(\S+)", out).group(1)
    p99 = re.search(r"\s99%\s+(\S+)", out).group(1)
    return rate, p50, p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", default="fastapi", choices=["fastapi", "flask", "django"])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk (or brew install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        python = render(root / "project", args.framework)
        single, single_port = start_redis(root / "single")
        nodes, cluster_ports = start_cluster(root / "cluster")
        services = {}
        try:
            common = {"WORKERS": str(args.workers), "REDIS_KEY_PREFIX": "bench:"}
            services["single"] = Service(
                root / "project", python, root / "s1",
                REDIS_URL=f"redis://127.0.0.1:{single_port}/0", **common,
            )  # fmt: skip
            services["cluster"] = Service(
                root / "project", python, root / "s2",
                REDIS_URL=f"redis://127.0.0.1:{cluster_ports[0]}/0", REDIS_CLUSTER="true",
                **common,
            )  # fmt: skip
            tokens = {
                name: service.login(f"{uuid.uuid4().hex[:10]}@example.com")["access_token"]
                for name, service in services.items()
            }
            print(f"{args.framework}, {args.workers} worker(s), wrk -t2 -c{args.connections} "
                  f"-d{args.seconds}s, GET /auth/me, {args.rounds} rounds")  # fmt: skip
            print(f"{'round':>5}  {'deployment':<10} {'req/s':>9} {'p50':>9} {'p99':>9}")
            ratios = []
            for round_number in range(args.rounds):
                order = ["single", "cluster"] if round_number % 2 == 0 else ["cluster", "single"]
                rates = {}
                for name in order:
                    rate, p50, p99 = wrk(
                        services[name].base, tokens[name], args.seconds, args.connections
                    )
                    rates[name] = rate
                    print(f"{round_number + 1:>5}  {name:<10} {rate:>9.1f} {p50:>9} {p99:>9}")
                ratios.append(rates["cluster"] / rates["single"])
            print(
                f"cluster ÷ single: median {statistics.median(ratios):.2f} "
                f"({min(ratios):.2f}–{max(ratios):.2f}) over {len(ratios)} rounds"
            )
        finally:
            for service in services.values():
                service.stop()
            stop_all([single, *nodes])
    return 0


if __name__ == "__main__":
    sys.exit(main())
