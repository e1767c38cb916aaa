"""`_min_copier_version` is true: the oldest Copier it allows renders every framework,
layout and architecture exactly as the current Copier does."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

import pytest
from conftest import BASE_ANSWERS, COPIER_CONFIG, TEMPLATE_ROOT, build_venv, render, tail

MIN_COPIER = COPIER_CONFIG["_min_copier_version"]
SAMPLES = [
    {"framework": "fastapi", "token_store": "redis", "layout": "src", "architecture": "layered"},
    {"framework": "flask", "token_store": "memory", "layout": "flat", "architecture": "clean"},
    {"framework": "django", "token_store": "redis", "layout": "flat", "architecture": "clean"},
]


def differences(left: Path, right: Path) -> list[str]:
    """Files that differ or exist on one side only, ignoring the answers file."""
    compare = filecmp.dircmp(left, right, ignore=[".copier-answers.yml"])
    found: list[str] = []

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        found.extend(prefix + name for name in cmp.left_only + cmp.right_only + cmp.diff_files)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(compare, "")
    return found


@pytest.mark.parametrize("answers", SAMPLES, ids=lambda a: "-".join(a.values()))
def test_oldest_allowed_copier_renders_the_same(answers, tmp_path: Path):
    venv = build_venv("3.11", [f"copier=={MIN_COPIER}"])
    old, new = tmp_path / "old", tmp_path / "new"
    data = {**BASE_ANSWERS, **answers}
    command = [str(venv / "bin" / "copier"), "copy", "--defaults", "--vcs-ref=HEAD"]
    for key, value in data.items():
        command += ["-d", f"{key}={value}"]
    result = subprocess.run(
        [*command, str(TEMPLATE_ROOT), str(old)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, tail(result.stdout + result.stderr)
    render(new, data)
    assert differences(old, new) == []
