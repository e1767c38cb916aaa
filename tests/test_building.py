"""A team builds its product on a rendered project by following its README, "Build your
product", to the letter, then takes a template release that changes the app's wiring: its
endpoint, its table and its settings keep working, and no conflict is left.

For every framework and both architectures: render at v1.0.0 and commit; do each step
of the rendered README's "Build your product" in order, its Python blocks written to the
files they name and its shell blocks run as written (so the README's example is what is
tested); add a test of our own; commit; ``copier update`` to v1.1.0, whose only change is
in the template's app wiring; then the project's own suite runs the README's endpoint
against a real token store, bad bodies included.
"""

from __future__ import annotations

import ast
import os
import re
import sqlite3
import sys
from pathlib import Path

import pytest
from conftest import (
    BASE_ANSWERS,
    COPIER_CONFIG,
    PACKAGE,
    child_env,
    commit_all,
    conflicts,
    git,
    question_choices,
    render,
    run_command,
    tail,
    update,
)

CASES = [
    (framework, architecture)
    for framework in question_choices(COPIER_CONFIG, "framework")
    for architecture in question_choices(COPIER_CONFIG, "architecture")
]
WEB = {"layered": "api", "clean": "web"}

# The wiring each framework's release v1.1.0 changes: the lines right where a project
# would otherwise have added its own router, blueprint or URLs.
WIRING = {
    "fastapi": (
        "app.py.jinja",
        "    app.include_router(router)\n",
        '    app.state.template_release = "1.1.0"\n',
    ),
    "flask": (
        "app.py.jinja",
        "    app.register_blueprint(auth)\n",
        '    app.config["TEMPLATE_RELEASE"] = "1.1.0"\n',
    ),
    "django": ("urls.py.jinja", "urlpatterns = [\n", 'TEMPLATE_RELEASE = "1.1.0"\n'),
}


def web_folder(framework: str) -> str:
    """The template folder of one framework's web adapter."""
    condition = "{% if framework == '" + framework + "' %}"
    return "template/{{ pkg_dir }}/" + condition + "{{ dirs.web }}{% endif %}"


BUILD = re.compile(r"^## Build your product\n(.*?)^## ", re.MULTILINE | re.DOTALL)
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
EDIT = re.compile(r"^# in (\S+): ((\w+) = .+)$", re.MULTILINE)  # "# in <file>: <line>"
# `uv run X` as the README writes it is X from the project's venv (first on the PATH).
UV = 'uv() { [ "$1" = run ] && shift; "$@"; }\n'

NOTES_TEST = '''"""The README's endpoint, through the rendered suite's fixtures (NOTE_LIMIT=5)."""

import pytest
from api_helpers import assert_error

JSON = {"Content-Type": "application/json"}


def test_notes_need_a_live_token_belong_to_their_user_and_keep_the_limit(client, login):
    assert_error(client.get("/notes"), 401, "invalid_token")
    mine, theirs = login(), login()
    created = client.post("/notes", token=mine["access_token"], json={"text": "first note"})
    assert created.status_code == 201, created.text
    assert created.json()["text"] == "first"  # NOTE_LIMIT, from project_settings.py
    listed = client.get("/notes", token=mine["access_token"])
    assert listed.status_code == 200, listed.text
    assert [n["text"] for n in listed.json()] == ["first"]
    assert client.get("/notes", token=theirs["access_token"]).json() == []

    assert client.post("/auth/logout", token=mine["access_token"]).status_code == 204
    assert_error(client.get("/notes", token=mine["access_token"]), 401, "token_revoked")


@pytest.mark.parametrize(
    "body", [b"{}", b'{"text": 5}', b'{"text": null}', b"not json", b'["text"]']
)
def test_a_body_that_does_not_fit_is_invalid_request(client, login, body):
    token = login()["access_token"]
    response = client.post("/notes", token=token, content=body, headers=JSON)
    assert set(assert_error(response, 422, "invalid_request")) == {"detail", "code"}
    assert client.get("/notes", token=token).json() == []
'''
PASSED = 1 + 1 + 5  # the README's test, then ours

OPENAPI_TEST = """

def test_the_openapi_document_has_bearer_auth_and_the_error_model(client):
    document = client.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= next(iter(schemes.values())).items()
    operation = document["paths"]["/notes"]["get"]
    assert operation["security"], operation
    error = operation["responses"]["401"]["content"]["application/json"]["schema"]["$ref"]
    model = document["components"]["schemas"][error.rsplit("/", 1)[1]]
    assert set(model["properties"]) == {"detail", "code"}
    validation = document["paths"]["/notes"]["post"]["responses"]["422"]
    assert validation["content"]["application/json"]["schema"]["$ref"] == error
    assert "HTTPValidationError" not in document["components"]["schemas"]
"""


def run(cmd: list[str], cwd: Path, **env: str) -> str:
    result = run_command(cmd, cwd=cwd, env=child_env(**env), timeout=600)
    assert result.returncode == 0, f"{' '.join(cmd)}:\n{tail(result.stdout)}"
    return result.stdout


def readme_steps(project: Path) -> list[tuple[str, str]]:
    """(language, code) of each code block of the README's "Build your product"."""
    section = BUILD.search((project / "README.md").read_text())
    assert section, 'README.md has no "Build your product" section'
    return BLOCK.findall(section[1])


def assigned(node: ast.stmt) -> str | None:
    if isinstance(node, ast.AnnAssign | ast.Assign):
        target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
        return getattr(target, "id", None)
    return None


