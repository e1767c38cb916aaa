"""Shared fixtures for the Tripwire template's own tests.

- ``VARIANTS``: every combination of the matrix questions, read from copier.yml;
  ``DEFAULT_VARIANT``: their default answers.
- ``rendered``: each variant rendered once per session (per xdist worker).
- ``venv_for``: a uv-built virtualenv per dependency set, cached across runs.
- ``redis_url``: ``$REDIS_URL`` or a throwaway redis-server on a free port.

Environment: ``TRIPWIRE_CACHE`` (venv cache root, default ~/.cache/tripwire),
``TRIPWIRE_SUITE_TIMEOUT`` (seconds per rendered suite, default 900), ``REDIS_URL``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import time
import tomllib
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import pytest
import redis
import yaml
from filelock import FileLock

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
MATRIX_QUESTIONS = ("framework", "token_store", "layout", "architecture")
BASE_ANSWERS = {"project_name": "Demo Service"}
PACKAGE = "demo_service"
SUITE_TIMEOUT = int(os.environ.get("TRIPWIRE_SUITE_TIMEOUT", "900"))
VENV_MARKER = ".tripwire-complete"


# --------------------------------------------------------------------------- the matrix


def load_copier_config() -> dict:
    """copier.yml as one dict (copier allows several YAML documents)."""
    config: dict = {}
    for document in yaml.safe_load_all((TEMPLATE_ROOT / "copier.yml").read_text()):
        config.update(document or {})
    return config


def question_choices(config: dict, question: str) -> list[str]:
    """Choice values of a question; choices may be a list or a {label: value} mapping."""
    choices = config[question]["choices"]
    if isinstance(choices, dict):
        choices = [v["value"] if isinstance(v, dict) else v for v in choices.values()]
    return [str(choice) for choice in choices]


COPIER_CONFIG = load_copier_config()
VARIANTS = [
    dict(zip(MATRIX_QUESTIONS, combo, strict=True))
    for combo in itertools.product(*(question_choices(COPIER_CONFIG, q) for q in MATRIX_QUESTIONS))
]


# The matrix questions' default answers: with one of them changed, a representative
# render of that choice.
DEFAULT_VARIANT = {q: str(COPIER_CONFIG[q]["default"]) for q in MATRIX_QUESTIONS}


def variant_id(variant: dict) -> str:
    return "-".join(variant[q] for q in MATRIX_QUESTIONS)


def tail(text: str, lines: int = 80) -> str:
    return "\n".join(text.splitlines()[-lines:])


def render(dst: Path, data: dict, vcs_ref: str = "HEAD", src: Path = TEMPLATE_ROOT) -> None:
    """Render the template; with vcs_ref HEAD copier includes uncommitted changes."""
    copier.run_copy(
        str(src),
        str(dst),
        data=data,
        defaults=True,
        unsafe=False,
        quiet=True,
        vcs_ref=vcs_ref,
    )


# --------------------------------------------------------------------------- environment


@pytest.fixture(scope="session", autouse=True)
def _isolated_env(tmp_path_factory):
    """Keep copier and git away from the user's settings and the source repo's index."""
    settings = tmp_path_factory.mktemp("copier-settings") / "settings.yml"
    settings.write_text("{}\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COPIER_SETTINGS_PATH", str(settings))
        mp.setenv("GIT_OPTIONAL_LOCKS", "0")  # `git status` must not lock /work's index
        for role in ("AUTHOR", "COMMITTER"):
            mp.setenv(f"GIT_{role}_NAME", "Tripwire Tests")
            mp.setenv(f"GIT_{role}_EMAIL", "tests@example.com")
        yield


# --------------------------------------------------------------------------- rendering


@dataclass
class Render:
    variant: dict
    path: Path
    error: str | None = None

    @property
    def id(self) -> str:
        return variant_id(self.variant)


@pytest.fixture(scope="session", params=VARIANTS, ids=[variant_id(v) for v in VARIANTS])
def rendered(request, tmp_path_factory) -> Render:
    """Each variant rendered once per session; a failure is recorded, not raised."""
    variant = request.param
    dst = tmp_path_factory.mktemp(variant_id(variant)) / "project"
    try:
        render(dst, {**BASE_ANSWERS, **variant})
    except (Exception, SystemExit):  # copier's CLI paths may raise SystemExit
        return Render(variant, dst, traceback.format_exc())
    return Render(variant, dst)


@pytest.fixture
def project(rendered: Render) -> Path:
    """Path of a successfully rendered variant (read only: tests must not write to it)."""
    if rendered.error:
        pytest.fail(f"{rendered.id} did not render:\n{tail(rendered.error)}", pytrace=False)
    return rendered.path


# --------------------------------------------------------------------------- venvs


def cache_root() -> Path:
    return Path(os.environ.get("TRIPWIRE_CACHE") or Path.home() / ".cache" / "tripwire")


def uv_bin() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if not found:
            pytest.fail("uv is not installed in the test environment", pytrace=False)
        return found


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


def project_requirements(project_dir: Path) -> tuple[str, list[str]]:
    """(python version, sorted deps) of a rendered project: dependencies + the dev extra
    + the dev dependency group (what ``uv run`` installs; the two list the same tools).

    A self-reference such as ``demo-service[redis]`` is expanded to that extra's deps.
    """
    pyproject = tomllib.loads((project_dir / "pyproject.toml").read_text())
    meta = pyproject["project"]
    extras = meta.get("optional-dependencies", {})
    group = [g for g in pyproject.get("dependency-groups", {}).get("dev", []) if isinstance(g, str)]
    own_name = _requirement_name(meta["name"])
    deps: set[str] = set()
    pending, seen = [*meta.get("dependencies", []), *extras.get("dev", []), *group], set()
    while pending:
        requirement = pending.pop()
        if _requirement_name(requirement) != own_name:
            deps.add(requirement)
            continue
        for extra in re.findall(r"[A-Za-z0-9._-]+", requirement.partition("[")[2]):
            if extra not in seen:
                seen.add(extra)
                pending.extend(extras.get(extra, []))
    answers = yaml.safe_load((project_dir / ".copier-answers.yml").read_text()) or {}
    python = str(answers.get("python_version") or "")
    if not python:
        python = re.search(r"\d+\.\d+", meta.get("requires-python", "")).group(0)
    return python, sorted(deps)


# Environment inherited by subprocesses minus what belongs to this pytest run.
SCRUBBED_ENV = re.compile(r"PYTEST_ADDOPTS|PYTEST_CURRENT_TEST|PYTEST_XDIST_.*|VIRTUAL_ENV")


def child_env(**extra: str) -> dict[str, str]:
    """This run's environment for a subprocess, without pytest's own variables."""
    env = {k: v for k, v in os.environ.items() if not SCRUBBED_ENV.fullmatch(k)}
    env.update(extra)
    return env


def run_command(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``cmd`` with no stdin, stdout and stderr together as text, never raising."""
    return subprocess.run(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        **kwargs,
    )


