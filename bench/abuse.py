"""Two attacks on a real service, and what a normal client sees meanwhile.

For each framework: renders the default variant (Redis store, SQLite users) from the
template at ``--ref`` (HEAD by default, uncommitted changes included), and for each attack
starts ``python -m <package> serve`` afresh, with a soft descriptor limit of 1024 (the
usual default; the hard one as it is), on its own SQLite file and a private redis-server.
Two probe threads send ``GET /health`` and ``GET /auth/me`` (with a valid access token),
each on a new connection every 50 ms (10 s timeout), for three phases of ``--seconds``:
before the attack, during it, after it stopped. Each table gives the p50 and max of the
probes' times (of every probe: a failed one's until it failed) and how many failed
(connection error, timeout, or a status other than 200) of how many were sent.

- Slow sockets: ``--sockets`` connections, a third sending nothing, a third trickling
  their headers (one byte every 2 s), a third trickling a declared 60,000-byte body of a
  login (one byte every 5 s). One the server closes is opened again half a second later,
  as an attacker would: how many it closed is counted, with the answers it sent first.
- Login flood: ``--logins`` clients (one run per count), each posting a login of an
  unknown email on its own keep-alive connection, the next once the last is answered. The
  login and registration rate limits are raised to 1000000/60 for this run, so that they
  do not hide the cost of the password hash: answers are counted by status, and those with
  a ``Retry-After`` header; a login unanswered after 10 s is counted as timed out.

Loopback only; every server and socket is closed at the end, also on an error or Ctrl-C.
The bench raises its own soft descriptor limit to the hard one, for its sockets.

    .venv/bin/python bench/abuse.py [--frameworks fastapi flask django] [--sockets 1100]
        [--logins 40 100] [--seconds 10] [--ref HEAD]
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import http.client
import json
import os
import random
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import redis
from compare import load_average, machine, on_a_free_port
from servers import PASSWORD, ROOT, Service, render, start_redis, stop_all

FRAMEWORKS = ("fastapi", "flask", "django")
PHASES = ("before", "during", "after")
PATHS = ("/health", "/auth/me")
SERVER_DESCRIPTORS = 1024  # the soft limit the service is started with
PROBE_INTERVAL = 0.05  # seconds from one probe's start to the next one's
TIMEOUT = 10.0  # seconds a probe or a login waits on its socket
HEADER_EVERY = 2.0  # seconds between two trickled header bytes
BODY_EVERY = 5.0  # seconds between two trickled body bytes
REOPEN_AFTER = 0.5  # seconds from the server's close to the attacker's next connect
KINDS = ("silent", "header", "body")
HEADER_START = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "
BODY_HEAD = (
    b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n"
)
UNLIMITED = "1000000/60"
LIMITS = ("RATE_LIMIT_LOGIN", "RATE_LIMIT_LOGIN_IP", "RATE_LIMIT_REGISTER")


# --------------------------------------------------------------------------- probes


class Probes:
    """One thread per path: a GET on a new connection every PROBE_INTERVAL, its time and
    whether it failed recorded under the phase it started in."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.phase = PHASES[0]
        self.times = {(path, phase): [] for path in PATHS for phase in PHASES}
        self.failed = Counter()  # (path, phase)
        self.reasons = Counter()  # (phase, path, reason)
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(p,), daemon=True) for p in PATHS]

    def probe(self, path: str) -> tuple[float, str | None]:
        """Milliseconds, and why it failed (None: 200)."""
        headers = {"Authorization": f"Bearer {self.token}"} if path == "/auth/me" else {}
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            reason = None if response.status == 200 else f"status {response.status}"
        except TimeoutError:
            reason = "timed out"
        except (OSError, http.client.HTTPException) as error:
            reason = type(error).__name__
        finally:
            connection.close()
        return (time.perf_counter() - started) * 1000, reason

    def run(self, path: str) -> None:
        while not self.done.is_set():
            phase, started = self.phase, time.monotonic()
            took, reason = self.probe(path)
            self.times[(path, phase)].append(took)
            if reason:
                self.failed[(path, phase)] += 1
                self.reasons[(phase, path, reason)] += 1
            self.done.wait(max(0.0, started + PROBE_INTERVAL - time.monotonic()))

    def __enter__(self) -> Probes:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(TIMEOUT + 5)


