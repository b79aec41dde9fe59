"""What the terminal shows: a line per finished experiment and a live footer during a run, and
the tables of ``overnight log`` and ``overnight status``."""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from overnight.formatting import money, number, score_text, spending, tokens
from overnight.holdout import final_best, held_out_score, held_out_text
from overnight.ledger import RunRecord
from overnight.policy import improvement, recent_gain
from overnight.records import Check, Experiment, Score, Status, SuiteResult, Usage
from overnight.tally import Tally
from overnight.workers_view import worker_lines

if TYPE_CHECKING:
    from overnight.compare import Comparison
    from overnight.config import BudgetConfig
    from overnight.overview import Overview

REJECTED = (Status.VIOLATION, Status.NO_OP, Status.OVERFIT, Status.CHECK_FAILED)
REASON_CHARS = 120  # of a reason's first line, after a description
RATE_WINDOW = 10  # experiments over which the live view and `status` show the recent gain

STATUS_STYLE = {
    Status.BASELINE: "cyan",
    Status.KEEP: "bold green",
    Status.DISCARD: "dim",
    Status.CRASH: "red",
    Status.TIMEOUT: "red",
    Status.VIOLATION: "magenta",
    Status.NO_OP: "yellow",
    Status.INTERRUPTED: "yellow",
    Status.OVERFIT: "magenta",
    Status.CHECK_FAILED: "magenta",
    Status.STALE: "cyan",
    Status.CONFLICT: "yellow",
}


def duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def counts(history: Sequence[Experiment]) -> Counter[Status]:
    return Counter(e.status for e in history)


class LiveView:
    """The run's live terminal view; an Observer for the loop."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.run: RunRecord | None = None
        self.budget: BudgetConfig | None = None  # set when the run starts
        self.started = time.monotonic()
        self.running: set[int] = set()  # experiments in flight (one per busy worker)
        self.tally = Tally()
        self._counted = 0  # how many of the run's experiments the tally holds
        self.live = Live(
            console=console, refresh_per_second=4, transient=True, get_renderable=self._footer
        )

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def run_started(self, run: RunRecord, budget: BudgetConfig) -> None:
        self.run, self.budget, self.started = run, budget, time.monotonic()
        self.console.print(
            Text.assemble(
                ("overnight ", "bold"),
                f"{run.name} · " + (f"layer {run.layer} · " if run.layer else ""),
                f"run {run.tag} on branch {run.branch} · ",
                f"{run.direction} {run.metric}",
            )
        )

    def experiment_started(self, number: int, history: list[Experiment]) -> None:
        self.running.add(number)
        self._catch_up(history)

    def experiment_finished(self, experiment: Experiment, history: list[Experiment]) -> None:
        self._catch_up(history[:-1] if history and history[-1] is experiment else history)
        before = [e for e in self.tally.advancing if e.number < experiment.number]
        self._catch_up(history)
        self.running.discard(experiment.number)
        direction = self.run.direction if self.run else "minimize"
        self.console.print(experiment_line(experiment, direction, final_best(before)))

    def _catch_up(self, history: Sequence[Experiment]) -> None:
        """The experiments recorded since the last call, into the tally: the footer, drawn four
        times a second, reads only the tally, so it costs the same at any length of run."""
        for experiment in history[self._counted :]:
            self.tally.add(experiment)
        self._counted = max(self._counted, len(history))

    def message(self, text: str) -> None:
        self.console.print(Text(text, style="yellow"))

    def _footer(self) -> Group | Text:
        if self.run is None:
            return Text("starting…")
        best = final_best(self.tally.advancing)
        tally = self.tally.statuses
        done = self.tally.experiments
        elapsed = time.monotonic() - self.started
        left = []
        spent = self.tally.spent_usd
        budget = self.budget
        if budget is not None and budget.experiments is not None:
            left.append(f"{max(0, budget.experiments - done)} experiments")
        if budget is not None and budget.hours is not None:
            left.append(duration(max(0.0, budget.hours * 3600 - elapsed)))
        if budget is not None and budget.cost_usd is not None:
            left.append(money(max(0.0, budget.cost_usd - spent)))
        line1 = Text.assemble(
            ("▶ ", "bold"),
            (_running_text(sorted(self.running)), "bold"),
            f"   elapsed {duration(elapsed)}",
            f"   budget left: {', '.join(left) or 'unlimited'}",
        )
        now, then = self.tally.best, self.tally.best_before(RATE_WINDOW)
        gain = None if now is None or then is None else improvement(now, then, self.run.direction)
        rate = (
            f"   last {RATE_WINDOW}: {gain:+.4g}"
            if gain is not None and done >= RATE_WINDOW
            else ""
        )
        line2 = Text.assemble(
            f"best {self.run.metric} ",
            (score_text(best.metric, best.secondary) if best else "-", "bold green"),
            f"   keep {tally[Status.KEEP]} · discard {tally[Status.DISCARD]}"
            f" · crash {tally[Status.CRASH] + tally[Status.TIMEOUT]}"
            f" · rejected {sum(tally[s] for s in REJECTED)}",
            rate,
            _spent_text(spent, self.tally.unpriced),
        )
        return Group(line1, line2)


def _spent_text(spent: float, unpriced: int) -> str:
    if unpriced:
        return f"   spent {money(spent)} + unknown ({unpriced} unpriced)"
    return f"   spent {money(spent)}" if spent else ""


def experiment_line(experiment: Experiment, direction: str, previous: Experiment | None) -> Text:
    """One experiment's line, its score against ``previous``, the best state before it."""
    style = STATUS_STYLE.get(experiment.status, "")
    delta = ""
    if experiment.metric is not None and previous is not None and previous.metric is not None:
        gain = improvement(experiment.metric, previous.metric, direction)
        delta = f" ({'+' if gain >= 0 else '-'}{abs(gain):.4g})"
    text = Text.assemble(
        (f"#{experiment.number:<4}", "bold"),
        (f"{experiment.status!s:<12}", style),
        f"{score_text(experiment.metric, experiment.secondary):>10}{delta:<12} ",
        experiment.description or "",
    )
    if note := usage_note(experiment.usage):
        text.append(f"  {note}", style="dim")
    if not experiment.status.advances and experiment.reason:
        text.append(f"  [{experiment.reason.splitlines()[0][:REASON_CHARS]}]", style="dim")
    if experiment.status in (Status.CRASH, Status.TIMEOUT) and experiment.log_path:
        text.append(f"  [log: {experiment.log_path}]", style="dim")
    return text


