"""The commands that start something: ``demo``, ``init``, ``run`` and ``eval``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from overnight import examples
from overnight.cli.common import DIRECTORY, LAYER, console, err_console
from overnight.config_file import CONFIG_NAME
from overnight.errors import UsageError

if TYPE_CHECKING:
    from overnight.api import RunSummary


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option("--experiments", type=click.IntRange(min=1), default=15, show_default=True)
def demo(directory: Path | None, experiments: int) -> None:
    """Copy the offline digits example into DIRECTORY (default ./overnight-demo) and improve it."""
    target = directory or examples.free_directory(Path("overnight-demo").resolve())
    examples.create_from_example("digits", target)
    console().print(f"Copied the digits example to {target} (a new git repository).", markup=False)
    console().print(
        "An offline search agent will now tune train.py's hyperparameters, one change "
        "per experiment, keeping only what lowers val_loss. Ctrl-C stops it cleanly.\n"
    )
    summary = _run_live(target, experiments=experiments)
    _print_summary(target, summary)


@click.command()
@DIRECTORY
@click.option(
    "--example",
    "example",
    metavar="NAME",
    help=f"Copy a bundled example ({', '.join(examples.available())}).",
)
@click.option(
    "--from-promptfoo",
    "promptfoo",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Import a promptfoo config: its prompts become the editable files, its tests the suite.",
)
def init(directory: Path, example: str | None, promptfoo: Path | None) -> None:
    """Create overnight.yaml in DIRECTORY, or a whole example repository with --example, or a
    project from a promptfoo config with --from-promptfoo."""
    parent = directory.resolve().parent
    if not parent.is_dir():
        raise UsageError(f"{parent} does not exist: create it first, or choose another directory")
    if example and promptfoo:
        raise UsageError("--example and --from-promptfoo each create a project: choose one")
    if promptfoo:
        _import_promptfoo(promptfoo, directory)
        return
    if example:
        examples.create_from_example(example, directory.resolve())
        steps = examples.next_steps(example, directory)
        console().print(
            f"Created {directory} from example {example!r}. Next: {steps}", markup=False
        )
        return
    config = directory / CONFIG_NAME
    if config.exists():
        raise UsageError(f"{config} exists already")
    directory.mkdir(exist_ok=True)
    config.write_text(STARTER_CONFIG, encoding="utf-8")
    console().print(
        f"Wrote {config}: set editable, frozen and evaluate, then try `overnight eval`."
    )


@click.command()
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


@click.command(name="eval")
@DIRECTORY
@click.option(
    "--json", "as_json", is_flag=True, help="Print the score (and a suite's matrix) as JSON."
)
@click.option("--no-cache", is_flag=True, help="Generate every output again, ignoring the cache.")
@LAYER
def eval_(directory: Path, as_json: bool, no_cache: bool, layer: str | None) -> None:
    """Evaluate the tree as it is now, once; git and the ledger are not touched."""
    from rich.text import Text

    from overnight import api
    from overnight.config import EvaluateConfig, TriggersEvaluateConfig
    from overnight.formatting import number, score_text
    from overnight.project import Project
    from overnight.results import score_json
    from overnight.view import cost_text, failure_lines, matrix_table

    score = api.evaluate(directory, use_cache=not no_cache, layer=layer)
    held_out = api.evaluate_held_out(directory, use_cache=not no_cache, layer=layer)
    evaluate = Project.open(directory, layer).config.evaluate
    metric = evaluate.metric
    gated = isinstance(evaluate, EvaluateConfig) and (evaluate.checks or evaluate.constraints)
    gate = api.evaluate_gates(directory, score, layer=layer) if score.ok and gated else None
    if as_json:
        data = score_json(metric, score)
        if held_out is not None:
            data["held_out"] = score_json(metric, held_out)
        if gate is not None:
            data["gates"] = {"passed": gate.passed, "failure": gate.failure, "log": gate.log_path}
        click.echo(json.dumps(data, indent=1))
    else:
        if score.suite is not None:
            console().print(matrix_table(score.suite))
            lines = failure_lines(score.suite)
            if isinstance(evaluate, TriggersEvaluateConfig):  # why each query went where it did
                lines = [Text(f"{c.case_id}: {c.reason}") for c in score.suite.checks]
                lines.append(Text(score.log_tail))
            for line in lines:
                console().print(line, soft_wrap=True)
        if score.ok:
            extras = "  ".join(
                f"{k}: {number(v)}" for k, v in score.secondary.items() if score.suite is None
            )
            console().print(
                Text.assemble(
                    f"{metric}: ",
                    (score_text(score.value, score.secondary), "bold"),
                    f"  {extras}  ({score.seconds:.1f}s{cost_text(score.usage)})",
                )
            )
        else:
            err_console().print(Text.assemble((str(score.status), "red"), f": {score.log_tail}"))
        if gate is not None and gate.passed:
            console().print(f"gates: passed ({gate.seconds:.1f}s)", markup=False)
        elif gate is not None:
            err_console().print(Text.assemble(("check-failed", "red"), f": {gate.failure}"))
        if held_out is not None and held_out.suite is not None:
            console().print(
                f"held out (never shown to an agent): {held_out.suite.passed}/"
                f"{held_out.suite.total}  ({held_out.seconds:.1f}s{cost_text(held_out.usage)})",
                markup=False,
            )
    if not score.ok or (gate is not None and not gate.passed):
        sys.exit(1)


def _import_promptfoo(source: Path, directory: Path) -> None:
    from overnight.promptfoo.read import read_promptfoo
    from overnight.promptfoo.write import write_project

    if not source.is_file():
        raise UsageError(f"{source}: no such promptfoo config")
    imported = read_promptfoo(source, directory)
    written = write_project(imported, directory, source.name)
    judged = f", judged by {written.judge}" if written.judge else ""
    console().print(
        f"Imported {source.name} into {written.config}: {_count(len(written.prompts), 'prompt')}"
        f" to improve ({', '.join(written.prompts)}), {_count(written.cases, 'case')} and"
        f" {_count(written.assertions, 'check')} in {written.suite}, generated by"
        f" {imported.model['model']}{judged}.",
        markup=False,
        soft_wrap=True,
    )
    if imported.left_out:
        items = "".join(f"\n  - {item}" for item in imported.left_out)
        err_console().print(
            f"Not carried over ({len(imported.left_out)}; also listed at the top of"
            f" {written.config.name}):{items}",
            markup=False,
            soft_wrap=True,
        )
    layer = f" --layer {written.layers[0]}" if written.layers else ""
    each = f" (one layer per prompt: {', '.join(written.layers)})" if written.layers else ""
    console().print(
        f"Next{each}: commit the files to git, then `overnight eval {directory}{layer}`.",
        markup=False,
        soft_wrap=True,
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


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
  # A speed metric rewards doing less work: say what must still hold for a change to be kept,
  # and freeze the files that define the workload (frozen: [bench_data.py]).
  # checks: [pytest -q]       # commands that must exit 0, run after the metric on a winner
  # constraints:              # bounds on other "name: value" lines the command prints
  #   peak_mb: {worse_by_at_most: 0.05}   # no more than 5% above the baseline's
  #   errors: {max: 0}
agent:
  kind: search                # tunes UPPER_CASE constants in editable Python files, offline
budget: {experiments: 100}
stop: {patience: 30}
"""


