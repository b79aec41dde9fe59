"""Search strategies side by side: overnight's search agent with each of its samplers against
plain Optuna TPE and random search, at the same budget, on the same knob ranges.

Methods, each run once per seed (``--seeds``, 0..9) for ``--experiments`` (E, 30) experiments
after a baseline at the problem's starting configuration:

- ``tpe`` (the default), ``cmaes``, ``gp``, ``local``: overnight's ``SearchAgent`` with that
  ``sampler`` and ``seed`` (``tpe-pairs``: ``tpe`` with ``changes_per_experiment: 2``),
  driven in this process the way the loop drives it with a greedy policy: the agent rewrites
  the editable file, the bench reads the knobs back from it (parsed afresh each time) and
  measures them; a strictly better value is kept (its own commit id),
  anything else is reverted to the best file. Every row goes into the history the next proposal
  sees. A proposal error is an experiment without a change; ``SearchExhausted`` ends the run,
  and its best stands for the experiments left.
- ``optuna-tpe``: ``TPESampler(seed=seed)``, and ``random``: ``RandomSampler(seed=seed)``. Both
  change all knobs at once through ask/tell; trial 0 is the enqueued starting configuration (the
  baseline, as overnight's row 0), then E trials. Ranges as overnight's config declares them,
  log scale where ``log`` is true or, left unset, where the range lies above zero (an int's
  from 1), as overnight's samplers read them.

Problems (the starting configuration is the same for every method):

- ``digits``: the bundled example (examples/digits): its train.py knobs with the ranges of its
  overnight.yaml, val_loss of ``python train.py`` minimized (its accuracy constraint and
  min_delta are not applied: the greedy policy keeps any strict gain). ``--digits-budget``
  (1.0) sets DIGITS_TIME_BUDGET, the CPU seconds a training may take (the example's 4.0 would
  let the largest configurations, 7 s uncapped, train 4 s each: too slow for this many runs).
  A training the budget paced depends on the machine's speed, so only a result whose run took
  at most half the budget (its learning-rate schedule then followed its epochs, not the clock,
  and repeats exactly) is cached by configuration.
- ``valley``: 4D Rosenbrock ``sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2`` in coordinates
  ``x = (1 + log10(LEARNING_RATE / 0.01) / 2, 1 + log2(WIDTH / 256) / 4, 1 + (DEPTH - 6) / 5,
  1 + (DROPOUT - 0.3) / 0.4)``: a narrow curved valley, minimum 0 at (0.01, 256, 6, 0.3).
  LEARNING_RATE float 1e-5..1 log, WIDTH int 8..1024 log, DEPTH int 1..12 linear, DROPOUT float
  0..0.8 linear; start (1e-3, 64, 3, 0.1), value 20.92.
- ``noisy``: ``0.5 log10(LEARNING_RATE / (0.03 BATCH_SIZE / 128))^2 + 0.05 log2(BATCH_SIZE /
  128)^2 + 2 (MOMENTUM - 0.9)^2`` (the best rate grows with the batch), minimum 0, plus
  Gaussian noise of sd ``NOISE`` (0.03) seeded by (seed, experiment number): a step of x1.4 or
  x2 on the rate near the optimum costs 0.01 to 0.05, so the noise hides it. LEARNING_RATE
  float 1e-5..1 log, BATCH_SIZE int 8..1024 log, MOMENTUM float 0..0.99 linear; start (1e-3,
  32, 0.5), true value 0.90. The table shows the TRUE value of the configuration a method ends
  up choosing (overnight: the kept best state; Optuna: the trial with the best measured value),
  not its lucky measurement.
- ``categorical``: ``floor + 0.4 log10(LEARNING_RATE / best_rate)^2 + 0.05 log10(WEIGHT_DECAY /
  1e-4)^2`` where OPTIMIZER picks (best_rate, floor): sgd (0.3, 0.25), momentum (0.03, 0.1),
  adam (1e-3, 0), rmsprop (3e-4, 0.05). OPTIMIZER choices in that order, LEARNING_RATE float
  1e-5..1 log, WEIGHT_DECAY float 1e-6..0.1 log; start (sgd, 0.01, 1e-3), value 1.17; minimum 0
  at (adam, 1e-3, 1e-4). Momentum near 0.03 (0.1) traps a search of one knob at a time: adam is
  worse at that rate, and a rate that suits adam is worse with momentum.

The table gives, per problem and method, the median over seeds of the best value after E/3,
2E/3 and E experiments (10, 20, 30), and for overnight's methods the kept experiments whose
proposal changed more than one knob (by its meta's before and after configurations), summed over
seeds, of all kept. The goal check: overnight's ``tpe`` is no worse than plain TPE on every
problem (median best@E, minimizing), and better than ``local`` on the valley.

    python bench/search_vs_optuna.py [--seeds 0,1,2,3,4,5,6,7,8,9] [--experiments 30]
        [--problems digits,valley,noisy,categorical]
        [--methods tpe,cmaes,gp,local,tpe-pairs,optuna-tpe,random] [--digits-budget 1.0]

About 23 minutes on two cores with the defaults: digits takes 14 of them (some 1,500 trainings
of 0.56 s each on average, interpreter start included; 0.25 s at its starting configuration),
and the gp sampler's model much of the rest. Ten seeds, as five left medians that moved by a
fair amount with small changes to the agent. Progress (problem, method, seed, seconds) goes to
stderr.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState
from pydantic import ValidationError

from overnight.agents.base import AgentContext
from overnight.agents.search import SearchAgent
from overnight.config import SearchAgentConfig
from overnight.errors import AgentError, SearchExhausted
from overnight.records import Experiment, Status

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"
PAIRS = "tpe-pairs"  # tpe allowed two knobs per experiment (changes_per_experiment: 2)
SAMPLERS = ("tpe", "cmaes", "gp", "local", PAIRS)  # overnight's search agent, by its sampler
OPTUNA = ("optuna-tpe", "random")  # all knobs at once
METHODS = (*SAMPLERS, *OPTUNA)
NOISE = 0.03  # sd of the noisy problem's measurement noise
EVALUATION_TIMEOUT = 60.0  # the digits example's own evaluate.timeout
OPTIMIZERS = {  # the categorical problem: OPTIMIZER -> (its best LEARNING_RATE, its floor)
    "sgd": (0.3, 0.25),
    "momentum": (0.03, 0.1),
    "adam": (1e-3, 0.0),
    "rmsprop": (3e-4, 0.05),
}

Value = bool | int | float | str
Config = dict[str, Value]


@dataclass(frozen=True)
class Score:
    """One evaluation: what the method sees (None: a crash) and the value the table reports."""

    measured: float | None
    true: float  # infinite for a crash, which is never chosen


Measure = Callable[[Path, Config, str], Score]  # (tree, its knobs, noise key) -> score


@dataclass(frozen=True)
class Problem:
    """A tree to tune: where its knobs live, their ranges, and how a configuration scores."""

    name: str
    file: str  # the editable file that holds the knobs
    knobs: dict[str, dict[str, Any]]  # overnight's knob settings, by name
    setup: Callable[[Path], None]  # writes the starting tree into an empty folder
    measure: Measure


@dataclass
class Run:
    """One method's run on one problem and seed."""

    trace: list[float]  # the true value of the chosen best after experiment 0 (baseline)..E
    keeps: int = 0
    multi_keeps: int = 0  # keeps whose proposal changed more than one knob
    exhausted_at: int | None = None


