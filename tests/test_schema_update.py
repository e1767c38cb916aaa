"""A release that changes the users table reaches a project that has tables of its own.

v0.8.0 adds the template's second migration (``users.email_verified``). A project made
from v0.7.0 that followed its README's "Build your product" has a migration of its own on
the template's first one; `copier update` and one `migrate` must take the new one in: no
second head to merge by hand, its users still log in (unverified), its own rows are kept.

For every framework and both architectures: render PREVIOUS_RELEASE (the commit the
template was at before its migrations got branches of their own), follow its README's
"Build your product" to the letter, migrate, register a user and write a note through
the running service (the README's endpoint), commit; `copier update` to the working
tree; migrate; the same user logs in, is not verified, and reads the note back. For
Alembic, the project's next migration, made with the README's command, then goes on its
own branch, after the one it made before: a fresh database gets both in order.
"""

from __future__ import annotations

import io
import re
import shlex
import shutil
import sqlite3
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest
from conftest import (
    BASE_ANSWERS,
    COPIER_CONFIG,
    PACKAGE,
    TEMPLATE_ROOT,
    child_env,
    commit_all,
    conflicts,
    delete_keys,
    free_port,
    git,
    question_choices,
    render,
    start_service,
    stop,
    tail,
    update,
    wait_for_health,
)
from test_building import follow_readme, run
from test_server import call

# The last commit of v0.7.0, where every project's own Alembic revision sits on "0001".
PREVIOUS_RELEASE = "33d2cf03f162e95b58f26170c0a41f0cca7268d4"
CASES = [
    (framework, architecture)
    for framework in question_choices(COPIER_CONFIG, "framework")
    for architecture in question_choices(COPIER_CONFIG, "architecture")
]
CREDENTIALS = {"email": "kept@example.com", "password": "correct horse battery"}
# What the project's next Alembic migration changes: a column of its own table.
TITLE = "    title: Mapped[str | None] = mapped_column(String(100))\n"
DJANGO_0002 = "0002_useraccount_email_verified"
# The template's Alembic head in the working tree: the newest of its own migrations.
ALEMBIC_HEAD = max(
    path.name.partition("_")[0]
    for path in TEMPLATE_ROOT.glob("template/*/*migrations*/template_versions/0*.py")
)


