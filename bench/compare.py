"""Tripwire against the library its users would otherwise pick, in each framework.

For each framework: renders the default variant (Redis store, SQLite users), installs it
(bytecode compiled at install, as its Dockerfile does; the peers' too, as pip does), and
starts it next to a peer app (bench/peers) and a floor app (bench/floor) of that
framework: the same server (uvicorn; a WSGI app in the rendered service's own WSGI server,
``uvicorn_server.WholeRequests``, which a WSGI peer, having none, replaces with a2wsgi at
the same thread count; with ``--peer-server documented``, the Flask and Django peers on
gunicorn's sync workers instead, as their documentation deploys them), the same worker count, each
app on its own SQLite file and its own private redis-server, with one registered user.
wrk then loads each app in turn, the order rotated over rounds (A B C, B C A, C A B,
...), at each worker count, and this prints:

- req/s, p50 and p99 of GET of the current user with one valid access token;
- ours ÷ peer and ours ÷ floor, each taken inside one round: median (min–max) over rounds;
- the same for chained refresh (bench/wrk/refresh_chain.lua), where every request sends the
  refresh token returned by the one before, for ours and each peer that has a refresh;
- Redis commands per request: those the app sends (MONITOR, on a few requests after the
  rounds) and all it causes, those run inside Lua scripts included (the private
  redis-server's INFO commandstats over the load runs);
- peak RSS of each server's process tree (the sum of VmRSS, sampled under load).

With several workers, uvicorn's workers accept from one shared socket, and the first to
wake may take most or all of the connections wrk opens at once: such a run measures the
kernel's wake-up order more than the app (16/0 gives about the 1-worker figure). Each line
shows how wrk's connections were spread over the workers; a run in which a worker holds
fewer than half its fair share (4 of 16 at 2 workers) is run again, at most twice more,
by the same rule for every app, and the line says so.

    .venv/bin/python bench/compare.py [--frameworks fastapi flask django] [--workers 1 2]
        [--rounds 4] [--seconds 3] [--connections 16] [--peer-server ours|documented]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from base64 import urlsafe_b64decode
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import redis
from filelock import FileLock
from servers import (
    PACKAGE,
    PASSWORD,
    Service,
    call,
    free_port,
    render,
    start_redis,
    stop_all,
    wait_until,
)

BENCH = Path(__file__).resolve().parent
EMAIL = "bench@example.com"
THREADS = 2  # wrk threads; the refresh script deals the tokens out over them
# The framework and server stack: peer venvs get ours' versions of these, unless the peer
# library's own requirements exclude them (Peer.unpinned). The floor runs in ours' venv.
SHARED = {
    "fastapi", "starlette", "pydantic", "pydantic-core", "anyio", "uvicorn", "uvloop",
    "httptools", "h11", "websockets", "a2wsgi", "flask", "werkzeug", "django", "asgiref",
    "djangorestframework", "redis", "pyjwt", "sqlalchemy", "argon2-cffi",
}  # fmt: skip


@dataclass(frozen=True)
class Peer:
    label: str
    module: str  # in bench/peers
    me: str
    refresh: tuple[str, str, str] | None  # path, request body key, response key
    requirements: tuple[str, ...]
    unpinned: frozenset[str] = frozenset()
    libraries: tuple[str, ...] = ()  # versions to print
    documented: str = "uvicorn"  # the server its own documentation deploys it with


PEERS = {
    "fastapi": Peer(
        "fastapi-users (RedisStrategy)", "fastapi_users_peer", "/users/me", None,
        ("fastapi-users[sqlalchemy,redis]==15.0.5", "aiosqlite==0.22.1", "fastapi",
         "uvicorn[standard]"),
        # fastapi-users[redis] wants redis<8, fastapi-users-db-sqlalchemy sqlalchemy<2.1.
        frozenset({"redis", "sqlalchemy"}),
        ("fastapi-users", "fastapi-users-db-sqlalchemy", "aiosqlite", "redis", "sqlalchemy"),
    ),
    "flask": Peer(
        "flask-jwt-extended (Redis blocklist)", "flask_jwt_peer", "/me",
        ("/refresh", "refresh_token", "refresh_token"),
        ("flask-jwt-extended==4.7.4", "flask-sqlalchemy==3.1.1", "flask", "redis",
         "uvicorn[standard]", "a2wsgi"),
        libraries=("flask-jwt-extended", "flask-sqlalchemy", "redis", "sqlalchemy"),
        documented="gunicorn",  # Flask's "Deploying to Production": sync workers
    ),
    "django": Peer(
        "DRF + simplejwt (JWTAuthentication)", "simplejwt_peer", "/api/me/",
        ("/api/token/refresh/", "refresh", "refresh"),
        ("djangorestframework-simplejwt==5.5.1", "djangorestframework", "django",
         "argon2-cffi", "uvicorn[standard]", "a2wsgi"),
        libraries=("djangorestframework-simplejwt", "djangorestframework"),
        documented="gunicorn",  # Django's "How to use Django with Gunicorn": sync workers
    ),
}  # fmt: skip
STACK = {
    "fastapi": ("fastapi", "starlette", "uvicorn", "uvloop", "httptools"),
    "flask": ("flask", "werkzeug", "uvicorn", "uvloop", "httptools", "a2wsgi"),
    "django": ("django", "djangorestframework", "uvicorn", "uvloop", "httptools", "a2wsgi"),
}
OURS_LIBRARIES = ("redis", "sqlalchemy")
FLOOR_LIBRARIES = ("pyjwt",)  # installed beside ours for the floor alone


# --------------------------------------------------------------------------- environment


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk with apt-get", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, env=env)
        found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is needed: apt-get install wrk (Debian, Ubuntu) or brew install wrk")
    return found


def uv() -> str:
    return shutil.which("uv") or str(Path(sys.executable).parent / "uv")


def freeze(python: Path) -> dict[str, str]:
    out = subprocess.run(
        [uv(), "pip", "freeze", "--python", str(python)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    pins = (line.split("==") for line in out.splitlines() if "==" in line)
    return {name.lower(): version for name, version in pins}


def peer_venv(peer: Peer, python_version: str, ours: dict[str, str]) -> Path:
    """A venv of the peer's requirements (cached across runs), on ours' Python."""
    constraints = sorted(
        f"{name}=={version}"
        for name, version in ours.items()
        if name in SHARED and name not in peer.unpinned
    )
    requirements = (*peer.requirements, *(["gunicorn"] if peer.documented == "gunicorn" else []))
    spec = json.dumps([python_version, requirements, constraints, "bytecode"]).encode()
    cache = Path(os.environ.get("TRIPWIRE_CACHE") or Path.home() / ".cache" / "tripwire")
    venv = cache / "bench" / f"{peer.module}-{hashlib.sha256(spec).hexdigest()[:12]}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    with FileLock(str(venv) + ".lock", timeout=900):
        if not (venv / "complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run(
                [uv(), "venv", "-q", "--python", python_version, str(venv)], check=True, env=env
            )
            (venv / "constraints.txt").write_text("\n".join(constraints) + "\n")
            subprocess.run(
                [uv(), "pip", "install", "-q", "--compile-bytecode",
                 "--python", str(venv / "bin" / "python"),
                 "-c", str(venv / "constraints.txt"), *requirements],
                check=True, env=env,
            )  # fmt: skip
            (venv / "complete").touch()
    return venv / "bin" / "python"


def uvicorn_server(project: Path) -> Path:
    """The rendered service's WSGI server module (``<web>/uvicorn_server.py``)."""
    for path in project.glob("**/uvicorn_server.py"):
        if ".venv" not in path.parts:
            return path
    raise RuntimeError("no uvicorn_server.py in the rendered project: how does it serve now?")