# ---------------------------------------------------------------- knob files


def literals(tree: ast.Module, names: Container[str]) -> Iterator[tuple[str, ast.expr]]:
    """The module-level ``NAME = literal`` statements of the knobs named: (name, literal)."""
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name) and target.id in names:
                yield target.id, statement.value


def read_config(path: Path, names: Iterable[str]) -> Config:
    """The knobs' values as the file holds them now, parsed afresh (no module cache)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {name: ast.literal_eval(node) for name, node in literals(tree, set(names))}


def write_config(path: Path, config: Mapping[str, Value]) -> None:
    """Replace each knob's literal (one ASCII line each) with ``repr`` of its new value."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    for name, node in literals(ast.parse(text), config):
        line = lines[node.lineno - 1]
        literal = repr(config[name])
        lines[node.lineno - 1] = line[: node.col_offset] + literal + line[node.end_col_offset :]
    path.write_text("".join(lines), encoding="utf-8")


def params_file(start: Config) -> Callable[[Path], None]:
    """A setup that writes ``params.py`` holding the starting values."""

    def setup(root: Path) -> None:
        root.mkdir(parents=True)
        lines = [f"{name} = {value!r}\n" for name, value in start.items()]
        text = '"""The knobs of a synthetic problem."""\n\n' + "".join(lines)
        (root / "params.py").write_text(text, encoding="utf-8")

    return setup


