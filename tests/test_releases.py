"""Releases: semantic-version tags, each with a CHANGELOG entry, newest first."""

from __future__ import annotations

import re
import subprocess
import tomllib

from conftest import TEMPLATE_ROOT

HEADING = re.compile(r"^## (v(\d+)\.(\d+)\.(\d+)) — \d{4}-\d{2}-\d{2}$", re.MULTILINE)
SECTIONS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def changelog() -> str:
    return (TEMPLATE_ROOT / "CHANGELOG.md").read_text()


def released_versions() -> list[str]:
    return [match.group(1) for match in HEADING.finditer(changelog())]


def test_changelog_releases_are_semantic_versions_newest_first():
    versions = released_versions()
    assert versions, "CHANGELOG.md has no release heading like '## v1.2.3 — 2026-01-31'"
    keys = [tuple(int(n) for n in v[1:].split(".")) for v in versions]
    assert keys == sorted(keys, reverse=True), versions
    assert len(set(keys)) == len(keys), versions


def test_changelog_uses_known_sections_so_security_fixes_stand_out():
    sections = set(re.findall(r"^### (.+)$", changelog(), re.MULTILINE))
    assert sections <= SECTIONS, sections - SECTIONS


def test_the_newest_release_is_the_template_version():
    version = tomllib.loads((TEMPLATE_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert released_versions()[0] == f"v{version}"


def test_every_release_tag_has_a_changelog_entry():
    tags = subprocess.run(
        ["git", "tag", "--list", "v*"], cwd=TEMPLATE_ROOT, capture_output=True, text=True
    ).stdout.split()
    missing = [tag for tag in tags if re.fullmatch(r"v\d+\.\d+\.\d+", tag)]
    missing = [tag for tag in missing if tag not in released_versions()]
    assert not missing, f"tags without a CHANGELOG entry: {missing}"
