"""What the signing algorithm costs: ``GET /auth/me`` and ``POST /auth/introspect`` per
second with an HS256, an EdDSA and an ES256 key ring, at 1 worker.

For each framework: renders the default variant (Redis store, SQLite users), makes three
rings with the service's own ``python -m <package> keys init --algorithm HS256|EdDSA|ES256``
and starts one ``serve`` on each ring (``JWT_KEYS_FILE``), side by side, on one private
redis-server (each its own key prefix and SQLite file), with ``INTROSPECTION_CLIENTS`` set
and one user logged in; each token's header is checked to name its ring's algorithm. HS256
is a ring too, so that the three differ by the algorithm alone. wrk then loads each service
in turn: ``GET /auth/me`` with the access token, then ``POST /auth/introspect`` of that
token (bench/wrk/introspect.lua: the form body, HTTP Basic client credentials). The order
of the algorithms is rotated over rounds (HS256 EdDSA ES256, EdDSA ES256 HS256, ...), so
that a noisy neighbour on a shared machine weighs on each alike, and this prints:

- each run's req/s, p50, p99 and CPU per request, as it goes;
- per route and algorithm: req/s (median, and each round's), and the server's CPU time per
  request (user and system time of its processes over the run ÷ wrk's request count), each
  also ÷ HS256's, the ratio taken inside one round: median (min–max) over rounds;
- the service's own TokenCodec on each ring, timed in-process before the load runs, the
  algorithms in turns of a few milliseconds each: µs to verify an access token (what both
  routes do first) and to issue a pair (what a login and a refresh do);
- the load average before and after, and after each framework.

After each introspection run the token is introspected once more: ``{"active": true}``,
or the run answered for an inactive token, and this fails.

    .venv/bin/python bench/keys.py [--frameworks fastapi flask django] [--rounds 4]
        [--seconds 2] [--connections 16]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import redis
from compare import (
    THREADS,
    end_report,
    freeze,
    load_average,
    on_a_free_port,
    process_tree,
    settle,
    spread,
    start_report,
    wrk_figures,
)
from servers import PACKAGE, Service, render, start_redis, stop_all

BENCH = Path(__file__).resolve().parent
FRAMEWORKS = ("fastapi", "flask", "django")
ALGORITHMS = ("HS256", "EdDSA", "ES256")  # HS256 first: the others are divided by it
ROUTES = {"me": "GET /auth/me", "introspect": "POST /auth/introspect"}
CLIENT_ID = "bench"
CODEC_REPEATS, CODEC_CALLS = 7, 300
# Run in the rendered service's venv: its own TokenCodec on each ring, as container builds
# it, timed in turns (HS256, EdDSA, ES256, HS256, ...). Reads the rings' settings and tokens
# on stdin, prints µs per call: decode_access (what each request does first) and issue (a
# login's or a refresh's pair: two tokens signed).
CODEC_SCRIPT = f"""
import json, sys, time
from {PACKAGE} import container
from {PACKAGE}.config import Settings

codecs = []
for ring in json.load(sys.stdin):
    settings = Settings.from_env(ring["settings"])
    codec = container.TokenCodec(
        container.build_keys(settings), settings.jwt_secret, settings.jwt_issuer,
        settings.jwt_audience, settings.session_policy,
    )
    codec.decode_access(ring["access"], time.time())  # the service's token verifies here
    codecs.append((ring["algorithm"], codec, ring["access"]))
times = {{algorithm: {{"verify": [], "issue": []}} for algorithm, _, _ in codecs}}
for _ in range({CODEC_REPEATS}):
    for algorithm, codec, access in codecs:
        now = int(time.time())
        started = time.perf_counter()
        for _ in range({CODEC_CALLS}):
            codec.decode_access(access, now)
        times[algorithm]["verify"].append((time.perf_counter() - started) / {CODEC_CALLS} * 1e6)
        ids = codec.successor_ids("bench")
        started = time.perf_counter()
        for _ in range({CODEC_CALLS}):
            codec.issue("user", "session", ids, now, now + 3600)
        times[algorithm]["issue"].append((time.perf_counter() - started) / {CODEC_CALLS} * 1e6)