# ---------------------------------------------------------------- problems


def valley(config: Config) -> float:
    """4D Rosenbrock in transformed coordinates: 0 at (0.01, 256, 6, 0.3)."""
    x = [
        1 + math.log10(float(config["LEARNING_RATE"]) / 0.01) / 2,
        1 + math.log2(float(config["WIDTH"]) / 256) / 4,
        1 + (float(config["DEPTH"]) - 6) / 5,
        1 + (float(config["DROPOUT"]) - 0.3) / 0.4,
    ]
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3))


def noisy_truth(config: Config) -> float:
    """A smooth bowl whose best learning rate scales with the batch size: 0 at its minimum."""
    batch = float(config["BATCH_SIZE"])
    best_rate = 0.03 * batch / 128
    return (
        0.5 * math.log10(float(config["LEARNING_RATE"]) / best_rate) ** 2
        + 0.05 * math.log2(batch / 128) ** 2
        + 2 * (float(config["MOMENTUM"]) - 0.9) ** 2
    )


def categorical(config: Config) -> float:
    """Each optimizer has its own best learning rate and floor: 0 at (adam, 1e-3, 1e-4)."""
    best_rate, floor = OPTIMIZERS[str(config["OPTIMIZER"])]
    return (
        floor
        + 0.4 * math.log10(float(config["LEARNING_RATE"]) / best_rate) ** 2
        + 0.05 * math.log10(float(config["WEIGHT_DECAY"]) / 1e-4) ** 2
    )


def exact(function: Callable[[Config], float]) -> Measure:
    """A noise-free synthetic measurement: what the method sees is the true value."""

    def measure(root: Path, config: Config, key: str) -> Score:
        value = function(config)
        return Score(value, value)

    return measure


def noisy(root: Path, config: Config, key: str) -> Score:
    """The true value plus Gaussian noise drawn for this evaluation (seed and number)."""
    truth = noisy_truth(config)
    return Score(truth + random.Random(f"noisy:{key}").gauss(0.0, NOISE), truth)


