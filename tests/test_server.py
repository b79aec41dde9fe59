"""``overnight serve``: the dashboard's pages and JSON, pair selection, reviews behind the token,
and what it refuses: foreign hosts, remote binds without the flag, any file but its own."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import overnight
from overnight.cli import cli
from overnight.errors import UsageError
from overnight.ledger import Ledger
from overnight.report.html import DASHBOARD_SECTIONS
from overnight.server import serve
from overnight.server.app import create_app
from overnight.server.guard import check_bind, host_name, is_loopback
from report_projects import PAYLOADS, at_work, serving, suite_project, workers_project

TOKEN = "test-token-123"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return suite_project(tmp_path_factory.mktemp("server") / "posts")


@pytest.fixture(scope="module")
def client(root: Path) -> TestClient:
    return TestClient(create_app(root, TOKEN), base_url="http://127.0.0.1:8765")


@pytest.fixture(scope="module")
def live(root: Path) -> Iterator[str]:
    """The dashboard served by uvicorn, for requests no HTTP client library would send."""
    with serving(create_app(root, TOKEN)) as base:
        yield base


def reviews(root: Path) -> list:
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        return ledger.reviews()
    finally:
        ledger.close()


def test_the_page_shows_the_run_with_a_strict_policy(client: TestClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    html = response.text
    for section in DASHBOARD_SECTIONS:
        assert f'<section id="{section}"' in html
    assert 'data-run="posts-1"' in html and "Outputs: #0 beside #3" in html
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("style-src")[0]  # never for scripts
    assert response.headers["referrer-policy"] == "no-referrer"  # the token stays here
    assert html.count("<script") == 1 and '<script src="/static/dashboard.js"' in html
    for payload in PAYLOADS:
        assert payload not in html
    assert "&lt;img src=x onerror=" in html


def test_the_version_changes_only_when_the_run_does(client: TestClient, root: Path) -> None:
    first = client.get("/api/version").json()
    assert first["run"] == "posts-1" and first["experiments"] == 5 and first["running"] is None
    assert first["tried"] == 4  # the same count as the summary's "experiments tried"
    assert first["stopped"].startswith("experiment budget spent")
    assert client.get("/api/version").json()["version"] == first["version"]

    sections = client.get("/api/sections").json()
    assert sections["version"] == first["version"]
    assert set(sections["sections"]) == set(DASHBOARD_SECTIONS)
    assert 'id="exp-4"' in sections["sections"]["experiments"]
    assert sections["workers"] == []  # one worker
    assert "Per worker" not in sections["sections"]["summary"]


def test_a_run_of_two_workers_has_their_figures_and_table(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = workers_project(tmp_path_factory.mktemp("server") / "workers")
    client = TestClient(create_app(project, TOKEN), base_url="http://127.0.0.1")

    page = client.get("/").text
    ended = client.get("/api/sections").json()
    with at_work(project, [0]) as (running,):
        live = client.get("/api/sections").json()

    assert 'id="workers-table"' in page and 'id="workers-table"' in ended["sections"]["summary"]
    figures = ended["workers"]
    assert [(w["worker"], w["experiments"], w["replays"], w["kept"]) for w in figures] == [
        (0, 1, 0, 1),
        (1, 2, 1, 1),
    ]
    assert [w["stale"] for w in figures] == [0, 1] and [w["running"] for w in figures] == [None] * 2
    assert all(w["per_hour"] > 0 and 0 < w["busy"] <= 1 for w in figures)
    assert [w["running"] for w in live["workers"]] == [running, None]
    assert f"<td>#{running}</td>" in live["sections"]["summary"]
    assert "<th>now</th>" not in ended["sections"]["summary"]


def test_any_pair_can_be_chosen(client: TestClient) -> None:
    html = client.get("/", params={"a": 2, "b": 4}).text
    assert "Outputs: #2 beside #4" in html and "Diff: #2 → #4" in html
    assert '<option value="2" selected>' in html and '<option value="4" selected>' in html

    sections = client.get("/api/sections", params={"a": 1, "b": 3}).json()["sections"]
    assert "Outputs: #1 beside #3" in sections["suite"]

    assert client.get("/", params={"b": 42}).status_code == 404
    assert client.get("/", params={"run": "nope"}).status_code == 404
    assert client.get("/", params={"a": "x"}).status_code == 422


def test_reviews_need_the_token(client: TestClient, root: Path) -> None:
    body = {"number": 3, "verdict": "down", "note": "too salesy", "case_id": "helio"}
    before = len(reviews(root))

    assert client.post("/api/review", json=body).status_code == 403
    assert client.post(
        "/api/review", json=body, headers={"X-Overnight-Token": "x"}
    ).status_code == (403)
    assert client.post("/api/review", content=b"not json").status_code == 403  # before parsing
    assert client.put("/api/review", json=body).status_code == 403
    assert len(reviews(root)) == before

    response = client.post("/api/review", json=body, headers={"X-Overnight-Token": TOKEN})

    assert response.status_code == 200, response.text
    assert response.json()["note"] == "too salesy"
    stored = reviews(root)[-1]
    assert (stored.number, stored.verdict, stored.note, stored.case_id) == (
        3,
        "down",
        "too salesy",
        "helio",
    )


def test_a_review_shows_on_the_page_escaped(client: TestClient) -> None:
    note = "<script>alert(1)</script> needs work"
    headers = {"X-Overnight-Token": TOKEN}
    keep = {"run": "posts-1", "number": 1, "verdict": "reject", "note": note}
    assert client.post("/api/review", json=keep, headers=headers).status_code == 200

    html = client.get("/", params={"a": 0, "b": 1}).text

    assert note not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; needs work" in html
    assert "✗ rejected" in html


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"number": 3, "verdict": "down", "case_id": "orbit"}, "held out"),
        ({"number": 2, "verdict": "accept"}, "not a keep"),
        ({"number": 9, "verdict": "up", "case_id": "helio"}, "no experiment 9"),
        ({"number": 3, "verdict": "meh", "case_id": "helio"}, "unknown verdict"),
    ],
)
def test_bad_reviews_are_refused_with_a_reason(client: TestClient, body: dict, message: str):
    response = client.post("/api/review", json=body, headers={"X-Overnight-Token": TOKEN})

    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_only_the_packages_own_static_files_are_served(client: TestClient) -> None:
    script = client.get("/static/dashboard.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "innerHTML" in script.text and "textContent" in script.text
    assert client.get("/static/report.css").status_code == 200
    for path in ("/static/overnight.yaml", "/static/ledger.db", "/static/", "/overnight.yaml"):
        assert client.get(path).status_code == 404, path


@pytest.mark.parametrize(
    "target",
    [
        "/static/../../overnight.yaml",
        "/static/..%2F..%2Fovernight.yaml",
        "/static/%2e%2e/%2e%2e/overnight.yaml",
        "/static/%2e%2e%2f%2e%2e%2fovernight.yaml",
        "/static/..%5c..%5covernight.yaml",
        "/static/%252e%252e%252fovernight.yaml",
        "/static//etc/passwd",
        "/../overnight.yaml",
    ],
)
def test_no_path_leaves_the_package(live: str, target: str) -> None:
    """Sent byte for byte, as a client that does not normalise paths would."""
    address = urlsplit(live)
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert status in (400, 404), answer[:200]
    assert b"editable" not in answer and b"root:" not in answer


def test_foreign_host_names_are_refused(client: TestClient) -> None:
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/api/version", headers={"Host": "localhost:8765"}).status_code == 200


def test_before_any_run_the_page_waits(tmp_path: Path) -> None:
    empty = suite_project(tmp_path / "empty", run=False)
    client = TestClient(create_app(empty, TOKEN), base_url="http://127.0.0.1")

    page = client.get("/")

    assert page.status_code == 200 and "no run yet" in page.text
    assert client.get("/api/version").json() == {"version": "", "run": None}
    assert not (empty / ".overnight" / "ledger.db").exists()  # reading never creates it

    ledger = Ledger(empty / ".overnight" / "ledger.db")
    try:
        ledger.create_run("fresh", "overnight/fresh", "posts", "score", "maximize", "abc", {})
    finally:
        ledger.close()
    started = client.get("/")
    assert started.status_code == 200, started.text
    assert "The baseline is being measured" in started.text
    assert "No experiment has finished yet" in started.text


def test_the_dashboard_reads_while_a_run_writes(tmp_path: Path) -> None:
    """Requests all through a real run: none fails, none disturbs the run, and the version
    moves with each experiment."""
    project = suite_project(tmp_path / "live", run=False)
    client = TestClient(create_app(project, TOKEN), base_url="http://127.0.0.1")
    result: dict = {}
    worker = threading.Thread(
        target=lambda: result.update(summary=overnight.run(project, tag="live")), daemon=True
    )
    versions: list[str] = []
    failures: list[tuple[str, int]] = []

    worker.start()
    while worker.is_alive():
        version = client.get("/api/version")
        if version.status_code != 200:
            failures.append(("version", version.status_code))
        elif version.json()["run"] is not None:
            versions.append(version.json()["version"])
            sections = client.get("/api/sections")
            if sections.status_code != 200:
                failures.append(("sections", sections.status_code))
    worker.join(timeout=60)

    assert failures == []
    assert len(result["summary"].experiments) == 5
    assert len(set(versions)) >= 3
    final = client.get("/api/sections").json()["sections"]["experiments"]
    assert all(f'id="exp-{n}"' in final for n in range(5))


def test_remote_binds_need_the_flag() -> None:
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "192.168.1.4", "example.com"))
    assert check_bind("127.0.0.1", False) is None
    with pytest.raises(UsageError, match="--allow-remote"):
        check_bind("0.0.0.0", False)
    assert "warning" in (check_bind("0.0.0.0", True) or "")
    assert [host_name(h) for h in ("127.0.0.1:8765", "[::1]:80", "localhost")] == [
        "127.0.0.1",
        "::1",
        "localhost",
    ]

    result = CliRunner().invoke(cli, ["serve", ".", "--host", "0.0.0.0"])
    assert isinstance(result.exception, UsageError)


def test_serve_prints_the_address_with_its_token(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.update(options, app=app))
    said: list[str] = []

    serve(root, "0.0.0.0", 9000, allow_remote=True, say=said.append)

    assert started["host"] == "0.0.0.0" and started["port"] == 9000
    assert said[0].startswith("warning: serving on 0.0.0.0")
    (address,) = [line for line in said if "?token=" in line]
    token = address.rsplit("?token=", 1)[1]
    assert len(token) >= 30 and address.endswith(f"http://0.0.0.0:9000/?token={token}")
    client = TestClient(started["app"], base_url="http://somewhere")  # remote: any host name
    assert client.get("/api/version").status_code == 200
    body = {"number": 1, "verdict": "accept"}
    assert client.post("/api/review", json=body, headers={"X-Overnight-Token": token}).is_success
