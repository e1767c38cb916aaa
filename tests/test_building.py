"""A team builds its product on a rendered project, the documented way, then takes a
template release that changes the app's wiring: its endpoint, its table and its
settings keep working, and no conflict is left.

For every framework and both architectures: render at v1.0.0 and commit; add a table
with its migration (Alembic autogenerate from ``models.py``, or ``startapp`` and
``makemigrations``), an endpoint in ``endpoints.py`` with the framework's own helper,
a setting in ``project_settings.py`` and a test; commit; ``copier update`` to v1.1.0,
whose only change is in the template's app wiring; then the project's own suite runs
the endpoint against a real token store.
"""

from __future__ import annotations

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
INFRASTRUCTURE = {"layered": "repositories", "clean": "infrastructure"}

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


SQL_MODELS = '''"""Our tables."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from {package}.{infrastructure}.database import Base


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(1000))
'''

DJANGO_MODELS = """from django.conf import settings
from django.db import models


class Note(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    text = models.CharField(max_length=1000)
"""

ENDPOINTS = {
    "fastapi": '''"""Our endpoints."""

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from {package} import project_settings
from {package}.models import Note

from {package}.{web}.deps import CurrentUser, DbSession
from {package}.{web}.schemas import PROTECTED

router = APIRouter(tags=["notes"])


class NoteIn(BaseModel):
    text: str


class NoteOut(BaseModel):
    id: int
    text: str


@router.post("/notes", status_code=201, responses=PROTECTED)
def add_note(body: NoteIn, user: CurrentUser, db: DbSession) -> NoteOut:
    note = Note(user_id=user.id, text=f"{{project_settings.NOTE_PREFIX}}{{body.text}}")
    db.add(note)
    db.commit()
    return NoteOut(id=note.id, text=note.text)


@router.get("/notes", responses=PROTECTED)
def list_notes(user: CurrentUser, db: DbSession) -> list[NoteOut]:
    notes = db.scalars(select(Note).where(Note.user_id == user.id).order_by(Note.id))
    return [NoteOut(id=note.id, text=note.text) for note in notes]
''',
    "flask": '''"""Our endpoints."""

from flask import Blueprint, request
from sqlalchemy import select

from {package} import project_settings
from {package}.models import Note

from {package}.{web}.db import get_db
from {package}.{web}.security import current_user, login_required

blueprint = Blueprint("notes", __name__)


@blueprint.post("/notes")
@login_required
def add_note() -> tuple[dict, int]:
    text = request.get_json()["text"]
    note = Note(user_id=current_user.id, text=f"{{project_settings.NOTE_PREFIX}}{{text}}")
    get_db().add(note)
    get_db().commit()
    return {{"id": note.id, "text": note.text}}, 201


@blueprint.get("/notes")
@login_required
def list_notes() -> list[dict]:
    query = select(Note).where(Note.user_id == current_user.id).order_by(Note.id)
    return [{{"id": note.id, "text": note.text}} for note in get_db().scalars(query)]
''',
    "django": '''"""Our endpoints."""

from django.conf import settings
from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from {package}.notes.models import Note


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = ["id", "text"]


class NotesView(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request) -> Response:
        serializer = NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = serializer.save(user=request.user, text=settings.NOTE_PREFIX + request.data["text"])
        return Response(NoteSerializer(note).data, status=201)

    def get(self, request) -> Response:
        notes = Note.objects.filter(user=request.user).order_by("id")
        return Response(NoteSerializer(notes, many=True).data)


urlpatterns = [
    path("notes", NotesView.as_view()),
]
''',
}

NOTES_TEST = '''"""Our endpoint, through the rendered suite's fixtures."""

from api_helpers import assert_error


def test_notes_need_a_live_token_and_belong_to_their_user(client, login):
    assert_error(client.get("/notes"), 401, "invalid_token")
    mine, theirs = login(), login()
    created = client.post("/notes", token=mine["access_token"], json={{"text": "first"}})
    assert created.status_code == 201, created.text
    assert created.json()["text"] == "note: first"
    listed = client.get("/notes", token=mine["access_token"])
    assert listed.status_code == 200, listed.text
    assert [n["text"] for n in listed.json()] == ["note: first"]
    assert client.get("/notes", token=theirs["access_token"]).json() == []

    assert client.post("/auth/logout", token=mine["access_token"]).status_code == 204
    assert_error(client.get("/notes", token=mine["access_token"]), 401, "token_revoked")
{extra}'''

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


def add_table(project: Path, python: str, framework: str, architecture: str) -> None:
    """The documented way: README.md, "Build your product"."""
    package = project / "src" / PACKAGE
    env = {"DATABASE_URL": f"sqlite:///{project / 'app.db'}", "PYTHONPATH": str(project / "src")}
    if framework == "django":
        (package / "notes").mkdir()
        run([python, "manage.py", "startapp", "notes", f"src/{PACKAGE}/notes"], project, **env)
        apps = package / "notes" / "apps.py"
        apps.write_text(apps.read_text().replace("name = 'notes'", f"name = '{PACKAGE}.notes'"))
        (package / "notes" / "models.py").write_text(DJANGO_MODELS)
        settings = package / "project_settings.py"
        text = settings.read_text().replace(
            '    # "notes",  # an app of yours', f'    "{PACKAGE}.notes",  # an app of yours'
        )
        settings.write_text(text)
        run([python, "manage.py", "makemigrations", "notes"], project, **env)
    else:
        models = SQL_MODELS.format(package=PACKAGE, infrastructure=INFRASTRUCTURE[architecture])
        (package / "models.py").write_text(models)
        run([python, "-m", PACKAGE, "migrate"], project, **env)
        run([python, "-m", "alembic", "revision", "--autogenerate", "-m", "add notes"], project,
            **env)  # fmt: skip
    run([python, "-m", PACKAGE, "migrate"], project, **env)
    tables = sqlite3.connect(project / "app.db").execute("select name from sqlite_master")
    assert {"notes", "notes_note"} & {name for (name,) in tables}


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

    add_table(project, python, framework, architecture)
    package = project / "src" / PACKAGE
    web = package / WEB[architecture]
    endpoints = ENDPOINTS[framework].format(package=PACKAGE, web=WEB[architecture])
    (web / "endpoints.py").write_text(endpoints)
    with (package / "project_settings.py").open("a") as fh:
        fh.write('\nNOTE_PREFIX = ENV.get("NOTE_PREFIX", "note: ")\n')
    extra = OPENAPI_TEST if framework == "fastapi" else ""
    (project / "tests" / "test_notes.py").write_text(NOTES_TEST.format(extra=extra))
    (project / "tests" / "test_endpoints.py").unlink()  # the example's test, with the example
    ruff = [sys.executable, "-m", "ruff"]
    run([*ruff, "check", "--fix", "--no-cache", "."], project)  # what pre-commit does
    run([*ruff, "format", "--no-cache", "."], project)
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
    assert (web / "endpoints.py").read_text() == endpoints  # the project's file, untouched
    assert "NOTE_PREFIX" in (package / "project_settings.py").read_text()
    assert "changed in 1.1.0" not in (package / "project_settings.py").read_text()
    run([*ruff, "check", "--no-cache", "."], project)
    run([*ruff, "format", "--check", "--no-cache", "."], project)
    result = run_command(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_notes.py"],
        cwd=project,
        env=child_env(REDIS_URL=redis_url, PYTHONDONTWRITEBYTECODE="1"),
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, tail(result.stdout)
    expected = "2 passed" if framework == "fastapi" else "1 passed"
    assert expected in result.stdout.splitlines()[-1], tail(result.stdout)