# --------------------------------------------------------------------------- slow sockets


class Slot:
    """One of the attacker's sockets; reopened when the server closes it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.sock: socket.socket | None = None
        self.connected = False
        self.answered = False
        self.due = 0.0  # the next byte, or the next connect while sock is None


class SlowSockets:
    """``count`` sockets kept open by one thread (a selector) inside ``with``."""

    def __init__(self, port: int, count: int, server_pid: int) -> None:
        self.address = ("127.0.0.1", port)
        self.server_pid = server_pid
        self.slots = [Slot(KINDS[i % len(KINDS)]) for i in range(count)]
        self.selector = selectors.DefaultSelector()
        self.connects = self.closed = self.failed = 0
        self.answers = Counter()  # the first line of what the server sent on a socket
        self.most_descriptors = 0  # the server's, sampled
        self.error = ""  # why the attacking thread stopped early, if it did
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def open(self, slot: Slot, now: float) -> None:
        self.connects += 1
        slot.connected = slot.answered = False
        try:
            slot.sock = socket.socket()
        except OSError:
            self.failed += 1
            slot.due = now + REOPEN_AFTER
            return
        slot.sock.setblocking(False)
        code = slot.sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS):
            self.failed += 1
            self.drop(slot, now)
            return
        self.selector.register(slot.sock, selectors.EVENT_WRITE, slot)
        if code == 0:
            self.connected(slot, now)

    def connected(self, slot: Slot, now: float) -> None:
        slot.connected = True
        self.selector.modify(slot.sock, selectors.EVENT_READ, slot)
        first = {"silent": b"", "header": HEADER_START, "body": BODY_HEAD}[slot.kind]
        every = HEADER_EVERY if slot.kind == "header" else BODY_EVERY
        slot.due = now + random.uniform(0, every)  # spread over the interval
        if first:
            self.send(slot, first, now)

    def send(self, slot: Slot, data: bytes, now: float) -> None:
        try:
            slot.sock.send(data)
        except BlockingIOError:
            pass
        except OSError:
            self.closed += 1
            self.drop(slot, now)

    def drop(self, slot: Slot, now: float) -> None:
        if slot.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(slot.sock)
            slot.sock.close()
        slot.sock, slot.connected = None, False
        slot.due = now + REOPEN_AFTER

    def readable(self, slot: Slot, now: float) -> None:
        if not slot.connected:  # the connect finished, or failed
            if slot.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self.failed += 1
                self.drop(slot, now)
            else:
                self.connected(slot, now)
            return
        try:
            data = slot.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.closed += 1
            self.drop(slot, now)
        elif not slot.answered:
            slot.answered = True
            self.answers[data.split(b"\r\n", 1)[0].decode("latin-1")[:40]] += 1

    def sample_server(self) -> None:
        with contextlib.suppress(OSError):
            held = len(os.listdir(f"/proc/{self.server_pid}/fd"))
            self.most_descriptors = max(self.most_descriptors, held)

    def run(self) -> None:
        try:
            self.hold()
        except Exception as error:  # reported in the summary; the bench goes on
            self.error = f"{type(error).__name__}: {error}"

    def hold(self) -> None:
        sampled = 0.0
        while not self.done.is_set():
            now = time.monotonic()
            for slot in self.slots:
                if slot.sock is None:
                    if now >= slot.due:
                        self.open(slot, now)
                elif slot.connected and slot.kind != "silent" and now >= slot.due:
                    slot.due = now + (HEADER_EVERY if slot.kind == "header" else BODY_EVERY)
                    self.send(slot, b"x" if slot.kind == "header" else b" ", now)
            for key, _ in self.selector.select(timeout=0.05):
                self.readable(key.data, time.monotonic())
            if now - sampled >= 0.5:
                self.sample_server()
                sampled = now

    def state(self) -> tuple[int, int]:
        """(connected, still connecting)"""
        connected = sum(slot.connected for slot in self.slots)
        pending = sum(slot.sock is not None and not slot.connected for slot in self.slots)
        return connected, pending

    def __enter__(self) -> SlowSockets:
        self.thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.done.set()
        self.thread.join(10)
        self.held = self.state()
        for slot in self.slots:
            if slot.sock is not None:
                slot.sock.close()
        self.selector.close()

    def summary(self) -> str:
        connected, pending = self.held
        answers = ", ".join(f"{line!r} ×{n}" for line, n in self.answers.most_common(4))
        return (
            f"sockets: {len(self.slots)} held open by reopening (at the end {connected} "
            f"connected, {pending} still connecting); closed by the server: {self.closed}; "
            f"its answers: {answers or 'none'}; connects {self.connects}, "
            f"failed {self.failed}; the server's descriptors: at most {self.most_descriptors}"
        ) + (f"; the attack stopped early: {self.error}" if self.error else "")


# --------------------------------------------------------------------------- login flood


class LoginFlood:
    """``clients`` threads posting logins of unknown emails, one at a time each."""

    def __init__(self, port: int, clients: int) -> None:
        self.port = port
        self.answers = Counter()  # status, "timed out" or "failed (the error)"
        self.retry_after = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]

    def run(self) -> None:
        connection = None
        headers = {"Content-Type": "application/json"}
        while not self.done.is_set():
            email = f"nobody-{uuid.uuid4().hex[:16]}@example.com"
            body = json.dumps({"email": email, "password": PASSWORD})
            retry = False
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
                connection.request("POST", "/auth/login", body, headers)
                response = connection.getresponse()
                response.read()
                answer, retry = response.status, response.getheader("Retry-After") is not None
            except (OSError, http.client.HTTPException) as error:
                timed_out = isinstance(error, TimeoutError)
                answer = "timed out" if timed_out else f"failed ({type(error).__name__})"
                if connection is not None:
                    connection.close()
                connection = None
                self.done.wait(0.05)  # no spinning on a refused connect
            with self.lock:
                self.answers[answer] += 1
                self.retry_after += retry
        if connection is not None:
            connection.close()

    def __enter__(self) -> LoginFlood:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.done.set()
        for thread in self.threads:  # each ends once its last login is answered
            thread.join(TIMEOUT + 5)

    def summary(self) -> str:
        statuses = ", ".join(f"{status} ×{self.answers[status]}" for status in (200, 401, 429, 503))
        others = sorted(
            (str(k), n) for k, n in self.answers.items() if k not in (200, 401, 429, 503)
        )
        other = ", ".join(f"{k} ×{n}" for k, n in others) or "none"
        return (
            f"logins answered: {statuses}; other: {other}; "
            f"with Retry-After: {self.retry_after}; total {sum(self.answers.values())}"
        )


# --------------------------------------------------------------------------- running


def descriptor_limit(pid: int) -> str:
    """The soft RLIMIT_NOFILE of a running process, from /proc."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return line.split()[3]
    return "unknown"


