"""The ``triggers`` evaluator: does each query trigger the skill it should, and only that one?

Every query is routed ``runs_per_query`` times against the skills as the tree has them now. The
score is the configured metric (F1 by default) over the training queries; the held-out ones are
measured only when the loop asks (on the baseline and on every keep). Each query is one check of
the matrix, so the brief shows the missed and false triggers like any failed check, and the
ledger keeps which skill every run chose. A check's reason ends with what the router's first run
read its decision from (the embedding router: the top two skills and their scores).

A router with settings of its own to fit (the embedding router's threshold and margin) fits them
to the training queries when the evaluator is made, on the descriptions of the tree it is made
on: in a run, the run's first state (every worker's, and again on resume). Every log says what
was fitted, on its first line.

A skill file may change only in its description: anything else, or a description over
``max_description`` characters, makes the measurement a violation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from overnight.activation.folds import fold_scores
from overnight.activation.metrics import (
    ActivationMetrics,
    QueryResult,
    low_trigger_warning,
    sanity_problem,
)
from overnight.activation.routers import Router, RoutingError, make_router
from overnight.activation.skills import Skill, read_skill, without_description
from overnight.activation.split import split
from overnight.config import QueryConfig, TriggersEvaluateConfig
from overnight.errors import ConfigError, OvernightError
from overnight.evaluators.base import Evaluator
from overnight.evaluators.suite import merge_usage
from overnight.isolation.sandbox import Sandbox
from overnight.records import CaseOutput, Check, Score, Status, SuiteResult, Usage

NONE = "(none)"  # how "no skill" is written in outputs and checks


class TriggersEvaluator(Evaluator):
    direction = "maximize"

    def __init__(
        self, config: TriggersEvaluateConfig, root: Path, sandbox: Sandbox | None = None
    ) -> None:
        self.config = config
        self.metric = config.metric
        self.root = root
        self.router: Router = make_router(config.router, root, sandbox)
        skills = self._skills()
        known = {skill.name for skill in skills}
        for index, query in enumerate(config.queries):
            if query.skill is not None and query.skill not in known:
                raise ConfigError(
                    config.queries_file or "overnight.yaml",
                    f"{'' if config.queries_file else 'evaluate.'}queries[{index}].skill",
                    f"no skill is named {query.skill!r} (skills: {', '.join(sorted(known))})",
                )
        self.train, self.held_out_queries = split(
            [_Labelled(q) for q in config.queries], config.holdout, config.holdout_seed
        )
        if config.holdout_splits > max(1, len(self.held_out_queries)):
            raise ConfigError(
                "overnight.yaml",
                "evaluate.holdout_splits",
                f"{config.holdout_splits} folds of {len(self.held_out_queries)} held-out queries",
            )
        self.fixed = {path: without_description(root / path) for path in config.skills}
        labelled = [(q.query, q.expected) for q in self.train]
        self.router_note = self.router.calibrate(labelled, skills, config.metric)

    def evaluate(self, root: Path, log_path: Path, seed: int = 0) -> Score:
        return self._measure(self.train, log_path)

    def held_out(self, root: Path, log_path: Path, seed: int = 0) -> Score | None:
        if not self.held_out_queries:
            return None
        score = self._measure(self.held_out_queries, log_path)
        if self.config.holdout_splits == 1 or score.suite is None:
            return score
        config, results = self.config, query_results(score.suite, self.config)
        splits = fold_scores(
            results, config.holdout_splits, config.holdout_seed, config.metric, config.threshold
        )
        return replace(score, value=sum(splits) / len(splits), splits=splits)

    def baseline_problem(self, score: Score) -> str | None:
        """A router that never triggers, or always does, is broken rather than bad: refuse to
        improve descriptions against it."""
        if score.suite is None:
            return None
        return sanity_problem(query_results(score.suite, self.config))

    def baseline_warnings(self, score: Score) -> list[str]:
        if score.suite is None:
            return []
        results = query_results(score.suite, self.config)
        warning = low_trigger_warning(results, self.config.threshold)
        return [warning] if warning else []

    def _measure(self, queries: Sequence[_Labelled], log_path: Path) -> Score:
        started = time.monotonic()
        try:
            skills = self._skills()
        except OvernightError as exc:
            return self._refused(Status.VIOLATION, str(exc), log_path, started)
        if problem := self._tampering(skills):
            return self._refused(Status.VIOLATION, problem, log_path, started)
        usage: list[Usage] = []
        runs = [(q, r) for q in queries for r in range(self.config.runs_per_query)]
        try:
            with ThreadPoolExecutor(self.config.concurrency) as pool:
                routed = list(pool.map(lambda job: self.router.route(job[0].query, skills), runs))
        except RoutingError as exc:
            usage += exc.usage
            return self._refused(Status.CRASH, f"routing failed: {exc}", log_path, started, usage)
        for routing in routed:
            usage += routing.usage
        choices: dict[str, list[str | None]] = {q.query: [] for q in queries}
        details: dict[str, str] = {}
        for (query, _), routing in zip(runs, routed, strict=True):
            choices[query.query].append(routing.choice)
            details.setdefault(query.query, routing.detail)
        results = [QueryResult(q.query, q.expected, tuple(choices[q.query])) for q in queries]
        metrics = ActivationMetrics.from_results(results, self.config.threshold)
        suite = _matrix(metrics, results, details)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(_report(metrics, details, self.router_note), encoding="utf-8")
        secondary = {
            "accuracy": metrics.accuracy,
            "precision": metrics.precision,
            "recall": metrics.recall,
            "f1": metrics.f1,
        }
        return Score(
            secondary[self.metric],
            None,
            secondary,
            str(log_path),
            f"{suite.passed}/{suite.total} queries routed as labelled"
            + (f"; {self.router_note}" if self.router_note else ""),
            time.monotonic() - started,
            suite,
            merge_usage(usage),
        )

    def _skills(self) -> list[Skill]:
        return [read_skill(self.root / path) for path in self.config.skills]

    def _tampering(self, skills: Sequence[Skill]) -> str | None:
        """Only descriptions may change, and only within the length limit."""
        for path, skill in zip(self.config.skills, skills, strict=True):
            if without_description(self.root / path) != self.fixed[path]:
                return f"{path} changed outside its description (only the description may change)"
            if len(skill.description) > self.config.max_description:
                return (
                    f"the description of {skill.name} is {len(skill.description)} characters"
                    f" (the limit is {self.config.max_description})"
                )
        return None

    def _refused(
        self,
        status: Status,
        reason: str,
        log_path: Path,
        started: float,
        usage: Sequence[Usage] = (),
    ) -> Score:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(reason + "\n", encoding="utf-8")
        seconds = time.monotonic() - started
        return Score(
            None, status, {}, str(log_path), reason, seconds, None, merge_usage(list(usage))
        )


class _Labelled:
    """A configured query as the split sees it."""

    def __init__(self, config: QueryConfig) -> None:
        self.query = config.query
        self.expected = config.skill


def _matrix(
    metrics: ActivationMetrics, results: Sequence[QueryResult], details: Mapping[str, str]
) -> SuiteResult:
    """One case per query (its output: every run's choice) and one check: the right skill, or
    none, at the trigger threshold."""
    outputs, checks = [], []
    for outcome, result in zip(metrics.outcomes, results, strict=True):
        outputs.append(CaseOutput(outcome.query, 0, json.dumps(list(result.choices))))
        wanted = f"triggers {outcome.expected}" if outcome.expected else "triggers no skill"
        rates = ", ".join(f"{name} {rate:.0%}" for name, rate in outcome.rates.items())
        chose = outcome.predicted or NONE
        reason = f"chose {chose}" + (f" (rates: {rates})" if rates else "")
        if detail := details.get(outcome.query):
            reason += f"; {detail}"
        checks.append(
            Check(outcome.query, 0, wanted, outcome.predicted == outcome.expected, reason)
        )
    return SuiteResult(outputs, checks)


def query_results(suite: SuiteResult, config: TriggersEvaluateConfig) -> list[QueryResult]:
    """Each query's runs read back from the matrix (its output holds every run's choice)."""
    expected = {q.query: q.skill for q in config.queries}
    return [
        QueryResult(o.case_id, expected[o.case_id], tuple(json.loads(o.output or "[null]")))
        for o in suite.outputs
    ]


def _report(metrics: ActivationMetrics, details: Mapping[str, str], note: str | None) -> str:
    """The log: what the router fitted, the scores, the confusion matrix, and every query's
    outcome with what the router's decision was read from."""
    lines = [note] if note else []
    lines += [
        f"accuracy {metrics.accuracy:.3f}  precision {metrics.precision:.3f}"
        f"  recall {metrics.recall:.3f}  f1 {metrics.f1:.3f}",
        "",
        "confusion (rows: expected, columns: chosen):",
    ]
    labels = [label or NONE for label in metrics.labels]
    lines.append("  ".join(["", *labels]))
    for expected, row in metrics.confusion.items():
        lines.append("  ".join([expected or NONE, *(str(n) for n in row.values())]))
    lines.append("")
    for outcome in metrics.outcomes:
        mark = "PASS" if outcome.predicted == outcome.expected else "FAIL"
        lines.append(
            f"{mark} {outcome.query!r}: expected {outcome.expected or NONE},"
            f" chose {outcome.predicted or NONE}"
            + (f"; {details[outcome.query]}" if details.get(outcome.query) else "")
        )
    return "\n".join(lines) + "\n"