def log_table(run: RunRecord, history: Sequence[Experiment], limit: int | None = None) -> Table:
    """The run's experiments, the last ``limit`` of them when given, each with its change
    against the best state before it."""
    layer = f"{run.layer} · " if run.layer else ""
    table = Table(title=Text(f"{run.name} · {layer}{run.tag} ({run.branch})"), title_justify="left")
    shown = history if limit is None or len(history) <= limit else history[-limit:]
    if len(shown) < len(history):
        table.caption = (
            f"the last {len(shown)} of {len(history)} experiments (--all lists every one)"
        )
    for column, justify in (
        ("#", "right"),
        ("status", "left"),
        (run.metric, "right"),
        ("delta", "right"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("description", min_width=28, ratio=1)
    table.add_column("time", justify="right", no_wrap=True)
    priced = any(e.usage for e in history)
    if priced:
        table.add_column("tokens", justify="right", no_wrap=True)
        table.add_column("cost", justify="right", no_wrap=True)
    table.add_column("commit", no_wrap=True)
    advancing = sorted((e for e in history if e.status.advances), key=lambda e: e.number)
    numbers = [e.number for e in advancing]
    best_of_first = [final_best(advancing[:i]) for i in range(len(advancing) + 1)]
    for experiment in shown:
        previous = best_of_first[bisect.bisect_left(numbers, experiment.number)]
        delta = ""
        if experiment.metric is not None and previous and previous.metric is not None:
            delta = f"{improvement(experiment.metric, previous.metric, run.direction):+.4g}"
        cost = [tokens(experiment.usage), spending(experiment.usage)] if priced else []
        table.add_row(
            str(experiment.number),
            Text(str(experiment.status), STATUS_STYLE.get(experiment.status, "")),
            score_text(experiment.metric, experiment.secondary),
            delta,
            _described(experiment),
            f"{experiment.duration_s:.1f}s",
            *cost,
            (experiment.commit or "")[:7],
        )
    return table


def _described(experiment: Experiment) -> Text:
    """The description, and for what was not kept, why (its first line)."""
    text = Text(experiment.description)
    if not experiment.status.advances and experiment.reason:
        text.append(f"  {experiment.reason.splitlines()[0][:REASON_CHARS]}", style="dim")
    return text


def stale_winners_text(history: Sequence[Experiment]) -> str:
    """With several workers: how many winners had a base the run had moved past, and what
    became of them ("" when none had)."""
    replays = [e for e in history if e.replay_of is not None]
    return stale_winners_line(
        Counter(e.status for e in history), sum(e.status is Status.KEEP for e in replays)
    )


def stale_winners_line(counts: Counter[Status], kept_replays: int) -> str:
    stale, conflicts = counts[Status.STALE], counts[Status.CONFLICT]
    if not stale and not conflicts:
        return ""
    return (
        f"stale winners: {stale + conflicts} won on a state the run had moved past; "
        f"{stale} measured again on the best, {kept_replays} kept there; {conflicts} conflicted"
    )


def status_lines(run: RunRecord, overview: Overview, live: bool) -> list[str]:
    """What ``overnight status`` says of a run, from the run summed up by the ledger."""
    history, tally = overview.rows, overview.counts
    baseline = next((e for e in history if e.status is Status.BASELINE), None)
    best = final_best(history)
    done = sum(n for status, n in tally.items() if status is not Status.BASELINE)
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started_at))
    state = (
        "running"
        if live
        else (
            f"stopped: {run.stop_reason}"
            if run.stop_reason
            else f"interrupted (resume with `{resume_command(run)}`)"
        )
    )
    lines = [
        f"run {run.tag} on branch {run.branch}, started {started}: {state}",
        f"{done} experiments: "
        + ", ".join(f"{n} {s}" for s, n in tally.items() if s is not Status.BASELINE),
        f"{run.metric}: baseline {_score_of(baseline)} -> best {_score_of(best)}"
        + (f" (experiment {best.number}, {best.commit[:7]})" if best and best.commit else ""),
    ]
    if baseline and best and held_out_score(baseline) is not None:
        lines.append(f"held out: baseline {held_out_text(baseline)} -> best {held_out_text(best)}")
    tip = next((e for e in reversed(history) if e.status.advances), None)
    if live and tip is not None and best is not tip:
        lines.append(f"{run.branch} holds the last keep (#{tip.number}) until the run stops")
    gain = recent_gain(history, RATE_WINDOW, run.direction)
    if gain is not None and done >= RATE_WINDOW:
        lines.append(f"recent rate: {gain:+.4g} over the last {RATE_WINDOW} experiments")
    if spent := overview.spent_usd:
        per = spent / max(1, sum(tally.values()))
        lines.append(f"cost: {money(spent)} so far, {money(per)} per experiment")
    if overview.unpriced:
        lines.append(
            f"cost unknown for {overview.unpriced} experiments (their agent reports no cost)"
        )
    if stale := stale_winners_line(tally, overview.kept_replays):
        lines.append(stale)
    lines += worker_lines(overview.workers, live)
    if history:
        last = history[-1]
        lines.append(
            f"last: #{last.number} {last.status} {score_text(last.metric, last.secondary)} "
            f"{last.description}"
        )
    return lines