@dataclass
class Digits:
    """The digits example's own evaluation, ``python train.py`` in the tree, val_loss read from
    its output. A result the time budget did not pace is cached by configuration."""

    budget: float
    cache: dict[str, float] = field(default_factory=dict)
    runs: int = 0
    seconds: float = 0.0  # wall time of the runs, for the note under the table

    def __call__(self, root: Path, config: Config, key: str) -> Score:
        identity = json.dumps(config, sort_keys=True)
        if identity in self.cache:
            return Score(self.cache[identity], self.cache[identity])
        output = self.train(root)
        loss, trained = (found_number(output, name) for name in ("val_loss", "seconds"))
        if loss is None:
            return Score(None, math.inf)
        if trained is not None and trained <= self.budget / 2:
            self.cache[identity] = loss
        return Score(loss, loss)

    def train(self, root: Path) -> str:
        """train.py's output; empty when it failed or ran past the example's timeout."""
        started = time.perf_counter()
        env = {**os.environ, "DIGITS_TIME_BUDGET": str(self.budget)}
        try:
            done = subprocess.run(
                [sys.executable, "train.py"],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=EVALUATION_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            done = None
        self.runs += 1
        self.seconds += time.perf_counter() - started
        return done.stdout if done is not None and done.returncode == 0 else ""


def found_number(output: str, name: str) -> float | None:
    """The value of a ``name: value`` line of the output, if there is one."""
    match = re.search(rf"^{name}:\s*(\S+)\s*$", output, re.MULTILINE)
    return float(match[1]) if match else None


def digits_problem(measure: Digits) -> Problem:
    """The bundled example as it ships, knob ranges from its overnight.yaml."""
    config = yaml.safe_load((DIGITS / "overnight.yaml").read_text(encoding="utf-8"))

    def setup(root: Path) -> None:
        shutil.copytree(DIGITS, root, ignore=shutil.ignore_patterns("__pycache__"))

    return Problem("digits", "train.py", config["agent"]["knobs"], setup, measure)


def synthetic_problems() -> list[Problem]:
    rate = {"min": 1e-5, "max": 1.0, "log": True}
    return [
        Problem(
            "valley",
            "params.py",
            {
                "LEARNING_RATE": rate,
                "WIDTH": {"min": 8, "max": 1024, "log": True},
                "DEPTH": {"min": 1, "max": 12, "log": False},
                "DROPOUT": {"min": 0.0, "max": 0.8, "log": False},
            },
            params_file({"LEARNING_RATE": 1e-3, "WIDTH": 64, "DEPTH": 3, "DROPOUT": 0.1}),
            exact(valley),
        ),
        Problem(
            "noisy",
            "params.py",
            {
                "LEARNING_RATE": rate,
                "BATCH_SIZE": {"min": 8, "max": 1024, "log": True},
                "MOMENTUM": {"min": 0.0, "max": 0.99, "log": False},
            },
            params_file({"LEARNING_RATE": 1e-3, "BATCH_SIZE": 32, "MOMENTUM": 0.5}),
            noisy,
        ),
        Problem(
            "categorical",
            "params.py",
            {
                "OPTIMIZER": {"choices": list(OPTIMIZERS)},
                "LEARNING_RATE": rate,
                "WEIGHT_DECAY": {"min": 1e-6, "max": 0.1, "log": True},
            },
            params_file({"OPTIMIZER": "sgd", "LEARNING_RATE": 0.01, "WEIGHT_DECAY": 1e-3}),
            exact(categorical),
        ),
    ]


# ---------------------------------------------------------------- overnight's search agent


def agent_config(problem: Problem, sampler: str, seed: int) -> SearchAgentConfig:
    """The agent's config as overnight.yaml would give it: one sampler, the problem's knobs."""
    settings = {"kind": "search", "seed": seed, "sampler": sampler, "knobs": problem.knobs}
    if sampler == PAIRS:
        settings.update(sampler="tpe", changes_per_experiment=2)
    return SearchAgentConfig.model_validate(settings)


def run_overnight(problem: Problem, sampler: str, seed: int, root: Path, experiments: int) -> Run:
    """The loop with a greedy policy, in this process: propose, measure, keep or revert."""
    agent = SearchAgent(agent_config(problem, sampler, seed))
    path = root / problem.file
    best_text = path.read_text(encoding="utf-8")
    best = baseline_score(problem, root, seed)
    best_commit = "c0"
    history = [
        Experiment(
            run_id=1,
            number=0,
            parent_commit="",
            status=Status.BASELINE,
            commit=best_commit,
            metric=best.measured,
            measurements=[best.measured],
        )
    ]
    run = Run([best.true])
    for number in range(1, experiments + 1):
        try:
            proposal = agent.propose(context(root, problem, number, history, best.measured))
        except SearchExhausted:
            run.exhausted_at = number
            break
        except AgentError as error:  # an experiment that changed nothing
            path.write_text(best_text, encoding="utf-8")
            history.append(
                Experiment(
                    run_id=1,
                    number=number,
                    parent_commit=best_commit,
                    status=Status.NO_OP,
                    reason=str(error),
                )
            )
            run.trace.append(best.true)
            continue
        score = problem.measure(root, read_config(path, problem.knobs), f"{seed}:{number}")
        parent, kept = best_commit, better(score, best)
        if kept:
            best, best_commit, best_text = score, f"c{number}", path.read_text(encoding="utf-8")
            run.keeps += 1
            run.multi_keeps += knobs_changed(proposal.meta) > 1
        else:
            path.write_text(best_text, encoding="utf-8")
        history.append(
            Experiment(
                run_id=1,
                number=number,
                parent_commit=parent,
                status=outcome(score, kept),
                commit=best_commit if kept else None,
                metric=score.measured,
                measurements=[] if score.measured is None else [score.measured],
                description=proposal.description,
                agent_meta=proposal.meta,
            )
        )
        run.trace.append(best.true)
    run.trace += [run.trace[-1]] * (experiments + 1 - len(run.trace))
    return run


def baseline_score(problem: Problem, root: Path, seed: int) -> Score:
    """The starting configuration's score: every method's row 0, so it has to measure."""
    score = problem.measure(root, read_config(root / problem.file, problem.knobs), f"{seed}:0")
    if score.measured is None:
        raise SystemExit(f"{problem.name}: the starting configuration failed to evaluate")
    return score


def context(
    root: Path, problem: Problem, number: int, history: list[Experiment], best: float | None
) -> AgentContext:
    """What the loop tells the agent before experiment ``number``."""
    return AgentContext(
        root=root,
        number=number,
        editable_files=[problem.file],
        editable_globs=[problem.file],
        history=list(history),
        best_metric=best,
        direction="minimize",
        brief_path=root / "brief.md",
    )


def better(score: Score, best: Score) -> bool:
    """Strictly better than the best (minimizing); anything measured beats nothing measured."""
    if score.measured is None:
        return False
    return best.measured is None or score.measured < best.measured


def outcome(score: Score, kept: bool) -> Status:
    """The row's status, as the greedy policy would record it."""
    if kept:
        return Status.KEEP
    return Status.CRASH if score.measured is None else Status.DISCARD


def knobs_changed(meta: Mapping[str, Any]) -> int:
    """How many knobs a proposal changed: its configurations before and after, or its list of
    changes where it has one."""
    before, after = meta.get("before") or {}, meta.get("after") or {}
    differing = sum(1 for key, value in after.items() if before.get(key) != value)
    return max(differing, len(meta.get("changes") or []))


# ---------------------------------------------------------------- plain Optuna


def run_optuna(problem: Problem, method: str, seed: int, root: Path, experiments: int) -> Run:
    """All knobs at once: trial 0 is the starting configuration, then ``experiments`` trials;
    the chosen best is the trial with the best measured value."""
    sampler_class = (
        optuna.samplers.TPESampler if method == "optuna-tpe" else optuna.samplers.RandomSampler
    )
    study = optuna.create_study(direction="minimize", sampler=sampler_class(seed=seed))
    start = read_config(root / problem.file, problem.knobs)
    free = {
        name: settings for name, settings in problem.knobs.items() if not settings.get("freeze")
    }
    study.enqueue_trial({name: start[name] for name in free})
    best = Score(None, math.inf)
    run = Run([])
    for number in range(experiments + 1):
        trial = study.ask()
        config = {**start, **{name: suggest(trial, name, free[name], start[name]) for name in free}}
        write_config(root / problem.file, config)
        score = problem.measure(root, config, f"{seed}:{number}")
        if score.measured is None:
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, score.measured)
        best = score if better(score, best) else best
        run.trace.append(best.true)
    return run


