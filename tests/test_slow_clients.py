"""Slow clients against a real `python -m <package> serve` of Flask and Django, with the
default settings: while 16 connections trickle their headers and 16 more their body, one
byte a second, `GET /health` still answers within 3 s. With the memory store they trickle
past gunicorn's 30 s worker timeout, and the session that lives in the server process
still works afterwards. Body limits and the client address behind TRUSTED_PROXIES are
what they were."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
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
def trickling(server: Server, count: int) -> Iterator[None]:
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
        yield
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
    process = start_service(python, project, env, log)
    server = Server(framework, store, port, process, log)
    try:
        wait_for_health(process, lambda: call(server, "GET", "/health")[0] == 200, log)
        yield server
    finally:
        stop(process)
        if store == "redis":
            delete_keys(redis_url, prefix)


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
