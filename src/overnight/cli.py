"""The ``overnight`` command: a thin layer over ``overnight.api``.

This is the one place that turns errors into messages and exit codes: 0 done, 1 the run failed,
2 bad usage or config, 130 interrupted outside a run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from overnight import api, examples
from overnight.config import CONFIG_NAME
from overnight.errors import OvernightError, UsageError
from overnight.formatting import money, number, score_text
from overnight.holdout import held_out_score, held_out_text
from overnight.project import Project
from overnight.prune import CRASH, DROPPED, KEPT, PruneResult
from overnight.records import Status
from overnight.results import results_json, results_tsv, score_json
from overnight.view import (
    LiveView,
    cost_text,
    failure_lines,
    log_table,
    matrix_table,
    status_lines,
)

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

DIRECTORY = click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default="."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="overnight")
def cli() -> None:
    """Autonomous keep-or-revert improvement loops over a git repository."""


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option("--experiments", type=click.IntRange(min=1), default=15, show_default=True)
def demo(directory: Path | None, experiments: int) -> None:
    """Copy the offline digits example into DIRECTORY (default ./overnight-demo) and improve it."""
    target = directory or examples.free_directory(Path("overnight-demo").resolve())
    examples.create_from_example("digits", target)
    console.print(f"Copied the digits example to [bold]{target}[/] (a new git repository).")
    console.print(
        "An offline search agent will now tune train.py's hyperparameters, one change "
        "per experiment, keeping only what lowers val_loss. Ctrl-C stops it cleanly.\n"
    )
    summary = _run_live(target, experiments=experiments)
    _print_summary(target, summary)


@cli.command()
@DIRECTORY
@click.option(
    "--example",
    "example",
    metavar="NAME",
    help=f"Copy a bundled example ({', '.join(examples.available())}).",
)
def init(directory: Path, example: str | None) -> None:
    """Create overnight.yaml in DIRECTORY, or a whole example repository with --example."""
    if example:
        examples.create_from_example(example, directory.resolve())
        console.print(
            f"Created {directory} from example {example!r}. Next: overnight run {directory}"
        )
        return
    config = directory / CONFIG_NAME
    if config.exists():
        raise UsageError(f"{config} exists already")
    directory.mkdir(parents=True, exist_ok=True)
    config.write_text(STARTER_CONFIG, encoding="utf-8")
    console.print(f"Wrote {config}: set editable, frozen and evaluate, then try `overnight eval`.")


@cli.command()
@DIRECTORY
@click.option(
    "--experiments",
    type=click.IntRange(min=0),
    help="Experiments in the run (overrides budget.experiments).",
)
@click.option(
    "--hours",
    type=click.FloatRange(min=0, min_open=True),
    help="Wall-clock hours from now (overrides budget.hours).",
)
@click.option("--tag", help="Name of the run; the branch is overnight/TAG (default: today's date).")
@click.option("--resume", is_flag=True, help="Continue the latest run (or --tag) where it stopped.")
@click.option("--no-cache", is_flag=True, help="Generate every output again, ignoring the cache.")
def run(
    directory: Path,
    experiments: int | None,
    hours: float | None,
    tag: str | None,
    resume: bool,
    no_cache: bool,
) -> None:
    """Improve the repository in DIRECTORY until a stop rule fires."""
    summary = _run_live(
        directory,
        experiments=experiments,
        hours=hours,
        tag=tag,
        resume=resume,
        use_cache=not no_cache,
    )
    _print_summary(directory, summary)


@cli.command(name="eval")
@DIRECTORY
@click.option(
    "--json", "as_json", is_flag=True, help="Print the score (and a suite's matrix) as JSON."
)
@click.option("--no-cache", is_flag=True, help="Generate every output again, ignoring the cache.")
def eval_(directory: Path, as_json: bool, no_cache: bool) -> None:
    """Evaluate the tree as it is now, once; git and the ledger are not touched."""
    score = api.evaluate(directory, use_cache=not no_cache)
    held_out = api.evaluate_held_out(directory, use_cache=not no_cache)
    metric = Project.open(directory).config.evaluate.metric
    if as_json:
        data = score_json(metric, score)
        if held_out is not None:
            data["held_out"] = score_json(metric, held_out)
        click.echo(json.dumps(data, indent=1))
    else:
        if score.suite is not None:
            console.print(matrix_table(score.suite))
            for line in failure_lines(score.suite):
                console.print(line, soft_wrap=True)
        if score.ok:
            extras = "  ".join(
                f"{k}: {number(v)}" for k, v in score.secondary.items() if score.suite is None
            )
            console.print(
                f"{metric}: [bold]{score_text(score.value, score.secondary)}[/]  {extras}"
                f"  ({score.seconds:.1f}s{cost_text(score.usage)})"
            )
        if held_out is not None and held_out.suite is not None:
            console.print(
                f"held out (never shown to an agent): {held_out.suite.passed}/"
                f"{held_out.suite.total}  ({held_out.seconds:.1f}s{cost_text(held_out.usage)})"
            )
        else:
            err_console.print(f"[red]{score.status}[/]: {score.log_tail}")
    if not score.ok:
        sys.exit(1)


@cli.command()
@DIRECTORY
@click.option("--tsv", is_flag=True, help="autoresearch-compatible results.tsv.")
@click.option("--json", "as_json", is_flag=True, help="JSON, one object per experiment.")
@click.option("--tag", help="Which run (default: the latest).")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
def log(directory: Path, tsv: bool, as_json: bool, tag: str | None, output: Path | None) -> None:
    """Show every experiment of a run."""
    if tsv and as_json:
        raise UsageError("choose one of --tsv and --json")
    record, history = api.history(directory, tag)
    if tsv:
        text = results_tsv(record, history)
    elif as_json:
        text = results_json(history)
    else:
        if output:
            raise UsageError("--output needs --tsv or --json")
        console.print(log_table(record, history))
        return
    if output:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@cli.command()
@DIRECTORY
def status(directory: Path) -> None:
    """Where the latest run stands."""
    record, history = api.history(directory)
    live = Project.open(directory).lock().held_elsewhere()
    for line in status_lines(record, history, live):
        console.print(line)


@cli.command()
@DIRECTORY
@click.option("--run", "tag", help="Which run (default: the latest).")
@click.option("--dry-run", is_flag=True, help="Measure and report; commit and record nothing.")
def prune(directory: Path, tag: str | None, dry_run: bool) -> None:
    """Take each kept change out of the best state; drop those whose removal does not hurt."""
    result = api.prune(
        directory,
        tag,
        dry_run,
        progress=lambda text: err_console.print(text, style="dim", markup=False),
    )
    run = result.run
    console.print(_prune_table(result))
    for row in result.rows:
        if row.verdict == CRASH:
            console.print(f"  #{row.number}: the tree without it fails its evaluation, so it stays")
    if result.stopped:
        console.print(f"[bold]Stopped:[/] {result.stopped}")
    console.print(
        f"{run.metric}: baseline {number(result.baseline)} -> best {number(result.best)} -> "
        f"pruned [bold green]{number(result.pruned)}[/], {len(result.dropped)} of "
        f"{len(result.rows)} changes dropped"
    )
    if dry_run:
        console.print("Dry run: no commit made, nothing recorded.")
    elif result.dropped:
        console.print(f"Branch {run.branch} is at the pruned state, one commit per dropped change.")


STARTER_CONFIG = """\
# overnight.yaml: what may change, how it is measured, how long to try.
name: my-project
editable: [train.py]          # globs the agent may change; everything else is off limits
frozen: []                    # hashed before and after every experiment (overnight.yaml always is)
program: program.md           # instructions for LLM agents (optional)
evaluate:
  command: python train.py    # prints a line "score: 0.123"
  metric: score
  direction: minimize         # or maximize
  timeout: 600                # seconds; the whole process group is killed after it