def wsgi_threads(project: Path, python: Path) -> str:
    """The rendered service's WSGI thread count on this machine (its default deployment's
    password hasher admits twice the CPU count), which the floor and a WSGI peer on uvicorn
    get too."""
    module = wsgi_server(project).partition(":")[0]
    code = f"import os; from {module} import thread_count; print(thread_count(2 * os.cpu_count()))"
    return subprocess.run([str(python), "-c", code], check=True, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip


def wsgi_server(project: Path) -> str:
    """``module:class`` of the rendered service's WSGI server, which the WSGI floor runs in."""
    relative = uvicorn_server(project).relative_to(project).with_suffix("")
    parts = relative.parts[1:] if relative.parts[0] == "src" else relative.parts
    return ".".join(parts) + ":WholeRequests"


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    memory = re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.MULTILINE)
    return (
        f"{model.group(1) if model else platform.machine()}, {os.cpu_count()} cores, "
        f"{int(memory.group(1)) / 2**20:.1f} GiB, Linux {platform.release()}"
    )


def template_revision() -> str:
    """The commit the template is rendered from, and whether its work tree differs."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # read only: no index refresh
    git = ["git", "-C", str(BENCH.parent)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, env=env).stdout.strip()  # fmt: skip
    changed = subprocess.run([*git, "status", "--porcelain", "--", "template"],
                             capture_output=True, text=True, env=env).stdout.strip()  # fmt: skip
    return f"{head or 'unknown'}" + (" with uncommitted changes in template/" if changed else "")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# --------------------------------------------------------------------------- apps


def answers(base: str) -> bool:
    try:
        urllib.request.urlopen(base + "/", timeout=5).close()  # noqa: S310
    except urllib.error.HTTPError:
        return True  # any HTTP answer will do: the server is up
    except OSError:
        return False
    return True


def post_form(base: str, path: str, form: dict) -> dict:
    request = urllib.request.Request(
        base + path, data=urllib.parse.urlencode(form).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


class Launched:
    """A floor or peer app: ``serve.py MODULE setup``, then ``serve.py MODULE``."""

    def __init__(self, python: Path, module: str, workdir: Path, env: dict) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "JWT_"))},
            "PYTHONPATH": f"{BENCH / 'floor'}{os.pathsep}{BENCH / 'peers'}",
            "BENCH_SECRET": os.urandom(32).hex(),
            "BENCH_DATABASE": str(workdir / "users.db"),
            "BENCH_EMAIL": EMAIL,
            "BENCH_PASSWORD": PASSWORD,
            "PORT": str(self.port),
            **env,
        }
        serve = [str(python), str(BENCH / "floor" / "serve.py"), module]
        subprocess.run([*serve, "setup"], cwd=workdir, env=env, check=True, capture_output=True)
        self.log = (workdir / "server.log").open("w")
        self.process = subprocess.Popen(serve, cwd=workdir, env=env, stdout=self.log,
                                        stderr=self.log)  # fmt: skip

        def up() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError((workdir / "server.log").read_text()[-2000:])
            return answers(self.base)

        wait_until(up, f"{module} on port {self.port}", 60)

    def stop(self) -> None:
        Service.stop(self)  # the same terminate, wait, kill


@dataclass
class Subject:
    """One app under load: where it is, how to get its tokens, what it measured."""

    role: str  # ours, peer or floor
    label: str
    server: Service | Launched
    store: redis.Redis  # its private redis-server
    me: str
    refresh: tuple[str, str, str] | None
    login: Callable[[], tuple[str, str | None]]  # (access token, refresh token or None)
    access: str = ""
    # gunicorn's sync workers close each connection after its answer: there is no spread
    # of held connections to check.
    closes_connections: bool = False
    pids: list[int] = field(default_factory=list)  # the server's process tree, root first
    peak_rss: int = 0  # KiB, the tree's
    peak_root: int = 0  # KiB, the root process's


def ours_login(base: str, email: str) -> tuple[str, str]:
    for _ in range(10):  # as a client does: a busy hasher (503 server_busy) says when again
        status, pair = call(base, "POST", "/auth/login", {"email": email, "password": PASSWORD})
        if not (status == 503 and pair and pair.get("code") == "server_busy"):
            break
        time.sleep(1)
    assert status == 200, pair
    return pair["access_token"], pair["refresh_token"]


def ours_mint(base: str, count: int) -> list[str]:
    # A new user for each chain set: the default session cap (50 per user) stays out of it.
    email = f"refresh-{uuid.uuid4().hex[:12]}@example.com"
    status, body = call(base, "POST", "/auth/register", {"email": email, "password": PASSWORD})
    assert status == 201, body
    with ThreadPoolExecutor(4) as pool:
        return [pair[1] for pair in pool.map(lambda _: ours_login(base, email), range(count))]


def app_login(module: str, base: str) -> tuple[str, str | None]:
    """(access token, refresh token or None) from a floor or peer app's login route."""
    credentials = {"email": EMAIL, "password": PASSWORD}
    if module.endswith("_floor"):
        status, body = call(base, "POST", "/login")
        assert status == 200, body
        return body["access_token"], None
    if module == "fastapi_users_peer":
        body = post_form(base, "/auth/redis/login", {"username": EMAIL, "password": PASSWORD})
        return body["access_token"], None
    if module == "flask_jwt_peer":
        status, body = call(base, "POST", "/login", credentials)
        assert status == 200, body
        return body["access_token"], body["refresh_token"]
    status, body = call(base, "POST", "/api/token/", {"username": EMAIL, "password": PASSWORD})
    assert status == 200, body
    return body["access"], body["refresh"]


