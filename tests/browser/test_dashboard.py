"""The dashboard and the static report in a real browser: headless chromium, driven by Playwright,
against uvicorn on loopback. Full-page screenshots land in ``test-artifacts/``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from overnight import api
from overnight.brief import BriefInputs, render_brief
from overnight.ledger import Ledger
from overnight.project import Project
from overnight.review import brief_notes
from overnight.server.app import create_app
from report_projects import PAYLOADS, append_experiment, metric_project, serving, suite_project

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None

CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else shutil.which("chromium")
if sync_playwright is None or CHROMIUM is None:
    if os.environ.get("CI"):  # .ci/run installs chromium: a skip there would hide a failure
        raise RuntimeError("the browser tests need playwright and chromium, which CI installs")
    pytest.skip("needs playwright and a chromium at /usr/bin/chromium", allow_module_level=True)

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TOKEN = "browser-token-456"
WAIT_MS = 8000


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return suite_project(tmp_path_factory.mktemp("browser") / "posts")


@pytest.fixture(scope="module")
def base(project: Path) -> Iterator[str]:
    with serving(create_app(project, TOKEN)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


class Watched:
    """A page and what it did that a page must not: console errors (a CSP violation is one),
    dialogs, requests to anything but the server."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", self._dialog)
        page.on("request", lambda request: self.requests.append(request.url))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def pwned(self) -> object:
        return self.page.evaluate("window.__pwned")


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield Watched(page)
    context.close()


def experiment_count(root: Path) -> int:
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        run = ledger.run()
        assert run is not None
        return len(ledger.experiments(run.id))
    finally:
        ledger.close()


def reviews_of(root: Path) -> list:
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        return ledger.reviews()
    finally:
        ledger.close()


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_the_dashboard_loads_and_draws_the_chart(watched: Watched, base: str, project: Path):
    page = watched.page
    page.goto(f"{base}/?token={TOKEN}")

    chart = page.locator("#progress-chart")
    chart.wait_for()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 200
    dots = page.locator("#progress-chart circle.dot")
    assert dots.count() == experiment_count(project)
    for index in range(dots.count()):
        dot = dots.nth(index).bounding_box()
        assert dot is not None and dot["width"] > 4 and dot["height"] > 4
    assert "token" not in page.url  # kept in the tab's storage, out of the address bar
    assert page.locator("#review-access").text_content() == "reviews on"
    page.locator("#live-text").filter(has_text="tried").wait_for()
    assert watched.errors == []
    screenshot(page, "dashboard.png")


def test_a_new_experiment_appears_without_a_reload(watched: Watched, base: str, project: Path):
    page = watched.page
    page.goto(f"{base}/?token={TOKEN}")
    page.locator("#experiments-table").wait_for()
    page.evaluate("window.__same_page = true")
    before = page.locator("#progress-chart circle.dot").count()

    number = append_experiment(project, "appended while the page was open")

    page.locator(f"#exp-{number}").wait_for()
    assert page.evaluate("window.__same_page") is True
    assert page.locator("#progress-chart circle.dot").count() == before + 1
    assert "appended while the page was open" in page.locator(f"#exp-{number}").inner_text()
    assert page.locator(f'#pick-b option[value="{number}"]').count() == 1
    assert watched.errors == []


def test_picking_a_pair_swaps_the_comparison(watched: Watched, base: str) -> None:
    page = watched.page
    page.goto(f"{base}/?token={TOKEN}")
    page.locator("#pick-a").wait_for()

    page.select_option("#pick-a", "2")

    page.locator("#suite h2", has_text="Outputs: #2 beside #3").wait_for()
    assert "a=2" in page.url and "b=3" in page.url
    assert page.locator("#pair h2").inner_text() == "Diff: #2 → #3"


def test_a_thumbs_down_reaches_the_next_brief(watched: Watched, base: str, project: Path):
    page = watched.page
    page.goto(f"{base}/?token={TOKEN}")
    form = page.locator('form.review-form[data-case="helio"]')

    form.locator("input[name=note]").fill("too salesy")
    form.locator("button[value=down]").click()

    shown = page.locator('.case[data-case="helio"] li.review.down')
    shown.wait_for()
    assert "too salesy" in shown.inner_text()
    ledger = Ledger(project / ".overnight" / "ledger.db")
    try:
        run = ledger.run()
        assert run is not None
        review = ledger.reviews(run.id)[-1]
        assert (review.number, review.case_id, review.verdict, review.note) == (
            3,
            "helio",
            "down",
            "too salesy",
        )
        config = Project.open(project).config
        brief = render_brief(
            BriefInputs(
                config,
                project,
                len(ledger.experiments(run.id)),
                ["rules.txt"],
                ledger.experiments(run.id),
                reviews=brief_notes(ledger, run, config),
            )
        )
    finally:
        ledger.close()
    assert "reviewer on case helio (experiment 3): too salesy" in brief
    screenshot(page, "dashboard-reviewed.png")


def test_without_the_token_the_page_is_read_only(watched: Watched, base: str, project: Path):
    page = watched.page
    page.goto(base)  # a fresh browser context: no token stored in it either
    before = len(reviews_of(project))
    form = page.locator('form.review-form[data-case="nimbus"]')

    form.locator("button[value=up]").click()

    form.locator(".form-status", has_text="no review token").wait_for()
    assert "read-only" in (page.locator("#review-access").text_content() or "")
    assert len(reviews_of(project)) == before


def test_payloads_in_outputs_and_notes_never_run(watched: Watched, base: str) -> None:
    page = watched.page
    page.goto(f"{base}/?a=2&b=3&token={TOKEN}")
    form = page.locator('form.review-form[data-case="crew"]')
    form.locator("input[name=note]").fill(PAYLOADS[1])
    form.locator("button[value=up]").click()
    page.locator('.case[data-case="crew"] li.review.up').wait_for()

    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    page.wait_for_timeout(300)

    assert watched.pwned() is None and watched.dialogs == []
    assert not [url for url in watched.requests if url.endswith("/x")]  # no <img src=x> loaded
    outputs = page.locator("pre.output").all_inner_texts()
    assert any(PAYLOADS[0] in text for text in outputs)  # shown, as text
    assert PAYLOADS[1] in page.locator('.case[data-case="crew"] li.review.up').inner_text()
    assert page.locator("main img, main script, main iframe").count() == 0
    assert watched.errors == []


@pytest.mark.parametrize("kind", ["suite", "metric"])
def test_the_static_report_renders_from_disk_and_runs_nothing(
    watched: Watched, project: Path, tmp_path: Path, kind: str
) -> None:
    root = project if kind == "suite" else metric_project(tmp_path / "metric")
    report = api.report(root, tmp_path / f"{kind}.html")
    page = watched.page

    page.goto(report.as_uri())
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")

    box = page.locator("svg.chart").bounding_box()
    assert box is not None and box["width"] > 600
    assert page.locator("svg.chart circle.dot").count() >= 5
    assert watched.pwned() is None and watched.dialogs == []
    assert all(url.startswith("file://") for url in watched.requests)
    if kind == "suite":
        assert page.locator("table.heatmap").count() == 2
        assert page.locator(".side-by-side").count() == 3
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = false; })")
    page.locator("#exp-1 > summary").click()  # one diff open, as a reader would leave it
    screenshot(page, f"report-{kind}.png")
