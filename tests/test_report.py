"""``overnight report``: one self-contained HTML page (and a PNG chart) from real runs: a metric
run with every kind of outcome, and a suite run with held-out cases. The runs carry markup and
script payloads in descriptions, diffs and outputs; the page must show them as text only."""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from overnight import api
from overnight.cli import cli
from overnight.errors import UsageError
from overnight.report import load_run_view
from overnight.report.diffs import diff_lines, diff_stats, word_diff
from report_projects import PAYLOADS, at_work, metric_project, suite_project, workers_project

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Every element of a page as (tag, attributes, text directly inside it)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[list[str]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        text: list[str] = []
        self.elements.append((tag, {k: v or "" for k, v in attrs}, text))
        self._open.append(text)

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].append(data)

    def find(self, tag: str, cls: str | None = None) -> list[tuple[dict[str, str], str]]:
        return [
            (attrs, "".join(text))
            for name, attrs, text in self.elements
            if name == tag and (cls is None or cls in attrs.get("class", "").split())
        ]


@pytest.fixture(scope="module")
def metric(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = metric_project(tmp_path_factory.mktemp("report") / "metric")
    path = api.report(root)
    return root, path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = suite_project(tmp_path_factory.mktemp("report") / "suite")
    path = api.report(root, root.parent / "suite.html")
    return root, path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return workers_project(tmp_path_factory.mktemp("report") / "workers")


class Text(HTMLParser):
    """What a reader sees: the page's text in document order, blocks apart, without its
    stylesheet."""

    BLOCKS = frozenset({"div", "p", "li", "td", "th", "tr", "h1", "h2", "h3", "summary", "pre"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._style = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._style = self._style or tag == "style"
        if tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self._style = self._style and tag != "style"
        if tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._style:
            self.parts.append(data)


def text_of(html: str) -> str:
    return " ".join("".join(Text(html).parts).split())


# -- a metric run -------------------------------------------------------------------------------


def test_the_summary_has_the_run_in_numbers(metric) -> None:
    root, html = metric
    assert (root / ".overnight" / "report.html").is_file()  # the default place
    text = text_of(html)
    for expected in (
        "metric-demo",
        "run night-1 on branch overnight/night-1",
        "stopped experiment budget spent: 6 of 6",
        "experiments tried 6",
        "kept 2 (33%)",
        "score: baseline → best 1 → 3.5 (+2.5, #6)",
        "cost $0.07",
        "cost per point gained $0.03",
    ):
        assert expected in text, expected


def test_the_view_computes_rate_gain_and_cost(metric) -> None:
    root, _ = metric
    view = load_run_view(root)
    assert (view.tried, view.kept, view.keep_rate) == (6, 2, pytest.approx(1 / 3))
    assert view.best is not None and view.best.number == 6
    assert view.gain == pytest.approx(2.5)
    assert view.total_cost == pytest.approx(0.07)
    assert view.cost_per_point == pytest.approx(0.07 / 2.5)
    assert view.held_out is None


def test_every_experiment_is_a_row_with_its_status_and_diff(metric) -> None:
    _, html = metric
    page = Page(html)
    rows = page.find("details", "exp")
    assert [attrs["id"] for attrs, _ in rows] == [f"exp-{n}" for n in range(7)]
    pills = [text for _, text in page.find("span", "pill")]
    assert pills == ["baseline", "keep", "discard", "crash", "violation", "no-op", "keep"]
    added = [text for _, text in page.find("span", "d-add")]
    assert "+2\n" in added and "+3.5\n" in added  # the keeps' diffs of value.txt, coloured
    assert any(text.startswith("-1.0") for _, text in page.find("span", "d-del"))


def test_the_chart_is_inline_svg_with_a_dot_per_experiment(metric) -> None:
    _, html = metric
    page = Page(html)
    assert len(page.find("svg", "chart")) == 1
    dots = page.find("circle", "dot")
    assert [attrs["data-number"] for attrs, _ in dots] == [str(n) for n in range(7)]
    classes = [set(attrs["class"].split()) - {"dot", "novalue"} for attrs, _ in dots]
    assert [c.pop() for c in classes] == [
        "baseline",
        "keep",
        "discard",
        "crash",
        "rejected",
        "rejected",
        "keep",
    ]
    unmeasured = [attrs["data-number"] for attrs, _ in dots if "novalue" in attrs["class"]]
    assert unmeasured == ["3", "4", "5"]
    bottom = {attrs["cy"] for attrs, _ in dots if "novalue" in attrs["class"]}
    assert len(bottom) == 1  # all on the axis line
    titles = [text for _, text in page.find("title")][1:]  # the first is the page's
    assert titles[2].startswith("#2 discard: 1.5 — lower it <img")
    assert titles[3].startswith("#3 crash: - — break the evaluation")
    labels = [text for _, text in page.find("text") if text.startswith("raise")]
    assert labels == ["raise the value <script>win…", "raise the value to 3.5"]
    assert page.find("path", "best-line") and not page.find("path", "held-line")


def test_payloads_are_shown_as_text_and_never_as_markup(metric, suite) -> None:
    for _, html in (metric, suite):
        page = Page(html)
        tags = {tag for tag, _, _ in page.elements}
        assert not tags & {"script", "img", "iframe", "object", "embed", "link"}
        assert [tag for tag, _, _ in page.elements].count("svg") == 1  # the chart only
        for tag, attrs, _ in page.elements:
            assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
            assert "src" not in attrs and "href" not in attrs, (tag, attrs)
        for payload in PAYLOADS:
            assert payload not in html
        assert "&lt;script&gt;window.__pwned=1;alert(1)&lt;/script&gt;" in html
    _, html = metric
    text = text_of(html)
    assert f"raise the value {PAYLOADS[0]}" in text  # the description, readable
    assert f"+{PAYLOADS[0]}" in text  # the diff of notes.txt
    assert f"lower it {PAYLOADS[1]}" in text


def test_the_page_needs_nothing_from_outside(metric, suite) -> None:
    for _, html in (metric, suite):
        assert not re.search(r"https?:", html)
        assert "@import" not in html and "url(" not in html
        assert "<style>" in html  # the stylesheet is inline


# -- several workers ----------------------------------------------------------------------------

WORKERS_HEAD = "Per worker worker experiments replays per hour busy kept stale conflicts"


def test_a_run_of_one_worker_has_no_table_per_worker(metric, suite) -> None:
    for root, html in (metric, suite):
        assert "Per worker" not in html and not Page(html).find("table", "workers")
        assert load_run_view(root).workers == []


def test_a_run_of_two_workers_has_a_row_per_worker(workers, tmp_path: Path) -> None:
    html = api.report(workers, tmp_path / "report.html").read_text(encoding="utf-8")

    assert len(Page(html).find("table", "workers")) == 1
    text = text_of(html)
    # worker 0: #1, kept; worker 1: #2, a stale winner, and its replay #3, kept
    rows = r" 0 1 0 [\d.]+ \d+% 1 0 0 1 2 1 [\d.]+ \d+% 1 1 0 "
    assert re.search(re.escape(WORKERS_HEAD) + rows, text), text


def test_while_the_run_is_live_the_table_says_what_each_worker_runs(
    workers, tmp_path: Path
) -> None:
    with at_work(workers, [1]) as (running,):
        view = load_run_view(workers)
        html = api.report(workers, tmp_path / "live.html").read_text(encoding="utf-8")
    with at_work(workers, [0, 1], killed=True):  # rows a killed harness left behind
        assert load_run_view(workers).in_flight == ()

    assert [(u.number, u.worker) for u in view.in_flight] == [(running, 1)]
    assert [w.running for w in view.workers] == [None, running]
    text = text_of(html)
    assert f"{WORKERS_HEAD} now 0 " in text and " idle 1 2 1 " in text
    assert text.split(" Progress ")[0].endswith(f" 1 1 0 #{running}")


# -- a suite run --------------------------------------------------------------------------------


def test_a_suite_report_has_both_heatmaps(suite) -> None:
    _, html = suite
    page = Page(html)
    tables = page.find("table", "heatmap")
    assert [attrs["id"] for attrs, _ in tables] == ["heatmap-1", "heatmap-2"]
    cells = [attrs["class"].split() for attrs, _ in page.find("td") if "title" in attrs]
    assert len(cells) == 18  # 3 cases × 3 assertions, for the baseline and the best
    baseline, best = cells[:9], cells[9:]
    assert sum("pass" in c for c in baseline) == 3 and sum("pass" in c for c in best) == 9
    assert sum("changed" in c for c in baseline) == 6  # fixed by the best
    text = text_of(html)
    assert "#0 baseline · 3/9 pass" in text and "#3 keep · 9/9 pass" in text
    assert "held out: baseline → best 1/3 → 3/3" in text
    assert page.find("path", "held-line")


def test_a_suite_report_puts_outputs_side_by_side_with_word_diffs(suite) -> None:
    _, html = suite
    page = Page(html)
    cases = [attrs["data-case"] for attrs, _ in page.find("div", "case")]
    assert cases == ["helio", "nimbus", "crew"]  # never the held-out one
    inserted = [text for _, text in page.find("ins")][1:]  # the first is the legend's
    assert " Now 40% faster. By HELIO. " in inserted[0]
    assert PAYLOADS[2] in inserted[0]  # shown as text, marked as new
    assert "orbit" not in text_of(html)


def test_any_pair_can_be_compared(suite, tmp_path: Path) -> None:
    root, _ = suite
    html = api.report(root, tmp_path / "pair.html", pair=(2, 4)).read_text()
    text = text_of(html)
    assert "Outputs: #2 beside #4" in text
    assert "#2's own change, which was not kept" in text
    assert "#4's own change, which was not kept" in text
    assert "the kept changes between the states they started from" in text


def test_the_cumulative_diff_goes_from_baseline_to_best(suite) -> None:
    _, html = suite
    text = text_of(html)
    assert "Everything the run changed" in text
    assert re.search(r"baseline -> best \(#3\): git diff [0-9a-f]{7} [0-9a-f]{7}", text)
    assert "+number brand payload" in text


# -- the command --------------------------------------------------------------------------------


def test_the_command_writes_the_page_and_a_png(suite, tmp_path: Path) -> None:
    root, _ = suite
    page, chart = tmp_path / "r.html", tmp_path / "chart.png"

    result = CliRunner().invoke(
        cli, ["report", str(root), "-o", str(page), "--png", str(chart), "--run", "posts-1"]
    )

    assert result.exit_code == 0, result.output
    assert f"wrote {page} and the chart {chart}" in " ".join(result.output.split())
    assert chart.read_bytes().startswith(PNG_MAGIC) and chart.stat().st_size > 5000
    assert "posts-1" in page.read_text()


def test_without_matplotlib_the_png_asks_for_the_extra(
    suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = suite
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails

    with pytest.raises(UsageError, match=r'pip install "overnight\[png\]"'):
        api.report(root, tmp_path / "r.html", png=tmp_path / "c.png")
    assert not (tmp_path / "r.html").exists()


def test_unknown_runs_and_experiments_are_usage_errors(suite, tmp_path: Path) -> None:
    root, _ = suite
    with pytest.raises(UsageError, match="no run 'nope'"):
        api.report(root, tmp_path / "r.html", run="nope")
    with pytest.raises(UsageError, match="no finished experiment 42"):
        api.report(root, tmp_path / "r.html", pair=(0, 42))
    empty = tmp_path / "empty"
    (empty / "overnight.yaml").parent.mkdir()
    (empty / "overnight.yaml").write_text((root / "overnight.yaml").read_text())
    with pytest.raises(UsageError, match="no run yet"):
        api.report(empty)


# -- the pieces ---------------------------------------------------------------------------------


def test_word_diff_marks_deleted_and_inserted_words() -> None:
    old, new = "Buy our tool today.\nIt is fast.", "Try our tool now.\nIt is fast!"

    left, right = word_diff(old, new)

    assert "".join(s.text for s in left) == old and "".join(s.text for s in right) == new
    assert [s.text for s in left if s.kind == "del"] == ["Buy", "today", "."]
    assert [s.text for s in right if s.kind == "ins"] == ["Try", "now", "!"]


def test_diff_lines_tell_headers_from_content() -> None:
    diff = (
        "diff --git a/q.sql b/q.sql\nindex 1..2 100644\n--- a/q.sql\n+++ b/q.sql\n"
        "@@ -1,2 +1,2 @@\n--- a comment\n+++ another\n select 1\n"
    )

    kinds = [line.kind for line in diff_lines(diff)]

    assert kinds == ["file", "file", "file", "file", "hunk", "del", "add", "context"]
    stats = diff_stats(diff)
    assert (stats.files, stats.added, stats.deleted) == (["q.sql"], 1, 1)