agent:
  kind: search                # tunes UPPER_CASE constants in editable Python files, offline
budget: {experiments: 100}
stop: {patience: 30}
"""


def _run_live(directory: Path, **options: object) -> api.RunSummary:
    view = LiveView(console)
    with view:
        return api.run(directory, observer=view, **options)  # type: ignore[arg-type]


def _print_summary(directory: Path, summary: api.RunSummary) -> None:
    run = summary.run
    tally = {s: sum(1 for e in summary.experiments if e.status is s) for s in Status}
    tried = len(summary.experiments) - 1
    console.print(f"\n[bold]Stopped:[/] {summary.stop_reason}")
    baseline, best = summary.experiments[0], summary.best_experiment
    change = ""
    if baseline.metric and best.metric is not None and "total" not in best.secondary:
        change = f" ({(best.metric - baseline.metric) / abs(baseline.metric):+.1%})"
    cost = sum(e.total_cost_usd for e in summary.experiments)
    console.print(
        f"{run.metric}: baseline {score_text(baseline.metric, baseline.secondary)} -> best "
        f"[bold green]{score_text(best.metric, best.secondary)}[/]{change} after {tried} "
        f"experiments, {tally[Status.KEEP]} kept" + (f", {money(cost)} spent" if cost else "")
    )
    for kept in summary.kept:
        value = score_text(kept.metric, kept.secondary)
        console.print(f"  kept #{kept.number}: {kept.description} -> {value}")
    if held_out_score(baseline) is not None:
        console.print(f"held out: baseline {held_out_text(baseline)} -> best {held_out_text(best)}")
    state = Path(directory).resolve() / ".overnight"
    tip = [e for e in summary.experiments if e.status.advances][-1]
    where = (
        f"Branch {run.branch} is at the best state."
        if best is tip
        else f"By the held-out cases the best state is experiment {best.number}: "
        f"`git checkout {best.commit}` (branch {run.branch} holds every keep)."
    )
    console.print(
        f"{where} Ledger: {state / 'ledger.db'}; "
        f"results: {state / 'results.tsv'}; `overnight log {directory}` lists every experiment."
    )


VERDICT_STYLE = {DROPPED: "yellow", KEPT: "green", CRASH: "red"}


def _prune_table(result: PruneResult) -> Table:
    """One row per change taken out: what the tree scores without it, and what it is worth
    (how much worse the tree is without it; positive means the change helps)."""
    run = result.run
    dry = ", dry run" if result.dry_run else ""
    table = Table(
        title=f"{run.name} · prune of {run.tag} ({run.branch}){dry}", title_justify="left"
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("description", min_width=28, ratio=1)
    table.add_column(f"{run.metric} without", justify="right", no_wrap=True)
    table.add_column("worth", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for row in result.rows:
        table.add_row(
            str(row.number),
            Text(row.description),
            number(row.metric_without),
            "-" if row.worth is None else f"{row.worth:+.4g}",
            Text(row.verdict, VERDICT_STYLE.get(row.verdict, "")),
        )
    return table


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except OvernightError as exc:
        err_console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err_console.print("interrupted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
