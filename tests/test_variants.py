"""Every variant: renders, no leftover Jinja, ruff-clean, no secrets, own suite passes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import (
    BASE_ANSWERS,
    COPIER_CONFIG,
    SUITE_TIMEOUT,
    Render,
    child_env,
    question_choices,
    render,
    run_command,
    tail,
)

JINJA_MARKERS = ("{{", "{%", "{#")
GITHUB_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
SECRETISH_KEY = re.compile(r"secret|password|token|key", re.IGNORECASE)
SECRETISH_VALUE = re.compile(r"[A-Za-z0-9+/=_\-]{16,}")
PLACEHOLDER = re.compile(
    r"change|replace|placeholder|example|your|generate|todo|xxx|<|\.\.\.", re.IGNORECASE
)
COPIER_METADATA = {"_commit", "_src_path"}
# A setting that holds a secret (not one about secrets, such as RATE_LIMIT_PASSWORD).
SECRET_SETTING = re.compile(r"^(?!RATE_LIMIT_).*(SECRET|PASSWORD)(_KEY)?$")


def read_text(path: Path) -> str | None:
    """File content, or None for binary files."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def test_renders(rendered: Render):
    assert rendered.error is None, f"{rendered.id} did not render:\n{tail(rendered.error)}"
    assert (rendered.path / "pyproject.toml").is_file()


def test_no_leftover_jinja(project: Path):
    problems = []
    for path in project.rglob("*"):
        rel = path.relative_to(project)
        if path.name.endswith(".jinja") or any(m in str(rel) for m in JINJA_MARKERS):
            problems.append(f"{rel}: unrendered name")
        if not path.is_file() or (text := read_text(path)) is None:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            line = GITHUB_EXPRESSION.sub("", line)  # `${{ }}` belongs in workflows
            if any(marker in line for marker in JINJA_MARKERS):
                problems.append(f"{rel}:{lineno}: {line.strip()}")
    assert not problems, "leftover Jinja:\n" + "\n".join(problems)


def run_ruff(project: Path, *args: str) -> None:
    """Ruff from the test environment, with the rendered project's own configuration."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", "."],
        cwd=project,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"ruff {' '.join(args)}:\n{tail(result.stdout + result.stderr)}", pytrace=False)


def test_ruff_check(project: Path):
    run_ruff(project, "check")


def test_ruff_format(project: Path):
    run_ruff(project, "format", "--check")


def test_no_secrets(project: Path):
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert isinstance(answers, dict), ".copier-answers.yml is not a mapping"
    private = {key for key in answers if key.startswith("_")}
    assert private <= COPIER_METADATA, f"unexpected private keys in answers: {private}"
    for key, value in answers.items():
        if key in COPIER_METADATA:
            continue
        assert key == "token_store" or not SECRETISH_KEY.search(key), f"answers store {key!r}"
        if isinstance(value, str) and SECRETISH_VALUE.fullmatch(value):
            pytest.fail(f"answer {key!r} looks like a secret", pytrace=False)

    env_files = [p.relative_to(project) for p in project.rglob(".env")]
    assert not env_files, f"rendered .env files: {env_files}"
    example = project / ".env.example"
    assert example.is_file(), ".env.example is missing"
    for line in example.read_text().splitlines():
        name, sep, value = line.strip().removeprefix("export ").partition("=")
        if line.lstrip().startswith("#") or not sep or not SECRET_SETTING.match(name):
            continue
        value = value.strip().strip("'\"")
        if value and not PLACEHOLDER.search(value):  # never echo the value itself
            pytest.fail(f".env.example holds a real {name}", pytrace=False)


def run_own_suite(project: Path, venv: Path, tmp_path: Path, **extra_env: str) -> str:
    """Run the rendered project's pytest in a copy of it; return the output."""
    workdir = tmp_path / "project"
    shutil.copytree(project, workdir, symlinks=True)  # the shared render stays pristine
    # Bytecode written in the copy: each process the suite starts (serve, its workers, each
    # command) reads the service's modules compiled once, not compiled again.
    env = child_env(PYTHONDONTWRITEBYTECODE="", **extra_env)
    cmd = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    try:
        result = run_command(cmd, cwd=workdir, env=env, timeout=SUITE_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        pytest.fail(f"rendered suite timed out ({SUITE_TIMEOUT}s):\n{tail(output)}", pytrace=False)
    if result.returncode != 0:
        pytest.fail(
            f"rendered suite failed (exit {result.returncode}):\n{tail(result.stdout)}",
            pytrace=False,
        )
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, tail(result.stdout)
    # A skipped test is a behaviour left unproven in this variant.
    assert "skipped" not in summary, tail(result.stdout)
    return result.stdout


def test_own_suite(project: Path, venv_for, redis_url: str, tmp_path: Path):
    run_own_suite(project, venv_for(project), tmp_path, REDIS_URL=redis_url)


POSTGRES_URL = os.environ.get("TRIPWIRE_POSTGRES_URL")


@pytest.mark.skipif(not POSTGRES_URL, reason="set TRIPWIRE_POSTGRES_URL to a PostgreSQL URL")
def test_own_suite_on_postgresql(venv_for, redis_url: str, tmp_path: Path):
    """The default variant's whole suite with its users in PostgreSQL (DATABASE_URL path)."""
    project = tmp_path / "render"
    render(project, {**BASE_ANSWERS})
    run_own_suite(
        project, venv_for(project), tmp_path, REDIS_URL=redis_url, TEST_DATABASE_URL=POSTGRES_URL
    )


PYTHON_VERSIONS = question_choices(COPIER_CONFIG, "python_version")


@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_every_python_version(python_version, venv_for, redis_url: str, tmp_path: Path):
    """The default variant on each Python it offers: lint-clean for that target, and green."""
    project = tmp_path / "render"
    render(project, {**BASE_ANSWERS, "python_version": python_version})
    run_ruff(project, "check")
    run_ruff(project, "format", "--check")
    venv = venv_for(project)
    version = subprocess.run(
        [str(venv / "bin" / "python"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith(f"Python {python_version}."), version.stdout
    run_own_suite(project, venv, tmp_path, REDIS_URL=redis_url)


@pytest.mark.parametrize("framework", question_choices(COPIER_CONFIG, "framework"))
@pytest.mark.parametrize("architecture", question_choices(COPIER_CONFIG, "architecture"))
def test_a_long_project_name_stays_lint_clean(framework, architecture, tmp_path: Path):
    """Names land in import lines and strings; the longest allowed must not break ruff."""
    project = tmp_path / "render"
    answers = {"project_name": "x" * 32}  # the longest slug and package name allowed
    render(project, {**answers, "framework": framework, "architecture": architecture})
    run_ruff(project, "check")
    run_ruff(project, "format", "--check")
