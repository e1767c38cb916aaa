"""Slow clients against a real `python -m <package> serve`, with the default settings,
started with the usual soft limit of 1024 descriptors: while 16 connections trickle their
headers and 16 more their body, one byte a second, `GET /health` still answers within
3 s (with the memory store past gunicorn's 30 s worker timeout, and the session that lives
in the server process still works afterwards); 1,100 connections that send nothing keep
no one out, and the server closes every unfinished request at its deadline. Body limits
and the client address behind TRUSTED_PROXIES are what they were (Flask and Django)."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import (
    BASE_ANSWERS,
    child_env,
    delete_keys,
    free_port,
    render,
    start_service,
    stop,
    tail,
    wait_for_health,
)

WSGI_FRAMEWORKS = ("flask", "django")
CASES = [(framework, store) for framework in WSGI_FRAMEWORKS for store in ("redis", "memory")]
IDLE_SOCKETS = 1100  # past the usual soft limit of 1024 descriptors a process starts with
HEADER_SECONDS, BODY_SECONDS = 5, 10  # the deadlines of the protocol serve runs
WORKER_TIMEOUT = 30  # gunicorn's default, which killed a worker stuck on a slow client
PATIENCE = 3.0  # seconds a normal client waits for an answer

TRICKLED_HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * 4000
BODY_HEAD = (
    b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
)


@dataclass
class Server:
    framework: str
    store: str
    port: int
    process: subprocess.Popen
    log: Path


def call(
    server: Server, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, dict | None]:
    """One request on a new connection; ``TimeoutError`` after PATIENCE seconds."""
    headers = headers or {}
    chunked = headers.get("Transfer-Encoding") == "chunked"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=PATIENCE)
    try:
        connection.request(method, path, body=body, headers=headers, encode_chunked=chunked)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    return response.status, json.loads(raw) if raw else None


def get(server: Server, path: str, token: str | None = None) -> int:
    """The status of ``GET path``, which must come within PATIENCE seconds."""
    try:
        return call(server, "GET", path, headers=bearer(token) if token else None)[0]
    except TimeoutError:
        pytest.fail(f"GET {path}: no answer within {PATIENCE} s", pytrace=False)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(server: Server, headers: dict | None = None) -> str:
    """Register and log in a new user; its access token."""
    body = json.dumps({"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": "x" * 12})
    headers = {"Content-Type": "application/json", **(headers or {})}
    assert call(server, "POST", "/auth/register", body.encode(), headers)[0] == 201
    status, pair = call(server, "POST", "/auth/login", body.encode(), headers)
    assert status == 200, pair
    return pair["access_token"]


@contextlib.contextmanager
def trickling(server: Server, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections send their headers one byte a second, and ``count`` more,
    whose headers are complete, send their 4000-byte body one byte a second."""
    streams = []
    for _ in range(count):
        streams.append((socket.create_connection(("127.0.0.1", server.port)), TRICKLED_HEAD))
        body = socket.create_connection(("127.0.0.1", server.port))
        body.sendall(BODY_HEAD)
        streams.append((body, b" " * 4000))
    done = threading.Event()

    def trickle() -> None:
        for offset in itertools.count():
            for sock, data in streams:
                with contextlib.suppress(OSError):
                    sock.send(data[offset : offset + 1])
            if done.wait(1):
                return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield [sock for sock, _ in streams]
    finally:
        done.set()
        thread.join()
        for sock, _ in streams:
            sock.close()


@pytest.fixture
def server(request, tmp_path: Path, venv_for) -> Iterator[Server]:
    """``serve`` of a fresh render with the default settings; ``request.param`` is
    (framework, token store[, extra environment])."""
    framework, store, *extra = request.param
    project = tmp_path / "project"
    render(project, {**BASE_ANSWERS, "framework": framework, "token_store": store})
    python = str(venv_for(project) / "bin" / "python")
    port = free_port()
    env = child_env(
        PYTHONPATH=str(project / "src"),
        JWT_SECRET=uuid.uuid4().hex + uuid.uuid4().hex,
        DATABASE_URL=f"sqlite:///{tmp_path / 'users.db'}",
        PORT=str(port),
        **(extra[0] if extra else {}),
    )
    for name in ("HOST", "WORKERS"):  # the defaults: 127.0.0.1, one process
        env.pop(name, None)
    prefix = f"tripwire-slow-{uuid.uuid4().hex[:10]}:"
    if store == "redis":
        redis_url = request.getfixturevalue("redis_url")
        env.update(REDIS_URL=redis_url, REDIS_KEY_PREFIX=prefix)
    log = tmp_path / "server.log"
    process = start_service(python, project, env, log, preexec_fn=usual_descriptor_limit)
    server = Server(framework, store, port, process, log)
    try:
        wait_for_health(process, lambda: call(server, "GET", "/health")[0] == 200, log)
        yield server
    finally:
        stop(process)
        if store == "redis":
            delete_keys(redis_url, prefix)


def usual_descriptor_limit() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))


def closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """Whether the server closes ``sock`` before ``deadline`` (what it sends is read)."""
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if not sock.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        pass
    return False


def case_id(case: tuple) -> str:
    return "-".join(case[:2])


