"""What every variant ships besides the code: CI workflow, Dockerfile, compose file and
pre-commit configuration, each checked by the tool its ecosystem uses.

- ``.github/workflows/ci.yml``: ``check-jsonschema`` (GitHub's workflow schema) and
  ``zizmor --offline`` (no findings at the default persona); GitHub expressions survive
  Jinja; every action is pinned to a full commit SHA; every job installs with
  ``uv sync --locked`` at the uv version the Dockerfile installs; a PostgreSQL job.
- ``Dockerfile``: ``hadolint``, no finding of any level; the builder installs uv.lock
  with ``uv sync --locked``, the ``postgres`` extra by a build argument.
- ``compose.yaml``: ``check-jsonschema`` (the compose-spec schema); PostgreSQL as the
  ``postgres`` profile; Prometheus and Grafana as the ``monitoring`` profile, on the
  loopback only, with the files they mount.
- ``deploy/prometheus.yml`` scrapes ``app:8000`` (``promtool check config
  --syntax-only`` too where promtool is installed); ``deploy/grafana-dashboard.json`` is
  an importable dashboard on a Prometheus data source variable. The rendered
  ``tests/test_dashboard.py`` checks its queries against the metrics the service serves.
- ``.python-version`` holds the answered Python; ``.gitignore`` keeps uv.lock.
- The template's own workflows (``ci.yml``, ``release.yml``): the same two linters.
- ``.pre-commit-config.yaml``, on one render per framework (its default answers
  otherwise): ``pre-commit validate-config``, and ``pre-commit run --all-files`` passes;
  on one render, a stray ``.rej`` file or a conflict marker makes it fail.

The tools come from the test environment (the ``test`` dependency group); the pre-commit
hook environments are built once under ``$TRIPWIRE_CACHE/pre-commit``.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import (
    BASE_ANSWERS,
    COPIER_CONFIG,
    DEFAULT_VARIANT,
    MATRIX_QUESTIONS,
    PACKAGE,
    TEMPLATE_ROOT,
    cache_root,
    child_env,
    question_choices,
    render,
    run_command,
    tail,
    variant_id,
)

BIN = Path(sys.executable).parent
WORKFLOW = Path(".github/workflows/ci.yml")
TEMPLATE_WORKFLOWS = [WORKFLOW, Path(".github/workflows/release.yml")]
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
UV_PIN = re.compile(r"^RUN pip install --no-cache-dir uv==(\d+\.\d+\.\d+)$", re.MULTILINE)
UV_SYNC_IMAGE = "uv sync --locked --no-dev --no-editable"
PRE_COMMIT_TIMEOUT = 1200  # the first run builds the hook environments
MONITORING = {"prometheus", "grafana"}  # compose's `monitoring` profile


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed in the test environment ({BIN})", pytrace=False)
    return str(path)


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 300):
    return run_command(cmd, cwd=cwd, env=env, timeout=timeout)


def check(cmd: list[str], cwd: Path) -> str:
    result = run(cmd, cwd)
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} (exit {result.returncode}):\n{tail(result.stdout)}", pytrace=False
        )
    return result.stdout


def load_workflow(project: Path) -> dict:
    workflow = yaml.safe_load((project / WORKFLOW).read_text())
    if True in workflow:  # YAML 1.1 reads the key `on` as a boolean
        workflow["on"] = workflow.pop(True)
    return workflow


def answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


# --------------------------------------------------------------------------- every variant


def test_workflow_schema(project: Path):
    check(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        project,
    )


def test_workflow_zizmor(project: Path):
    # --no-ignores: a finding silenced by a comment in the template counts too.
    check(
        [tool("zizmor"), "--offline", "--no-ignores", "--no-progress", "--strict-collection", "."],
        project,
    )


def test_workflow_expressions_and_pins(project: Path):
    text = (project / WORKFLOW).read_text()
    assert "${{ github." in text, "the GitHub expressions were eaten by Jinja"
    workflow = load_workflow(project)
    assert set(workflow["on"]) == {"push", "pull_request", "schedule", "workflow_dispatch"}
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert set(jobs) == {"lint", "test", "test-postgres", "template-update"}
    assert jobs["test"]["needs"] == "lint"
    assert jobs["test-postgres"]["needs"] == "lint"
    assert "schedule" in jobs["template-update"]["if"]
    assert "workflow_dispatch" in jobs["template-update"]["if"]
    assert "schedule" not in jobs["lint"]["if"]
    update_run = " ".join(step.get("run", "") for step in jobs["template-update"]["steps"])
    assert "copier check-update --quiet" in update_run
    # check-update exists from Copier 9.13 on.
    assert '"copier>=9.13,<10"' in update_run

    python = answers(project)["python_version"]
    uv = UV_PIN.search((project / "Dockerfile").read_text()).group(1)
    for name, job in jobs.items():
        uses = [step["uses"].partition("@")[0] for step in job["steps"] if "uses" in step]
        assert uses == ["actions/checkout", "astral-sh/setup-uv"], name
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name
            if step.get("uses", "").startswith("astral-sh/setup-uv@"):
                assert step["with"]["python-version"] == python, name
                assert step["with"]["version"] == uv, f"{name}: uv differs from the Dockerfile's"
        runs = [step["run"] for step in job["steps"] if "run" in step]
        runs = [run for run in runs if "apt-get install" not in run]  # redis-server, below
        if name != "template-update":
            assert runs[0].partition("  #")[0] == "uv sync --locked", name
            assert all(run.startswith("uv ") for run in runs), name
    for name in ("test", "test-postgres"):
        assert [s["run"] for s in jobs[name]["steps"] if "run" in s][-1] == "uv run pytest"
    lint_runs = " ".join(step.get("run", "") for step in jobs["lint"]["steps"])
    assert " ruff check " in lint_runs
    assert " ruff format --check" in lint_runs
    uses_lines = [line.strip() for line in text.splitlines() if "uses:" in line]
    assert uses_lines
    for line in uses_lines:
        assert PINNED_USES.match(line.split("uses:", 1)[1].strip()), f"not pinned: {line}"

    redis = answers(project)["token_store"] == "redis"
    services = jobs["test"].get("services", {})
    assert ("redis" in services) is redis
    assert (jobs["test"].get("env", {}).get("REDIS_URL") == "redis://localhost:6379/0") is redis
    if redis:
        assert services["redis"]["image"] == "redis:7"
        assert "6379:6379" in services["redis"]["ports"]
        assert "--health-cmd" in services["redis"]["options"]

    # The suite once more with its users in PostgreSQL (the rendered database fixtures
    # read TEST_DATABASE_URL; psycopg comes with the dev extra).
    postgres_job = jobs["test-postgres"]
    services = postgres_job["services"]
    assert set(services) == ({"postgres", "redis"} if redis else {"postgres"})
    assert re.fullmatch(r"postgres:1[67]", services["postgres"]["image"])
    assert "5432:5432" in services["postgres"]["ports"]
    assert "pg_isready" in services["postgres"]["options"]
    env = postgres_job["env"]
    assert env["TEST_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@localhost:5432/" in env["TEST_DATABASE_URL"]
    assert (env.get("REDIS_URL") == "redis://localhost:6379/0") is redis
    if redis:
        assert services["redis"] == jobs["test"]["services"]["redis"]
    # The Cluster and Sentinel tests start their own redis-server processes.
    for name in ("test", "test-postgres"):
        runs = " ".join(step.get("run", "") for step in jobs[name]["steps"])
        assert ("apt-get install" in runs and "redis-server" in runs) is redis


def test_dockerfile_hadolint(project: Path):
    check([tool("hadolint"), "--no-color", "--failure-threshold", "info", "Dockerfile"], project)
    text = (project / "Dockerfile").read_text()
    assert "hadolint ignore" not in text
    python = answers(project)["python_version"]
    froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert len(froms) >= 2, f"not multi-stage: {froms}"
    assert froms[-1] == f"python:{python}-slim", froms
    assert re.search(r"^USER (?!root|0\b)", text, re.MULTILINE), "the image runs as root"
    assert f'CMD ["python", "-m", "{PACKAGE}", "serve"]' in text
    instructions = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in instructions if "SECRET" in line], "a secret in the image"

    # The builder: uv from PyPI (pinned), the locked dependencies into /opt/venv, the
    # service as a wheel; the optional extras (postgres) by a build argument.
    _, builder, *_, final = re.split(r"^FROM ", text, flags=re.MULTILINE)
    assert UV_PIN.search(builder), "uv is not installed from PyPI at a pinned version"
    assert "UV_PROJECT_ENVIRONMENT=/opt/venv" in builder
    assert "UV_COMPILE_BYTECODE=1" in builder
    assert "UV_LINK_MODE=copy" in builder
    copies = re.findall(r"^COPY (.+)$", builder, re.MULTILINE)
    assert copies[0].split() == ["pyproject.toml", "uv.lock", "README.md", "./"], copies
    assert re.search(r'^ARG EXTRAS=""$', builder, re.MULTILINE)
    assert f'RUN {UV_SYNC_IMAGE} ${{EXTRAS:+--extra "$EXTRAS"}}' in builder
    assert "COPY --from=builder /opt/venv /opt/venv" in final
    assert not re.search(r"\buv\b", final), "uv has no business in the final image"


def test_dockerignore(project: Path):
    patterns = (project / ".dockerignore").read_text().split()
    for pattern in (".git", ".venv", ".env", "**/*.db", "**/__pycache__"):
        assert pattern in patterns, pattern
    # What the builder copies stays in the build context.
    for name in ("pyproject.toml", "uv.lock", "README.md", "src", PACKAGE):
        assert not ignored(name, patterns), name


def ignored(name: str, patterns: list[str]) -> bool:
    """Whether one of ``patterns`` (.gitignore/.dockerignore globs, no negations) matches
    ``name``, a file at the top of the project."""
    return any(fnmatch.fnmatch(name, p.strip("/").removeprefix("**/")) for p in patterns)


def test_python_version_and_gitignore(project: Path):
    python = answers(project)["python_version"]
    assert (project / ".python-version").read_text() == f"{python}\n"
    patterns = [
        line.strip()
        for line in (project / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not [p for p in patterns if p.startswith("!")], "negations: match them by git"
    for name in ("uv.lock", ".python-version", "pyproject.toml"):
        assert not ignored(name, patterns), f"{name} is to be committed"


def test_compose_schema(project: Path):
    check(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "compose.yaml"],
        project,
    )
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    services = compose["services"]
    app = services["app"]
    assert app["environment"]["DATABASE_URL"] == f"sqlite:////data/{PACKAGE}.db"
    assert "data:/data" in app["volumes"]
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"][-1] == "migrate"
    if answers(project)["token_store"] == "redis":
        assert app["depends_on"]["redis"]["condition"] == "service_healthy"
        command = " ".join(services["redis"]["command"])
        for option in ("--maxmemory-policy noeviction", "--appendonly yes", "--appendfsync always"):
            assert option in command
        assert services["redis"]["volumes"] == ["redis-data:/data"]
        assert "redis-data" in compose["volumes"]
    else:
        assert "redis" not in services
        assert app["environment"]["WORKERS"] == "1"

    # PostgreSQL is the `postgres` profile: the server, and the service (built with the
    # postgres extra) migrated and served against it; nothing of it runs without it.
    profiled = {name for name, service in services.items() if "profiles" in service}
    sentinel = {"redis-primary", "redis-replica", "sentinel", "app-sentinel", "proxy-sentinel"}
    redis = answers(project)["token_store"] == "redis"
    postgres_profile = {"postgres", "migrate-postgres", "app-postgres", "proxy-postgres"}
    assert profiled == postgres_profile | (sentinel if redis else set()) | MONITORING
    # Every copy of the service is reached through its own nginx only.
    apps = {"app": "proxy", "app-postgres": "proxy-postgres"}
    if redis:
        apps["app-sentinel"] = "proxy-sentinel"
    for name, proxy in apps.items():
        assert "ports" not in services[name], f"{name} is published: reach it by {proxy}"
        assert services[proxy]["environment"]["APP_UPSTREAM"] == f"{name}:8000"
        assert services[proxy]["image"].startswith("nginx:")
        assert services[proxy]["volumes"] == [
            "./deploy/proxy.conf.template:/etc/nginx/templates/default.conf.template:ro"
        ]
    assert app["environment"]["TRUSTED_PROXIES"]
    for name in profiled - sentinel - MONITORING:
        assert services[name]["profiles"] == ["postgres"], name
    if redis:
        # Profile `sentinel`: a replicated token store with the same durable settings,
        # and a copy of the service that finds its primary through the Sentinel.
        for name in sentinel:
            assert services[name]["profiles"] == ["sentinel"], name
        for name in ("redis-primary", "redis-replica"):
            command = " ".join(services[name]["command"])
            for option in (
                "--maxmemory-policy noeviction", "--appendonly yes", "--appendfsync always"
            ):  # fmt: skip
                assert option in command, name
        assert "--replicaof redis-primary 6379" in " ".join(services["redis-replica"]["command"])
        assert "sentinel monitor tokens redis-primary 6379" in services["sentinel"]["command"][-1]
        env = services["app-sentinel"]["environment"]
        assert env["REDIS_SENTINELS"] == "sentinel:26379"
        assert (env["REDIS_SENTINEL_MASTER"], env["REDIS_WAIT_REPLICAS"]) == ("tokens", "1")
    postgres = services["postgres"]
    assert re.fullmatch(r"postgres:1[67]", postgres["image"])
    assert postgres["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert "postgres-data" in compose["volumes"]
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert postgres["environment"]["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:-}"
    assert "ports" not in postgres, "the database is reachable from the services only"
    for name in ("migrate-postgres", "app-postgres"):
        service = services[name]
        assert service["build"]["args"] == {"EXTRAS": "postgres"}, name
        assert service["image"] != app["image"], name
        url = service["environment"]["DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://"), url
        assert "${POSTGRES_PASSWORD:-}@postgres:5432/" in url, url
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        for key, value in app["environment"].items():
            if key not in ("DATABASE_URL", "REDIS_URL"):
                assert service["environment"][key] == value, (name, key)
    assert services["migrate-postgres"]["command"][-1] == "migrate"
    app_postgres = services["app-postgres"]
    depends = app_postgres["depends_on"]
    assert depends["migrate-postgres"]["condition"] == "service_completed_successfully"
    # HOST:CONTAINER, or ADDRESS:HOST:CONTAINER: the host's port.
    published = [p.split(":")[-2] for s in services.values() for p in s.get("ports", ())]
    assert sorted(published) == ["3000", "8000", "8001"] + (["8002"] if redis else []) + ["9090"]
    if answers(project)["token_store"] == "redis":
        assert depends["redis"]["condition"] == "service_healthy"
        redis_url = app_postgres["environment"]["REDIS_URL"]
        assert redis_url.startswith("redis://redis:6379/")
        assert redis_url != app["environment"]["REDIS_URL"], "one Redis database per user table"


def bind_mounts(service: dict) -> dict[str, str]:
    """A service's ``./source:target[:ro]`` volumes: target -> source."""
    mounts = {}
    for volume in service.get("volumes", ()):
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            mounts[target] = source
    return mounts