def suggest(trial: optuna.Trial, name: str, settings: Mapping[str, Any], start: Value) -> Value:
    """The knob's value over its declared range, an int where the file holds an int; log scale
    where overnight's samplers use it."""
    if settings.get("choices") is not None:
        return trial.suggest_categorical(name, settings["choices"])
    low, high = settings["min"], settings["max"]
    integer = isinstance(start, int)
    log = settings.get("log")
    log = bool(log if log is not None else low > 0 and (not integer or low >= 1))
    if integer:
        return trial.suggest_int(name, low, high, log=log)
    return trial.suggest_float(name, float(low), float(high), log=log)


# ---------------------------------------------------------------- the bench


def one_run(problem: Problem, method: str, seed: int, experiments: int) -> Run:
    """A fresh tree at the starting configuration, searched by ``method``."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / problem.name
        problem.setup(root)
        runner = run_overnight if method in SAMPLERS else run_optuna
        run = runner(problem, method, seed, root, experiments)
    seconds = time.perf_counter() - started
    print(f"{problem.name} {method} seed {seed}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return run


def checkpoints(experiments: int) -> list[int]:
    """A third, two thirds and all of the budget: 10, 20, 30 for 30 experiments."""
    return [round(experiments * part / 3) for part in (1, 2, 3)]


def median_best(runs: list[Run], at: int) -> float:
    """The median over seeds of the chosen best's true value after ``at`` experiments."""
    return statistics.median(run.trace[at] for run in runs)


def table(runs: dict[tuple[str, str], list[Run]], experiments: int) -> str:
    """One row per problem and method: median best at each checkpoint, keeps of several knobs."""
    marks = checkpoints(experiments)
    header = ["problem", "method", *(f"best@{at}" for at in marks), "keeps changing > 1 knob"]
    rows = []
    for (problem, method), group in runs.items():
        bests = [format(median_best(group, at), ".4g") for at in marks]
        multi = ""
        if method in SAMPLERS:
            multi = f"{sum(r.multi_keeps for r in group)} of {sum(r.keeps for r in group)}"
        rows.append([problem, method, *bests, multi])
    lines = ["| " + " | ".join(row) + " |" for row in (header, ["---"] * len(header), *rows)]
    return "\n".join(lines)


