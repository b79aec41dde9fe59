"""The commands that judge a run's changes: ``prune`` and ``review``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from overnight.cli.common import DIRECTORY, LAYER, RUN, console, err_console, say_dim
from overnight.errors import UsageError

if TYPE_CHECKING:
    from rich.table import Table

    from overnight.pruning import PruneResult
    from overnight.review import ApplyResult, Pending


@click.command()
@DIRECTORY
@RUN
@click.option("--dry-run", is_flag=True, help="Measure and report; commit and record nothing.")
@LAYER
def prune(directory: Path, tag: str | None, dry_run: bool, layer: str | None) -> None:
    """Take each kept change out of the best state; drop those whose removal does not hurt."""
    from rich.text import Text

    from overnight import api
    from overnight.formatting import number
    from overnight.pruning import CRASH

    result = api.prune(
        directory,
        tag,
        dry_run,
        progress=say_dim,
        layer=layer,
    )
    run = result.run
    console().print(_prune_table(result))
    for row in result.rows:
        if row.verdict == CRASH:
            console().print(
                f"  #{row.number}: the tree without it fails its evaluation, so it stays"
            )
    if result.stopped:
        console().print(Text.assemble(("Stopped:", "bold"), f" {result.stopped}"))
    console().print(
        f"{run.metric}: baseline {number(result.baseline)} -> best {number(result.best)} -> "
        f"pruned [bold green]{number(result.pruned)}[/], {len(result.dropped)} of "
        f"{len(result.rows)} changes dropped"
    )
    if dry_run:
        console().print("Dry run: no commit made, nothing recorded.")
    elif result.dropped:
        console().print(
            f"Branch {run.branch} is at the pruned state, one commit per dropped change."
        )


@click.command()
@DIRECTORY
@RUN
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
    from rich.text import Text

    from overnight import api

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
                progress=say_dim,
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
    if case is not None and case.isdigit() and experiment is None:
        case = _listed_case(api.review_pending(directory, tag, layer=layer), case)
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
        console().print(Text(f"Recorded: experiment {recorded.number} {verdict}ed{said}"))
    else:
        thumb = "thumbs up" if verdict == "up" else "thumbs down"
        what = f"case {recorded.case_id} of experiment {recorded.number}"
        console().print(Text(f"Recorded: {thumb} on {what}{said}"))
    if verdict == "reject":
        console().print(
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


def _listed_case(pending: Pending, case: str) -> str:
    """``--case 3`` names item 3 of the listing, unless a case is called "3"."""
    if pending.suite is not None and case in {o.case_id for o in pending.suite.outputs}:
        return case
    items = [(None, e.number) for e in pending.keeps] + [(o.case_id, 0) for o in pending.outputs]
    index = int(case)
    if not 1 <= index <= len(items):
        return case
    listed, number = items[index - 1]
    if listed is None:
        raise UsageError(
            f"item {index} is kept experiment #{number}: judge it with --keep {number}"
        )
    return listed


OUTPUT_LINES = 3  # lines of each output the listing shows
OUTPUT_WIDTH = 160


def _print_pending(pending: Pending) -> None:
    """Each item waiting for a verdict, numbered, under the command that judges it."""
    from rich.text import Text

    from overnight.formatting import score_text

    run, best = pending.run, pending.best
    console().print(
        Text(f"Run {run.tag} ({run.branch}): {pending.count} items wait for review", "bold")
    )
    index = 0
    if pending.keeps:
        console().print("\nKept changes: overnight review --keep N --accept|--reject [--note TEXT]")
        for experiment in pending.keeps:
            index += 1
            value = score_text(experiment.metric, experiment.secondary)
            line = (
                f"{index:>3}. #{experiment.number} {experiment.description} ({run.metric} {value})"
            )
            console().print(Text(line))
    if pending.outputs and best is not None:
        console().print(
            f"\nOutputs of experiment {best.number}, the best state: "
            "overnight review --case ID --up|--down [--note TEXT]"
        )
        checks = pending.suite.checks if pending.suite is not None else []
        for output in pending.outputs:
            index += 1
            mine = [c for c in checks if c.case_id == output.case_id and c.repeat == output.repeat]
            passed = f" ({sum(c.passed for c in mine)}/{len(mine)} checks pass)" if mine else ""
            console().print(Text(f"{index:>3}. case {output.case_id}{passed}"))
            text = output.output if output.output is not None else f"error: {output.error}"
            for line in text.strip().splitlines()[:OUTPUT_LINES]:
                console().print(Text(f"       {line[:OUTPUT_WIDTH]}", "dim"))
    if not pending.count:
        console().print("Nothing waits for review.")
    tally = {v: sum(r.verdict == v for r in pending.reviews) for v in ("accept", "reject", "up")}
    if pending.reviews:
        console().print(
            f"\nVerdicts standing: {tally['accept']} accepted, {tally['reject']} rejected, "
            f"{tally['up']} thumbs up, {len(pending.reviews) - sum(tally.values())} thumbs down."
        )
    if waiting := len(pending.to_apply):
        console().print(
            f"Rejected but still in {run.branch}: {waiting}; `overnight review --apply` takes "
            "them out."
        )


def _print_applied(result: ApplyResult) -> None:
    from rich.text import Text

    from overnight.formatting import number
    from overnight.review import ENTANGLED, GONE, REVERTED

    run = result.run
    if not result.rows:
        console().print(f"No rejected keep of run {run.tag} waits to be taken out.", markup=False)
        return
    style = {REVERTED: "green", ENTANGLED: "yellow", GONE: "dim"}
    for row in result.rows:
        line = Text(f"#{row.number} ")
        line.append(row.outcome, style.get(row.outcome, ""))
        if result.dry_run and row.outcome == REVERTED:
            line.append(" (dry run)")
        line.append(f": {row.detail}")
        console().print(line)
    if result.failure:
        err_console().print(Text(f"Nothing applied: {result.failure}", "red"))
        sys.exit(1)
    if result.reverted:
        console().print(
            f"{run.metric}: baseline {number(result.baseline)} -> best {number(result.before)} "
            f"-> after review [bold]{number(result.after)}[/]"
        )
    if result.dry_run:
        console().print("Dry run: no commit made, nothing recorded.")
    elif result.reverted:
        console().print(
            f"Branch {run.branch} is at the reviewed state, one commit per reverted keep."
        )


def _prune_table(result: PruneResult) -> Table:
    """One row per change taken out: what the tree scores without it, and what it is worth
    (how much worse the tree is without it; positive means the change helps)."""
    from rich.table import Table
    from rich.text import Text

    from overnight.formatting import number
    from overnight.pruning import CRASH, DROPPED, KEPT

    style = {DROPPED: "yellow", KEPT: "green", CRASH: "red"}
    run = result.run
    dry = ", dry run" if result.dry_run else ""
    table = Table(
        title=Text(f"{run.name} · prune of {run.tag} ({run.branch}){dry}"), title_justify="left"
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
            Text(row.verdict, style.get(row.verdict, "")),
        )
    return table
