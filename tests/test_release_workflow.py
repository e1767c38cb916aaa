"""Releases are tagged by .github/workflows/release.yml: on a push to main, the newest
``## vX.Y.Z — YYYY-MM-DD`` heading of CHANGELOG.md (read by .github/release_tag.py)
becomes an annotated tag on the pushed commit, unless that tag exists.

The heading parser runs against the real CHANGELOG.md and against made-up ones; the
workflow's own tagging step runs in a scratch repository with a stand-in ``gh`` that
records the API calls it would make. (check-jsonschema and zizmor lint the workflow in
test_shipping.py.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE_ROOT, child_env, run_command, tail

SCRIPT = TEMPLATE_ROOT / ".github" / "release_tag.py"
WORKFLOW = TEMPLATE_ROOT / ".github" / "workflows" / "release.yml"
FAKE_SHA = "0123456789abcdef0123456789abcdef01234567"


def release_tag(changelog: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(changelog)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        env=child_env(),
    )


def load_workflow() -> dict:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    if True in workflow:  # YAML 1.1 reads the key `on` as a boolean
        workflow["on"] = workflow.pop(True)
    return workflow


# --------------------------------------------------------------------------- the parser


def test_the_real_changelog_gives_the_template_version():
    version = tomllib.loads((TEMPLATE_ROOT / "pyproject.toml").read_text())["project"]["version"]
    result = release_tag(TEMPLATE_ROOT / "CHANGELOG.md")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"v{version}\n"


NEWEST_FIRST = """# Changelog

Intro text that mentions ## v9.9.9 — 2026-01-01 inline is no heading.

## Unreleased

- something

## v1.10.0 — 2027-02-03

### Added
- more

## v1.9.2 — 2026-12-31

## v0.1.0 — 2026-01-01
"""


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        pytest.param(NEWEST_FIRST, "v1.10.0", id="newest-first-unreleased-skipped"),
        pytest.param("## v2.0.0 — 2026-05-06\n", "v2.0.0", id="only-heading-no-newline-before"),
        pytest.param(
            "## v3 — 2026-01-01\n## v3.1 — 2026-01-01\n### v3.1.1 — 2026-01-01\n"
            "## v3.1.1 - 2026-01-01\n## v3.1.1 — 2026-1-1\n## v3.0.1 — 2026-01-02\n",
            "v3.0.1",
            id="malformed-headings-skipped",
        ),
    ],
)
def test_a_changelog_gives_its_newest_release(tmp_path: Path, text: str, tag: str):
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(text, encoding="utf-8")
    result = release_tag(changelog)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{tag}\n"
    assert result.stderr == ""


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("# Changelog\n\n## Unreleased\n\n- soon\n", id="unreleased-only"),
        pytest.param("", id="empty"),
        pytest.param("## 1.2.3 — 2026-01-01\n", id="no-v"),
    ],
)
def test_no_release_heading_prints_nothing_and_fails(tmp_path: Path, text: str):
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(text, encoding="utf-8")
    result = release_tag(changelog)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no release heading" in result.stderr
    assert str(changelog) in result.stderr


def test_a_missing_changelog_fails_clearly(tmp_path: Path):
    result = release_tag(tmp_path / "CHANGELOG.md")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "cannot read" in result.stderr


# --------------------------------------------------------------------------- the workflow


def tag_step() -> dict:
    (step,) = [s for s in load_workflow()["jobs"]["tag"]["steps"] if "run" in s]
    return step


def test_the_workflow_runs_on_pushes_to_main_with_write_access_in_one_job_only():
    workflow = load_workflow()
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert workflow["permissions"] == {}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert set(workflow["jobs"]) == {"tag"}
    job = workflow["jobs"]["tag"]
    assert job["permissions"] == {"contents": "write"}
    (checkout,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"]["persist-credentials"] is False
    assert checkout["with"]["fetch-depth"] == 0  # the existing tags
    step = tag_step()
    assert "${{" not in step["run"], "expressions belong in env, not in the script"
    assert step["env"] == {"GH_TOKEN": "${{ github.token }}"}
    assert "python3 .github/release_tag.py CHANGELOG.md" in step["run"]


GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Tripwire Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Tripwire Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}


def git(repo: Path, *args: str) -> str:
    result = run_command(
        ["git", "-c", "commit.gpgsign=false", *args], cwd=repo, env=child_env(**GIT_ENV)
    )
    assert result.returncode == 0, f"git {' '.join(args)}:\n{tail(result.stdout)}"
    return result.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout like the job's: this repository's release script and a CHANGELOG."""
    repo = tmp_path / "repo"
    (repo / ".github").mkdir(parents=True)
    shutil.copy(SCRIPT, repo / ".github" / "release_tag.py")
    (repo / "CHANGELOG.md").write_text(NEWEST_FIRST, encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "release v1.10.0")
    return repo


def run_tag_step(repo: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    """Run the workflow's tagging script in ``repo``; return its result and the gh calls."""
    calls = tmp_path / "gh-calls"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    gh = fake_bin / "gh"
    # Records one call per line (arguments separated by tabs); answers the tag-object
    # call with a SHA, as `--jq .sha` would.
    gh.write_text(
        "#!/usr/bin/env bash\n"
        '(IFS=$\'\\t\'; printf "%s\\n" "$*") >> "$GH_CALLS"\n'
        'if [[ "$2" == */git/tags ]]; then echo ' + FAKE_SHA + "; fi\n"
    )
    gh.chmod(0o755)
    env = child_env(
        **GIT_ENV,
        PATH=f"{fake_bin}{os.pathsep}{os.environ['PATH']}",
        GH_CALLS=str(calls),
        GH_TOKEN="not-a-token",
        GITHUB_REPOSITORY="owner/tripwire",
        GITHUB_SHA=git(repo, "rev-parse", "HEAD"),
    )
    result = run_command(["bash", "-c", tag_step()["run"]], cwd=repo, env=env)
    lines = calls.read_text().splitlines() if calls.exists() else []
    return result, [line.split("\t") for line in lines]


def test_the_step_creates_an_annotated_tag_on_the_pushed_commit(checkout: Path, tmp_path: Path):
    result, calls = run_tag_step(checkout, tmp_path)
    assert result.returncode == 0, result.stdout
    head = git(checkout, "rev-parse", "HEAD")
    assert calls == [
        [
            "api", "repos/owner/tripwire/git/tags",
            "-f", "tag=v1.10.0", "-f", "message=v1.10.0", "-f", f"object={head}",
            "-f", "type=commit", "--jq", ".sha",
        ],
        [
            "api", "repos/owner/tripwire/git/refs",
            "-f", "ref=refs/tags/v1.10.0", "-f", f"sha={FAKE_SHA}", "--silent",
        ],
    ]  # fmt: skip
    assert f"Tagged {head} as v1.10.0." in result.stdout


def test_the_step_leaves_an_existing_tag_alone(checkout: Path, tmp_path: Path):
    git(checkout, "tag", "-a", "v1.10.0", "-m", "v1.10.0")
    result, calls = run_tag_step(checkout, tmp_path)
    assert result.returncode == 0, result.stdout
    assert calls == []
    assert "v1.10.0 exists already" in result.stdout


def test_the_step_fails_without_a_release_heading(checkout: Path, tmp_path: Path):
    (checkout / "CHANGELOG.md").write_text("# Changelog\n\n## Unreleased\n", encoding="utf-8")
    result, calls = run_tag_step(checkout, tmp_path)
    assert result.returncode != 0
    assert calls == []
    assert "no release heading" in result.stdout