def raise_own_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1_048_576)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < needed:
        sys.exit(f"{needed} descriptors are needed, the hard limit allows {soft}: ulimit -Hn")
    return soft


def revision(ref: str) -> str:
    found = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", f"{ref}^{{commit}}"],
        capture_output=True, text=True, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )  # fmt: skip
    if found.returncode:
        sys.exit(f"--ref {ref}: not a commit of {ROOT}")
    return found.stdout.strip()


def run_attack(attack: str, amount: int, project: Path, python: Path, store: int,
               workdir: Path, seconds: float) -> dict:  # fmt: skip
    """A fresh service, its three phases under the probes; the table's figures."""
    redis.Redis(port=store).flushall()
    settings = {"REDIS_URL": f"redis://127.0.0.1:{store}/0"}
    if attack == "logins":
        settings.update(dict.fromkeys(LIMITS, UNLIMITED))
    service = on_a_free_port(
        lambda where: Service(project, python, where, descriptors=SERVER_DESCRIPTORS, **settings),
        workdir,
    )
    try:
        token = service.login(f"probe-{uuid.uuid4().hex[:8]}@example.com")["access_token"]
        limit = descriptor_limit(service.process.pid)
        with Probes(service.port, token) as probes:
            time.sleep(seconds)
            probes.phase = "during"
            if attack == "sockets":
                attacker = SlowSockets(service.port, amount, service.process.pid)
            else:
                attacker = LoginFlood(service.port, amount)
            with attacker:
                time.sleep(seconds)
            probes.phase = "after"
            time.sleep(seconds)
        alive = service.process.poll() is None
    finally:
        service.stop()
    return {"probes": probes, "summary": attacker.summary(), "limit": limit, "alive": alive}


