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
from overnight.review import ENTANGLED, GONE, REVERTED, ApplyResult, Pending
from overnight.view import (
    LiveView,
    comparison_view,
    cost_text,
    failure_lines,
    log_table,
    matrix_table,
    stale_winners_text,
    status_lines,
)
from overnight.workers_view import worker_figures, worker_lines

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

DIRECTORY = click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default="."
)
LAYER = click.option(
    "--layer", metavar="NAME", help="Which layer of a config with `layers` (e.g. activation)."
)

LOG_ROWS = 50  # the table's rows by default: the newest experiments


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
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    help="Experiments in flight at once, each in its own workspace (overrides workers).",
)
@click.option("--tag", help="Name of the run; the branch is overnight/TAG (default: today's date).")
@click.option("--resume", is_flag=True, help="Continue the latest run (or --tag) where it stopped.")
@click.option("--no-cache", is_flag=True, help="Generate every output again, ignoring the cache.")
@click.option(
    "--checkout",
    is_flag=True,
    help="At the end, switch the checkout to the run branch (only if it has no uncommitted "
    "changes). Without it the checkout is never touched.",
)
@LAYER
def run(
    directory: Path,
    experiments: int | None,
    hours: float | None,
    workers: int | None,
    tag: str | None,
    resume: bool,
    no_cache: bool,
    checkout: bool,
    layer: str | None,
) -> None:
    """Improve the repository in DIRECTORY until a stop rule fires. Experiments run in
    disposable workspaces under .overnight/worktrees/; your checkout is not touched."""
    summary = _run_live(
        directory,
        experiments=experiments,
        hours=hours,
        workers=workers,
        tag=tag,
        resume=resume,
        use_cache=not no_cache,
        layer=layer,
        checkout=checkout,
    )
    _print_summary(directory, summary)


@cli.command(name="eval")
@DIRECTORY
@click.option(
    "--json", "as_json", is_flag=True, help="Print the score (and a suite's matrix) as JSON."
)
@click.option("--no-cache", is_flag=True, help="Generate every output again, ignoring the cache.")
@LAYER
def eval_(directory: Path, as_json: bool, no_cache: bool, layer: str | None) -> None:
    """Evaluate the tree as it is now, once; git and the ledger are not touched."""
    score = api.evaluate(directory, use_cache=not no_cache, layer=layer)
    held_out = api.evaluate_held_out(directory, use_cache=not no_cache, layer=layer)
    metric = Project.open(directory, layer).config.evaluate.metric
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
    record, history = api.history(directory, tag, layer)
    if tsv:
        text = results_tsv(record, history)
    elif as_json:
        text = results_json(history)
    else:
        if output:
            raise UsageError("--output needs --tsv or --json")
        console.print(log_table(record, history, None if show_all else LOG_ROWS))
        return
    if output:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@cli.command()
@DIRECTORY
@LAYER
def status(directory: Path, layer: str | None) -> None:
    """Where the latest run stands; with layers, the latest run of each layer."""
    latest = api.latest_runs(directory)
    if layer is not None:
        Project.open(directory, layer)  # says which layers there are
        latest = {layer: latest[layer]}
    active = api.active_run(directory)
    for name, record in latest.items():
        if name is not None:
            console.print(Text(f"{name} layer", style="bold"))
        if record is None and name is None:
            raise UsageError("no run yet: try `overnight run`")
        if record is None:
            console.print(f"  no run yet: `overnight run --layer {name}`")
            continue
        _, history = api.history(directory, record.tag)
        live = record.id == active
        in_flight = api.in_flight(directory, record.tag) if live else []
        indent = "  " if name is not None else ""
        for line in status_lines(record, history, live, in_flight):
            console.print(indent + line, soft_wrap=True)


