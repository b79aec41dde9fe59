"""The live dashboard: the report's sections, refreshed while a run writes, plus human review.

Every request opens the ledger afresh and closes it again: sqlite connections belong to one
thread and FastAPI answers from a pool of them, and WAL lets these readers in while the loop
writes; the experiments already read are kept (``HistoryCache``), so a request reads only
what finished since the last one, and the sections rendered are kept until what they show
changes (``SectionCache``). The page asks ``/api/version`` every two seconds (a count) and,
only when the answer changes, ``/api/sections`` with the digests of the sections it holds: the
answer carries just the sections whose content changed; with several workers, it comes with the
per-worker figures as data. A long run's table leaves most diffs out; ``/api/experiment/N``
renders one when its row is opened. Static files come from a fixed table of package files,
never from a path in the request.
"""

from __future__ import annotations

import dataclasses
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from overnight.errors import UsageError
from overnight.ledger import Ledger
from overnight.project import Project
from overnight.report import load_run_view, render_dashboard, render_sections
from overnight.report.data import ledger_version
from overnight.report.history import HistoryCache
from overnight.report.html import compile_templates, digest, render_experiment, render_waiting
from overnight.report.section_cache import SectionCache
from overnight.report.table import DASHBOARD_BOUNDS
from overnight.review import record_review
from overnight.server.guard import (
    SECURITY_HEADERS,
    TOKEN_HEADER,
    host_name,
    is_loopback,
    token_matches,
)
from overnight.workspace import STATE_DIR

# name -> (package, file inside it, media type): everything the server will ever send from disk.
STATIC = {
    "report.css": ("overnight.report", "templates/report.css", "text/css; charset=utf-8"),
    "dashboard.js": (
        "overnight.server",
        "static/dashboard.js",
        "text/javascript; charset=utf-8",
    ),
}
MAX_NOTE = 2000


class ReviewIn(BaseModel):
    run: str | None = None  # the run's tag; the latest when absent
    number: int
    verdict: str = Field(max_length=20)
    note: str = Field("", max_length=MAX_NOTE)
    case_id: str | None = Field(None, max_length=500)


def create_app(project_dir: Path | str, token: str, *, allow_remote: bool = False) -> FastAPI:
    """The dashboard of the project in ``project_dir``; reviews need ``token``. Unless
    ``allow_remote``, requests must be addressed to a loopback host name."""
    root = Path(project_dir).resolve()
    Project.layers(root)  # a missing or malformed config is reported now, not per request
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    history, rendered = HistoryCache(), SectionCache()
    _read_ahead(root, history)

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        if not allow_remote and not is_loopback(host_name(request.headers.get("host", ""))):
            response: Response = PlainTextResponse("unknown host", status_code=400)
        elif request.method not in ("GET", "HEAD") and not token_matches(
            request.headers.get(TOKEN_HEADER), token
        ):  # every write, before its body is even read
            response = PlainTextResponse(
                f"writing needs the {TOKEN_HEADER} header printed at start-up", status_code=403
            )
        else:
            response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.get("/", response_class=HTMLResponse)
    def page(run: str | None = None, a: int | None = None, b: int | None = None) -> HTMLResponse:
        try:
            view = load_run_view(root, run, a, b, history=history)
        except UsageError as exc:
            if run is None and a is None and b is None:
                return HTMLResponse(render_waiting(str(exc)))
            raise HTTPException(404, str(exc)) from None
        return HTMLResponse(render_dashboard(view, cache=rendered))

    @app.get("/api/version")
    def version(run: str | None = None) -> dict[str, Any]:
        ledger = _ledger(root)
        if ledger is None:
            return {"version": "", "run": None}
        try:
            record = ledger.run(tag=run)
            if record is None:
                return {"version": "", "run": None}
            finished = ledger.finished(record.id)  # polled every 2 s: a count, not the rows
            reviews = ledger.reviews(record.id)
            running = ledger.running(record.id)
        finally:
            ledger.close()
        return {
            "version": ledger_version(record, finished, reviews),
            "run": record.tag,
            "experiments": finished[0],
            "tried": max(0, finished[0] - 1),  # as the summary counts them: the baseline is none
            "running": running.number if running else None,
            "stopped": record.stop_reason,
        }

    @app.get("/api/sections")
    def sections(
        run: str | None = None, a: int | None = None, b: int | None = None, have: str = ""
    ) -> dict[str, Any]:
        """Sections whose digest is not among ``have`` (``name:digest,…``): all without it."""
        try:
            view = load_run_view(root, run, a, b, history=history)
        except UsageError as exc:
            raise HTTPException(404, str(exc)) from None
        held = dict(item.partition(":")[::2] for item in have.split(",") if item)
        fresh = render_sections(view, cache=rendered)
        digests = {name: digest(html) for name, html in fresh.items()}
        return {
            "version": view.version,
            "sections": {
                name: html for name, html in fresh.items() if held.get(name) != digests[name]
            },
            "digests": digests,
            "workers": [dataclasses.asdict(figures) for figures in view.workers],
        }

    @app.get("/api/experiment/{number}", response_class=HTMLResponse)
    def experiment(number: int, run: str | None = None) -> HTMLResponse:
        try:
            view = load_run_view(root, run, history=history)
        except UsageError as exc:
            raise HTTPException(404, str(exc)) from None
        body = render_experiment(view, number)
        if body is None:
            raise HTTPException(404, f"run {view.run.tag} has no finished experiment {number}")
        return HTMLResponse(body)

    @app.post("/api/review")
    def review(body: ReviewIn) -> dict[str, Any]:
        ledger = _ledger(root)
        if ledger is None:
            raise HTTPException(404, "no run yet")
        try:
            record = ledger.run(tag=body.run)
            if record is None:
                raise HTTPException(404, f"no run {body.run!r}" if body.run else "no run yet")
            try:
                stored = record_review(
                    ledger, record, body.number, body.verdict, body.note, body.case_id
                )
            except UsageError as exc:
                raise HTTPException(400, str(exc)) from None
        finally:
            ledger.close()
        return dataclasses.asdict(stored)

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            return JSONResponse({"detail": "not found"}, status_code=404)
        package, path, media_type = STATIC[name]
        return Response(files(package).joinpath(path).read_bytes(), media_type=media_type)

    return app


def _ledger(root: Path) -> Ledger | None:
    """The project's ledger, unless no run has created it yet (a reader never creates it)."""
    path = root / STATE_DIR / "ledger.db"
    return Ledger(path) if path.is_file() else None


def _read_ahead(root: Path, history: HistoryCache) -> None:
    """Compile the templates, read the latest run's experiments and draw its chart before the
    first visitor comes, so that the first page costs what every later one does."""
    compile_templates()
    ledger = _ledger(root)
    if ledger is None:
        return
    try:
        record = ledger.run()
        if record is not None:
            history.read(ledger, record.id).trace(DASHBOARD_BOUNDS.marks)
    finally:
        ledger.close()
