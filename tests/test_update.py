"""`copier update` brings template releases in, one by one, and keeps the project's own
work: edits in files the template does not touch stay as they are, and an edit in a file
the template also changes surfaces as a conflict instead of being lost."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import BASE_ANSWERS, commit_all, conflicts, git, render, update

TOKENS = "template/{{ pkg_dir }}/{{ dirs.application }}/tokens.py.jinja"
CONFIG = "template/{{ pkg_dir }}/config.py.jinja"
README = "template/README.md.jinja"
PACKAGE_DIR = Path("src/demo_service")


def release(template: Path, version: str, edits: dict[str, str]) -> None:
    """Commit ``edits`` (path -> text appended) to the template copy and tag it."""
    for name, text in edits.items():
        with (template / name).open("a") as fh:
            fh.write(text)
    commit_all(template, f"release {version}")
    git(template, "tag", version)


def rendered_project(template: Path, tmp_path: Path, **answers: str) -> Path:
    project = tmp_path / "project"
    render(project, {**BASE_ANSWERS, **answers}, vcs_ref="v1.0.0", src=template)
    git(project, "init", "-q")
    commit_all(project, "generated at v1.0.0")
    return project


def test_releases_arrive_one_by_one_and_local_work_survives(template: Path, tmp_path: Path):
    release(template, "v1.1.0", {TOKENS: "\n\n# fix 1.1.0\n"})
    release(
        template, "v1.2.0", {README: "\nTemplate note of 1.2.0.\n", CONFIG: "\n\n# fix 1.2.0\n"}
    )
    release(template, "v1.3.0", {TOKENS: "\n\n# fix 1.3.0\n"})

    project = rendered_project(template, tmp_path)
    own_module = project / PACKAGE_DIR / "billing.py"
    own_module.write_text('"""Our own module."""\n')
    with (project / ".env.example").open("a") as fh:
        fh.write("# our own setting\nBILLING_URL=\n")
    with (project / "README.md").open("a") as fh:
        fh.write("\nOur own README note.\n")  # where 1.2.0 writes too
    commit_all(project, "own work")

    update(project, "v1.1.0")
    assert "# fix 1.1.0" in (project / PACKAGE_DIR / "services" / "tokens.py").read_text()
    assert conflicts(project) == []
    commit_all(project, "update to v1.1.0")

    update(project, "v1.2.0")
    # Both edits touch the end of README.md: the conflict surfaces, nothing is lost.
    assert conflicts(project) == ["README.md"]
    readme = (project / "README.md").read_text()
    assert "Our own README note." in readme
    assert "Template note of 1.2.0." in readme
    assert "# fix 1.2.0" in (project / PACKAGE_DIR / "config.py").read_text()
    resolved = "\n".join(
        line for line in readme.splitlines() if not re.match(r"^(<{7}|={7}|>{7})", line)
    )
    (project / "README.md").write_text(resolved + "\n")
    commit_all(project, "update to v1.2.0, conflict resolved")

    update(project, "v1.3.0")
    assert conflicts(project) == []
    tokens = (project / PACKAGE_DIR / "services" / "tokens.py").read_text()
    assert "# fix 1.1.0" in tokens
    assert "# fix 1.3.0" in tokens
    assert own_module.read_text() == '"""Our own module."""\n'
    assert "BILLING_URL=" in (project / ".env.example").read_text()
    assert "Our own README note." in (project / "README.md").read_text()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v1.3.0"


def test_changing_an_answer_re_renders_cleanly(template: Path, tmp_path: Path):
    release(template, "v1.1.0", {TOKENS: "\n\n# fix 1.1.0\n"})
    project = rendered_project(template, tmp_path)
    repositories = project / PACKAGE_DIR / "repositories"
    assert (repositories / "redis_store.py").is_file()

    update(project, "v1.1.0", token_store="memory")

    assert conflicts(project) == []
    assert (repositories / "memory_store.py").is_file()
    assert not (repositories / "redis_store.py").exists()
    assert not (project / "tests" / "test_redis_store.py").exists()
    assert '"redis' not in (project / "pyproject.toml").read_text()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["token_store"] == "memory"
    for check in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *check, "--no-cache"],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