def test_compose_monitoring(project: Path):
    """Profile `monitoring`: Prometheus scraping `app`, Grafana with the dashboard; on
    this host's loopback only, mounting files that the render holds."""
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    services = compose["services"]
    for name in MONITORING:
        service = services[name]
        assert service["profiles"] == ["monitoring"], name
        assert service["ports"], name
        for port in service["ports"]:
            assert port.startswith("127.0.0.1:"), f"{name} is published beyond this host: {port}"
        for target, source in bind_mounts(service).items():
            assert (project / source).is_file(), f"{name} mounts {source}, not in the render"
            assert target.startswith("/etc/"), (name, target)
        for volume in service["volumes"]:
            if not volume.startswith("./"):
                assert volume.split(":")[0] in compose["volumes"], (name, volume)

    prometheus = services["prometheus"]
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", prometheus["image"])
    assert bind_mounts(prometheus) == {"/etc/prometheus/prometheus.yml": "./deploy/prometheus.yml"}
    assert prometheus["depends_on"] == ["app"]
    # The token file prometheus.yml reads is written from METRICS_TOKEN, on a tmpfs.
    (job,) = yaml.safe_load((project / "deploy/prometheus.yml").read_text())["scrape_configs"]
    token_file = job["authorization"]["credentials_file"]
    start = prometheus["entrypoint"][-1]
    assert f"printf '%s' \"$$METRICS_TOKEN\" > {token_file} &&" in start
    assert "exec /bin/prometheus --config.file=/etc/prometheus/prometheus.yml" in start
    assert prometheus["environment"] == {"METRICS_TOKEN": "${METRICS_TOKEN:-}"}
    assert prometheus["tmpfs"] == [str(Path(token_file).parent)]

    grafana = services["grafana"]
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", grafana["image"])
    assert grafana["depends_on"] == ["prometheus"]
    env = grafana["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == "${GRAFANA_ADMIN_PASSWORD:-}"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    mounts = bind_mounts(grafana)
    provisioning = {
        target.split("/")[-2]: yaml.safe_load((project / source).read_text())
        for target, source in mounts.items()
        if target.startswith("/etc/grafana/provisioning/")
    }
    (datasource,) = provisioning["datasources"]["datasources"]
    assert (datasource["type"], datasource["url"]) == ("prometheus", "http://prometheus:9090")
    (provider,) = provisioning["dashboards"]["providers"]
    dashboards = [t for t, s in mounts.items() if s == "./deploy/grafana-dashboard.json"]
    assert [str(Path(t).parent) for t in dashboards] == [provider["options"]["path"]]

    assert "# GRAFANA_ADMIN_PASSWORD=" in (project / ".env.example").read_text()
    assert "docker compose --profile monitoring up --build" in (project / "README.md").read_text()


def test_prometheus_config(project: Path):
    config = yaml.safe_load((project / "deploy/prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["job_name"] == answers(project)["project_slug"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"] == [{"targets": ["app:8000"]}]
    assert job["authorization"]["type"] == "Bearer"
    assert job["authorization"]["credentials_file"].startswith("/")
    # promtool, where it is installed: its full check wants the token file on this host.
    promtool = shutil.which("promtool")
    if promtool:
        check([promtool, "check", "config", "--syntax-only", "deploy/prometheus.yml"], project)


def test_grafana_dashboard(project: Path):
    """Importable as it is, and provisioned: every query on the `datasource` variable
    (Grafana's Prometheus data sources) and the dashboard's own time ranges."""
    board = json.loads((project / "deploy/grafana-dashboard.json").read_text())
    assert board["uid"]
    assert board["title"]
    assert board["schemaVersion"] >= 36
    assert board["time"] == {"from": "now-6h", "to": "now"}
    assert board["refresh"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == (
        "datasource", "prometheus"
    )  # fmt: skip
    source = {"type": "prometheus", "uid": "${datasource}"}
    panels = board["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), ids
    exprs = []
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == source, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", source) == source, panel["title"]
            exprs.append(target["expr"])
    for expr in exprs:
        assert re.search(r"\btripwire_\w+", expr), expr
        for window in re.findall(r"\[([^\]]*)\]", expr):
            assert window in ("$__rate_interval", "$__range"), expr
    # Reuse detection: both sides of it, together.
    assert any(
        {'result="reused"', 'reason="reuse"'} <= {m for e in exprs_of(p) for m in matchers(e)}
        for p in panels
    )
    # Store errors: a stat, red from the first one.
    (store,) = [
        p for p in panels if p["type"] == "stat" and "tripwire_store_errors_total" in str(p)
    ]
    steps = store["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1]["color"] == "red", steps
    assert 0 < steps[-1]["value"] <= 1, steps


def exprs_of(panel: dict) -> list[str]:
    return [target["expr"] for target in panel.get("targets", ())]


def matchers(expr: str) -> list[str]:
    return re.findall(r'\w+=~?"[^"]*"', expr)


def test_readme_sections(project: Path):
    readme = (project / "README.md").read_text()
    headings = re.findall(r"^## (.+)$", readme, re.MULTILINE)
    for heading in (
        "Run with Docker compose",
        "Run without Docker",
        "Test",
        "Configure",
        "Security model",
        "Update from the template",
    ):
        assert heading in headings, heading
    assert "```mermaid\nsequenceDiagram\n" in readme
    assert "copier update --skip-answered" in readme


# --------------------------------------------------------------------------- pre-commit

# .pre-commit-config.yaml is one static file, and the code its hooks lint passes ruff in
# every variant (test_variants): one render per framework, its default answers
# otherwise, proves the configuration and the hooks.
per_framework = pytest.mark.parametrize(
    "rendered",
    [{**DEFAULT_VARIANT, "framework": f} for f in question_choices(COPIER_CONFIG, "framework")],
    ids=variant_id,  # the variant's id, so CI's job for that variant runs these
    indirect=True,
)
# The hooks' refusals are the same in every variant: one render shows them.
PRE_COMMIT_VARIANT = {"framework": "flask", "token_store": "memory", "layout": "flat"}


@per_framework
def test_pre_commit_config(project: Path):
    check([tool("pre-commit"), "validate-config", ".pre-commit-config.yaml"], project)
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"], "hooks must come from PyPI"
    hooks = {hook["id"]: hook for hook in config["repos"][0]["hooks"]}
    assert hooks["no-rej-files"]["language"] == "fail"
    for hook in hooks.values():
        for requirement in hook.get("additional_dependencies", []):
            assert re.fullmatch(r"[\w.-]+==[\w.]+", requirement), f"not pinned: {requirement}"
    # CI lints with the ruff the hook runs.
    (ruff,) = set(hooks["ruff-check"]["additional_dependencies"])
    assert f'"{ruff}"' in (project / WORKFLOW).read_text()


def git_env() -> dict[str, str]:
    """This run's environment, with git kept away from the user's configuration."""
    return child_env(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Tripwire Tests",
        GIT_AUTHOR_EMAIL="tests@example.com",
        GIT_COMMITTER_NAME="Tripwire Tests",
        GIT_COMMITTER_EMAIL="tests@example.com",
        PRE_COMMIT_HOME=str(cache_root() / "pre-commit"),
        PRE_COMMIT_COLOR="never",
    )


def git(repo: Path, *args: str) -> None:
    result = run(["git", "-c", "commit.gpgsign=false", *args], repo, git_env())
    assert result.returncode == 0, f"git {' '.join(args)}:\n{tail(result.stdout)}"


def pre_commit(repo: Path) -> subprocess.CompletedProcess:
    try:
        return run(
            [tool("pre-commit"), "run", "--all-files", "--show-diff-on-failure"],
            repo,
            git_env(),
            timeout=PRE_COMMIT_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"pre-commit timed out:\n{tail(str(exc.stdout))}", pytrace=False)


def fresh_repo(tmp_path: Path, variant: dict) -> Path:
    repo = tmp_path / "project"
    render(repo, {**BASE_ANSWERS, **variant})
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "generated")
    return repo


@per_framework
def test_pre_commit_passes_on_a_fresh_render(project: Path, tmp_path: Path):
    repo = tmp_path / "project"
    shutil.copytree(project, repo, symlinks=True)  # the shared render stays pristine
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "generated")
    result = pre_commit(repo)
    assert result.returncode == 0, f"pre-commit failed:\n{tail(result.stdout)}"


def test_pre_commit_refuses_stray_rej_files(tmp_path: Path):
    repo = fresh_repo(tmp_path, PRE_COMMIT_VARIANT)
    (repo / "README.md.rej").write_text("@@ -1 +1 @@\n-old\n+new\n")
    git(repo, "add", "-A")
    result = pre_commit(repo)
    assert result.returncode != 0, f"a stray .rej file was accepted:\n{tail(result.stdout)}"
    assert "hook id: no-rej-files" in result.stdout, tail(result.stdout)
    assert "README.md.rej" in result.stdout
    assert "hook id: check-merge-conflict" not in result.stdout, tail(result.stdout)


def test_pre_commit_refuses_conflict_markers(tmp_path: Path):
    """``copier update`` writes inline markers outside a git merge: they are refused too."""
    repo = fresh_repo(tmp_path, PRE_COMMIT_VARIANT)
    markers = "<" * 7 + " before updating\nours\n" + "=" * 7 + "\ntheirs\n" + ">" * 7
    with (repo / ".env.example").open("a") as fh:
        fh.write(f"{markers} after updating\n")
    git(repo, "add", "-A")
    result = pre_commit(repo)
    assert result.returncode != 0, f"conflict markers were accepted:\n{tail(result.stdout)}"
    assert "hook id: check-merge-conflict" in result.stdout, tail(result.stdout)


# --------------------------------------------------------------------------- the template's own CI


@pytest.mark.parametrize("workflow", TEMPLATE_WORKFLOWS, ids=lambda path: path.name)
def test_template_workflows_are_valid(workflow: Path):
    check(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        TEMPLATE_ROOT,
    )
    check(
        [tool("zizmor"), "--offline", "--no-ignores", "--no-progress", str(workflow)],
        TEMPLATE_ROOT,
    )
    uses_lines = [line.strip() for line in (TEMPLATE_ROOT / workflow).read_text().splitlines()]
    uses_lines = [line for line in uses_lines if line.startswith(("uses:", "- uses:"))]
    assert uses_lines
    for line in uses_lines:
        assert PINNED_USES.match(line.split("uses:", 1)[1].strip()), f"not pinned: {line}"


def test_template_workflow_covers_every_variant():
    matrix = load_workflow(TEMPLATE_ROOT)["jobs"]["variant"]["strategy"]["matrix"]
    for question in MATRIX_QUESTIONS:
        assert matrix[question] == question_choices(COPIER_CONFIG, question), question
