"""The ``suite`` evaluator: cases x binary assertions, scored as passed/total.

Each case's output is produced by the generator (concurrently, ``concurrency`` at a time), looked
up in the cache first, then checked by the suite's assertions and the case's own. A case whose
generation failed after its retries is recorded as an error and fails its assertions; the run
goes on. Only a suite where every case failed is a crash.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from overnight import llm
from overnight.cache import OutputCache
from overnight.config import CaseConfig, LLMGenerateConfig, ModelConfig, SuiteEvaluateConfig
from overnight.evaluators.assertions import Assertion, CheckContext, Generation, parse_assertion
from overnight.evaluators.base import Evaluator
from overnight.generators import GenerationError, make_generator
from overnight.holdout import split_cases
from overnight.isolation.sandbox import Sandbox
from overnight.isolation.tree import tree_files
from overnight.records import PROVIDER_DOWN, CaseOutput, Check, Score, Status, SuiteResult, Usage
from overnight.scope import Fingerprints


class SuiteEvaluator(Evaluator):
    metric = "score"
    direction = "maximize"

    def __init__(
        self,
        config: SuiteEvaluateConfig,
        root: Path,
        cache: OutputCache,
        sandbox: Sandbox | None = None,
    ) -> None:
        if config.judge is not None:
            llm.require_litellm()
        self.config = config
        self.root = root
        self.cache = cache
        self.generator = make_generator(config.generate, root, sandbox)
        self.repeats = (
            config.generate.repeats if isinstance(config.generate, LLMGenerateConfig) else 1
        )
        shared = [parse_assertion(spec) for spec in config.assertions]
        visible, held_out = split_cases(config)
        self.cases = [
            (case, [*shared, *(parse_assertion(spec) for spec in case.assertions)])
            for case in visible
        ]
        self.held_out_cases = [
            (case, [*shared, *(parse_assertion(spec) for spec in case.assertions)])
            for case in held_out
        ]
        self.fingerprints = Fingerprints(root)
        self._usage: list[Usage] = []
        self._seed = 0
        self._lock = threading.Lock()

    def evaluate(self, root: Path, log_path: Path, seed: int = 0) -> Score:
        """The visible cases: what the score, the decisions and the brief are made of."""
        return self._measure(self.cases, log_path, seed)

    def held_out(self, root: Path, log_path: Path, seed: int = 0) -> Score | None:
        if not self.held_out_cases:
            return None
        return self._measure(self.held_out_cases, log_path, seed)

    def _measure(
        self, cases: list[tuple[CaseConfig, list[Assertion]]], log_path: Path, seed: int
    ) -> Score:
        """Look every case up in the cache first, in this thread (a cached re-evaluation starts
        no thread at all); generate only the misses, concurrently; then check every output."""
        started = time.monotonic()
        self._usage = []
        self._seed = seed  # a measurement round of its own: varied seeds miss the cache
        tree = "" if isinstance(self.config.generate, LLMGenerateConfig) else self._tree_digest()
        work_dir = log_path.with_suffix(".cases")
        work_dir.mkdir(parents=True, exist_ok=True)
        jobs = [(case, checks, r) for case, checks in cases for r in range(self.repeats)]
        found = [self._look_up(case, r, tree, str(work_dir)) for case, _, r in jobs]
        misses = {i: generate for i, generate in enumerate(found) if callable(generate)}
        slow_checks = any(not a.deterministic for _, checks, _ in jobs for a in checks)
        if misses or slow_checks:
            with _pool(self.config.concurrency) as pool:
                generated = dict(zip(misses, pool.map(_call, misses.values()), strict=True))
                outputs = [generated.get(i, f) for i, f in enumerate(found)]
                checks = list(pool.map(self._check, jobs, outputs))
        else:
            outputs = found
            checks = [self._check(job, out) for job, out in zip(jobs, outputs, strict=True)]
        suite = SuiteResult(outputs, [c for case_checks in checks for c in case_checks])
        return self._score(suite, log_path, time.monotonic() - started)

    def _look_up(
        self, case: CaseConfig, repeat: int, tree: str, work_dir: str
    ) -> CaseOutput | Callable[[], CaseOutput]:
        """The cached output, or a function that generates (and caches) it."""
        started = time.monotonic()
        try:
            prepared = self.generator.prepare(case, repeat, tree, work_dir, self._seed)
        except GenerationError as exc:
            return CaseOutput(case.id, repeat, None, str(exc), time.monotonic() - started)
        identity = {"generate": self.config.generate.model_dump(), "identity": prepared.identity}
        key = self.cache.key({**identity, "seed": self._seed} if self._seed else identity)
        hit = self.cache.get(key)
        if hit is not None:
            seconds = time.monotonic() - started
            stopped = hit.get("finish_reason")
            return CaseOutput(
                case.id, repeat, hit["text"], None, seconds, cached=True, finish_reason=stopped
            )

        def generate() -> CaseOutput:
            begun = time.monotonic()
            try:
                generated = prepared.produce()
            except GenerationError as exc:
                return CaseOutput(case.id, repeat, None, str(exc), time.monotonic() - begun)
            if generated.usage is not None:
                self._add_usage(generated.usage)
            stopped = generated.finish_reason
            entry = {"text": generated.text}
            self.cache.put(key, entry if stopped is None else {**entry, "finish_reason": stopped})
            cost = generated.usage.cost_usd if generated.usage is not None else None
            seconds = time.monotonic() - begun
            return CaseOutput(case.id, repeat, generated.text, None, seconds, False, cost, stopped)

        return generate

    def _check(
        self, job: tuple[CaseConfig, list[Assertion], int], output: CaseOutput
    ) -> list[Check]:
        case, assertions, repeat = job
        if output.output is None:
            failed = f"no output: {output.error}"
            return [
                Check(case.id, repeat, a.label, False, failed, a.deterministic) for a in assertions
            ]
        generation = Generation(
            output.seconds, output.cached, output.cost_usd, output.finish_reason
        )
        context = CheckContext(
            vars=case.vars, root=self.root, judge=self._judge, generation=generation
        )
        checks = []
        for assertion in assertions:
            verdict = assertion.check(output.output, context)
            checks.append(
                Check(
                    case.id,
                    repeat,
                    assertion.label,
                    verdict.passed,
                    verdict.reason,
                    verdict.deterministic,
                    assertion.weight,
                    assertion.metric,
                )
            )
        return checks

    def _judge(self, rubric: str, output: str, model: str | None) -> tuple[bool, str]:
        """Answer an llm-judge assertion, from the cache when the same question was asked. A
        judge that cannot answer raises, so the check is an error (which negation keeps failing),
        never a "no"."""
        config = self.config.judge
        if model is not None:
            config = (config or ModelConfig(model=model)).model_copy(update={"model": model})
        if config is None:
            raise LookupError("no judge model configured (set evaluate.judge)")
        key = self.cache.key({"judge": config.model_dump(), "rubric": rubric, "output": output})
        hit = self.cache.get(key)
        if hit is not None:
            return hit["yes"], hit["reason"]
        yes, reason, usage = llm.judge(rubric, output, config)
        self._add_usage(usage)
        self.cache.put(key, {"yes": yes, "reason": reason})
        return yes, reason

    def _add_usage(self, usage: Usage) -> None:
        with self._lock:
            self._usage.append(usage)

    def _score(self, suite: SuiteResult, log_path: Path, seconds: float) -> Score:
        errors = [o for o in suite.outputs if o.error is not None]
        log_path.write_text(render_matrix(suite), encoding="utf-8")
        usage = merge_usage(self._usage)
        most = sum(check.weight for check in suite.checks)
        secondary = {"total": float(most), "errors": float(len(errors))}
        secondary |= {f"metric:{name}": share for name, share in suite.metrics().items()}
        if down := [o for o in errors if (o.error or "").startswith(PROVIDER_DOWN)]:
            first = (down[0].error or "").removeprefix(PROVIDER_DOWN).lstrip(": ")
            reason = (
                f"{PROVIDER_DOWN} for {len(down)} of {len(suite.outputs)} outputs, so this "
                f"measurement does not count; first: {first}"
            )
            return Score(
                None, Status.CRASH, secondary, str(log_path), reason, seconds, suite, usage
            )
        if errors and len(errors) == len(suite.outputs):
            reason = "every case failed to generate; first: " + (errors[0].error or "")
            return Score(
                None, Status.CRASH, secondary, str(log_path), reason, seconds, suite, usage
            )
        tail = passed_text(suite)
        if errors:
            tail += f"; {len(errors)} of {len(suite.outputs)} outputs failed to generate"
        return Score(suite.score, None, secondary, str(log_path), tail, seconds, suite, usage)

    def _tree_digest(self) -> str:
        """What a command or python generator could read: every file git would see."""
        return OutputCache.key(self.fingerprints.take(tree_files(self.root)))


def _call(function: Callable[[], CaseOutput]) -> CaseOutput:
    return function()


@contextmanager
def _pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    """A thread pool that, when interrupted, drops what has not started instead of waiting."""
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def merge_usage(usages: list[Usage]) -> list[Usage]:
    """One row per purpose and model, with calls counted."""
    merged: dict[tuple[str, str], Usage] = {}
    for u in usages:
        seen = merged.get((u.purpose, u.model))
        if seen is None:
            merged[(u.purpose, u.model)] = u
            continue
        cost = (
            None
            if seen.cost_usd is None and u.cost_usd is None
            else ((seen.cost_usd or 0.0) + (u.cost_usd or 0.0))
        )
        merged[(u.purpose, u.model)] = Usage(
            u.purpose,
            u.model,
            seen.tokens_in + u.tokens_in,
            seen.tokens_out + u.tokens_out,
            cost,
            seen.calls + u.calls,
        )
    return list(merged.values())


def passed_text(suite: SuiteResult) -> str:
    """``12/15 assertions passed``, with the weighted score when weights make it differ."""
    text = f"{suite.passed}/{suite.total} assertions passed"
    if suite.weighted:
        most = sum(check.weight for check in suite.checks)
        text += f" (weighted score {suite.score:g} of {most:g})"
    return text


def render_matrix(suite: SuiteResult) -> str:
    """The matrix as plain text, for the log: a line per check, failures with their reasons."""
    lines = [passed_text(suite), ""]
    for output in suite.outputs:
        state = "cached" if output.cached else f"{output.seconds:.2f}s"
        lines.append(f"== {output.case_id} (repeat {output.repeat}, {state})")
        if output.error:
            lines.append(f"   error: {output.error}")
        for check in suite.checks:
            if check.case_id == output.case_id and check.repeat == output.repeat:
                mark = "PASS" if check.passed else "FAIL"
                lines.append(f"   {mark} {check.assertion}: {check.reason}")
    return "\n".join(lines) + "\n"