@pytest.mark.parametrize("server", CASES, indirect=True, ids=case_id)
def test_trickling_clients_do_not_stall_the_service(server: Server):
    token = login(server)
    # Past gunicorn's worker timeout where the sessions live in the server process.
    seconds = WORKER_TIMEOUT + 3 if server.store == "memory" else 6
    with trickling(server, 16):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            assert get(server, "/health") == 200
            time.sleep(max(0.0, 1 - (time.monotonic() - started)))
        assert get(server, "/auth/me", token) == 200
    assert server.process.poll() is None, tail(server.log.read_text())
    assert get(server, "/auth/me", token) == 200
    server.process.terminate()  # a clean stop, which uvicorn ends by re-raising SIGTERM
    assert server.process.wait(timeout=15) in (0, -signal.SIGTERM), tail(server.log.read_text())


@pytest.mark.parametrize(
    "server",
    [(framework, "memory", {"TRUSTED_PROXIES": "127.0.0.1"}) for framework in WSGI_FRAMEWORKS],
    indirect=True,
    ids=case_id,
)
def test_body_limits_and_the_client_address_are_kept(server: Server):
    oversized = b'{"email": "' + b"a" * 70_000 + b'"}'
    headers = {"Content-Type": "application/json"}
    status, body = call(server, "POST", "/auth/login", oversized, headers)
    assert (status, body["code"]) == (413, "payload_too_large")
    chunked = {**headers, "Transfer-Encoding": "chunked"}
    status, body = call(server, "POST", "/auth/login", oversized, chunked)
    assert (status, body["code"]) == (413, "payload_too_large")  # read up to the limit
    # The client is the right-most X-Forwarded-For address that is not a trusted proxy;
    # a header spelled with underscores is dropped, never read as X-Forwarded-For.
    token = login(server, {"X-Forwarded-For": "203.0.113.7", "X_Forwarded_For": "198.51.100.9"})
    status, sessions = call(server, "GET", "/auth/sessions", headers=bearer(token))
    assert status == 200
    assert [session["client"] for session in sessions] == ["203.0.113.7"]


@pytest.mark.parametrize(
    "server", [(framework, "memory") for framework in ("fastapi", *WSGI_FRAMEWORKS)],
    indirect=True, ids=case_id,
)  # fmt: skip
def test_requests_never_finished_are_closed_and_keep_no_one_out(server: Server):
    token = login(server)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # this side holds them too
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * IDLE_SOCKETS)), hard))
    started = time.monotonic()
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(IDLE_SOCKETS)]
    try:
        with trickling(server, 16) as trickled:
            assert get(server, "/health") == 200
            assert get(server, "/auth/me", token) == 200
            headers_by = started + HEADER_SECONDS + PATIENCE
            assert all(closed_by_server(sock, headers_by) for sock in idle)
            heads, bodies = trickled[::2], trickled[1::2]
            assert all(closed_by_server(sock, headers_by) for sock in heads)
            bodies_by = started + BODY_SECONDS + PATIENCE
            assert all(closed_by_server(sock, bodies_by) for sock in bodies)
            assert get(server, "/auth/me", token) == 200
    finally:
        for sock in idle:
            sock.close()


NGINX_MAIN = """
daemon off;
user root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/default.conf;
}}
"""


@pytest.mark.parametrize(
    "server", [("flask", "memory", {"TRUSTED_PROXIES": "127.0.0.1"})], indirect=True, ids=case_id
)
def test_the_compose_proxy_config_serves_through_a_real_nginx(server: Server, tmp_path: Path):
    """deploy/proxy.conf.template as compose's nginx image fills it in, on a real nginx
    in front of a real serve: the client's own X-Forwarded-For never reaches the service,
    and nginx's own errors are JSON."""
    project = tmp_path / "project"
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    config = (project / "deploy" / "proxy.conf.template").read_text()
    assert "listen 8000;" in config
    config = config.replace("${APP_UPSTREAM}", f"127.0.0.1:{server.port}")
    (tmp_path / "default.conf").write_text(config.replace("listen 8000;", f"listen {port};"))
    (tmp_path / "nginx.conf").write_text(NGINX_MAIN.format(dir=tmp_path))
    checked = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    proxy = subprocess.Popen(
        [nginx, "-c", str(tmp_path / "nginx.conf")], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    through = Server(server.framework, server.store, port, proxy, tmp_path / "error.log")
    try:
        wait_for_health(proxy, lambda: call(through, "GET", "/health")[0] == 200, through.log)
        token = login(through, {"X-Forwarded-For": "198.51.100.9"})
        status, sessions = call(through, "GET", "/auth/sessions", headers=bearer(token))
        assert [session["client"] for session in sessions] == ["127.0.0.1"]
        headers = {"Content-Type": "application/json"}
        for size in (80_000, 200_000):  # the service's 413, then nginx's own
            status, body = call(through, "POST", "/auth/login", b"x" * size, headers)
            assert (status, body["code"]) == (413, "payload_too_large"), size
        stop(server.process)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PATIENCE)
        connection.request("GET", "/health")
        response = connection.getresponse()
        assert response.status == 503
        assert response.getheader("Retry-After") == "5"
        assert json.loads(response.read())["code"] == "service_unavailable"
        connection.close()
    finally:
        os.killpg(proxy.pid, signal.SIGTERM)
        proxy.wait(timeout=10)
