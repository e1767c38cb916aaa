"""How long ``POST /auth/password/forgot`` takes for an account's email and for an unknown
one, with an SMTP server that takes 2 s per message: the answer must not wait for it
(nor tell, by its time, whether the address is an account's).

For each framework: renders the default variant (Redis store, SQLite users) from the
template at ``--ref``, starts ``python -m <package> serve`` on a private redis-server with
``EMAIL_BACKEND=smtp`` pointing at an aiosmtpd server of this process, registers one
account, then sends ``--requests`` forgot requests for its email and as many for unknown
ones, interleaved, one at a time on one keep-alive connection. The mail rate limit is
raised for the run (it would otherwise refuse all but 5 per address an hour). Prints the
median, p99 and max per kind, and how many mails the SMTP server got while it ran.

    .venv/bin/python bench/forgot.py [--frameworks fastapi flask django] [--requests 200]
        [--smtp-seconds 2] [--ref HEAD]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller
from compare import load_average, machine
from servers import Service, free_port, render, start_redis, stop_all

FRAMEWORKS = ("fastapi", "flask", "django")


class SlowSink:
    """An SMTP handler that keeps nothing and answers each message after a delay."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.received = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        await asyncio.sleep(self.seconds)
        self.received += 1
        return "250 OK"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(service: Service, email: str, requests: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    try:
        for n in range(requests * 2):
            kind = "known" if n % 2 == 0 else "unknown"
            address = email if kind == "known" else f"nobody-{uuid.uuid4().hex[:12]}@example.com"
            body = json.dumps({"email": address})
            started = time.perf_counter()
            connection.request(
                "POST", "/auth/password/forgot", body, {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            times[kind].append((time.perf_counter() - started) * 1000)
            assert response.status == 202, (kind, response.status)
    finally:
        connection.close()
    return times


def run(framework: str, args: argparse.Namespace, workdir: Path, redis_port: int) -> None:
    project = workdir / framework
    python = render(project, framework, args.ref)
    sink = SlowSink(args.smtp_seconds)
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    service = Service(
        project,
        python,
        workdir / f"{framework}-run",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        REDIS_KEY_PREFIX=f"bench-forgot-{uuid.uuid4().hex[:8]}:",
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(controller.port),
        SMTP_SECURITY="none",
        RATE_LIMIT_EMAIL="1000000/60",
    )
    try:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        service.login(email)  # registers it (its verification mail goes to the sink too)
        started = time.monotonic()
        times = measure(service, email, args.requests)
        took = time.monotonic() - started
        received = sink.received
    finally:
        service.stop()
        controller.stop()
    print(f"\n### {framework}: POST /auth/password/forgot, SMTP {args.smtp_seconds:g} s per mail\n")
    print("| email | requests | median ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    for kind, values in times.items():
        median, p99 = statistics.median(values), percentile(values, 0.99)
        print(f"| {kind} | {len(values)} | {median:.2f} | {p99:.2f} | {max(values):.2f} |")
    ratio = statistics.median(times["known"]) / statistics.median(times["unknown"])
    print(
        f"\nknown ÷ unknown median: {ratio:.2f}; {2 * args.requests} requests in {took:.1f} s; "
        f"mails the SMTP server had answered meanwhile: {received} "
        f"(the rest were still queued in the service)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--requests", type=int, default=200, help="per kind of email")
    parser.add_argument("--smtp-seconds", type=float, default=2.0, help="per message")
    parser.add_argument("--ref", default="HEAD", help="the template's git ref to render")
    args = parser.parse_args()
    print(f"command: bench/forgot.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"machine: {machine()}")
    print(f"load average before: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="tripwire-forgot-") as tmp:
        workdir = Path(tmp)
        redis_process, redis_port = start_redis(workdir / "redis")
        try:
            for framework in args.frameworks:
                run(framework, args, workdir, redis_port)
        finally:
            stop_all([redis_process])
    print(f"\nload average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