def resume_command(run: RunRecord) -> str:
    layer = f" --layer {run.layer}" if run.layer else ""
    return f"overnight run --resume --tag {run.tag}{layer}"


def _score_of(experiment: Experiment | None) -> str:
    return score_text(experiment.metric, experiment.secondary) if experiment else "-"


def usage_note(usage: Sequence[Usage]) -> str:
    """An experiment's model use in a few words: "1.3k tokens, $0.0042", "usage unknown"."""
    if not usage:
        return ""
    spent, used = spending(usage), tokens(usage)
    if spent == used == "unknown":
        return "usage unknown"
    return f"{used} tokens, {spent}"


def cost_text(usage: Sequence[Usage]) -> str:
    calls = sum(u.calls for u in usage)
    return f", {calls} model calls, {spending(usage)}" if calls else ""


def matrix_table(suite: SuiteResult) -> Table:
    """Cases as rows, assertions as columns, a mark per check; the score in the title."""
    columns = list(dict.fromkeys(check.assertion for check in suite.checks))
    repeats = len({o.repeat for o in suite.outputs}) > 1
    table = Table(title=f"{suite.passed}/{suite.total} assertions pass", title_justify="left")
    table.add_column("case", no_wrap=True)
    for column in columns:
        table.add_column(Text(column), justify="center")
    table.add_column("passed", justify="right", no_wrap=True)
    for output in suite.outputs:
        checks = {
            c.assertion: c
            for c in suite.checks
            if c.case_id == output.case_id and c.repeat == output.repeat
        }
        marks = [_mark(checks.get(column)) for column in columns]
        passed = sum(c.passed for c in checks.values())
        name = f"{output.case_id} #{output.repeat}" if repeats else output.case_id
        if output.error:
            name += " (error)"
        table.add_row(Text(name), *marks, f"{passed}/{len(checks)}")
    return table