@cli.command()
@DIRECTORY
@click.option("--run", "tag", help="Which run (default: the latest).")
@click.option("--dry-run", is_flag=True, help="Measure and report; commit and record nothing.")
@LAYER
def prune(directory: Path, tag: str | None, dry_run: bool, layer: str | None) -> None:
    """Take each kept change out of the best state; drop those whose removal does not hurt."""
    result = api.prune(
        directory,
        tag,
        dry_run,
        progress=lambda text: err_console.print(text, style="dim", markup=False),
        layer=layer,
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


@cli.command()
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
    comparison = api.compare(
        a,
        b,
        directory,
        repeats=repeats,
        as_path=as_path,
        use_cache=not no_cache,
        layer=layer,
        progress=lambda text: err_console.print(text, style="dim", markup=False),
    )
    if as_json:
        click.echo(json.dumps(comparison.to_json(), indent=1))
    else:
        console.print(comparison_view(comparison))
    if comparison.failed:
        sys.exit(1)


@cli.command()
@DIRECTORY
@click.option("--run", "tag", help="Which run (default: the latest).")
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    metavar="N",
    help="Judge kept experiment N as a whole: with --accept or --reject.",
)
@click.option("--case", metavar="ID", help="Judge the output of case ID: with --up or --down.")
@click.option(
    "--experiment",
    type=click.IntRange(min=0),
    metavar="N",
    help="With --case: the experiment whose output it is (default: the best state).",
)
@click.option("--accept", is_flag=True, help="The kept change may stay.")
@click.option(
    "--reject", is_flag=True, help="The kept change must go (--apply takes it out of the branch)."
)
@click.option("--up", is_flag=True, help="The output is good.")
@click.option("--down", is_flag=True, help="The output is not good: say why with --note.")
@click.option("--note", default="", metavar="TEXT", help="Why, in a line the agents will read.")
@click.option(
    "--apply",
    "apply_",
    is_flag=True,
    help="Take each rejected keep out of the run branch and measure the new tip once.",
)
@click.option("--dry-run", is_flag=True, help="With --apply: measure; commit and record nothing.")
@LAYER
def review(
    directory: Path,
    tag: str | None,
    keep: int | None,
    case: str | None,
    experiment: int | None,
    accept: bool,
    reject: bool,
    up: bool,
    down: bool,
    note: str,
    apply_: bool,
    dry_run: bool,
    layer: str | None,
) -> None:
    """Judge a run's results; the agents of the next run are told the verdicts.

    \b
    overnight review                          list what waits for a verdict
    overnight review --keep 7 --reject --note "too salesy"
    overnight review --keep 7 --accept
    overnight review --case 3 --down --note "reads like an ad"
    overnight review --case 3 --up --experiment 5
    overnight review --apply [--dry-run]      take rejected keeps out of the branch

    A case's output is the best state's unless --experiment names another. A later verdict on
    the same item supersedes the earlier one; the ledger keeps both. Held-out cases are never
    reviewed. --apply reverts each rejected keep on the run branch (one commit each, later
    keeps kept where they still apply), leaves one that later keeps edited the same lines of,
    and measures the new tip once.
    """
    verdicts = [
        name
        for name, given in (("accept", accept), ("reject", reject), ("up", up), ("down", down))
        if given
    ]
    if apply_:
        if verdicts or keep is not None or case is not None or experiment is not None or note:
            raise UsageError("--apply carries out the rejections recorded before: no verdict")
        _print_applied(
            api.review_apply(
                directory,
                tag,
                dry_run,
                progress=lambda text: err_console.print(text, style="dim", markup=False),
                layer=layer,
            )
        )
        return
    if dry_run:
        raise UsageError("--dry-run goes with --apply")
    if not verdicts and keep is None and case is None:
        if experiment is not None or note:
            raise UsageError(
                "--note and --experiment go with a verdict: --keep N --accept|--reject, "
                "or --case ID --up|--down"
            )
        _print_pending(api.review_pending(directory, tag, layer=layer))
        return
    verdict = _one_verdict(verdicts, keep, case, experiment)
    recorded = api.review(
        directory,
        verdict,
        experiment=keep if keep is not None else experiment,
        case=case,
        note=note,
        run=tag,
        layer=layer,
    )
    said = f": {recorded.note}" if recorded.note else ""
    if recorded.case_id is None:
        console.print(Text(f"Recorded: experiment {recorded.number} {verdict}ed{said}"))
    else:
        thumb = "thumbs up" if verdict == "up" else "thumbs down"
        what = f"case {recorded.case_id} of experiment {recorded.number}"
        console.print(Text(f"Recorded: {thumb} on {what}{said}"))
    if verdict == "reject":
        console.print(
            "The next run's agents are told; `overnight review --apply` takes the change out "
            "of the run branch."
        )


def _one_verdict(
    verdicts: list[str], keep: int | None, case: str | None, experiment: int | None
) -> str:
    """The one verdict the options give, on the one item they name."""
    if len(verdicts) > 1:
        raise UsageError("give one verdict: --accept, --reject, --up or --down")
    if keep is not None and case is not None:
        raise UsageError("judge a kept experiment (--keep N) or an output (--case ID), not both")
    verdict = verdicts[0] if verdicts else None
    if keep is not None:
        if experiment is not None:
            raise UsageError("--experiment goes with --case; --keep names the experiment itself")
        if verdict in ("accept", "reject"):
            return verdict
        hint = " (--up and --down judge one output: --case ID)" if verdict else ""
        raise UsageError(f"--keep {keep} needs --accept or --reject{hint}")
    if case is not None:
        if verdict in ("up", "down"):
            return verdict
        hint = " (--accept and --reject judge a kept experiment: --keep N)" if verdict else ""
        raise UsageError(f"--case {case} needs --up or --down{hint}")
    needs = "--keep N" if verdict in ("accept", "reject") else "--case ID"
    raise UsageError(f"--{verdict} needs {needs}: which item it judges")