def mint(subject: Subject, count: int) -> list[str]:
    if subject.role == "ours":
        return ours_mint(subject.server.base, count)
    with ThreadPoolExecutor(4) as pool:
        return [pair[1] for pair in pool.map(lambda _: subject.login(), range(count))]


def on_a_free_port(start: Callable[[Path], Service | Launched], workdir: Path):
    """``start(workdir)``, again on a new port and in a new directory if the port was taken
    meanwhile: ``free_port`` finds one free now, and the server binds it only after its
    imports, seconds later, when a client socket may have been given the same number."""
    for attempt in range(2):
        try:
            return start(workdir.with_name(f"{workdir.name}-{attempt}") if attempt else workdir)
        except RuntimeError as error:
            if "Address already in use" not in str(error):
                raise
            print(f"  port taken, starting {workdir.name} again", flush=True)
    return start(workdir.with_name(f"{workdir.name}-2"))


class MailSink:
    """An SMTP server that accepts every message and keeps none: the relay of ours'
    deployment (the bench's registrations send a verification mail each)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.received = 0
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        self.received += 1
        return "250 OK"

    def stop(self) -> None:
        self.controller.stop()


def default_deployment(project: Path, python: Path, workdir: Path, smtp_port: int) -> dict:
    """Ours' settings as a default deployment has every feature of the contract on: the
    audit log at INFO (LOG_LEVEL's default), ``GET /metrics`` open, a signing-key ring made
    by ``keys init`` (its default algorithm, ES256), and mail handed to an SMTP relay."""
    workdir.mkdir(parents=True, exist_ok=True)
    settings = {
        "JWT_SECRET": os.urandom(32).hex(),
        "JWT_KEYS_FILE": str(workdir / "keys.json"),
        "LOG_LEVEL": "INFO",
        "EMAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_SECURITY": "none",  # a relay on loopback
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "JWT_"))}
    subprocess.run([str(python), "-m", PACKAGE, "keys", "init"], cwd=project,
                   env={**env, **settings}, check=True, capture_output=True)  # fmt: skip
    return settings


def start_apps(framework: str, workers: int, project: Path, python: Path, peer_python: Path,
               workdir: Path, cleanup: list, peer_server: str = "uvicorn",
               smtp_port: int = 0) -> list[Subject]:  # fmt: skip
    """Ours, the peer and the floor, each on its own redis-server, started side by side;
    each has its one user and a valid access token; the peer on ``peer_server`` (uvicorn
    as ours, or gunicorn). ``cleanup`` gets what needs stopping."""
    stores = {}
    for role in ("ours", "peer", "floor"):
        process, stores[role] = start_redis(workdir / f"redis-{role}")
        cleanup.append(process)
    peer = PEERS[framework]
    env = {"WORKERS": str(workers)}
    if framework != "fastapi":
        env["THREADS"] = wsgi_threads(project, python)
    # The floor runs on ours' own server: a WSGI floor inside ours' WholeRequests.
    floor_server = {"BENCH_WSGI_SERVER": wsgi_server(project)} if framework != "fastapi" else {}
    starts = {
        "ours": lambda where: Service(
            project, python, where, WORKERS=str(workers),
            **default_deployment(project, python, where, smtp_port),
            REDIS_URL=f"redis://127.0.0.1:{stores['ours']}/0",
            # Login and registration limits only: the chains log in many times.
            RATE_LIMIT_LOGIN="off", RATE_LIMIT_LOGIN_IP="off", RATE_LIMIT_REGISTER="off",
        ),
        "peer": lambda where: Launched(peer_python, peer.module, where,
                                       {**env, "BENCH_REDIS_URL": f"redis://127.0.0.1:{stores['peer']}/0",
                                        "BENCH_SERVER": peer_server}),
        "floor": lambda where: Launched(python, f"{framework}_floor", where,
                                        {**env, **floor_server,
                                         "BENCH_REDIS_URL": f"redis://127.0.0.1:{stores['floor']}/0"}),
    }  # fmt: skip
    with ThreadPoolExecutor(3) as pool:
        futures = {
            role: pool.submit(on_a_free_port, start, workdir / role)
            for role, start in starts.items()
        }
    servers = {role: future.result() for role, future in futures.items() if not future.exception()}
    cleanup.extend(servers.values())
    for future in futures.values():
        if future.exception():
            raise future.exception()
    ours, base = servers["ours"], servers["ours"].base
    subjects = [
        Subject("ours", "Tripwire", ours, redis.Redis(port=stores["ours"]), "/auth/me",
                ("/auth/refresh", "refresh_token", "refresh_token"),
                lambda: ours_login(base, EMAIL)),
        Subject("peer", peer.label, servers["peer"], redis.Redis(port=stores["peer"]), peer.me,
                peer.refresh, lambda: app_login(peer.module, servers["peer"].base)),
        Subject("floor", "floor", servers["floor"], redis.Redis(port=stores["floor"]), "/me",
                None, lambda: app_login(f"{framework}_floor", servers["floor"].base)),
    ]  # fmt: skip
    # Ours registers through its API; the fastapi-users peer through its register router.
    credentials = {"email": EMAIL, "password": PASSWORD}
    for server in (ours, servers["peer"]) if peer.module == "fastapi_users_peer" else (ours,):
        status, body = call(server.base, "POST", "/auth/register", credentials)
        assert status == 201, body
    subjects[1].closes_connections = peer_server == "gunicorn"
    for subject in subjects:
        subject.access = subject.login()[0]
        status, body = call(subject.server.base, "GET", subject.me, token=subject.access)
        assert status == 200, (subject.label, status, body)
    # Ours signs with the ring's ES256 key, which its JWKS publishes.
    status, jwks = call(base, "GET", "/.well-known/jwks.json")
    assert status == 200, jwks
    assert any(key["alg"] == "ES256" for key in jwks["keys"]), jwks
    header = json.loads(urlsafe_b64decode(subjects[0].access.split(".")[0] + "=="))
    assert header["alg"] == "ES256", header
    return subjects


# --------------------------------------------------------------------------- measuring


def process_tree(pid: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")")[-1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                continue
    tree = [pid]
    for parent in tree:  # grows as it goes: children, grandchildren...
        tree += [child for child, of in parents.items() if of == parent]
    return tree


def status_kib(pid: int, name: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(rf"^{name}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def connections_by_process(port: int, pids: list[int]) -> dict[int, int]:
    """How many established TCP connections to ``port`` each of ``pids`` holds."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                sockets.add(f"socket:[{fields[9]}]")
    held = {}
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:  # gone, or a file descriptor closed while listed
            continue
        if count := sum(link in sockets for link in links):
            held[pid] = count
    return held


class LoadSampler:
    """While wrk runs, every 0.2 s: the VmRSS sum of each app's process tree (keeps the
    peak), and how the loaded app's connections are spread over its processes (keeps the
    sample in which it held the most)."""

    def __init__(self, subjects: list[Subject], loaded: Subject) -> None:
        self.subjects, self.loaded, self.done = subjects, loaded, threading.Event()
        self.held: dict[int, int] = {}
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.done.wait(0.2):
            for subject in self.subjects:
                rss = [status_kib(pid, "VmRSS") for pid in subject.pids]
                subject.peak_rss = max(subject.peak_rss, sum(rss))
                subject.peak_root = max(subject.peak_root, rss[0])
            held = connections_by_process(self.loaded.server.port, self.loaded.pids)
            if sum(held.values()) > sum(self.held.values()):
                self.held = held

    def __enter__(self) -> LoadSampler:
        self.thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.done.set()
        self.thread.join()


def milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4}[unit]


