"""The benchmarks still run from end to end, so that they cannot rot. bench/compare.py:
one round of one second in each framework, at 1 worker only (2 would double the time; the
code paths are the same), with 8 connections (fewer logins to make the refresh chains).
bench/abuse.py: Flask only, 30 slow sockets, 4 login clients, phases of one second.
bench/keys.py: FastAPI only, one round of one second per algorithm and route.
bench/metrics.py: Flask only, one round of one second with metrics on and off.
bench/server_cost.py: Flask only, one round of one second on each server. Their
figures are only checked to be there: the benchmarks print speed, no test times it."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import TEMPLATE_ROOT, child_env, tail

PEERS = {
    "fastapi": "fastapi-users (RedisStrategy)",
    "flask": "flask-jwt-extended (Redis blocklist)",
    "django": "DRF + simplejwt (JWTAuthentication)",
}
FRAMEWORKS = tuple(PEERS)
NUMBER = r"\d+(?:\.\d+)?"
SPREAD = rf"{NUMBER} \({NUMBER}–{NUMBER}\)"  # median (min–max)
PHASES = ["before", "during", "after"]  # bench/abuse.py's
ALGORITHMS = ["HS256", "EdDSA", "ES256"]  # bench/keys.py's, HS256 the baseline
SERVERS = ["ours", "ours-1", "gunicorn"]  # bench/server_cost.py's, ours the baseline
PROBE_COLUMNS = ["phase"] + [
    f"{path} {figure}"
    for path in ("/health", "/auth/me")
    for figure in ("p50 ms", "max ms", "failed")
]


def tables(output: str) -> dict[str, list[list[str]]]:
    """The rows of each markdown table, under the heading it follows (several tables may
    share one heading: their rows are kept apart by their header row)."""
    found: dict[str, list[list[str]]] = {}
    heading = ""
    for line in output.splitlines():
        if line.startswith("### "):
            heading = line
        elif line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            found.setdefault(heading, []).append(cells)
    return found


def rows(found: dict, heading: str, last_column: str) -> list[list[str]]:
    """The body rows of the table under ``heading`` whose last column starts so."""
    (key,) = [k for k in found if k.startswith(heading)]
    body, inside = [], False
    for cells in found[key]:
        if cells[0] == "framework":
            inside = cells[-1].startswith(last_column)
        elif inside:
            body.append(cells)
    return body


def run_bench(tmp_path, script: str, *args: str, timeout: float) -> str:
    """What ``bench/<script>.py args`` prints, run as a user would; fails on its errors."""
    result = subprocess.run(
        [sys.executable, str(TEMPLATE_ROOT / "bench" / f"{script}.py"), *args],
        cwd=tmp_path, env=child_env(TMPDIR=str(tmp_path), UV_PYTHON_DOWNLOADS="never"),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert result.returncode == 0, tail(result.stdout + result.stderr)
    return result.stdout


def test_compare_prints_every_table_with_figures(tmp_path):
    options = "--rounds 1 --seconds 1 --workers 1 --connections 8"
    output = run_bench(tmp_path, "compare", *options.split(), timeout=900)
    assert re.search(r"^machine: .+, \d+ cores", output, re.MULTILINE), output
    assert re.search(rf"^load average before: {NUMBER} {NUMBER} {NUMBER}$", output, re.M)
    assert re.search(rf"^load average after: {NUMBER} {NUMBER} {NUMBER}$", output, re.M)
    assert "ours runs as a default deployment: LOG_LEVEL=INFO" in output
    (mails,) = re.findall(r"^mail relay: (\d+) messages received", output, re.MULTILINE)
    assert int(mails) >= len(FRAMEWORKS), output  # a verification mail per registration
    # Each load run says how its connections were spread: here all 8 on the one worker.
    spreads = re.findall(r"^  \w+ +w1 round 1 .* connections (\S+)$", output, re.MULTILINE)
    assert len(spreads) == 3 * 3 + 3 + 2, output  # me: 3 apps each; refresh: 3 ours, 2 peers
    assert set(spreads) == {"8"}, spreads
    found = tables(output)

    me = rows(found, "### GET of the current user", "Redis commandstats")
    assert [(row[0], row[2]) for row in me] == [
        (framework, app)
        for framework in FRAMEWORKS
        for app in ("Tripwire", PEERS[framework], "floor")
    ], me
    for row in me:
        assert float(row[4]) > 0, row  # req/s
        assert all(float(cell) > 0 for cell in row[5:7]), row  # p50, p99
        assert re.fullmatch(rf"{NUMBER} \(\+ {NUMBER}\)", row[7]), row  # Redis sent (+ in Lua)
        assert re.match(NUMBER, row[8]), row  # commandstats per request
    ratios = rows(found, "### GET of the current user", "ours ÷ floor")
    assert [row[0] for row in ratios] == list(FRAMEWORKS)
    for row in ratios:
        assert all(re.fullmatch(SPREAD, cell) for cell in row[2:]), row

    refresh = rows(found, "### Chained refresh", "Redis commandstats")
    assert [(row[0], row[2]) for row in refresh] == [
        (framework, app) for framework in FRAMEWORKS for app in ("Tripwire", PEERS[framework])
    ], refresh
    for row in refresh:
        if row[0] == "fastapi" and row[2] != "Tripwire":
            assert row[3].startswith("n/a"), row  # fastapi-users' RedisStrategy has no refresh
            continue
        assert float(row[4]) > 0, row
        assert re.fullmatch(rf"{NUMBER} \(\+ {NUMBER}\)", row[7]), row
    refresh_ratios = rows(found, "### Chained refresh", "ours ÷ peer")
    assert [row[0] for row in refresh_ratios] == list(FRAMEWORKS)
    assert refresh_ratios[0][2] == "n/a", refresh_ratios
    assert all(re.fullmatch(SPREAD, row[2]) for row in refresh_ratios[1:]), refresh_ratios

    memory = rows(found, "### Memory", "of the first process")
    assert len(memory) == 3 * len(FRAMEWORKS), memory
    for row in memory:
        assert all(float(cell) > 0 for cell in row[3:6]), row  # processes, MiB, MiB


def test_compare_runs_the_wsgi_peers_on_their_documented_server(tmp_path):
    options = "--frameworks flask django --peer-server documented --rounds 1 --seconds 1"
    output = run_bench(tmp_path, "compare", *options.split(), "--workers", "1", timeout=900)
    servers = re.findall(r"^  the peer's server, .*: gunicorn (\S+), sync workers", output, re.M)
    assert len(servers) == 2, output
    assert all(re.match(NUMBER, version) for version in servers), servers
    peer_runs = re.findall(r"^  \w+ +w1 round 1 \w+ +peer .* connections (.+)$", output, re.M)
    assert peer_runs == ["closed after each answer"] * 4, peer_runs  # me and refresh, twice
    me = rows(tables(output), "### GET of the current user", "Redis commandstats")
    assert [row[2] for row in me] == [
        app for framework in ("flask", "django") for app in ("Tripwire", PEERS[framework], "floor")
    ], me
    assert all(float(row[4]) > 0 for row in me), me


def test_abuse_prints_every_phase_of_both_attacks(tmp_path):
    options = "--frameworks flask --sockets 30 --logins 4 --seconds 1"
    output = run_bench(tmp_path, "abuse", *options.split(), timeout=300)
    assert re.search(r"^template: [0-9a-f]{7,} \(HEAD\)$", output, re.MULTILINE), output
    found = tables(output)
    assert [heading.split(" (")[0] for heading in found] == [
        "### flask: slow sockets",
        "### flask: login flood",
    ], output
    for heading, table in found.items():
        assert table[0] == PROBE_COLUMNS, (heading, table)
        assert [row[0] for row in table[1:]] == PHASES, (heading, table)
        for row in table[1:]:
            for p50, most, failed in (row[1:4], row[4:7]):
                assert 0 <= float(p50) <= float(most), (heading, row)
                assert re.fullmatch(r"\d+ of [1-9]\d*", failed), (heading, row)
    held = re.search(
        r"^sockets: 30 held open by reopening \(at the end (\d+) connected, (\d+) still "
        r"connecting\); closed by the server: \d+; its answers: .+; connects (\d+), "
        r"failed \d+; the server's descriptors: at most [1-9]\d*$",
        output, re.MULTILINE,
    )  # fmt: skip
    assert held, output
    assert int(held.group(1)) + int(held.group(2)) <= 30 <= int(held.group(3)), held.group(0)
    logins = re.search(
        r"^logins answered: 200 ×\d+, 401 ×\d+, 429 ×\d+, 503 ×\d+; other: .+; "
        r"with Retry-After: \d+; total ([1-9]\d*)$",
        output, re.MULTILINE,
    )  # fmt: skip
    assert logins, output
    # The service was started at 1024 descriptors; the line says what it runs with.
    assert len(re.findall(r"^server: soft descriptor limit \w+ once started", output, re.M)) == 2


def test_forgot_prints_both_kinds_of_email_with_a_slow_smtp_server(tmp_path):
    options = "--frameworks fastapi --requests 5 --smtp-seconds 0.5"
    output = run_bench(tmp_path, "forgot", *options.split(), timeout=300)
    (table,) = tables(output).values()
    assert table[0] == ["email", "requests", "median ms", "p99 ms", "max ms"], table
    assert [row[:2] for row in table[1:]] == [["known", "5"], ["unknown", "5"]], table
    for row in table[1:]:
        median, p99, most = map(float, row[2:])
        assert 0 < median <= p99 <= most, row
    assert re.search(r"^known ÷ unknown median: \d+\.\d\d; 10 requests in ", output, re.M), output


def test_keys_prints_each_algorithm_for_both_routes(tmp_path):
    options = "--frameworks fastapi --rounds 1 --seconds 1 --connections 8"
    output = run_bench(tmp_path, "keys", *options.split(), timeout=300)
    assert re.search(rf"^load average before: {NUMBER} {NUMBER} {NUMBER}$", output, re.M), output
    assert re.search(rf"^load average after: {NUMBER} {NUMBER} {NUMBER}$", output, re.M)
    # Every run printed as it went: 3 algorithms × 2 routes in the one round.
    runs = re.findall(
        r"^  fastapi round 1 (GET /auth/me|POST /auth/introspect) +(\w+) ", output, re.M
    )
    assert sorted(runs) == sorted(
        (route, algorithm)
        for route in ("GET /auth/me", "POST /auth/introspect")
        for algorithm in ALGORITHMS
    ), output
    found = tables(output)

    loaded = rows(found, "### Signing algorithms", "CPU ÷ HS256")
    assert [(row[0], row[1], row[2]) for row in loaded] == [
        ("fastapi", route, algorithm)
        for route in ("`GET /auth/me`", "`POST /auth/introspect`")
        for algorithm in ALGORITHMS
    ], loaded
    for row in loaded:
        rate, per_round, rate_ratio, cpu, cpu_ratio = row[3:]
        assert float(rate) > 0, row
        assert per_round == rate, row  # one round: its figure is the median
        assert float(cpu) > 0, row  # server CPU µs per request
        if row[2] == "HS256":
            assert (rate_ratio, cpu_ratio) == ("1", "1"), row
        else:
            assert re.fullmatch(SPREAD, rate_ratio), row
            assert re.fullmatch(SPREAD, cpu_ratio), row
            assert float(rate_ratio.split()[0]) > 0, row

    codec = rows(found, "### The service's token codec", "÷ HS256")
    assert [row[:2] for row in codec] == [["fastapi", a] for a in ALGORITHMS], codec
    for row in codec:
        assert all(float(cell) > 0 for cell in row[2:]), row  # µs and ratios


def test_metrics_prints_req_per_second_on_and_off(tmp_path):
    options = "--frameworks flask --rounds 1 --seconds 1 --connections 8"
    output = run_bench(tmp_path, "metrics", *options.split(), timeout=300)
    assert "  on serves GET /metrics, off answers it 404" in output, output
    runs = re.findall(r"^  flask +round 1 metrics (on|off) +(\S+) req/s", output, re.M)
    assert sorted(state for state, _ in runs) == ["off", "on"], output
    (loaded,) = rows(tables(output), "### GET /auth/me", "off")
    framework, rate_on, rate_off, ratio, per_round, cpu_on, cpu_off = loaded
    assert framework == "flask", loaded
    assert float(rate_on) > 0, loaded
    assert float(rate_off) > 0, loaded
    assert re.fullmatch(SPREAD, ratio), loaded
    assert per_round == f"{rate_on} / {rate_off}", loaded
    assert float(cpu_on) > 0, loaded
    assert float(cpu_off) > 0, loaded


def test_server_cost_prints_the_floor_on_each_server(tmp_path):
    options = "--frameworks flask --rounds 1 --seconds 1 --connections 8"
    output = run_bench(tmp_path, "server_cost", *options.split(), timeout=300)
    assert re.search(rf"^load average after: {NUMBER} {NUMBER} {NUMBER}$", output, re.M), output
    runs = re.findall(rf"^  flask +round 1 (\S+) +{NUMBER} req/s", output, re.M)
    assert sorted(runs) == sorted(SERVERS), output
    loaded = rows(tables(output), "### GET /me of the floor app", "req/s ÷ ours")
    assert [row[:2] for row in loaded] == [["flask", server] for server in SERVERS], loaded
    for row in loaded:
        assert all(float(cell) > 0 for cell in row[2:6]), row  # req/s, p50, p99, CPU µs
        assert re.fullmatch(SPREAD, row[6]), row
    assert loaded[0][6] == "1.00 (1.00–1.00)", loaded  # ours ÷ itself