def build_venv(python: str, deps: list[str]) -> Path:
    """Return a venv holding ``deps`` for ``python``; built once per dependency set."""
    # Bytecode compiled at install, as the Dockerfile does: the suites run with
    # PYTHONDONTWRITEBYTECODE, and without .pyc files every process they start (serve,
    # each worker, each command) would compile every dependency again, for seconds.
    recipe = {"python": python, "deps": deps, "bytecode": True}
    key = hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:16]
    venvs = cache_root() / "venvs"
    venvs.mkdir(parents=True, exist_ok=True)
    venv = venvs / key
    with FileLock(str(venvs / f"{key}.lock"), timeout=1800):
        if (venv / VENV_MARKER).exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        uv, interpreter = uv_bin(), venv / "bin" / "python"
        for cmd in (
            [uv, "venv", "--no-project", "--python", python, str(venv)],
            [uv, "pip", "install", "--compile-bytecode", "--python", str(interpreter), *deps],
        ):
            result = run_command(cmd, cwd=venvs)
            if result.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                pytest.fail(
                    f"venv build failed: {' '.join(cmd)}\n{tail(result.stdout)}", pytrace=False
                )
        (venv / VENV_MARKER).write_text(json.dumps(recipe, indent=2))
    return venv


@pytest.fixture(scope="session")
def venv_for():
    """``venv_for(project_dir)`` -> path of a cached venv with the project's deps."""

    def get(project_dir: Path) -> Path:
        return build_venv(*project_requirements(project_dir))

    return get


