"""Tokens and cost as a reader sees them: a coding-agent CLI that reports nothing is "unknown",
never $0, in the live view, `overnight log`, `overnight status` and the budget."""

from __future__ import annotations

import re
from collections import Counter

from rich.console import Console

from overnight.config import BudgetConfig, StopConfig
from overnight.formatting import count, spending, tokens
from overnight.ledger import RunRecord
from overnight.overview import Overview
from overnight.policy import StopRules
from overnight.records import Experiment, Status, Usage
from overnight.tally import Tally
from overnight.view import experiment_line, log_table, status_lines, usage_note

PRICED = Usage("proposal", "claude-sonnet-4-5", 12_000, 400, 0.042)
UNKNOWN = Usage("proposal", "codex", None, None, None)
TOKENS_ONLY = Usage("proposal", "gemini-2.5-pro", 9_000, 300, None)
RUN = RunRecord(1, "t", "overnight/t", "demo", "score", "maximize", "b", {}, 0.0, None, None)


def test_spending_and_tokens_say_unknown_rather_than_zero() -> None:
    assert spending([]) == tokens([]) == ""
    assert spending([PRICED]) == "$0.04" and tokens([PRICED]) == "12.4k"
    assert spending([UNKNOWN]) == tokens([UNKNOWN]) == "unknown"
    assert spending([PRICED, UNKNOWN]) == "$0.04 + unknown"
    assert spending([TOKENS_ONLY]) == "unknown" and tokens([TOKENS_ONLY]) == "9.3k"
    assert [count(n) for n in (812, 12_400, 3_100_000)] == ["812", "12.4k", "3.1M"]
    assert usage_note([UNKNOWN]) == "usage unknown"
    assert usage_note([TOKENS_ONLY]) == "9.3k tokens, unknown"


def experiments() -> list[Experiment]:
    return [
        Experiment(1, 0, "b", Status.BASELINE, metric=1.0, commit="b"),
        Experiment(1, 1, "b", Status.KEEP, metric=2.0, description="a", usage=[PRICED]),
        Experiment(1, 2, "b", Status.DISCARD, metric=1.5, description="b", usage=[UNKNOWN]),
    ]


def test_the_log_and_the_live_view_show_usage_per_experiment() -> None:
    console = Console(width=200, record=True)
    console.print(log_table(RUN, experiments()))
    shown = console.export_text()
    assert re.search(r"tokens\W+cost", shown)
    assert re.search(r"\b1 \W+keep .* 12\.4k\W+\$0\.04\W", shown)
    assert re.search(r"\b2 \W+discard .* unknown\W+unknown\W", shown)

    history = experiments()
    line = experiment_line(history[2], "maximize", history[1]).plain
    assert line.endswith("usage unknown") or "usage unknown  [" in line


def test_status_counts_the_experiments_of_unknown_cost() -> None:
    history = experiments()
    counts = {Status.BASELINE: 1, Status.KEEP: 1, Status.DISCARD: 1}
    overview = Overview(Counter(counts), history, 0.042, 1, 0, [])
    lines = status_lines(RUN, overview, live=False)
    assert "cost: $0.04 so far, $0.01 per experiment" in lines
    assert "cost unknown for 1 experiments (their agent reports no cost)" in lines


def test_the_cost_budget_counts_what_is_known() -> None:
    tally = Tally.of(experiments())
    assert tally.spent_usd == 0.042 and tally.unpriced == 1
    rules = StopRules(BudgetConfig(cost_usd=0.04), StopConfig(), "maximize")
    assert rules.reason(tally, 0.0) == "cost budget spent: $0.0420 of $0.04"
