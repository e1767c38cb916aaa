"""`copier update` brings a template fix in and keeps the project's own edits."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import copier
import yaml
from conftest import BASE_ANSWERS, TEMPLATE_ROOT, render

TOKENS = "template/{{ pkg_dir }}/{{ dirs.application }}/tokens.py.jinja"
MARKER = "# security fix marker"
README_EDIT = "Project-specific note that must survive updates."


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
    git(repo, "commit", "-q", "--no-verify", "-m", message)


def snapshot_template(dst: Path) -> Path:
    """The template's working tree (tracked + untracked, not ignored) as a fresh repo."""
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


def test_update_brings_fix_and_keeps_edits(tmp_path: Path):
    template = snapshot_template(tmp_path / "template")
    with (template / TOKENS).open("a") as fh:
        fh.write(f"{MARKER}\n")
    commit_all(template, "security fix")
    git(template, "tag", "v1.1.0")

    project = tmp_path / "project"
    render(project, dict(BASE_ANSWERS), vcs_ref="v1.0.0", src=template)
    git(project, "init", "-q")
    commit_all(project, "generated")
    with (project / "README.md").open("a") as fh:
        fh.write(f"\n{README_EDIT}\n")
    commit_all(project, "own edit")

    copier.run_update(
        str(project),
        vcs_ref="v1.1.0",
        defaults=True,
        overwrite=True,
        skip_answered=True,
        unsafe=False,
        quiet=True,
    )

    tokens = [p for p in project.rglob("tokens.py") if ".git" not in p.parts]
    assert tokens, "no tokens.py rendered"
    assert all(MARKER in p.read_text() for p in tokens), "template fix did not arrive"
    assert README_EDIT in (project / "README.md").read_text(), "project edit was lost"
    conflicts = [
        str(path.relative_to(project))
        for path in project.rglob("*")
        if ".git" not in path.parts
        and path.is_file()
        and (
            path.suffix == ".rej"
            or re.search("^(<{7}|>{7})", path.read_text(errors="replace"), re.M)
        )
    ]
    assert not conflicts, f"update left conflicts: {conflicts}"
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v1.1.0"
