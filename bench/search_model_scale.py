"""What the search agent's model costs per experiment as a night grows to 10,000 experiments.

A study over five knobs (log float, log int, int, float, a three-way choice) is told N ledger
rows of random configurations, the way the agent learns a resumed run's history; then what one
proposal costs is timed: telling one more row (the mean over the next N/10 rows, so that it
includes the knobs' importance, weighed anew each time the count grows by a tenth), one ``ask``
of TPE, one ``choose`` among ``OFFERS`` configurations one knob away from the start (what the
default agent asks per experiment once it is warm), and a rebuild of the study (what a
re-measured configuration costs: Optuna's finished trials cannot change, so the study is told
everything again).

    python bench/search_model_scale.py [--sizes 100,1000,10000]

Asks, choices and rebuilds: medians of ``--repeats`` (5) timings, in milliseconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from overnight.agents.knobs import find_knobs
from overnight.agents.model import KnobModel
from overnight.agents.space import search_space
from overnight.config import KnobConfig
from overnight.records import Experiment, Status

PARAMS = "LR = 0.01\nWIDTH = 64\nDEPTH = 3\nDROPOUT = 0.1\nMODE = 'a'\n"
OFFERS = 60  # about what the default agent offers for five knobs: every step, every level
KNOBS = {
    "LR": KnobConfig(min=1e-5, max=1.0, log=True),
    "WIDTH": KnobConfig(min=8, max=1024, log=True),
    "DEPTH": KnobConfig(min=1, max=12),
    "DROPOUT": KnobConfig(min=0.0, max=0.8),
    "MODE": KnobConfig(choices=["a", "b", "c"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "params.py").write_text(PARAMS)
        knobs = find_knobs(root, ["params.py"], KNOBS)
    start = {knob.key: knob.value for knob in knobs}
    print("| experiments told | tell one row (ms) | ask (ms) | choose (ms) | rebuild (ms) |")
    print("| --- | --- | --- | --- | --- |")
    for size in (int(size) for size in args.sizes.split(",")):
        model = KnobModel("tpe", 0, "minimize", search_space(knobs, start))
        rows = rows_of(start, size + size // 10, random.Random(size))
        for row in rows[:size]:
            model.learn(row)
        figures = timings(model, rows[size:], offers(start), args.repeats)
        print(f"| {size:,} | " + " | ".join(f"{value:.1f}" for value in figures) + " |")


def timings(
    model: KnobModel, extra: list[Experiment], offered: list[dict], repeats: int
) -> list[float]:
    """Milliseconds: telling a row (the mean over ``extra``), asking, choosing, rebuilding."""
    started = time.perf_counter()
    for row in extra:
        model.learn(row)
    telling = (time.perf_counter() - started) * 1000 / len(extra)

    def ask() -> None:
        model.ask(0)
        model.settle({}, None)

    def choose() -> None:
        model.choose(0, offered)
        model.settle({}, None)

    return [
        telling,
        median_ms(ask, repeats),
        median_ms(choose, repeats),
        median_ms(model._build, repeats),
    ]


def offers(start: dict) -> list[dict]:
    """``OFFERS`` configurations that each change one knob of the start."""
    rng = random.Random(0)
    changes = [
        ("params.py:LR", lambda: 10 ** rng.uniform(-5, 0)),
        ("params.py:WIDTH", lambda: rng.randint(8, 1024)),
        ("params.py:DEPTH", lambda: rng.randint(1, 12)),
        ("params.py:DROPOUT", lambda: rng.uniform(0, 0.8)),
        ("params.py:MODE", lambda: rng.choice("abc")),
    ]
    return [{**start, key: draw()} for _ in range(OFFERS // 5) for key, draw in changes]


def rows_of(start: dict, count: int, rng: random.Random) -> list[Experiment]:
    """Discarded experiments from the start to random configurations of the space."""
    rows = []
    for number in range(1, count + 1):
        after = {
            **start,
            "params.py:LR": 10 ** rng.uniform(-5, 0),
            "params.py:WIDTH": rng.randint(8, 1024),
            "params.py:DEPTH": rng.randint(1, 12),
            "params.py:DROPOUT": rng.uniform(0, 0.8),
            "params.py:MODE": rng.choice("abc"),
        }
        value = rng.random()
        meta = {"before": start, "after": after}
        rows.append(
            Experiment(
                1, number, "c0", Status.DISCARD, metric=value, measurements=[value], agent_meta=meta
            )
        )
    return rows


def median_ms(action: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


if __name__ == "__main__":
    main()