OUTPUT_LINES = 3  # lines of each output the listing shows
OUTPUT_WIDTH = 160


def _print_pending(pending: Pending) -> None:
    """Each item waiting for a verdict, numbered, under the command that judges it."""
    run, best = pending.run, pending.best
    console.print(
        Text(f"Run {run.tag} ({run.branch}): {pending.count} items wait for review", "bold")
    )
    index = 0
    if pending.keeps:
        console.print("\nKept changes: overnight review --keep N --accept|--reject [--note TEXT]")
        for experiment in pending.keeps:
            index += 1
            value = score_text(experiment.metric, experiment.secondary)
            line = (
                f"{index:>3}. #{experiment.number} {experiment.description} ({run.metric} {value})"
            )
            console.print(Text(line))
    if pending.outputs and best is not None:
        console.print(
            f"\nOutputs of experiment {best.number}, the best state: "
            "overnight review --case ID --up|--down [--note TEXT]"
        )
        checks = pending.suite.checks if pending.suite is not None else []
        for output in pending.outputs:
            index += 1
            mine = [c for c in checks if c.case_id == output.case_id and c.repeat == output.repeat]
            passed = f" ({sum(c.passed for c in mine)}/{len(mine)} checks pass)" if mine else ""
            console.print(Text(f"{index:>3}. case {output.case_id}{passed}"))
            text = output.output if output.output is not None else f"error: {output.error}"
            for line in text.strip().splitlines()[:OUTPUT_LINES]:
                console.print(Text(f"       {line[:OUTPUT_WIDTH]}", "dim"))
    if not pending.count:
        console.print("Nothing waits for review.")
    tally = {v: sum(r.verdict == v for r in pending.reviews) for v in ("accept", "reject", "up")}
    if pending.reviews:
        console.print(
            f"\nVerdicts standing: {tally['accept']} accepted, {tally['reject']} rejected, "
            f"{tally['up']} thumbs up, {len(pending.reviews) - sum(tally.values())} thumbs down."
        )
    if waiting := len(pending.to_apply):
        console.print(
            f"Rejected but still in {run.branch}: {waiting}; `overnight review --apply` takes "
            "them out."
        )


def _print_applied(result: ApplyResult) -> None:
    run = result.run
    if not result.rows:
        console.print(f"No rejected keep of run {run.tag} waits to be taken out.")
        return
    style = {REVERTED: "green", ENTANGLED: "yellow", GONE: "dim"}
    for row in result.rows:
        line = Text(f"#{row.number} ")
        line.append(row.outcome, style.get(row.outcome, ""))
        if result.dry_run and row.outcome == REVERTED:
            line.append(" (dry run)")
        line.append(f": {row.detail}")
        console.print(line)
    if result.failure:
        err_console.print(Text(f"Nothing applied: {result.failure}", "red"))
        sys.exit(1)
    if result.reverted:
        console.print(
            f"{run.metric}: baseline {number(result.baseline)} -> best {number(result.before)} "
            f"-> after review [bold]{number(result.after)}[/]"
        )
    if result.dry_run:
        console.print("Dry run: no commit made, nothing recorded.")
    elif result.reverted:
        console.print(
            f"Branch {run.branch} is at the reviewed state, one commit per reverted keep."
        )


@cli.command()
@DIRECTORY
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the page (default: .overnight/report.html).",
)
@click.option("--run", "tag", help="Which run (default: the latest).")
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
    written = api.report(directory, output, run=tag, pair=pair or None, png=png, layer=layer)
    console.print(f"wrote {written}" + (f" and the chart {png}" if png else ""), markup=False)


@cli.command()
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
        say=lambda text: console.print(text, markup=False, soft_wrap=True),
    )


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
    if stale := stale_winners_text(summary.experiments):
        console.print(stale, markup=False)
    for line in worker_lines(worker_figures(summary.experiments), live=False):
        console.print(line, markup=False)
    state = Path(directory).resolve() / ".overnight"
    tip = [e for e in summary.experiments if e.status.advances][-1]
    where = (
        f"Branch {run.branch} is at the best state "
        f"(see it: git diff {run.base_commit[:10]} {run.branch})."
        if best is tip
        else f"By the held-out cases the best state is experiment {best.number}: "
        f"`git checkout {best.commit}` (branch {run.branch} holds every keep)."
    )
    results = f"results-{run.layer}.tsv" if run.layer else "results.tsv"
    log_command = f"overnight log {directory}" + (f" --layer {run.layer}" if run.layer else "")
    console.print(
        f"{where} {summary.checkout or _checkout_hint(run.branch)} Ledger: "
        f"{state / 'ledger.db'}; results: {state / results}; `{log_command}` lists the "
        "experiments (--all: every one).",
        markup=False,
    )


def _checkout_hint(branch: str) -> str:
    return f"Your checkout was not touched: `git switch {branch}` (or run with --checkout)."


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