def _mark(check: Check | None) -> Text:
    if check is None:
        return Text("")
    symbol = "✓" if check.passed else "✗"
    if not check.deterministic:
        symbol += "~"
    return Text(symbol, style="green" if check.passed else "red")


def failure_lines(suite: SuiteResult) -> list[Text]:
    """Why each failing check failed, and which outputs could not be generated."""
    lines = [Text(f"{o.case_id}: error: {o.error}", style="red") for o in suite.outputs if o.error]
    for check in suite.checks:
        if not check.passed and not check.reason.startswith("no output:"):
            lines.append(
                Text.assemble(
                    (f"{check.case_id} ", "bold"), (check.assertion, "red"), f": {check.reason}"
                )
            )
    return lines


def comparison_view(comparison: Comparison) -> Group:
    """``overnight compare``: which version is which, their scores side by side, and the
    verdict. Suites show passed/total per case with the checks that flip; metrics (and skill
    triggers) show mean ± sd, the difference and its p-value."""
    a, b = comparison.a, comparison.b
    parts: list[RenderableType] = [
        Text.assemble(("A: ", "bold"), a.label, ("   B: ", "bold"), b.label),
        Text(
            f"both measured by the working tree's {_some(comparison.measured)}",
            style="dim",
        ),
    ]
    if comparison.kind == "suite":
        parts.append(_cases_table(comparison))
    else:
        parts.append(_metrics_table(comparison))
        if comparison.flipped:
            parts.append(_flips_table(comparison))
    if a.held_out is not None or b.held_out is not None:
        parts.append(
            Text(
                f"held out (never shown to an agent): A {_held_out(a.held_out, comparison)}"
                f" · B {_held_out(b.held_out, comparison)}"
            )
        )
    style = "bold green" if comparison.winner else "bold red" if comparison.failed else "yellow"
    parts.append(Text(comparison.verdict, style=style))
    return Group(*parts)


def _metrics_table(comparison: Comparison) -> Table:
    a, b = comparison.a, comparison.b
    n = f"mean ± sd of {comparison.repeats}" if comparison.repeats > 1 else "one measurement"
    better = "lower" if comparison.direction == "minimize" else "higher"
    title = f"{comparison.metric}: {better} is better ({n} each)"
    table = Table(title=title, title_justify="left")
    table.add_column("", no_wrap=True)
    tested = {"sign": "p (sign test)", "student": "p (t-test)"}.get(comparison.test or "", "p")
    for column in ("A", "B", "B − A", tested):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_row(
        Text(comparison.metric, style="bold"),
        _mean_sd(a.mean, a.sd),
        _mean_sd(b.mean, b.sd),
        _difference(a.mean, b.mean, comparison.direction),
        "-" if comparison.p is None else _p(comparison.p),
    )
    ours, theirs = a.secondary(), b.secondary()
    for key in dict.fromkeys([*ours, *theirs]):
        if key == comparison.metric:
            continue
        table.add_row(
            key,
            _mean_sd(ours.get(key), None),
            _mean_sd(theirs.get(key), None),
            _difference(ours.get(key), theirs.get(key), None),
            "",
        )
    return table