# --------------------------------------------------------------------------- redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """``$REDIS_URL`` if set, else a private redis-server for this session (never flushed)."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = shutil.which("redis-server")
    if not server:
        pytest.fail("redis-server not found and REDIS_URL not set", pytrace=False)
    workdir = tmp_path_factory.mktemp("redis")
    for _attempt in range(3):
        port = free_port()
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(workdir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            if _redis_ping(port):
                break
            time.sleep(0.05)
        if proc.poll() is None and _redis_ping(port):
            break
        proc.kill()
        proc.wait()
    else:
        pytest.fail("could not start redis-server", pytrace=False)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """Terminate ``process``; kill it if it has not exited after ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_service(
    python: str, project: Path, env: dict[str, str], log: Path, **popen: Any
) -> subprocess.Popen:
    """``migrate``, then ``serve`` in the background, its output in ``log``."""
    package = [python, "-m", PACKAGE]
    migrate = subprocess.run(
        [*package, "migrate"], cwd=project, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, tail(migrate.stdout + migrate.stderr)
    with log.open("w") as output:
        return subprocess.Popen(
            [*package, "serve"], cwd=project, env=env, stdout=output, stderr=output, **popen
        )


def wait_for_health(process: subprocess.Popen, healthy, log: Path, timeout: float = 60) -> None:
    """Until ``healthy()`` (an ``OSError`` is "not yet"); fails if the server exits first."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, tail(log.read_text())
        with contextlib.suppress(OSError):
            if healthy():
                return
        assert time.monotonic() < deadline, "server did not answer /health"
        time.sleep(0.2)


def delete_keys(redis_url: str, prefix: str) -> None:
    """Delete the keys under ``prefix`` (a test's own): never a flush."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


# --------------------------------------------------------------------------- template releases

CONFLICT = re.compile(r"^(<{7}|>{7})", re.MULTILINE)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", message)


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """The template's working tree (tracked + untracked, not ignored) as a fresh repo."""
    dst = tmp_path / "template"
    listing = git(TEMPLATE_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listing.split("\0")):
        src = TEMPLATE_ROOT / name
        if src.is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)
    git(dst, "init", "-q")
    commit_all(dst, "template v1.0.0")
    git(dst, "tag", "v1.0.0")
    return dst


def update(project: Path, vcs_ref: str, **answers: str) -> None:
    copier.run_update(
        str(project),
        vcs_ref=vcs_ref,
        data=answers,
        defaults=True,
        overwrite=True,
        skip_answered=True,
        unsafe=False,
        quiet=True,
    )


def conflicts(project: Path) -> list[str]:
    found = []
    for path in project.rglob("*"):
        if ".git" in path.parts or not path.is_file():
            continue
        if path.suffix == ".rej" or CONFLICT.search(path.read_text(errors="replace")):
            found.append(str(path.relative_to(project)))
    return sorted(found)


# --------------------------------------------------------------------------- markers


def pytest_configure(config):
    config.addinivalue_line("markers", "variant: a check of one rendered variant")


def pytest_collection_modifyitems(items):
    """Mark every test that runs on one variant, so CI can split by `-m variant`."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "rendered" in callspec.params:
            item.add_marker(pytest.mark.variant)