print(json.dumps(times))
"""


@dataclass
class Ring:
    """One service, signing with a ring of ``algorithm`` keys, and what it measured."""

    algorithm: str
    service: Service
    settings: dict[str, str]  # the service's environment, secrets included
    access: str  # a valid access token it issued
    pids: list[int]  # the server's process tree
    runs: dict[str, list[dict]] = field(default_factory=lambda: {kind: [] for kind in ROUTES})


def make_ring(project: Path, python: Path, path: Path, secret: str, algorithm: str) -> None:
    """``keys init`` of the rendered service, as its operator runs it."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "JWT_"))},
        "JWT_SECRET": secret,
        "JWT_KEYS_FILE": str(path),
    }
    subprocess.run(
        [str(python), "-m", PACKAGE, "keys", "init", "--algorithm", algorithm],
        cwd=project, env=env, check=True, capture_output=True,
    )  # fmt: skip


def start_ring(project: Path, python: Path, workdir: Path, algorithm: str, redis_port: int,
               client_secret: str) -> tuple[Service, dict[str, str]]:  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    secret, keys_file = os.urandom(32).hex(), workdir / "keys.json"
    make_ring(project, python, keys_file, secret, algorithm)
    settings = {
        "WORKERS": "1", "JWT_SECRET": secret, "JWT_KEYS_FILE": str(keys_file),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "REDIS_KEY_PREFIX": f"bench-keys-{uuid.uuid4().hex[:8]}:",
        "INTROSPECTION_CLIENTS": f"{CLIENT_ID}:{client_secret}",
        # Longer than any run: a token that expired would be introspected as inactive.
        "ACCESS_TOKEN_TTL_SECONDS": "3600",
    }  # fmt: skip
    return Service(project, python, workdir, **settings), settings


def header_algorithm(token: str) -> str:
    segment = token.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))["alg"]