def cell_times(times: list[float]) -> tuple[str, str]:
    if not times:
        return "n/a", "n/a"
    return f"{statistics.median(times):.1f}", f"{max(times):.1f}"


def report(framework: str, heading: str, result: dict) -> None:
    probes: Probes = result["probes"]
    print(f"\n### {framework}: {heading}\n")
    print(
        "| phase | /health p50 ms | /health max ms | /health failed "
        "| /auth/me p50 ms | /auth/me max ms | /auth/me failed |"
    )
    print("|---|---|---|---|---|---|---|")
    for phase in PHASES:
        cells = []
        for path in PATHS:
            times = probes.times[(path, phase)]
            cells += [*cell_times(times), f"{probes.failed[(path, phase)]} of {len(times)}"]
        print(f"| {phase} | {' | '.join(cells)} |")
    print(f"\n{result['summary']}")
    server = f"server: soft descriptor limit {result['limit']} once started"
    if not result["alive"]:
        server += "; it had exited before the end (see its log)"
    print(server)
    if probes.reasons:
        failures = "; ".join(
            f"{phase} {path} {reason} ×{n}"
            for (phase, path, reason), n in sorted(probes.reasons.items(), key=lambda item: (
                PHASES.index(item[0][0]), item[0][1], -item[1]))
        )  # fmt: skip
        print(f"failed probes: {failures}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--sockets", type=int, default=1100, help="slow sockets held open")
    parser.add_argument("--logins", type=int, nargs="+", default=[40], help="login clients")
    parser.add_argument("--seconds", type=float, default=10, help="per phase")
    parser.add_argument("--ref", default="HEAD", help="the template's git ref to render")
    args = parser.parse_args()
    started = time.monotonic()
    own = raise_own_limit(args.sockets + max(args.logins) + 200)
    print(f"command: {' '.join(['bench/abuse.py', *sys.argv[1:]])}")
    print(f"template: {revision(args.ref)} ({args.ref})")
    print(f"machine: {machine()}")
    print(f"load average before: {load_average()}")
    print(
        f"{args.seconds:g} s per phase; probes every {PROBE_INTERVAL * 1000:.0f} ms, "
        f"timeout {TIMEOUT:g} s; server started with a soft descriptor limit of "
        f"{SERVER_DESCRIPTORS}, the bench's own {own}"
    )
    processes = []
    with tempfile.TemporaryDirectory(prefix="tripwire-abuse-") as tmp:
        try:
            process, store = start_redis(Path(tmp) / "redis")
            processes.append(process)
            for framework in args.frameworks:
                project = Path(tmp) / framework / "project"
                python = render(project, framework, args.ref)
                version = subprocess.run([str(python), "-V"], capture_output=True, text=True)
                print(f"\n{framework}: {version.stdout.strip()}", flush=True)
                runs = [("sockets", args.sockets)] + [("logins", n) for n in args.logins]
                for attack, amount in runs:
                    where = Path(tmp) / framework / f"{attack}-{amount}"
                    result = run_attack(attack, amount, project, python, store, where,
                                        args.seconds)  # fmt: skip
                    if attack == "sockets":
                        heading = (
                            f"slow sockets ({amount}: a third silent, a third trickling "
                            "headers, a third a body)"
                        )
                    else:
                        heading = f"login flood ({amount} clients, unknown emails)"
                    report(framework, heading, result)
                    sys.stdout.flush()
        finally:
            stop_all(processes)
    print(f"\nload average after: {load_average()}")
    print(f"took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