def goal_check(runs: dict[tuple[str, str], list[Run]], experiments: int) -> list[str]:
    """overnight's tpe <= plain TPE on every problem, and < local on the valley (median best@E)."""
    problems = dict.fromkeys(problem for problem, _ in runs)
    checks = [(problem, "optuna-tpe", "<=") for problem in problems]
    if "valley" in problems:
        checks.append(("valley", "local", "<"))
    return [
        check(runs, problem, other, relation, experiments) for problem, other, relation in checks
    ]


def check(
    runs: dict[tuple[str, str], list[Run]], problem: str, other: str, relation: str, at: int
) -> str:
    """One goal line: tpe against ``other`` by median best@``at``, or why it cannot be judged."""
    if (problem, "tpe") not in runs or (problem, other) not in runs:
        return f"- {problem}: tpe {relation} {other}: not run"
    ours, theirs = median_best(runs[problem, "tpe"], at), median_best(runs[problem, other], at)
    passed = ours <= theirs if relation == "<=" else ours < theirs
    verdict = "pass" if passed else "FAIL"
    return f"- {problem}: tpe {ours:.4g} {relation} {other} {theirs:.4g}: {verdict}"


def note(
    runs: dict[tuple[str, str], list[Run]], seeds: list[int], digits: Digits, seconds: float
) -> str:
    """How the table was made: seeds, the digits evaluations, early stops, the total time."""
    text = f"median over seeds {','.join(map(str, seeds))}; total {seconds:.0f} s."
    if digits.runs:
        text += (
            f" digits: DIGITS_TIME_BUDGET={digits.budget:g}, {digits.runs} trainings of"
            f" {digits.seconds / digits.runs:.2f} s each on average, {len(digits.cache)}"
            " configurations cached."
        )
    exhausted = [
        f"{problem} {method} seed {seed} at {run.exhausted_at}"
        for (problem, method), group in runs.items()
        for seed, run in zip(seeds, group, strict=True)
        if run.exhausted_at is not None
    ]
    if exhausted:
        text += " Search exhausted (best carried forward): " + "; ".join(exhausted) + "."
    return text


def listed(
    parser: argparse.ArgumentParser, text: str, known: Iterable[str], what: str
) -> list[str]:
    """A comma-separated option, each name checked against ``known``."""
    names, known = [name for name in text.split(",") if name], list(known)
    if not names:
        parser.error(f"no {what} given (known: {', '.join(known)})")
    if unknown := [name for name in names if name not in known]:
        parser.error(f"unknown {what} {', '.join(unknown)} (known: {', '.join(known)})")
    return names


def require_samplers(parser: argparse.ArgumentParser, problem: Problem, methods: list[str]) -> None:
    """Fail before any run when this overnight's search agent does not take a sampler asked for."""
    for method in methods:
        if method in SAMPLERS:
            try:
                agent_config(problem, method, 0)
            except ValidationError as error:
                parser.error(f"overnight's search agent refuses sampler {method!r}: {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9", help="comma-separated")
    parser.add_argument("--experiments", type=int, default=30, help="after the baseline")
    parser.add_argument("--problems", default="digits,valley,noisy,categorical")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--digits-budget", type=float, default=1.0, help="DIGITS_TIME_BUDGET: CPU s per training"
    )
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    digits = Digits(args.digits_budget)
    everything = {
        problem.name: problem for problem in [digits_problem(digits), *synthetic_problems()]
    }
    problems = [everything[name] for name in listed(parser, args.problems, everything, "problem")]
    methods = listed(parser, args.methods, METHODS, "method")
    require_samplers(parser, problems[0], methods)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()
    runs = {
        (problem.name, method): [one_run(problem, method, seed, args.experiments) for seed in seeds]
        for problem in problems
        for method in methods
    }
    seconds = time.perf_counter() - started
    print(table(runs, args.experiments))
    print()
    print(note(runs, seeds, digits, seconds))
    print()
    print(f"Goal check (median best@{args.experiments}, minimizing):")
    print("\n".join(goal_check(runs, args.experiments)))


if __name__ == "__main__":
    main()
