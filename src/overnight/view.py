"""What the terminal shows: a line per finished experiment and a live footer during a run, and
the tables of ``overnight log`` and ``overnight status``."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from overnight.config import BudgetConfig
from overnight.ledger import RunRecord
from overnight.policy import improvement
from overnight.records import Experiment, Status

STATUS_STYLE = {
    Status.BASELINE: "cyan",
    Status.KEEP: "bold green",
    Status.DISCARD: "dim",
    Status.CRASH: "red",
    Status.TIMEOUT: "red",
    Status.VIOLATION: "magenta",
    Status.NO_OP: "yellow",
    Status.INTERRUPTED: "yellow",
}


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def best_of(history: Sequence[Experiment]) -> Experiment | None:
    advancing = [e for e in history if e.status.advances]
    return advancing[-1] if advancing else None


def counts(history: Sequence[Experiment]) -> Counter[Status]:
    return Counter(e.status for e in history)


class LiveView:
    """The run's live terminal view; an Observer for the loop."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.run: RunRecord | None = None
        self.budget = BudgetConfig()
        self.started = time.monotonic()
        self.current: int | None = None
        self.history: list[Experiment] = []
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
                f"{run.name} · run {run.tag} on branch {run.branch} · ",
                f"{run.direction} {run.metric}",
            )
        )

    def experiment_started(self, number: int, history: list[Experiment]) -> None:
        self.current, self.history = number, list(history)

    def experiment_finished(self, experiment: Experiment, history: list[Experiment]) -> None:
        self.history = list(history)
        self.current = None
        direction = self.run.direction if self.run else "minimize"
        self.console.print(experiment_line(experiment, direction, self.history))

    def message(self, text: str) -> None:
        self.console.print(Text(text, style="yellow"))

    def _footer(self) -> Group | Text:
        if self.run is None:
            return Text("starting…")
        history = self.history
        best = best_of(history)
        tally = counts(history)
        done = sum(1 for e in history if e.status is not Status.BASELINE)
        elapsed = time.monotonic() - self.started
        left = []
        if self.budget.experiments is not None:
            left.append(f"{max(0, self.budget.experiments - done)} experiments")
        if self.budget.hours is not None:
            left.append(duration(max(0.0, self.budget.hours * 3600 - elapsed)))
        now = "baseline" if self.current == 0 else f"experiment {self.current}"
        line1 = Text.assemble(
            ("▶ ", "bold"),
            (f"{now} running" if self.current is not None else "between experiments", "bold"),
            f"   elapsed {duration(elapsed)}",
            f"   budget left: {', '.join(left) or 'unlimited'}",
        )
        line2 = Text.assemble(
            f"best {self.run.metric} ",
            (number(best.metric if best else None), "bold green"),
            f"   keep {tally[Status.KEEP]} · discard {tally[Status.DISCARD]}"
            f" · crash {tally[Status.CRASH] + tally[Status.TIMEOUT]}"
            f" · rejected {tally[Status.VIOLATION] + tally[Status.NO_OP]}",
        )
        return Group(line1, line2)


def experiment_line(experiment: Experiment, direction: str, history: Sequence[Experiment]) -> Text:
    style = STATUS_STYLE.get(experiment.status, "")
    previous = best_of([e for e in history if e.number < experiment.number])
    delta = ""
    if experiment.metric is not None and previous is not None and previous.metric is not None:
        gain = improvement(experiment.metric, previous.metric, direction)
        delta = f" ({'+' if gain >= 0 else '-'}{abs(gain):.4g})"
    text = Text.assemble(
        (f"#{experiment.number:<4}", "bold"),
        (f"{experiment.status!s:<12}", style),
        f"{number(experiment.metric):>10}{delta:<12} ",
        experiment.description or "",
    )
    if (
        experiment.status in (Status.VIOLATION, Status.NO_OP, Status.INTERRUPTED)
        and experiment.reason
    ):
        text.append(f"  [{experiment.reason.splitlines()[0][:120]}]", style="dim")
    if experiment.status in (Status.CRASH, Status.TIMEOUT) and experiment.log_path:
        text.append(f"  [log: {experiment.log_path}]", style="dim")
    return text


def log_table(run: RunRecord, history: Sequence[Experiment]) -> Table:
    table = Table(title=f"{run.name} · {run.tag} ({run.branch})", title_justify="left")
    for column, justify in (
        ("#", "right"),
        ("status", "left"),
        (run.metric, "right"),
        ("delta", "right"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("description", min_width=28, ratio=1)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("commit", no_wrap=True)
    for experiment in history:
        previous = best_of([e for e in history if e.number < experiment.number])
        delta = ""
        if experiment.metric is not None and previous and previous.metric is not None:
            delta = f"{improvement(experiment.metric, previous.metric, run.direction):+.4g}"
        table.add_row(
            str(experiment.number),
            Text(str(experiment.status), STATUS_STYLE.get(experiment.status, "")),
            number(experiment.metric),
            delta,
            experiment.description,
            f"{experiment.duration_s:.1f}s",
            (experiment.commit or "")[:7],
        )
    return table


def status_lines(run: RunRecord, history: Sequence[Experiment], live: bool) -> list[str]:
    tally = counts(history)
    baseline = next((e for e in history if e.status is Status.BASELINE), None)
    best = best_of(history)
    done = sum(1 for e in history if e.status is not Status.BASELINE)
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started_at))
    state = (
        "running"
        if live
        else (
            f"stopped: {run.stop_reason}"
            if run.stop_reason
            else "interrupted (resume with `overnight run --resume`)"
        )
    )
    lines = [
        f"run {run.tag} on branch {run.branch}, started {started}: {state}",
        f"{done} experiments: "
        + ", ".join(f"{n} {s}" for s, n in tally.items() if s is not Status.BASELINE),
        f"{run.metric}: baseline {number(baseline.metric if baseline else None)}"
        f" -> best {number(best.metric if best else None)}"
        + (f" (experiment {best.number}, {best.commit[:7]})" if best and best.commit else ""),
    ]
    if history:
        last = history[-1]
        lines.append(f"last: #{last.number} {last.status} {number(last.metric)} {last.description}")
    return lines
