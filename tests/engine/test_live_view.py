"""The live view with several workers: it shows every experiment in flight, not only the last
one started, and drops each as it finishes, whatever the order."""

from __future__ import annotations

from rich.console import Console

from overnight.ledger import RunRecord
from overnight.records import Experiment, Status
from overnight.view import LiveView


def footer_text(view: LiveView) -> str:
    console = Console(width=200, record=True)
    console.print(view._footer())
    return console.export_text()


def test_the_footer_names_every_experiment_in_flight() -> None:
    view = LiveView(Console(width=200, record=True))
    run = RunRecord(1, "t", "overnight/t", "demo", "score", "maximize", "base", {}, 0.0, None, None)
    baseline = Experiment(1, 0, "base", Status.BASELINE, metric=1.0)
    view.run_started(run, view.budget)
    view.experiment_started(1, [baseline])
    view.experiment_started(2, [baseline])
    view.experiment_started(3, [baseline])

    assert "experiments 1, 2, 3 running" in footer_text(view)

    view.experiment_finished(Experiment(1, 2, "base", Status.DISCARD, metric=0.5), [baseline])
    assert "experiments 1, 3 running" in footer_text(view)

    for number in (3, 1):
        view.experiment_finished(Experiment(1, number, "base", Status.DISCARD), [baseline])
    assert "between experiments" in footer_text(view)


def test_the_footer_and_each_line_follow_the_history_as_it_grows() -> None:
    console = Console(width=200, record=True)
    view = LiveView(console)
    run = RunRecord(1, "t", "overnight/t", "demo", "score", "maximize", "base", {}, 0.0, None, None)
    view.run_started(run, view.budget)
    history = [Experiment(1, 0, "base", Status.BASELINE, metric=1.0)]
    for number, status, metric in [(1, Status.KEEP, 2.0), (2, Status.DISCARD, 1.5)]:
        view.experiment_started(number, history)
        history.append(Experiment(1, number, "base", status, metric=metric, commit="c"))
        view.experiment_finished(history[-1], history)

    lines = console.export_text()
    assert "#1   keep                 2 (+1)" in lines
    assert "#2   discard            1.5 (-0.5)" in lines
    footer = footer_text(view)
    assert "best score 2" in footer and "keep 1 · discard 1" in footer
