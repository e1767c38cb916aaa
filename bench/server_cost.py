"""What the server model costs a WSGI app: one app, three servers, at 1 worker.

For each WSGI framework this renders the default variant (for its WSGI server and venv)
and starts its floor app (bench/floor: a PyJWT decode, one Redis GET, one SELECT) three
times side by side, each on its own redis-server and SQLite file:

- ``ours``: the rendered service's own server, uvicorn with its ``WholeRequests``, at the
  service's thread count on this machine (as ``serve`` and bench/compare.py run it);
- ``ours-1``: the same server with one serving thread;
- ``gunicorn``: gunicorn's sync worker (one thread, the connection closed after each
  answer), which the Flask and Django deployment guides use, and the peers of
  ``compare.py --peer-server documented`` run on.

wrk loads each in turn with ``GET /me``, the order rotated over rounds, and this prints
each run's req/s, p50, p99 and the server's CPU µs per request, then each server ÷ ``ours``
(taken inside one round: median (min–max) over rounds). The app is the same in all
three: the ratios are what the server alone gives or takes. A sync worker reads a request
in the thread that serves it, so one slow client holds it (bench/abuse.py's attack);
``ours`` reads every request whole on its event loop first, and serves in threads that
hand Python's lock to each other at every socket and database call.

    .venv/bin/python bench/server_cost.py [--frameworks flask django] [--rounds 4]
        [--seconds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compare import (
    THREADS,
    Launched,
    app_login,
    end_report,
    freeze,
    on_a_free_port,
    process_tree,
    spread,
    start_report,
    uv,
    wsgi_server,
    wsgi_threads,
)
from keys import wrk_with_cpu
from servers import render, start_redis, stop_all

FRAMEWORKS = ("flask", "django")
SERVERS = ("ours", "ours-1", "gunicorn")


def environments(project: Path, threads: str) -> dict[str, dict[str, str]]:
    """serve.py's settings for each server (bench/floor/serve.py); ``threads``: ours'."""
    ours = {"BENCH_WSGI_SERVER": wsgi_server(project), "WORKERS": "1"}
    return {
        "ours": {**ours, "THREADS": threads},
        "ours-1": {**ours, "THREADS": "1"},
        "gunicorn": {"BENCH_SERVER": "gunicorn", "WORKERS": "1"},
    }


def load(wrk_bin: str, app: Launched, access: str, pids: list[int], args) -> dict:
    """One wrk run of ``GET /me``: good req/s, p50 and p99 (ms), CPU µs per request."""
    command = [wrk_bin, f"-t{THREADS}", f"-c{args.connections}", f"-d{args.seconds}s",
               "--latency", "-H", f"Authorization: Bearer {access}", app.base + "/me"]  # fmt: skip
    return wrk_with_cpu(command, pids, args.seconds)


def run_framework(framework: str, args, wrk_bin: str, workdir: Path) -> dict[str, list[dict]]:
    project = workdir / "project"
    python = render(project, framework)
    # gunicorn beside the floor in the rendered venv, as the documented peers get it.
    subprocess.run([uv(), "pip", "install", "-q", "--compile-bytecode", "--python", str(python),
                    "gunicorn"], check=True)  # fmt: skip
    versions = freeze(python)
    threads = wsgi_threads(project, python)
    stack = (framework, "uvicorn", "uvloop", "httptools", "gunicorn")
    print(f"\n{framework}: " + ", ".join(f"{n} {versions[n]}" for n in stack if n in versions)
          + f"; ours' thread count here {threads}", flush=True)  # fmt: skip
    started: list = []
    try:
        apps, tokens, pids = {}, {}, {}
        for server, env in environments(project, threads).items():
            redis_process, port = start_redis(workdir / f"redis-{server}")
            started.append(redis_process)
            env = {**env, "BENCH_REDIS_URL": f"redis://127.0.0.1:{port}/0"}
            apps[server] = on_a_free_port(
                lambda where, e=env: Launched(python, f"{framework}_floor", where, e),
                workdir / server,
            )  # fmt: skip
            started.append(apps[server])
            tokens[server] = app_login(f"{framework}_floor", apps[server].base)[0]
            pids[server] = process_tree(apps[server].process.pid)
        runs: dict[str, list[dict]] = {server: [] for server in SERVERS}
        for server in SERVERS:  # warm-up, not counted
            load(wrk_bin, apps[server], tokens[server], pids[server], args)
        for round_index in range(args.rounds):
            shift = round_index % len(SERVERS)
            for server in SERVERS[shift:] + SERVERS[:shift]:
                run = load(wrk_bin, apps[server], tokens[server], pids[server], args)
                runs[server].append(run)
                print(f"  {framework:<7} round {round_index + 1} {server:<8} {run['rate']:8.1f} "
                      f"req/s  p50 {run['p50']:6.2f} ms  p99 {run['p99']:7.2f} ms  CPU "
                      f"{run['cpu']:6.0f} µs/req" + (f"  NON-2XX {run['errors']}"
                                                    if run["errors"] else ""),
                      flush=True)  # fmt: skip
        return runs
    finally:
        for item in reversed(started):
            stop_all([item]) if isinstance(item, subprocess.Popen) else item.stop()


def report(results: dict[str, dict[str, list[dict]]], rounds: int) -> None:
    print(f"\n### GET /me of the floor app, 1 worker (median of {rounds} rounds)\n")
    print("| framework | server | req/s | p50 ms | p99 ms | CPU µs/req | req/s ÷ ours |")
    print("|---|---|---|---|---|---|---|")
    for framework, runs in results.items():
        for server in SERVERS:
            median = {
                k: statistics.median(r[k] for r in runs[server])
                for k in ("rate", "p50", "p99", "cpu")
            }
            ratios = [
                a["rate"] / b["rate"] for a, b in zip(runs[server], runs["ours"], strict=True)
            ]
            print(f"| {framework} | {server} | {median['rate']:.0f} | {median['p50']:.2f} | "
                  f"{median['p99']:.2f} | {median['cpu']:.0f} | {spread(ratios)} |")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=3, help="per load run")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    started = time.monotonic()
    wrk_bin = start_report("bench/server_cost.py", args, "1 worker")
    results = {}
    with tempfile.TemporaryDirectory(prefix="tripwire-server-cost-") as tmp:
        for framework in args.frameworks:
            results[framework] = run_framework(framework, args, wrk_bin, Path(tmp) / framework)
    report(results, args.rounds)
    failures = sum(run["errors"] for runs in results.values() for r in runs.values() for run in r)
    return end_report(started, failures)


if __name__ == "__main__":
    sys.exit(main())
