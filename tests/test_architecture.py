"""The ``architecture`` answer only moves files: per framework, the layered render, its
layer folders and first-party import paths renamed to the clean ones, is the clean
render file by file. Only the order of lines inside a first-party import block may
differ (ruff's import sections follow the layer folders)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import BASE_ANSWERS, COPIER_CONFIG, PACKAGE, question_choices, render

# copier.yml `dirs`: the layered folder of each clean one.
LAYERED_FOLDER = {
    "domain": "services",
    "application": "services",
    "infrastructure": "repositories",
    "web": "api",
}
PACKAGE_DIR = f"src/{PACKAGE}"
SOLE_FOLDER = {"repositories": "infrastructure", "api": "web"}  # services holds two
LAYERED_NAME = re.compile(r"\b(services|repositories|api)([./])(\w+)")
LAYERED_FOLDER_NAME = re.compile(rf"`({'|'.join(SOLE_FOLDER)})/`")  # a folder named in prose
LAYERED_PACKAGE = re.compile(rf"\b{PACKAGE}\.({'|'.join(SOLE_FOLDER)})\b")
IMPORT = rf"^(?:from|import) {PACKAGE}\b[^\n(]*(?:\([^)]*\))?.*\n"
IMPORT_BLOCK = re.compile(rf"(?:{IMPORT}(?:\n+(?=(?:from|import) {PACKAGE}\b))?)+", re.M)
# pyproject.toml's import sections name the layer folders (and, where domain and
# application share one, the domain modules), so they differ by design.
ISORT_TABLES = re.compile(r"^\[tool\.ruff\.lint\.isort[^\n]*\n(?:(?!\[)[^\n]*\n)*", re.M)
ANSWERS_FILE = ".copier-answers.yml"  # records the architecture answer itself


def tree(root: Path) -> dict[str, str]:
    files = (p for p in root.rglob("*") if p.is_file() and p.name != ANSWERS_FILE)
    return {p.relative_to(root).as_posix(): p.read_text() for p in files}


def layer_and_module(path: str) -> tuple[str, str]:
    """("services", "auth") for src/<package>/services/auth.py; ("", "") outside the package."""
    if not path.startswith(f"{PACKAGE_DIR}/"):
        return "", ""
    folder, _, rest = path.removeprefix(f"{PACKAGE_DIR}/").partition("/")
    return folder, rest.split("/")[0].removesuffix(".py")


def normalise(path: str, text: str) -> str:
    """The first-party import block sorted; pyproject.toml without its import sections."""
    if path == "pyproject.toml":
        text = ISORT_TABLES.sub("", text)
    return IMPORT_BLOCK.sub(lambda m: "".join(sorted(re.findall(IMPORT, m[0], re.M))), text)


@pytest.mark.parametrize("framework", question_choices(COPIER_CONFIG, "framework"))
def test_architecture_only_moves_files(framework: str, tmp_path: Path):
    answers = {**BASE_ANSWERS, "framework": framework, "token_store": "redis", "layout": "src"}
    render(tmp_path / "layered", {**answers, "architecture": "layered"})
    render(tmp_path / "clean", {**answers, "architecture": "clean"})
    clean = tree(tmp_path / "clean")
    # (layered folder, module) -> the clean folders holding it: two for services/__init__.py.
    moved: dict[tuple[str, str], list[str]] = {}
    for path in clean:
        folder, module = layer_and_module(path)
        if folder in LAYERED_FOLDER:
            moved.setdefault((LAYERED_FOLDER[folder], module), []).append(folder)

    def rename(text: str) -> str:
        text = LAYERED_NAME.sub(lambda m: moved.get((m[1], m[3]), [m[1]])[0] + m[2] + m[3], text)
        text = LAYERED_FOLDER_NAME.sub(lambda m: f"`{SOLE_FOLDER[m[1]]}/`", text)
        return LAYERED_PACKAGE.sub(lambda m: f"{PACKAGE}.{SOLE_FOLDER[m[1]]}", text)

    layered: dict[str, str] = {}
    for path, text in tree(tmp_path / "layered").items():
        folder, module = layer_and_module(path)
        for clean_folder in moved.get((folder, module), [folder]):
            layered[path.replace(f"/{folder}/", f"/{clean_folder}/", 1)] = rename(text)

    assert sorted(layered) == sorted(clean)
    for path, text in clean.items():
        assert normalise(path, layered[path]) == normalise(path, text), path
