"""A real server per framework: `python -m <package> serve` with two worker processes on
a real Redis. A logged-out token is refused by whichever worker answers; 16 concurrent
refreshes of one token across the workers all get the one rotation's pair within the
grace, and without a grace exactly one succeeds."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import (
    BASE_ANSWERS,
    COPIER_CONFIG,
    child_env,
    delete_keys,
    free_port,
    question_choices,
    render,
    start_service,
    stop,
    wait_for_health,
)

FRAMEWORKS = question_choices(COPIER_CONFIG, "framework")


def call(base: str, method: str, path: str, body=None, token=None) -> tuple[int, dict | None]:
    """One request on a fresh connection, so the kernel may hand it to either worker."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Connection", "close")
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


@pytest.fixture
def server_env() -> dict[str, str]:
    """Settings of the server under test beyond the fixture's own (parametrize to change)."""
    return {}


@pytest.fixture(params=FRAMEWORKS)
def server(request, tmp_path: Path, venv_for, redis_url: str, server_env: dict[str, str]):
    project = tmp_path / "project"
    render(project, {**BASE_ANSWERS, "framework": request.param, "token_store": "redis"})
    python = str(venv_for(project) / "bin" / "python")
    prefix = f"tripwire-test-{uuid.uuid4().hex[:10]}:"
    port = free_port()
    env = child_env(
        PYTHONPATH=str(project / "src"),
        JWT_SECRET=uuid.uuid4().hex + uuid.uuid4().hex,
        DATABASE_URL=f"sqlite:///{tmp_path / 'users.db'}",
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=prefix,
        HOST="127.0.0.1",
        PORT=str(port),
        WORKERS="2",
        LOG_LEVEL="WARNING",
        **server_env,
    )
    log = tmp_path / "server.log"
    process = start_service(python, project, env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(process, lambda: call(base, "GET", "/health")[0] == 200, log)
        yield base
    finally:
        stop(process)
        delete_keys(redis_url, prefix)


def login(base: str) -> dict:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    credentials = {"email": email, "password": "correct horse battery"}
    assert call(base, "POST", "/auth/register", credentials)[0] == 201
    status, pair = call(base, "POST", "/auth/login", credentials)
    assert status == 200, pair
    return pair


def test_a_logged_out_token_is_dead_in_every_worker(server):
    pair = login(server)
    assert call(server, "GET", "/auth/me", token=pair["access_token"])[0] == 200
    assert call(server, "POST", "/auth/logout", token=pair["access_token"])[0] == 204
    answers = [call(server, "GET", "/auth/me", token=pair["access_token"]) for _ in range(20)]
    assert [status for status, _ in answers] == [401] * 20
    assert {body["code"] for _, body in answers} == {"token_revoked"}


def test_concurrent_refreshes_across_workers_all_get_the_one_rotated_pair(server):
    """Within the grace (the default), every request with the just-spent token gets the
    pair of the one rotation, whichever worker answers it."""
    pair = login(server)
    body = {"refresh_token": pair["refresh_token"]}
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: call(server, "POST", "/auth/refresh", body), range(16)))
    assert [status for status, _ in answers] == [200] * 16, answers
    assert len({json.dumps(answer, sort_keys=True) for _, answer in answers}) == 1
    rotated = answers[0][1]
    assert call(server, "GET", "/auth/me", token=rotated["access_token"])[0] == 200
    next_body = {"refresh_token": rotated["refresh_token"]}
    assert call(server, "POST", "/auth/refresh", next_body)[0] == 200


@pytest.mark.parametrize("server_env", [{"REFRESH_REUSE_GRACE_SECONDS": "0"}])
def test_without_grace_concurrent_refreshes_across_workers_have_one_winner(server):
    pair = login(server)
    body = {"refresh_token": pair["refresh_token"]}
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: call(server, "POST", "/auth/refresh", body), range(16)))
    statuses = sorted(status for status, _ in answers)
    assert statuses.count(200) == 1, answers
    assert statuses.count(401) == 15
    codes = sorted(body["code"] for status, body in answers if status == 401)
    assert codes.count("token_reused") == 1  # one nuke; the rest find the family dead
