"""Print the tag of the newest release in a CHANGELOG: ``vX.Y.Z``.

The newest release is the first heading of the form ``## vX.Y.Z — YYYY-MM-DD`` (the
CHANGELOG lists releases newest first; any other heading, such as ``## Unreleased``, is
not a release). With no such heading it prints nothing and exits 1, saying why on
stderr. Used by .github/workflows/release.yml; standard library only.

    python3 .github/release_tag.py [CHANGELOG.md]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HEADING = re.compile(r"^## (v\d+\.\d+\.\d+) — \d{4}-\d{2}-\d{2}$", re.MULTILINE)


def newest_tag(text: str) -> str | None:
    match = HEADING.search(text)
    return match.group(1) if match else None


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "CHANGELOG.md")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"release_tag: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    tag = newest_tag(text)
    if tag is None:
        print(
            f"release_tag: {path} has no release heading like '## v1.2.3 — 2026-01-31'",
            file=sys.stderr,
        )
        return 1
    print(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