@pytest.fixture
def releases(tmp_path: Path) -> Path:
    """A template repository with two releases: v0.7.0, the tree of PREVIOUS_RELEASE, and
    v0.8.0, the working tree (tracked and untracked files, as the `template` fixture)."""
    repo = tmp_path / "template"
    repo.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", PREVIOUS_RELEASE],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        check=False,
    )
    assert archive.returncode == 0, (
        f"{PREVIOUS_RELEASE} is not in this clone (fetch the history): {archive.stderr!r}"
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(repo, filter="data")
    git(repo, "init", "-q")
    commit_all(repo, "template v0.7.0")
    git(repo, "tag", "v0.7.0")
    for path in repo.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    listing = git(TEMPLATE_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listing.split("\0")):
        if (TEMPLATE_ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE_ROOT / name, repo / name)
    commit_all(repo, "template v0.8.0")
    git(repo, "tag", "v0.8.0")
    return repo


class Service:
    """`python -m <package> serve` of the project, on its database and a Redis prefix."""

    def __init__(self, project: Path, python: str, env: dict[str, str]) -> None:
        self.project, self.python, self.env = project, python, env
        self.base = f"http://127.0.0.1:{env['PORT']}"

    def __enter__(self) -> Service:
        log = self.project.parent / "server.log"
        self.process = start_service(self.python, self.project, self.env, log)
        wait_for_health(self.process, lambda: call(self.base, "GET", "/health")[0] == 200, log)
        return self

    def __exit__(self, *exc_info) -> None:
        stop(self.process)

    def call(self, method: str, path: str, body=None, token=None) -> tuple[int, dict | None]:
        return call(self.base, method, path, body, token)


def migrate(python: str, project: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [python, "-m", PACKAGE, "migrate"], cwd=project, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, tail(result.stdout + result.stderr)
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(("framework", "architecture"), CASES, ids=lambda v: v)
def test_an_update_with_a_template_migration_keeps_the_project_s_own(
    framework, architecture, releases: Path, tmp_path: Path, venv_for, redis_url: str
):
    project = tmp_path / "project"
    render(project, {**BASE_ANSWERS, "framework": framework, "architecture": architecture},
           vcs_ref="v0.7.0", src=releases)  # fmt: skip
    git(project, "init", "-q")
    commit_all(project, "generated at v0.7.0")
    database = tmp_path / "app.db"
    prefix = f"tripwire-test-{uuid.uuid4().hex[:10]}:"
    env = child_env(
        PYTHONPATH=str(project / "src"),
        DATABASE_URL=f"sqlite:///{database}",
        JWT_SECRET=uuid.uuid4().hex + uuid.uuid4().hex,
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=prefix,
        PORT=str(free_port()),
        LOG_LEVEL="WARNING",
    )
    python = str(venv_for(project) / "bin" / "python")
    migrate(python, project, env)  # the README's first steps, then "Build your product"
    follow_readme(project, python, DATABASE_URL=env["DATABASE_URL"], PYTHONPATH=env["PYTHONPATH"])
    try:
        with Service(project, python, env) as service:
            assert service.call("POST", "/auth/register", CREDENTIALS)[0] == 201
            _, pair = service.call("POST", "/auth/login", CREDENTIALS)
            note = {"text": "written before the update"}
            assert service.call("POST", "/notes", note, pair["access_token"])[0] == 201
        commit_all(project, "our notes")

        update(project, "v0.8.0")

        assert conflicts(project) == []
        python = str(venv_for(project) / "bin" / "python")  # the release's dependencies
        applied = migrate(python, project, env)  # one command, no merge
        if framework == "django":
            assert applied == f"Upgraded the tables: applied {PACKAGE}.{DJANGO_0002}.", applied
        else:
            upgraded = re.fullmatch(
                r"Upgraded the tables from revision (\w+) to revisions (.+)\.", applied
            )
            assert upgraded, applied
            assert set(upgraded[2].split(", ")) == {ALEMBIC_HEAD, upgraded[1], "project_root"}
        with Service(project, python, env) as service:
            status, pair = service.call("POST", "/auth/login", CREDENTIALS)
            assert status == 200, pair
            _, me = service.call("GET", "/auth/me", token=pair["access_token"])
            assert me == {"id": me["id"], "email": CREDENTIALS["email"], "email_verified": False}
            _, notes = service.call("GET", "/notes", token=pair["access_token"])
            assert [n["text"] for n in notes] == ["written before the update"]
    finally:
        delete_keys(redis_url, prefix)
    if framework != "django":
        next_migration_goes_on_the_project_s_branch(project, python, env)


def next_migration_goes_on_the_project_s_branch(
    project: Path, python: str, env: dict[str, str]
) -> None:
    """The README's command for the project's next migration: on its branch, after the
    one made before the update, so that a fresh database gets them in order."""
    models = project / "src" / PACKAGE / "models.py"
    text = models.read_text()
    models.write_text(text.replace("    text: Mapped[str]", TITLE + "    text: Mapped[str]", 1))
    readme = (project / "README.md").read_text()
    command = re.search(r"^uv run (alembic revision [^#\n]*)", readme, re.MULTILINE)
    assert command, "README.md shows no `alembic revision` command"
    words = shlex.split(command[1])
    words[words.index("-m") + 1] = "note titles"
    alembic = [str(Path(python).parent / "alembic"), *words[1:]]
    run(alembic, project, DATABASE_URL=env["DATABASE_URL"], PYTHONPATH=env["PYTHONPATH"])
    fresh = project.parent / "fresh.db"
    created = migrate(python, project, {**env, "DATABASE_URL": f"sqlite:///{fresh}"})
    assert created.startswith(f"Created the tables (revisions {ALEMBIC_HEAD}, "), created
    columns = sqlite3.connect(fresh).execute("PRAGMA table_info(notes)").fetchall()
    assert "title" in {column[1] for column in columns}
