"""Answer validation and the no-answers-but-a-name defaults."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import BASE_ANSWERS, TEMPLATE_ROOT, render, tail

BAD_ANSWERS = [
    ("project_slug", "Bad_Slug"),
    ("project_slug", "1abc"),
    ("project_slug", "-x"),
    ("project_slug", "a" * 33),
    ("package_name", "1abc"),
    ("package_name", "class"),
    ("package_name", "json"),
    ("package_name", "os"),
    ("package_name", "redis"),
    ("package_name", "a" * 33),
    ("author_email", "nope"),
    ("python_version", "3.9"),
    ("framework", "rails"),
    ("token_store", "sqlite"),
    ("layout", "weird"),
    ("architecture", "hexagonal"),
    ("project_name", ""),
    ("project_name", "  "),
]


@pytest.mark.parametrize(
    ("question", "value"), BAD_ANSWERS, ids=[f"{q}={v!r}" for q, v in BAD_ANSWERS]
)
def test_bad_answer_is_refused(question: str, value: str, tmp_path: Path):
    with pytest.raises(ValueError, match=question):
        render(tmp_path / "project", {**BASE_ANSWERS, question: value})


def test_defaults(tmp_path: Path):
    dst = tmp_path / "demo"
    cmd = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", "--vcs-ref=HEAD"]
    cmd += ["-d", "project_name=Demo", str(TEMPLATE_ROOT), str(dst)]
    result = subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, tail(result.stdout + result.stderr)

    assert (dst / "src" / "demo" / "__init__.py").is_file()
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text())
    assert answers["package_name"] == "demo"
    assert answers["framework"] == "fastapi"
    assert answers["token_store"] == "redis"
    assert answers["layout"] == "src"
    assert answers["architecture"] == "layered"
    assert str(answers["python_version"]) == "3.12"
    assert answers.get("_commit")
    assert answers.get("_src_path")