def _cases_table(comparison: Comparison) -> Table:
    a, b = comparison.a, comparison.b
    over = f", over {comparison.repeats} measurements" if comparison.repeats > 1 else ""
    table = Table(title=f"checks passed per case{over}", title_justify="left")
    table.add_column("case", no_wrap=True)
    table.add_column("A", justify="right", no_wrap=True)
    table.add_column("B", justify="right", no_wrap=True)
    table.add_column("flips (+ only B passes, − only A passes)", ratio=1)
    ours, theirs = a.cases(), b.cases()
    for case in dict.fromkeys([*ours, *theirs]):
        changed = [flip for flip in comparison.flipped if flip.case_id == case]
        marks = Text()
        for flip in changed:
            if marks:
                marks.append(", ")
            rates = "" if {flip.a, flip.b} == {0.0, 1.0} else f" ({flip.a:.0%} → {flip.b:.0%})"
            sign, style = ("+", "green") if flip.better else ("−", "red")
            marks.append(f"{sign} {flip.assertion}{rates}", style=style)
        table.add_row(
            Text(case, style="bold" if changed else ""),
            _fraction(ours.get(case)),
            _fraction(theirs.get(case)),
            marks,
        )
    total_a, total_b = _sum_cases(ours), _sum_cases(theirs)
    tested = "" if comparison.p is None else f" · sign test p = {_p(comparison.p)}"
    table.add_row(
        Text("total", style="bold"),
        _fraction(total_a),
        _fraction(total_b),
        f"{comparison.better} better, {comparison.worse} worse{tested}",
        end_section=comparison.repeats < 2,
    )
    if comparison.repeats > 1:
        table.add_row(
            "per measurement", _mean_sd(a.mean, a.sd), _mean_sd(b.mean, b.sd), "mean ± sd"
        )
    return table


def _flips_table(comparison: Comparison) -> Table:
    table = Table(title="checks that flip", title_justify="left")
    table.add_column("case", ratio=1)
    table.add_column("check", no_wrap=True)
    table.add_column("A", justify="center", no_wrap=True)
    table.add_column("B", justify="center", no_wrap=True)
    for flip in comparison.flipped:
        table.add_row(flip.case_id, flip.assertion, _rate(flip.a), _rate(flip.b))
    return table


def _held_out(score: Score | None, comparison: Comparison) -> str:
    if score is None:
        return "-"
    if not score.ok:
        return str(score.status)
    if comparison.kind == "suite" and score.suite is not None:
        return f"{score.suite.passed}/{score.suite.total}"
    return f"{comparison.metric} {number(score.value)}"


def _mean_sd(mean: float | None, sd: float | None) -> str:
    if mean is None:
        return "-"
    return number(mean) if sd is None else f"{number(mean)} ± {sd:.2g}"


def _difference(a: float | None, b: float | None, direction: str | None) -> Text:
    if a is None or b is None:
        return Text("-")
    style = ""
    if direction is not None and a != b:
        style = "green" if improvement(b, a, direction) > 0 else "red"
    return Text(f"{b - a:+.4g}", style=style)


def _fraction(counts: tuple[int, int] | None) -> str:
    return "-" if counts is None else f"{counts[0]}/{counts[1]}"


def _sum_cases(cases: dict[str, tuple[int, int]]) -> tuple[int, int] | None:
    if not cases:
        return None
    return sum(p for p, _ in cases.values()), sum(t for _, t in cases.values())


def _rate(rate: float) -> Text:
    if rate in (0.0, 1.0):
        return Text("✓" if rate else "✗", style="green" if rate else "red")
    return Text(f"{rate:.0%}")


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.2g}"


def _some(paths: Sequence[str], shown: int = 4) -> str:
    """A few names, and how many more."""
    if len(paths) <= shown:
        return ", ".join(paths)
    return ", ".join(paths[:shown]) + f" and {len(paths) - shown} more files"


def _running_text(numbers: list[int]) -> str:
    if not numbers:
        return "between experiments"
    if numbers == [0]:
        return "baseline running"
    if len(numbers) == 1:
        return f"experiment {numbers[0]} running"
    return f"experiments {', '.join(map(str, numbers))} running"
