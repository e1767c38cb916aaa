"""A rendered project is driven by uv: ``uv sync`` makes uv.lock with the answered
Python (``.python-version``), the lock is what CI and the image install (``--locked``),
and ``uv run`` runs the service. One render of the default variant.

A fresh render also starts as its README says, with nothing else typed: ``uv run python -m
<package> dev`` answers ``/health`` (and writes ``.env`` once), ``uv run pytest`` passes."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import (
    BASE_ANSWERS,
    PACKAGE,
    child_env,
    free_port,
    render,
    run_command,
    tail,
    uv_bin,
)

# uv settings of this run that would steer the project's own uv elsewhere.
FOREIGN_UV_SETTINGS = (
    "UV_PROJECT_ENVIRONMENT",
    "UV_PYTHON",
    "UV_FROZEN",
    "UV_LOCKED",
    "UV_NO_SYNC",
    "UV_OFFLINE",
)


def uv_env(**extra: str) -> dict[str, str]:
    """This run's environment (UV_CACHE_DIR included), with the machine's Pythons only."""
    env = child_env(UV_PYTHON_DOWNLOADS="never", **extra)
    for name in FOREIGN_UV_SETTINGS:
        if name not in extra:
            env.pop(name, None)
    return env


def uv(project: Path, *args: str, **extra: str) -> str:
    result = run_command([uv_bin(), *args], cwd=project, env=uv_env(**extra), timeout=900)
    if result.returncode != 0:
        pytest.fail(f"uv {' '.join(args)} (exit {result.returncode}):\n{tail(result.stdout)}")
    return result.stdout


def builder_copies(dockerfile: str) -> list[str]:
    """The sources the Dockerfile's builder stage copies into the build context."""
    builder = re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[1]
    sources = []
    for line in re.findall(r"^COPY (?!--)(.+)$", builder, re.MULTILINE):
        sources.extend(line.split()[:-1])
    return sources


def test_uv_locks_syncs_and_runs_the_rendered_project(tmp_path: Path):
    project = tmp_path / "project"
    render(project, BASE_ANSWERS)
    python = "3.12"  # the default answer
    assert (project / ".python-version").read_text() == f"{python}\n"
    assert not (project / "uv.lock").exists(), "the lock is the project's to make"

    uv(project, "sync")
    assert (project / "uv.lock").is_file()
    version = run_command([str(project / ".venv" / "bin" / "python"), "--version"])
    assert version.stdout.startswith(f"Python {python}."), version.stdout

    # uv.lock and .python-version are committed, not ignored.
    git = ["git", "-c", f"core.excludesFile={os.devnull}"]
    assert run_command([*git, "init", "-q"], cwd=project).returncode == 0
    for name in ("uv.lock", ".python-version"):
        ignored = run_command([*git, "check-ignore", "-q", name], cwd=project)
        assert ignored.returncode == 1, f"{name} is ignored by .gitignore"

    # What CI runs: the committed lock, unchanged, with the dev tools.
    lock = (project / "uv.lock").read_text()
    uv(project, "sync", "--locked", "--extra", "dev")
    assert (project / "uv.lock").read_text() == lock
    help_text = uv(project, "run", "python", "-m", PACKAGE, "--help")
    assert "migrate" in help_text
    assert "serve" in help_text
    assert "pytest" in uv(project, "run", "pytest", "--version")

    # What the image's builder runs, on only the files it copies: the service and the
    # postgres extra land in a virtualenv that works without the source tree.
    context = tmp_path / "build"
    for source in builder_copies((project / "Dockerfile").read_text()):
        target = context / source
        if (project / source).is_dir():
            shutil.copytree(project / source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(project / source, target)
    assert (context / "uv.lock").is_file(), "the image is not built from uv.lock"
    venv = tmp_path / "opt-venv"
    uv(
        context,
        "sync", "--locked", "--no-dev", "--no-editable", "--extra", "postgres",
        UV_PROJECT_ENVIRONMENT=str(venv),
        UV_PYTHON=python,
    )  # fmt: skip
    shutil.rmtree(context)
    installed = run_command(
        [
            str(venv / "bin" / "python"),
            "-c",
            f"import psycopg, {PACKAGE}; print({PACKAGE}.__file__)",
        ],
        cwd=tmp_path,
        env=uv_env(),
    )
    assert installed.returncode == 0, installed.stdout
    assert installed.stdout.startswith(str(venv)), installed.stdout
    pytest_check = run_command([str(venv / "bin" / "python"), "-c", "import pytest"], cwd=tmp_path)
    assert pytest_check.returncode != 0, "the image would carry the dev tools"


def test_the_dev_group_and_the_dev_extra_list_the_same_tools(project: Path):
    """uv installs the group, pip the extra: one list of test and lint tools for both."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    extra = pyproject["project"]["optional-dependencies"]["dev"]
    assert pyproject["dependency-groups"]["dev"] == extra
    assert any(tool.startswith("pytest>=") for tool in extra)


def answer_health(url: str, process: subprocess.Popen, timeout: float) -> tuple[int, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dev exited:\n{tail(process.stdout.read())}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"dev did not answer {url} in {timeout:.0f} s")


def uv_run_dev(project: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """``uv run python -m <package> dev`` until ``/health`` answers: (status, output)."""
    port = free_port()
    process = subprocess.Popen(
        [uv_bin(), "run", "python", "-m", PACKAGE, "dev"],
        cwd=project, env={**env, "PORT": str(port)}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # uv, the reloader and the server stop together
    )  # fmt: skip
    try:
        status, _body = answer_health(f"http://127.0.0.1:{port}/health", process, timeout)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    return status, output


def test_a_fresh_render_serves_and_passes_with_uv_run_alone(tmp_path: Path, redis_url: str):
    project = tmp_path / "project"
    render(project, BASE_ANSWERS)
    env = {k: v for k, v in uv_env().items() if k not in {"JWT_SECRET", "DATABASE_URL"}}
    env.update(HOST="127.0.0.1", REDIS_URL=redis_url, REDIS_KEY_PREFIX=f"dev-{uuid.uuid4().hex}:")

    # The first run makes .venv with the dev group, writes the secret, migrates, serves.
    status, output = uv_run_dev(project, env, timeout=600)
    assert status == 200, output
    assert "Wrote a fresh JWT_SECRET to .env" in output
    dotenv = (project / ".env").read_text()
    assert re.fullmatch(r"JWT_SECRET=[A-Za-z0-9_-]{64}\n", dotenv), "not one fresh secret"
    assert (project / "uv.lock").is_file()

    # The second keeps it.
    status, output = uv_run_dev(project, env, timeout=120)
    assert status == 200, output
    assert "JWT_SECRET" not in output
    assert (project / ".env").read_text() == dotenv

    # The suite, with the tools of the dev group that uv installed.
    result = run_command(
        [uv_bin(), "run", "pytest", "-x", "-q", "-p", "no:cacheprovider",
         "tests/test_config.py", "tests/test_dev.py"],
        cwd=project, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, tail(result.stdout)
    assert re.search(r"\d+ passed", result.stdout), tail(result.stdout)
