"""The commands that read what runs did: ``log``, ``status``, ``compare``, ``report`` and
``serve``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from overnight.cli.common import DIRECTORY, LAYER, RUN, console, err_console, say_dim
from overnight.config_file import check_layer
from overnight.errors import UsageError

LOG_ROWS = 50  # the table's rows by default: the newest experiments


@click.command()
@DIRECTORY
@click.option("--tsv", is_flag=True, help="autoresearch-compatible results.tsv.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one object per experiment.")
@RUN
@click.option("--all", "show_all", is_flag=True, help="List every experiment in the table.")
@LAYER
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
def log(
    directory: Path,
    tsv: bool,
    as_json: bool,
    tag: str | None,
    show_all: bool,
    layer: str | None,
    output: Path | None,
) -> None:
    """Show the experiments of a run (the latest, or the latest of --layer): the last
    50 in the table, every one with --all, --tsv or --json."""
    if tsv and as_json:
        raise UsageError("choose one of --tsv and --json")
    from overnight import api
    from overnight.results import results_json, results_tsv

    record, history = api.history(directory, tag, layer, notes=False, diffs=as_json)
    if tsv:
        text = results_tsv(record, history)
    elif as_json:
        text = results_json(history, api.notes(directory, record.tag))
    else:
        if output:
            raise UsageError("--output needs --tsv or --json")
        from overnight.view import log_table

        console().print(log_table(record, history, None if show_all else LOG_ROWS))
        return
    if output:
        output.write_text(text, encoding="utf-8")
        err_console().print(f"wrote {output}", markup=False)
    else:
        click.echo(text, nl=False)


@click.command()
@DIRECTORY
@LAYER
def status(directory: Path, layer: str | None) -> None:
    """Where the latest run stands; with layers, the latest run of each layer."""
    from rich.text import Text

    from overnight import api
    from overnight.view import RATE_WINDOW, status_lines

    latest = api.latest_runs(directory)
    if layer is not None:
        check_layer([name for name in latest if name is not None], layer)
        latest = {layer: latest[layer]}
    active = api.active_run(directory)
    for name, record in latest.items():
        if name is not None:
            console().print(Text(f"{name} layer", style="bold"))
        if record is None and name is None:
            raise UsageError("no run yet: try `overnight run`")
        if record is None:
            console().print(f"  no run yet: `overnight run --layer {name}`")
            continue
        live = record.id == active
        summed_up = api.overview(directory, record.tag, newest=RATE_WINDOW, live=live)
        indent = "  " if name is not None else ""
        for line in status_lines(record, summed_up, live):
            console().print(indent + line, soft_wrap=True, markup=False)


@click.command()
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@DIRECTORY
@click.option(
    "--repeats",
    type=click.IntRange(min=1, max=100),
    help="Measurements of each side (default: evaluate.repeats).",
)
@click.option(
    "--as",
    "as_path",
    metavar="PATH",
    help="The editable file a FILE argument replaces (needed when there are several).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--no-cache", is_flag=True, help="Generate every output again, ignoring the cache.")
@LAYER
def compare(
    a: str,
    b: str,
    directory: Path,
    repeats: int | None,
    as_path: str | None,
    as_json: bool,
    no_cache: bool,
    layer: str | None,
) -> None:
    """Score A and B on the same evaluation, side by side: is B better than A?

    A and B are each a git revision of the repository in DIRECTORY (a commit, branch, tag,
    HEAD~2, ...) or a file; an argument that names an existing file (relative to the current
    directory) is a file. A revision is checked out in a temporary git worktree; a file
    replaces the project's editable file (--as PATH names which, when there are several) in a
    worktree of HEAD. The worktrees live under .overnight/worktrees/ and are removed
    afterwards.

    Both are measured by the working tree's evaluation, whatever the revision holds:
    overnight.yaml, the frozen files and the suite or queries file are copied from the working
    tree into each worktree, so only the editable files differ. Suites show each case's
    passed/total and the checks that flip, with the exact sign test over them; metrics show
    mean ± sd and Student's one-sided t-test over --repeats measurements. Held-out cases are
    scored too, on a line of their own. Git and the ledger are not touched.

    \b
    Examples:
      overnight compare HEAD~3 HEAD
      overnight compare main overnight/2024-06-01 path/to/repo --repeats 5
      overnight compare SKILL.md drafts/SKILL-short.md --as skills/post/SKILL.md
    """
    from overnight import api
    from overnight.view import comparison_view

    comparison = api.compare(
        a,
        b,
        directory,
        repeats=repeats,
        as_path=as_path,
        use_cache=not no_cache,
        layer=layer,
        progress=say_dim,
    )
    if as_json:
        click.echo(json.dumps(comparison.to_json(), indent=1))
    else:
        console().print(comparison_view(comparison))
    if comparison.failed:
        sys.exit(1)


@click.command()
@DIRECTORY
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the page (default: .overnight/report.html).",
)
@RUN
@click.option(
    "--pair",
    type=int,
    nargs=2,
    metavar="A B",
    help="Compare experiments A and B (default: the baseline and the best state).",
)
@click.option(
    "--png",
    type=click.Path(dir_okay=False, path_type=Path),
    help='Also draw the progress chart as a PNG (needs pip install "overnight[png]").',
)
@LAYER
def report(
    directory: Path,
    output: Path | None,
    tag: str | None,
    pair: tuple[int, int] | None,
    png: Path | None,
    layer: str | None,
) -> None:
    """Write a run's morning review as one HTML file that works offline."""
    from overnight import api

    written = api.report(directory, output, run=tag, pair=pair or None, png=png, layer=layer)
    console().print(f"wrote {written}" + (f" and the chart {png}" if png else ""), markup=False)


@click.command()
@DIRECTORY
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host other machines can reach (they can read every run).",
)
def serve(directory: Path, host: str, port: int, allow_remote: bool) -> None:
    """Serve the live dashboard of the project's runs, where a reviewer can judge outputs and
    keeps."""
    from overnight.server import serve as serve_dashboard

    serve_dashboard(
        directory,
        host,
        port,
        allow_remote,
        say=lambda text: console().print(text, markup=False, soft_wrap=True),
    )