def _run_live(directory: Path, **options: object) -> RunSummary:
    from overnight import api
    from overnight.view import LiveView

    view = LiveView(console())
    with view:
        return api.run(directory, observer=view, **options)  # type: ignore[arg-type]


def _print_summary(directory: Path, summary: RunSummary) -> None:
    from rich.text import Text

    from overnight.formatting import score_text, spending
    from overnight.holdout import held_out_score, held_out_text
    from overnight.records import Status
    from overnight.view import stale_winners_text
    from overnight.workers_view import worker_figures, worker_lines

    run = summary.run
    tally = {s: sum(1 for e in summary.experiments if e.status is s) for s in Status}
    tried = len(summary.experiments) - 1
    console().print(Text.assemble("\n", ("Stopped:", "bold"), f" {summary.stop_reason}"))
    baseline, best = summary.experiments[0], summary.best_experiment
    change = ""
    if baseline.metric and best.metric is not None and "total" not in best.secondary:
        change = f" ({(best.metric - baseline.metric) / abs(baseline.metric):+.1%})"
    spent = spending([u for e in summary.experiments for u in e.usage])
    console().print(
        f"{run.metric}: baseline {score_text(baseline.metric, baseline.secondary)} -> best "
        f"[bold green]{score_text(best.metric, best.secondary)}[/]{change} after {tried} "
        f"experiments, {tally[Status.KEEP]} kept" + (f", cost {spent}" if spent else "")
    )
    for kept in summary.kept:
        value = score_text(kept.metric, kept.secondary)
        console().print(f"  kept #{kept.number}: {kept.description} -> {value}", markup=False)
    if held_out_score(baseline) is not None:
        console().print(
            f"held out: baseline {held_out_text(baseline)} -> best {held_out_text(best)}"
        )
    if stale := stale_winners_text(summary.experiments):
        console().print(stale, markup=False)
    for line in worker_lines(worker_figures(summary.experiments), live=False):
        console().print(line, markup=False)
    state = Path(directory).resolve() / ".overnight"
    tip = [e for e in summary.experiments if e.status.advances][-1]
    where = f"Branch {run.branch} is at the best state" + (
        ""
        if best is tip
        else f", experiment {best.number}, which the held-out cases rank above the last keep"
        f" (#{tip.number}; the later keeps stay in the branch's history)"
    )
    where += f" (see it: git diff {run.base_commit[:10]} {run.branch})."
    results = f"results-{run.layer}.tsv" if run.layer else "results.tsv"
    log_command = f"overnight log {directory}" + (f" --layer {run.layer}" if run.layer else "")
    console().print(
        f"{where} {summary.checkout or _checkout_hint(run.branch)} Ledger: "
        f"{state / 'ledger.db'}; results: {state / results}; `{log_command}` lists the "
        "experiments (--all: every one).",
        markup=False,
    )


def _checkout_hint(branch: str) -> str:
    return f"Your checkout was not touched: `git switch {branch}` (or run with --checkout)."
