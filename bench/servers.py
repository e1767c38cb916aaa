"""What the benchmarks share: free ports, private redis-server processes (a single server
or a 3-master Cluster), a rendered variant with its own virtualenv, and its real server."""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import copier
import redis

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "bench_service"
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


def start_redis(workdir: Path, *args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port),
         "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *args],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def answers() -> bool:
        try:
            return redis.Redis(port=port).ping()
        except redis.ConnectionError:
            return False

    wait_until(answers, f"redis-server on port {port}", 10)
    return process, port


def start_cluster(workdir: Path) -> tuple[list[subprocess.Popen], list[int]]:
    """Three masters, every slot assigned, no replicas."""
    nodes = [
        # The bus port on a free port of its own (by default it is port + 10000).
        start_redis(
            workdir / str(i), "--cluster-enabled", "yes", "--cluster-port", str(free_port())
        )
        for i in range(3)
    ]
    ports = [port for _, port in nodes]
    subprocess.run(
        [shutil.which("redis-cli") or "redis-cli", "--cluster", "create",
         *[f"127.0.0.1:{port}" for port in ports], "--cluster-replicas", "0", "--cluster-yes"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    for port in ports:
        client = redis.Redis(port=port, decode_responses=True)
        wait_until(lambda c=client: c.cluster("info")["cluster_state"] == "ok", "the cluster")
    return [process for process, _ in nodes], ports


def render(destination: Path, framework: str, ref: str = "HEAD") -> Path:
    """The default variant of ``framework`` (Redis store, SQLite users) with a virtualenv,
    rendered from the template at the git ``ref`` (HEAD includes uncommitted changes)."""
    warnings.filterwarnings("ignore", category=copier.errors.DirtyLocalWarning)
    copier.run_copy(
        str(ROOT), str(destination), data={"project_name": "Bench Service", "framework": framework},
        defaults=True, quiet=True, vcs_ref=ref,
    )  # fmt: skip
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    # In the project: uv takes the Python version from its .python-version.
    subprocess.run([uv, "venv", "-q", ".venv"], cwd=destination, check=True, env=env)
    python = destination / ".venv" / "bin" / "python"
    # PyJWT: the floor app (bench/floor), which runs in this venv, decodes with it.
    # Bytecode compiled at install, as the Dockerfile and pip do for the peers: a process
    # that compiles its imports at start keeps several MiB more resident for good.
    subprocess.run(
        [uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(python),
         str(destination), "pyjwt"],
        check=True, env=env,
    )  # fmt: skip
    return python


def call(base: str, method: str, path: str, body=None, token=None) -> tuple[int, dict | None]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def soft_descriptor_limit(limit: int):
    """A ``preexec_fn`` that starts the child with this soft RLIMIT_NOFILE (at most the hard
    limit, which stays as it is)."""

    def apply() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        soft = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return apply


class Service:
    """``python -m <package> serve`` of a rendered project, migrated on its own SQLite;
    ``descriptors``: the soft descriptor limit it is started with (else this process')."""

    def __init__(
        self, project: Path, python: Path, workdir: Path, *, descriptors: int | None = None,
        **settings: str,
    ) -> None:  # fmt: skip
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "JWT_"))},
            "JWT_SECRET": os.urandom(32).hex(),
            "DATABASE_URL": f"sqlite:///{workdir / 'users.db'}",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_LEVEL": "WARNING",
            **settings,
        }
        subprocess.run([str(python), "-m", PACKAGE, "migrate"], cwd=project, env=env,
                       check=True, capture_output=True)  # fmt: skip
        self.log = (workdir / "server.log").open("w")
        self.process = subprocess.Popen(
            [str(python), "-m", PACKAGE, "serve"], cwd=project, env=env,
            stdout=self.log, stderr=self.log,
            preexec_fn=soft_descriptor_limit(descriptors) if descriptors else None,
        )  # fmt: skip

        def healthy() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError((workdir / "server.log").read_text()[-2000:])
            try:
                return call(self.base, "GET", "/health")[0] == 200
            except OSError:
                return False

        try:
            wait_until(healthy, f"the server on port {self.port}", 60)
        except BaseException:  # a timeout or Ctrl-C: the caller never gets it to stop
            self.stop()
            raise

    def login(self, email: str) -> dict:
        credentials = {"email": email, "password": PASSWORD}
        status, _ = call(self.base, "POST", "/auth/register", credentials)
        assert status == 201, status
        status, pair = call(self.base, "POST", "/auth/login", credentials)
        assert status == 200, pair
        return pair

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def stop_all(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=10)
