"""What the metrics cost: ``GET /auth/me`` per second with metrics on and off, at 1 worker.

The service has no switch to turn its metrics off (the contract has none), so "off" is the
template just before it had metrics: for each framework this renders the default variant
(Redis store, SQLite users) twice, at HEAD (on) and at ``--off-ref`` (off: by default the
parent of the commit that added the metrics module), and starts one ``serve`` of each,
side by side, on one private redis-server (each its own key prefix and SQLite file), with
one user logged in; "on" is checked to serve ``GET /metrics`` and "off" to answer it 404.
wrk then loads each in turn with ``GET /auth/me`` and the access token, the order swapped
every round so that a noisy neighbour weighs on both alike, and this prints:

- each run's req/s, p50, p99 and the server's CPU per request, as it goes;
- per framework: req/s on and off (median, and each round's), on ÷ off (the ratio taken
  inside one round: median (min–max) over rounds), and the CPU µs per request of each;
- the load average before and after.

On the Redis variant ``serve`` keeps the metrics in prometheus-client's multiprocess mode
even at one worker (the operator commands, other processes, count there too), so "on"
measures that mode: an mmap'd file per process rather than plain memory.

    .venv/bin/python bench/metrics.py [--frameworks fastapi flask django] [--rounds 4]
        [--seconds 2] [--connections 16] [--off-ref REF]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis
from compare import (
    THREADS,
    end_report,
    freeze,
    on_a_free_port,
    process_tree,
    spread,
    start_report,
)
from keys import wrk_with_cpu
from servers import ROOT, Service, render, start_redis, stop_all

FRAMEWORKS = ("fastapi", "flask", "django")
STATES = ("on", "off")
METRICS_MODULE = "template/{{ pkg_dir }}/{{ dirs.application }}/metrics.py.jinja"


@dataclass
class Subject:
    """One service, metrics on or off, and what it measured."""

    state: str
    service: Service
    access: str
    pids: list[int]
    runs: list[dict] = field(default_factory=list)


def before_metrics() -> str:
    """The parent of the commit that added the metrics module."""
    added = subprocess.run(
        ["git", "log", "--format=%H", "--diff-filter=A", "-1", "--", METRICS_MODULE],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    if not added:
        raise SystemExit("no commit adds the metrics module yet: pass --off-ref")
    return f"{added}^"


def metrics_status(base: str) -> int:
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def load(wrk_bin: str, subject: Subject, seconds: int, connections: int,
         store: redis.Redis) -> dict:  # fmt: skip
    """One wrk run of ``GET /auth/me``: good req/s, p50 and p99 (ms), the server's CPU µs
    per request, non-2xx answers."""
    command = [wrk_bin, f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency",
               "-H", f"Authorization: Bearer {subject.access}",
               subject.service.base + "/auth/me"]  # fmt: skip
    return wrk_with_cpu(command, subject.pids, seconds, store)


def run_framework(framework: str, args, wrk_bin: str, workdir: Path) -> tuple[list[Subject], int]:
    projects = {state: workdir / f"project-{state}" for state in STATES}
    pythons = {
        "on": render(projects["on"], framework),
        "off": render(projects["off"], framework, args.off_ref),
    }
    versions = freeze(pythons["on"])
    stack = ("fastapi", "flask", "django", "uvicorn", "a2wsgi", "prometheus-client")
    print(f"\n{framework}: " + ", ".join(f"{n} {versions[n]}" for n in stack if n in versions),
          flush=True)  # fmt: skip
    redis_process, redis_port = start_redis(workdir / "redis")
    store = redis.Redis(port=redis_port)
    subjects: list[Subject] = []
    failures = 0
    try:
        for state in STATES:
            settings = {
                "WORKERS": "1",
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "REDIS_KEY_PREFIX": f"bench-metrics-{uuid.uuid4().hex[:8]}:",
            }
            service = on_a_free_port(
                lambda where, s=state, env=settings: Service(
                    projects[s], pythons[s], where, **env
                ),
                workdir / state,
            )  # fmt: skip
            access = service.login(f"metrics-{uuid.uuid4().hex[:10]}@example.com")["access_token"]
            subjects.append(Subject(state, service, access, process_tree(service.process.pid)))
        on, off = subjects
        if metrics_status(on.service.base) != 200 or metrics_status(off.service.base) != 404:
            raise RuntimeError("'on' must serve GET /metrics and 'off' must not")
        print("  on serves GET /metrics, off answers it 404", flush=True)
        for subject in subjects:  # warm-up, not counted
            load(wrk_bin, subject, 1, args.connections, store)
        for round_index in range(args.rounds):
            order = subjects if round_index % 2 == 0 else subjects[::-1]
            for subject in order:
                result = load(wrk_bin, subject, args.seconds, args.connections, store)
                subject.runs.append(result)
                failures += result["errors"]
                print(
                    f"  {framework:<7} round {round_index + 1} metrics {subject.state:<3} "
                    f"{result['rate']:>8.1f} req/s  p50 {result['p50']:6.2f} ms  "
                    f"p99 {result['p99']:7.2f} ms  CPU {result['cpu']:5.0f} µs/req"
                    + (f"  NON-2XX {result['errors']}" if result["errors"] else ""),
                    flush=True,
                )  # fmt: skip
    finally:
        for subject in subjects:
            subject.service.stop()
        stop_all([redis_process])
    return subjects, failures


def report(results: dict[str, list[Subject]], args) -> None:
    rounds = f"median of {args.rounds} round{'s' if args.rounds > 1 else ''}"
    print(f"\n### GET /auth/me with metrics on and off, 1 worker ({rounds})\n")
    print("| framework | req/s on | req/s off | on ÷ off | per round (on / off) "
          "| CPU µs/req on | off |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for framework, (on, off) in results.items():
        ratio = spread([a["rate"] / b["rate"] for a, b in zip(on.runs, off.runs, strict=True)])
        per_round = ", ".join(f"{a['rate']:.0f} / {b['rate']:.0f}"
                              for a, b in zip(on.runs, off.runs, strict=True))  # fmt: skip
        print(f"| {framework} | {statistics.median(r['rate'] for r in on.runs):.0f} "
              f"| {statistics.median(r['rate'] for r in off.runs):.0f} | {ratio} | {per_round} "
              f"| {statistics.median(r['cpu'] for r in on.runs):.0f} "
              f"| {statistics.median(r['cpu'] for r in off.runs):.0f} |")  # fmt: skip
    print(f"\non ÷ off: inside one round, median (min–max) over rounds. off: the template at "
          f"{args.off_ref}.")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=2, help="per load run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--off-ref", help="the template without metrics (default: before them)")
    args = parser.parse_args()
    args.off_ref = args.off_ref or before_metrics()
    started = time.monotonic()
    wrk_bin = start_report("bench/metrics.py", args, "1 worker", f"; off: {args.off_ref}")
    results: dict[str, list[Subject]] = {}
    failures = 0
    with tempfile.TemporaryDirectory(prefix="tripwire-metrics-") as tmp:
        for framework in args.frameworks:
            results[framework], errors = run_framework(
                framework, args, wrk_bin, Path(tmp) / framework
            )
            failures += errors
    report(results, args)
    return end_report(started, failures)


if __name__ == "__main__":
    sys.exit(main())