def set_names(path: Path, snippet: str) -> None:
    """What a settings block means: each name it assigns takes its value there, in place
    of the file's own assignment of that name, else at the end."""
    for node in ast.parse(snippet).body:
        text = path.read_text()
        lines = text.splitlines(keepends=True)
        new = ast.get_source_segment(snippet, node) + "\n"
        old = [n for n in ast.parse(text).body if assigned(n) == assigned(node)]
        if old:
            lines[old[0].lineno - 1 : old[0].end_lineno] = [new]
        else:
            lines.append("\n" + new)
        path.write_text("".join(lines))


def follow_readme(project: Path, python: str, **env: str) -> tuple[dict[str, str], str]:
    """Each step of "Build your product", in order: a Python block is written to the file
    its first line names (a settings block sets its names there), a shell block is run
    as written, and what one of its comments says to set in a file is set.
    Returns the files written, by path, and the shell blocks' output."""
    written: dict[str, str] = {}
    output = ""
    path = f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}"
    for language, code in readme_steps(project):
        if language == "bash":
            output += run(["bash", "-euo", "pipefail", "-c", UV + code], project, PATH=path, **env)
            for name, line, attribute in EDIT.findall(code):
                target = project / name
                pattern = re.compile(rf"^(\s*){attribute} = .*$", re.MULTILINE)
                text, count = pattern.subn(rf"\g<1>{line}", target.read_text(), count=1)
                assert count == 1, f"{name} has no {attribute} to set"
                target.write_text(text)
            continue
        assert language == "python", language
        header, _, body = code.partition("\n")
        assert header.startswith("# "), f"a Python block names its file first:\n{code}"
        target = project / header.removeprefix("# ")
        if target.name == "project_settings.py":
            set_names(target, body)
        else:
            target.write_text(body)
            written[header.removeprefix("# ")] = body
    return written, output


@pytest.mark.parametrize(("framework", "architecture"), CASES, ids=lambda v: v)
def test_own_endpoint_table_and_setting_survive_an_update(
    framework, architecture, template: Path, tmp_path: Path, venv_for, redis_url: str
):
    project = tmp_path / "project"
    answers = {**BASE_ANSWERS, "framework": framework, "architecture": architecture}
    render(project, answers, vcs_ref="v1.0.0", src=template)
    git(project, "init", "-q")
    commit_all(project, "generated at v1.0.0")
    python = str(venv_for(project) / "bin" / "python")

    database = project / "app.db"
    env = {"DATABASE_URL": f"sqlite:///{database}", "PYTHONPATH": str(project / "src")}
    run([python, "-m", PACKAGE, "migrate"], project, **env)  # the README's first steps
    written, output = follow_readme(project, python, **env)
    package = project / "src" / PACKAGE
    web = package / WEB[architecture]
    endpoints = f"src/{PACKAGE}/{WEB[architecture]}/endpoints.py"
    assert endpoints in written, sorted(written)
    tables = {row[0] for row in sqlite3.connect(database).execute("select name from sqlite_master")}
    assert {"notes", "notes_note"} & tables, tables
    # The last migrate says it added the README's table.
    if framework == "django":
        assert "Upgraded the tables: applied notes.0001_initial." in output, output
    else:
        # After the project's branch root; the template's head stays where it was.
        upgraded = re.search(
            r"^Upgraded the tables from revisions (.+) to revisions (.+)\.$", output, re.M
        )
        assert upgraded, output
        before, after = (set(heads.split(", ")) for heads in upgraded.groups())
        assert before - after == {"project_root"}, output
        assert len(after - before) == 1, output
    extra = OPENAPI_TEST if framework == "fastapi" else ""
    (project / "tests" / "test_notes.py").write_text(NOTES_TEST + extra)
    ruff = [sys.executable, "-m", "ruff"]
    run([*ruff, "check", "--fix", "--no-cache", "."], project)  # what pre-commit does
    run([*ruff, "format", "--no-cache", "."], project)
    # The README's code is lint-clean as written: the hooks left it alone.
    assert {path: (project / path).read_text() for path in written} == written
    commit_all(project, "our notes")

    name, anchor, added = WIRING[framework]
    wiring = template / web_folder(framework) / name
    text = wiring.read_text()
    assert anchor in text, anchor
    wiring.write_text(text.replace(anchor, added + anchor, 1))
    # The release also changes the examples the project made its own: they stay the project's.
    own = [
        web_folder(framework) + "/endpoints.py.jinja",
        "template/{{ pkg_dir }}/project_settings.py.jinja",
    ]
    for name in own:
        with (template / name).open("a") as fh:
            fh.write("# changed in 1.1.0\n")
    commit_all(template, "release v1.1.0: the app's wiring changes")
    git(template, "tag", "v1.1.0")

    update(project, "v1.1.0")

    assert conflicts(project) == []
    assert git(project, "status", "--porcelain"), "the update changed nothing"
    wired = "".join(p.read_text() for p in web.rglob("*.py"))
    assert added.strip() in wired  # the release arrived
    assert (project / endpoints).read_text() == written[endpoints]  # the project's, untouched
    assert "NOTE_LIMIT" in (package / "project_settings.py").read_text()
    assert "changed in 1.1.0" not in (package / "project_settings.py").read_text()
    run([*ruff, "check", "--no-cache", "."], project)
    run([*ruff, "format", "--check", "--no-cache", "."], project)
    result = run_command(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_endpoints.py", "tests/test_notes.py"],
        cwd=project,
        env=child_env(REDIS_URL=redis_url, PYTHONDONTWRITEBYTECODE="1", NOTE_LIMIT="5"),
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, tail(result.stdout)
    expected = PASSED + (framework == "fastapi")
    assert f"{expected} passed" in result.stdout.splitlines()[-1], tail(result.stdout)