def wrk_figures(out: str) -> dict:
    """What a ``wrk --latency`` run printed: good req/s (non-2xx left out), p50 and p99
    (ms), requests, non-2xx answers, socket errors."""
    done = re.search(r"(\d+) requests in ([\d.]+\w+)", out)
    requests, duration = int(done.group(1)), milliseconds(done.group(2)) / 1e3
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(found.group(1)) if found else 0
    socket_errors = re.search(r"Socket errors: (.+)", out)
    return {
        "rate": (requests - errors) / duration,
        "p50": milliseconds(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99": milliseconds(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "requests": requests,
        "errors": errors,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def wrk(wrk_bin: str, subject: Subject, kind: str, seconds: int, connections: int,
        workdir: Path, all_subjects: list[Subject]) -> dict:  # fmt: skip
    """One load run; returns good req/s, p50 and p99 (ms), requests, errors, Redis calls."""
    command = [wrk_bin, f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if kind == "me":
        command += ["-H", f"Authorization: Bearer {subject.access}",
                    subject.server.base + subject.me]  # fmt: skip
    else:
        path, send_key, reply_key = subject.refresh
        tokens = workdir / f"tokens-{subject.role}.txt"
        tokens.write_text("\n".join(mint(subject, connections)) + "\n")
        command += ["-s", str(BENCH / "wrk" / "refresh_chain.lua"), subject.server.base + path,
                    "--", send_key, reply_key, str(tokens), str(THREADS)]  # fmt: skip
    subject.store.config_resetstat()
    with LoadSampler(all_subjects, subject) as sampler:
        out = subprocess.run(command, check=True, capture_output=True, text=True,
                             timeout=seconds + 120).stdout  # fmt: skip
    stats = subject.store.info("commandstats")
    calls = {
        name.removeprefix("cmdstat_"): value["calls"]
        for name, value in stats.items()
        if name not in ("cmdstat_config|resetstat", "cmdstat_info")
    }
    settle(subject.store)
    return {
        **wrk_figures(out),
        "calls": calls,
        "spread": sorted(sampler.held.values(), reverse=True),  # connections per busy process
    }


def settle(store: redis.Redis) -> None:
    """Wait until the app has worked off the requests still queued when wrk stopped (its
    Redis has been quiet for 0.1 s), so that they weigh on neither the next run nor MONITOR."""
    time.sleep(0.1)
    before = store.info("stats")["total_commands_processed"]
    for _ in range(100):
        time.sleep(0.1)
        now = store.info("stats")["total_commands_processed"]
        if now - before <= 1:  # the INFO itself
            return
        before = now


def redis_sent(subject: Subject, kind: str, samples: int = 10) -> tuple[float, float]:
    """(commands the app sent to Redis, commands its Lua scripts ran there) per request,
    from MONITOR over a few sequential requests. INFO commandstats counts both alike, and
    MONITOR slows Redis down, so this runs apart from the load runs."""
    token = mint(subject, 1)[0] if kind == "refresh" else ""
    sent = in_lua = 0
    with subject.store.monitor() as monitor:
        for _ in range(samples):
            if kind == "me":
                status, body = call(subject.server.base, "GET", subject.me, token=subject.access)
            else:
                path, send_key, reply_key = subject.refresh
                status, body = call(subject.server.base, "POST", path, {send_key: token})
                token = body[reply_key]
            assert status == 200, (subject.label, status, body)
        subject.store.echo("bench-mark")  # the end of the sample in MONITOR's stream
        while not (command := monitor.next_command())["command"].endswith("bench-mark"):
            if command["client_type"] == "lua":
                in_lua += 1
            elif not command["command"].startswith(("CLIENT", "HELLO")):  # new connections
                sent += 1
    return sent / samples, in_lua / samples


def run_config(framework: str, workers: int, args, wrk_bin: str, project: Path, python: Path,
               peer_python: Path, workdir: Path) -> dict:  # fmt: skip
    """Start the three apps at ``workers``, load them for every round; their results."""
    cleanup: list = []
    try:
        started = time.monotonic()
        peer_server = PEERS[framework].documented if args.peer_server == "documented" else "uvicorn"
        subjects = start_apps(framework, workers, project, python, peer_python, workdir,
                              cleanup, peer_server, args.smtp_port)  # fmt: skip
        print(f"  {framework} with {workers} worker(s): the three apps up and logged in "
              f"in {time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
        for subject in subjects:
            subject.pids = process_tree(subject.server.process.pid)
            wrk(wrk_bin, subject, "me", 1, args.connections, workdir, [])  # warm-up
        results: dict = {"me": {s.role: [] for s in subjects}, "refresh": {}}
        refreshing = [s for s in subjects if s.refresh]
        for subject in refreshing:
            results["refresh"][subject.role] = []
        for round_index in range(args.rounds):
            for kind, group in (("me", subjects), ("refresh", refreshing)):
                shift = round_index % len(group)
                for subject in group[shift:] + group[:shift]:
                    for attempt in range(3):
                        result = wrk(wrk_bin, subject, kind, args.seconds, args.connections,
                                     workdir, subjects)  # fmt: skip
                        even = subject.closes_connections or balanced(
                            result["spread"], workers, args.connections
                        )
                        if even or attempt == 2:
                            break
                        print(f"  {framework:<7} w{workers} round {round_index + 1} {kind:<7} "
                              f"{subject.role:<5} {result['rate']:>8.1f} req/s  connections "
                              f"{spread_text(result)}: uneven, run again", flush=True)  # fmt: skip
                    results[kind][subject.role].append(result)
                    per_request = sum(result["calls"].values()) / max(result["requests"], 1)
                    print(
                        f"  {framework:<7} w{workers} round {round_index + 1} {kind:<7} "
                        f"{subject.role:<5} {result['rate']:>8.1f} req/s  p50 "
                        f"{result['p50']:6.2f} ms  p99 {result['p99']:7.2f} ms  "
                        f"Redis {per_request:.2f}/req  connections "
                        + ("closed after each answer" if subject.closes_connections
                           else spread_text(result))
                        + ("" if even else " (uneven in 3 runs: kept)")
                        + (f"  NON-2XX {result['errors']}" if result["errors"] else "")
                        + (f"  socket errors: {result['socket_errors']}"
                           if result["socket_errors"] else ""),
                        flush=True,
                    )  # fmt: skip
        results["sent"] = {
            (kind, s.role): redis_sent(s, kind)
            for kind, group in (("me", subjects), ("refresh", refreshing))
            for s in group
        }
        results["apps"] = {
            s.role: {
                "label": s.label,
                "me": s.me,
                "refresh": s.refresh[0] if s.refresh else "",
                "processes": len(s.pids),
                "peak_rss": s.peak_rss,
                "peak_root": s.peak_root,
            }
            for s in subjects
        }
        return results
    finally:
        for item in reversed(cleanup):  # the servers, then their redis-servers
            if isinstance(item, subprocess.Popen):
                stop_all([item])
            else:
                item.stop()


# --------------------------------------------------------------------------- report


def balanced(spread: list[int], workers: int, connections: int) -> bool:
    """Every worker holds at least half its fair share of the connections."""
    least = connections // (2 * workers)
    return len(spread) >= workers and min(spread) >= least


def spread_text(result: dict) -> str:
    return "/".join(map(str, result["spread"])) or "none"


def spread(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def ratios(runs: dict, a: str, b: str) -> list[float]:
    if a not in runs or b not in runs:
        return []
    return [x["rate"] / y["rate"] for x, y in zip(runs[a], runs[b], strict=True) if y["rate"]]


def commandstats(runs: list[dict]) -> str:
    """Commands per request over all rounds' load runs, the largest first."""
    requests = sum(run["requests"] for run in runs) or 1
    totals: dict[str, int] = {}
    for run in runs:
        for name, calls in run["calls"].items():
            totals[name] = totals.get(name, 0) + calls
    top = sorted(totals.items(), key=lambda item: -item[1])
    detail = ", ".join(f"{name} {calls / requests:.2f}" for name, calls in top[:4])
    return f"{sum(totals.values()) / requests:.2f}" + (f" ({detail})" if detail else "")


def table(results: dict, kind: str, verb: str) -> None:
    print("| framework | workers | app | route | req/s | p50 ms | p99 ms "
          "| Redis: sent (+ in Lua) | Redis commandstats under load |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for (framework, workers), result in results.items():
        for role, app in result["apps"].items():
            runs = result[kind].get(role)
            if not runs:
                if role == "peer":
                    print(f"| {framework} | {workers} | {app['label']} | n/a (no refresh) "
                          "| n/a | n/a | n/a | n/a | n/a |")  # fmt: skip
                continue
            sent, in_lua = result["sent"][(kind, role)]
            print(f"| {framework} | {workers} | {app['label']} | `{verb} {app[kind]}` | "
                  f"{statistics.median(r['rate'] for r in runs):.0f} | "
                  f"{statistics.median(r['p50'] for r in runs):.2f} | "
                  f"{statistics.median(r['p99'] for r in runs):.2f} | "
                  f"{sent:.1f} (+ {in_lua:.1f}) | {commandstats(runs)} |")  # fmt: skip


def ratio_table(results: dict, kind: str, args, against: tuple[str, ...]) -> None:
    heads = [f"ours ÷ {other}, {w} w" for other in against for w in args.workers]
    print(f"| framework | peer | {' | '.join(heads)} |")
    print("|---|---|" + "---|" * len(heads))
    for framework in args.frameworks:
        cells = [
            spread(ratios(results[(framework, w)][kind], "ours", other))
            for other in against
            for w in args.workers
        ]
        print(f"| {framework} | {PEERS[framework].label} | {' | '.join(cells)} |")


def report(results: dict, args) -> None:
    rounds = f"median of {args.rounds} round{'s' if args.rounds > 1 else ''}"
    print(f"\n### GET of the current user with one valid access token ({rounds})\n")
    table(results, "me", "GET")
    print("\nRatios of req/s, each taken inside one round: median (min–max) over rounds\n")
    ratio_table(results, "me", args, ("peer", "floor"))
    print(f"\n### Chained refresh: every request sends the last one's token ({rounds})\n")
    table(results, "refresh", "POST")
    print()
    ratio_table(results, "refresh", args, ("peer",))
    print("\nRedis: sent = commands the app sent per request, and + those its Lua scripts ran, "
          "from MONITOR\nover 10 sequential requests after the rounds; commandstats = "
          "INFO commandstats of the app's\nprivate redis-server over the load runs ÷ wrk's "
          "request count (commands inside Lua included).")  # fmt: skip
    print("\n### Memory of each server's process tree, MiB\n")
    print("| framework | workers | app | processes | peak RSS of the tree | of the first process |")
    print("|---|---|---|---|---|---|")
    for (framework, workers), result in results.items():
        for app in result["apps"].values():
            print(f"| {framework} | {workers} | {app['label']} | {app['processes']} | "
                  f"{app['peak_rss'] / 1024:.0f} | {app['peak_root'] / 1024:.0f} |")  # fmt: skip
    print(
        "\nSampled: the largest sum of VmRSS over the tree, read from /proc every 0.2 s during "
        "the load runs\n(not VmHWM, which would count the password hashes of the logins that "
        "make the tokens).\nThe first process is the one started: with 2 workers, the workers' "
        "parent (ours: its own; the floor: uvicorn's supervisor, beside multiprocessing's "
        "resource tracker;\nthe peer: the same, or gunicorn's arbiter)."
    )


def start_report(script: str, args, workers: str, template_note: str = "") -> str:
    """Print what a run is (command, template, machine, load, tool versions, load shape);
    return the wrk binary."""
    wrk_bin = ensure_wrk()
    wrk_version = subprocess.run([wrk_bin, "-v"], capture_output=True, text=True).stdout.split()
    redis_version = subprocess.run(
        [shutil.which("redis-server") or "redis-server", "--version"],
        capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    print(f"command: {' '.join([script, *sys.argv[1:]])}")
    print(f"template: {template_revision()}{template_note}")
    print(f"machine: {machine()}")
    print(f"load average before: {load_average()}")
    print(f"wrk {wrk_version[1]}, redis-server {redis_version[2].removeprefix('v=')}; "
          f"wrk -t{THREADS} -c{args.connections} -d{args.seconds}s per run, "
          f"{args.rounds} rounds, {workers}", flush=True)  # fmt: skip
    return wrk_bin


def end_report(started: float, failures: int) -> int:
    """Print the load after and the time taken; the exit status (1 after non-2xx answers)."""
    print(f"\nload average after: {load_average()}")
    print(f"took {time.monotonic() - started:.0f} s")
    if failures:
        print(f"{failures} non-2xx answers (see the rounds above)", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", nargs="+", default=list(PEERS), choices=list(PEERS))
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=3, help="per load run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--peer-server", choices=("ours", "documented"), default="ours",
        help="the peers on ours' server (uvicorn; a2wsgi for WSGI), or on the one their "
        "documentation deploys them with (gunicorn sync workers for Flask and Django)",
    )  # fmt: skip
    args = parser.parse_args()
    started = time.monotonic()
    workers = f"workers {' and '.join(map(str, args.workers))}"
    wrk_bin = start_report("bench/compare.py", args, workers)
    failures = 0
    results: dict = {}
    sink = MailSink()
    args.smtp_port = sink.port
    print("ours runs as a default deployment: LOG_LEVEL=INFO (the audit log), GET /metrics "
          "on, a key ring from `keys init` (ES256), mail over SMTP to a local relay",
          flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="tripwire-bench-") as tmp:
        for framework in args.frameworks:
            project = Path(tmp) / framework / "project"
            python = render(project, framework)
            python_version = (project / ".python-version").read_text().strip()
            ours = freeze(python)
            peer = PEERS[framework]
            peer_python = peer_venv(peer, python_version, ours)
            theirs = freeze(peer_python)
            version = subprocess.run([str(python), "-V"], capture_output=True, text=True)
            print(
                f"\n{framework}: {version.stdout.strip()}; server stack (all three apps): "
                + ", ".join(f"{name} {ours[name]}" for name in STACK[framework] if name in ours)
                + (
                    f"; WSGI threads {wsgi_threads(project, python)}: ours and the floor in ours' "
                    + (
                        f"WholeRequests, the peer on uvicorn in a2wsgi {theirs.get('a2wsgi')}"
                        if args.peer_server == "ours"
                        else "WholeRequests"
                    )
                    if framework != "fastapi"
                    else ""
                )
            )
            print(
                "  ours and floor: "
                + ", ".join(f"{name} {ours[name]}" for name in OURS_LIBRARIES if name in ours)
                + "; floor: "
                + ", ".join(f"{name} {ours[name]}" for name in FLOOR_LIBRARIES if name in ours)
            )
            print("  peer: " + ", ".join(f"{n} {theirs[n]}" for n in peer.libraries if n in theirs),
                  flush=True)  # fmt: skip
            if args.peer_server == "documented" and peer.documented == "gunicorn":
                print(f"  the peer's server, as its documentation deploys it: gunicorn "
                      f"{theirs['gunicorn']}, sync workers (not the stack above)",
                      flush=True)  # fmt: skip
            for workers in args.workers:
                result = run_config(framework, workers, args, wrk_bin, project, python,
                                    peer_python, Path(tmp) / framework / f"w{workers}")  # fmt: skip
                results[(framework, workers)] = result
                failures += sum(
                    run["errors"] for kind in ("me", "refresh")
                    for runs in result[kind].values() for run in runs
                )  # fmt: skip
    sink.stop()
    print(f"\nmail relay: {sink.received} messages received (ours' registrations)")
    report(results, args)
    return end_report(started, failures)


if __name__ == "__main__":
    sys.exit(main())
