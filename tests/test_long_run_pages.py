"""The review pages of a long run stay bounded: every keep and the newest others as rows, a mark
on the chart for every experiment, diffs for keeps only, and live updates that carry only the
sections that changed."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from long_runs import add, lengthen
from overnight.ledger import Ledger
from overnight.records import Status
from overnight.report import load_run_view, render_report, render_sections
from overnight.report.table import DASHBOARD_BOUNDS, REPORT_BOUNDS
from overnight.server.app import create_app
from report_projects import metric_project

SIZE = 1500


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = metric_project(tmp_path_factory.mktemp("long") / "metric")
    lengthen(root, SIZE)
    return root


def statuses(root: Path) -> list[tuple[int, Status]]:
    view = load_run_view(root)
    return [(e.number, e.status) for e in view.experiments]


def row_numbers(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<details class="exp [a-z ]+" id="exp-(\d+)"', html)]


def chart_marks(html: str) -> int:
    circles = len(re.findall(r"<circle class=\"dot ", html))
    return circles + sum(int(n) for n in re.findall(r'class="trail[^"]*" data-count="(\d+)"', html))


def test_the_report_shows_every_keep_and_the_newest_others(root: Path) -> None:
    html = render_report(load_run_view(root))
    history = statuses(root)
    keeps = [n for n, s in history if s in (Status.KEEP, Status.BASELINE)]
    others = [n for n, s in history if s not in (Status.KEEP, Status.BASELINE)]
    assert row_numbers(html) == sorted(keeps + others[-REPORT_BOUNDS.others :])
    left_out = len(others) - REPORT_BOUNDS.others
    assert f"{left_out} older experiments that were not kept" in html
    assert "overnight log --all" in html
    assert chart_marks(html) == len(history)
    assert "<script" not in html and "http" not in html.split("</style>", 1)[1]
    assert len(html.encode()) < 400_000  # about 180 bytes an experiment, most of it keeps


def test_the_report_has_inline_diffs_for_keeps_only(root: Path) -> None:
    html = render_report(load_run_view(root))
    kinds = {n: s for n, s in statuses(root)}
    table = html.split('id="left-out"', 1)[0]  # the cumulative diff follows
    rows = re.split(r'(?=<details class="exp )', table)[1:]
    with_diff = [int(re.search(r'id="exp-(\d+)"', r)[1]) for r in rows if '<pre class="diff">' in r]
    assert with_diff and all(kinds[n] is Status.KEEP for n in with_diff)
    assert sum(kinds[n] is Status.KEEP for n in kinds) == len(with_diff)


def test_the_dashboard_is_bounded_and_loads_left_out_diffs_on_demand(root: Path) -> None:
    client = TestClient(create_app(root, "t"), base_url="http://127.0.0.1")
    page = client.get("/").text
    history = statuses(root)
    keeps = [n for n, s in history if s is Status.KEEP]
    others = [n for n, s in history if s not in (Status.KEEP, Status.BASELINE)]
    shown = row_numbers(page)
    assert set(shown) == {0, *keeps[-DASHBOARD_BOUNDS.keeps :], *others[-DASHBOARD_BOUNDS.others :]}
    assert f"{len(keeps) - DASHBOARD_BOUNDS.keeps} older keeps" in page
    assert chart_marks(page) == len(history)
    assert len(page.encode()) < 200_000
    discard = next(n for n, s in reversed(history) if s is Status.DISCARD)
    assert f'data-load="{discard}"' in page
    body = client.get(f"/api/experiment/{discard}").text
    assert '<pre class="diff">' in body and f"+{discard}" in body
    assert client.get("/api/experiment/999999").status_code == 404


def test_an_update_sends_only_the_sections_that_changed(root: Path, tmp_path: Path) -> None:
    client = TestClient(create_app(root, "t"), base_url="http://127.0.0.1")
    first = client.get("/api/sections").json()
    have = ",".join(f"{name}:{digest}" for name, digest in first["digests"].items())
    assert client.get("/api/sections", params={"have": have}).json()["sections"] == {}
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        run = ledger.run()
        last = ledger.experiments(run.id)[-1]
        number = last.number + 1
        add(ledger, run.id, number, last.parent_commit, random.Random(1), 10.0)
    finally:
        ledger.close()
    update = client.get("/api/sections", params={"have": have}).json()
    assert {"chart", "experiments", "summary"} <= set(update["sections"])
    assert not {"suite", "pair", "cumulative"} & set(update["sections"])
    assert f'id="exp-{number}"' in update["sections"]["experiments"]
    assert chart_marks(update["sections"]["chart"]) == number + 1


def without_duration(summary: str) -> str:
    return re.sub(r'duration</div><div class="value">[^<]*', "", summary)


def test_an_update_renders_what_a_fresh_view_would(root: Path) -> None:
    client = TestClient(create_app(root, "t"), base_url="http://127.0.0.1")
    page = client.get("/").text
    first = client.get("/api/sections").json()["digests"]
    shown = dict(re.findall(r'<section id="(\w+)" class="section" data-digest="(\w+)"', page))
    first.pop("summary"), shown.pop("summary")  # the duration runs on between the two
    assert shown == first  # the page and the update share the sections rendered
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        run = ledger.run()
        last = ledger.experiments(run.id)[-1]
        add(ledger, run.id, last.number + 1, last.parent_commit, random.Random(2), 10.0)
    finally:
        ledger.close()
    update = client.get("/api/sections").json()["sections"]
    fresh = render_sections(load_run_view(root))
    assert set(update) == set(fresh)
    for name, html in fresh.items():
        if name == "summary":
            assert without_duration(update[name]) == without_duration(html)
        else:
            assert update[name] == html, name
    again = TestClient(create_app(root, "t"), base_url="http://127.0.0.1")
    assert again.get("/api/sections").json()["sections"]["chart"] == fresh["chart"]
