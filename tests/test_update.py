"""`copier update` brings template releases in, one by one, and keeps the project's own
work: edits in files the template does not touch stay as they are, and an edit in a file
the template also changes surfaces as a conflict instead of being lost. A changed answer
(the token store, then the architecture) re-renders the project: files the new answers
no longer render are deleted, the others move to their new folders."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml
from conftest import (
    BASE_ANSWERS,
    child_env,
    commit_all,
    conflicts,
    git,
    render,
    run_command,
    tail,
    update,
)

TOKENS = "template/{{ pkg_dir }}/{{ dirs.application }}/tokens.py.jinja"
CONFIG = "template/{{ pkg_dir }}/config.py.jinja"
README = "template/README.md.jinja"
PACKAGE_DIR = Path("src/demo_service")
# copier.yml `dirs`: where each layered folder's modules live under architecture=clean.
CLEAN_FOLDERS = {
    "services": ("domain", "application"),
    "repositories": ("infrastructure",),
    "api": ("web",),
}
OWN_SUITE_PART = ["tests/test_endpoints.py", "tests/test_cli.py"]


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
    assert answers(project)["_commit"] == "v1.3.0"


def test_changing_answers_re_renders_cleanly(template: Path, tmp_path: Path, venv_for):
    release(template, "v1.1.0", {TOKENS: "\n\n# fix 1.1.0\n"})
    project = rendered_project(template, tmp_path)
    package = project / PACKAGE_DIR
    repositories = package / "repositories"
    assert (repositories / "redis_store.py").is_file()

    update(project, "v1.1.0", token_store="memory")

    assert conflicts(project) == []
    assert (repositories / "memory_store.py").is_file()
    assert not (repositories / "redis_store.py").exists()
    assert not (project / "tests" / "test_redis_store.py").exists()
    assert '"redis' not in (project / "pyproject.toml").read_text()
    assert answers(project)["token_store"] == "memory"
    assert_ruff_clean(project)
    commit_all(project, "token store: memory")

    layered = {folder: [p.name for p in (package / folder).iterdir()] for folder in CLEAN_FOLDERS}
    update(project, "v1.1.0", architecture="clean")

    # Copier deletes the files the new answers no longer render (its documented update
    # behaviour), then each folder left empty.
    assert conflicts(project) == []
    for folder, names in layered.items():
        assert not (package / folder).exists(), f"{folder}/ left behind"
        for name in names:
            moved = any((package / clean / name).exists() for clean in CLEAN_FOLDERS[folder])
            assert moved, f"{folder}/{name} is in none of {CLEAN_FOLDERS[folder]}"
    assert "# fix 1.1.0" in (package / "application" / "tokens.py").read_text()
    assert answers(project)["architecture"] == "clean"
    # models.py is the project's own (`_skip_if_exists`): Copier leaves it as it was, so it
    # still imports Base from the layered folder, and the package does not import until
    # the owner moves that import.
    models = package / "models.py"
    stale = "from demo_service.repositories.database import"
    assert stale in models.read_text()
    models.write_text(
        models.read_text().replace(stale, stale.replace("repositories", "infrastructure"))
    )
    assert_ruff_clean(project)
    # The app, its migrations (models.py) and the CLI, from the moved modules.
    python = venv_for(project) / "bin" / "python"
    result = run_command(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *OWN_SUITE_PART],
        cwd=project,
        env=child_env(),
    )
    assert result.returncode == 0, tail(result.stdout)


def answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def assert_ruff_clean(project: Path) -> None:
    for check in (["check", "."], ["format", "--check", "."]):
        result = run_command([sys.executable, "-m", "ruff", *check, "--no-cache"], cwd=project)
        assert result.returncode == 0, result.stdout