def introspect(base: str, basic: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + "/auth/introspect", data=f"token={token}".encode(), method="POST",
        headers={"Authorization": basic, "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def cpu_seconds(pids: list[int]) -> float:
    """User and system time of ``pids`` so far, all their threads'."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def wrk_with_cpu(command: list[str], pids: list[int], seconds: int,
                 store: redis.Redis | None = None) -> dict:  # fmt: skip
    """Run wrk's ``command``: what it printed (``wrk_figures``) and the CPU µs per request
    of ``pids``. ``store`` is settled before the CPU is read, so that the requests still
    queued when wrk stopped weigh on no later run."""
    cpu_before = cpu_seconds(pids)
    out = subprocess.run(command, check=True, capture_output=True, text=True,
                         timeout=seconds + 120).stdout  # fmt: skip
    if store is not None:
        settle(store)
    cpu = cpu_seconds(pids) - cpu_before
    figures = wrk_figures(out)
    return {**figures, "cpu": cpu * 1e6 / max(figures["requests"], 1)}


def load(wrk_bin: str, ring: Ring, kind: str, basic: str, seconds: int, connections: int,
         store: redis.Redis) -> dict:  # fmt: skip
    """One wrk run: good req/s, p50 and p99 (ms), the server's CPU µs per request,
    requests, non-2xx answers, socket errors."""
    command = [wrk_bin, f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    base = ring.service.base
    if kind == "me":
        command += ["-H", f"Authorization: Bearer {ring.access}", base + "/auth/me"]
    else:
        command += ["-H", f"Authorization: {basic}", "-s", str(BENCH / "wrk" / "introspect.lua"),
                    base + "/auth/introspect", "--", ring.access]  # fmt: skip
    figures = wrk_with_cpu(command, ring.pids, seconds, store)
    if kind == "introspect":
        status, answer = introspect(base, basic, ring.access)
        if status != 200 or answer.get("active") is not True:
            raise RuntimeError(f"{ring.algorithm}: the token is no longer active ({status})")
    return figures


def time_codecs(project: Path, python: Path, rings: list[Ring]) -> dict[str, dict[str, float]]:
    """µs per call of each ring's codec in-process, median of the repeats (CODEC_SCRIPT)."""
    rings_in = [
        {"algorithm": r.algorithm, "settings": r.settings, "access": r.access} for r in rings
    ]
    out = subprocess.run(
        [str(python), "-c", CODEC_SCRIPT], cwd=project, input=json.dumps(rings_in),
        env={k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "JWT_"))},
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    return {
        algorithm: {what: statistics.median(values) for what, values in figures.items()}
        for algorithm, figures in json.loads(out).items()
    }


def start_rings(project: Path, python: Path, workdir: Path, redis_port: int, client_secret: str,
                started: list[Service]) -> list[Ring]:  # fmt: skip
    """The three services, started side by side; ``started`` gets each one that started."""
    with ThreadPoolExecutor(len(ALGORITHMS)) as pool:
        futures = {
            algorithm: pool.submit(
                on_a_free_port,
                lambda where, a=algorithm: start_ring(
                    project, python, where, a, redis_port, client_secret
                ),  # fmt: skip
                workdir / algorithm,
            )
            for algorithm in ALGORITHMS
        }
    started.extend(future.result()[0] for future in futures.values() if not future.exception())
    for future in futures.values():
        if future.exception():
            raise future.exception()
    rings = []
    for algorithm, future in futures.items():
        service, settings = future.result()
        access = service.login(f"keys-{uuid.uuid4().hex[:10]}@example.com")["access_token"]
        signed_with = header_algorithm(access)
        if signed_with != algorithm:
            raise RuntimeError(f"the {algorithm} ring's service signed with {signed_with}")
        rings.append(Ring(algorithm, service, settings, access, process_tree(service.process.pid)))
    return rings


def run_framework(
    framework: str, args, wrk_bin: str, workdir: Path
) -> tuple[list[Ring], dict, int]:
    """Render, start, time the codecs, load every round; the rings with their runs, the
    codecs' µs, and the count of non-2xx answers."""
    project = workdir / "project"
    python = render(project, framework)
    versions = freeze(python)
    version = subprocess.run([str(python), "-V"], capture_output=True, text=True).stdout.strip()
    stack = ("fastapi", "flask", "django", "uvicorn", "a2wsgi", "cryptography")
    print(f"\n{framework}: {version}, "
          + ", ".join(f"{name} {versions[name]}" for name in stack if name in versions),
          flush=True)  # fmt: skip
    client_secret = os.urandom(16).hex()
    basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{client_secret}".encode()).decode()
    redis_process, redis_port = start_redis(workdir / "redis")
    store = redis.Redis(port=redis_port)
    services: list[Service] = []
    failures = 0
    try:
        rings = start_rings(project, python, workdir, redis_port, client_secret, services)
        print(f"  {', '.join(ALGORITHMS)} services up; each token's header names its ring's "
              "algorithm", flush=True)  # fmt: skip
        codecs = time_codecs(project, python, rings)
        print("  codec in-process, µs: " + "; ".join(
            f"{algorithm} verify {figures['verify']:.1f}, issue a pair {figures['issue']:.1f}"
            for algorithm, figures in codecs.items()
        ), flush=True)  # fmt: skip
        for ring in rings:  # warm-up, not counted
            for kind in ROUTES:
                load(wrk_bin, ring, kind, basic, 1, args.connections, store)
        for round_index in range(args.rounds):
            shift = round_index % len(rings)
            for kind in ROUTES:
                for ring in rings[shift:] + rings[:shift]:
                    result = load(wrk_bin, ring, kind, basic, args.seconds, args.connections,
                                  store)  # fmt: skip
                    ring.runs[kind].append(result)
                    failures += result["errors"]
                    print(
                        f"  {framework:<7} round {round_index + 1} {ROUTES[kind]:<22} "
                        f"{ring.algorithm:<5} {result['rate']:>8.1f} req/s  p50 "
                        f"{result['p50']:6.2f} ms  p99 {result['p99']:7.2f} ms  "
                        f"CPU {result['cpu']:5.0f} µs/req"
                        + (f"  NON-2XX {result['errors']}" if result["errors"] else "")
                        + (f"  socket errors: {result['socket_errors']}"
                           if result["socket_errors"] else ""),
                        flush=True,
                    )  # fmt: skip
    finally:
        for service in services:
            service.stop()
        stop_all([redis_process])
    print(f"  load average after {framework}: {load_average()}", flush=True)
    return rings, codecs, failures


def against_baseline(runs: list[dict], baseline: list[dict], figure: str) -> str:
    """``figure`` over HS256's in the same round: median (min–max) over rounds."""
    return spread([
        run[figure] / base[figure]
        for run, base in zip(runs, baseline, strict=True)
        if base[figure]
    ])  # fmt: skip


def report(results: dict[str, list[Ring]], codecs: dict[str, dict], args) -> None:
    rounds = f"median of {args.rounds} round{'s' if args.rounds > 1 else ''}"
    print(f"\n### Signing algorithms, 1 worker ({rounds})\n")
    print("| framework | route | algorithm | req/s | req/s per round | ÷ HS256 "
          "| server CPU µs/request | CPU ÷ HS256 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for framework, rings in results.items():
        baseline = rings[0]
        for kind, route in ROUTES.items():
            for ring in rings:
                runs, base = ring.runs[kind], baseline.runs[kind]
                rate = statistics.median(run["rate"] for run in runs)
                per_round = " / ".join(f"{run['rate']:.0f}" for run in runs)
                cpu = statistics.median(run["cpu"] for run in runs)
                rate_ratio, cpu_ratio = (
                    ("1", "1") if ring is baseline
                    else (against_baseline(runs, base, "rate"), against_baseline(runs, base, "cpu"))
                )  # fmt: skip
                print(f"| {framework} | `{route}` | {ring.algorithm} | {rate:.0f} | {per_round} | "
                      f"{rate_ratio} | {cpu:.0f} | {cpu_ratio} |")  # fmt: skip
    print(
        "\n÷ HS256: over HS256's figure in the same round, median (min–max) over rounds. Server "
        "CPU: the user\nand system time of the server's processes over the run ÷ the requests "
        "wrk counted. Each ring\nholds a current and a next key of its algorithm, and the "
        "retired JWT_SECRET key (`keys init`).\np50 and p99 are in the runs above."
    )
    print(f"\n### The service's token codec in-process, µs per call (median of {CODEC_REPEATS} "
          f"× {CODEC_CALLS})\n")  # fmt: skip
    print("| framework | algorithm | verify an access token | ÷ HS256 | issue a pair | ÷ HS256 |")
    print("|---|---|---|---|---|---|")
    for framework, figures in codecs.items():
        base = figures[ALGORITHMS[0]]
        for algorithm in ALGORITHMS:
            verify, issue = figures[algorithm]["verify"], figures[algorithm]["issue"]
            print(f"| {framework} | {algorithm} | {verify:.1f} | {verify / base['verify']:.2f} | "
                  f"{issue:.1f} | {issue / base['issue']:.2f} |")  # fmt: skip
    print(
        "\nverify: `TokenCodec.decode_access`, signature and claims (the store is not asked); "
        "issue:\n`TokenCodec.issue`, an access and a refresh token signed. Timed in turns, "
        "before the load runs."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=2, help="per load run")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    started = time.monotonic()
    wrk_bin = start_report("bench/keys.py", args, "1 worker")
    results: dict[str, list[Ring]] = {}
    codecs: dict[str, dict] = {}
    failures = 0
    with tempfile.TemporaryDirectory(prefix="tripwire-keys-") as tmp:
        for framework in args.frameworks:
            rings, codecs[framework], errors = run_framework(
                framework, args, wrk_bin, Path(tmp) / framework
            )
            results[framework] = rings
            failures += errors
    report(results, codecs, args)
    return end_report(started, failures)


if __name__ == "__main__":
    sys.exit(main())
