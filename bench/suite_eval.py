"""Suite evaluation speed: 25 cases against a model that takes 200 ms per call.

The model is the loopback OpenAI-compatible server from the test suite (real HTTP, real litellm);
each case is one call. Three evaluations of the same tree: one case at a time, eight at a time,
and again with every output in the cache (no call at all).

    python bench/suite_eval.py [--cases 25] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from llm_server import LLMServer
from overnight.cache import OutputCache
from overnight.config import Config
from overnight.evaluators import make_evaluator


def config(cases: int, concurrency: int, base_url: str) -> Config:
    return Config.model_validate(
        {
            "name": "bench",
            "editable": ["SKILL.md"],
            "evaluate": {
                "kind": "suite",
                "concurrency": concurrency,
                "generate": {
                    "kind": "llm",
                    "model": "openai/gpt-4o-mini",
                    "api_base": base_url,
                    "system": "{{ file('SKILL.md') }}",
                    "prompt": "Write about {{ topic }}.",
                },
                "cases": [
                    {"id": f"case-{i}", "vars": {"topic": f"topic {i}"}} for i in range(cases)
                ],
                "assert": [
                    {"type": "word-count", "max": 50},
                    {"type": "icontains", "value": "post"},
                ],
            },
        }
    )


def timed(evaluate: object, root: Path, log: Path) -> float:
    started = time.perf_counter()
    score = evaluate.evaluate(root, log)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    assert score.ok, score.log_tail
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=25)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "bench")
    rows: dict[str, list[float]] = {
        "sequential (concurrency 1)": [],
        "concurrency 8": [],
        "cached re-evaluation": [],
    }
    with LLMServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.latency = args.latency
        server.script(lambda body: "A short post about the product.")
        root = Path(tmp)
        (root / "SKILL.md").write_text("Write short posts.\n")
        log = root / "eval.log"
        for round_ in range(args.rounds):
            cache_dir = root / f"cache-{round_}"
            for label, concurrency, cache in (
                ("sequential (concurrency 1)", 1, OutputCache(cache_dir, enabled=False)),
                ("concurrency 8", 8, OutputCache(cache_dir)),
                ("cached re-evaluation", 8, OutputCache(cache_dir)),
            ):
                evaluator = make_evaluator(
                    config(args.cases, concurrency, server.base_url).evaluate, root, cache
                )
                rows[label].append(timed(evaluator, root, log))
        calls = server.request_count
    sequential = statistics.median(rows["sequential (concurrency 1)"])
    print(
        f"{args.cases} cases, {args.latency * 1000:.0f} ms per model call, {os.cpu_count()} cores,"
        f" median of {args.rounds} rounds ({calls} model calls in all)\n"
    )
    print(f"{'evaluation':<30}{'median s':>10}{'speed-up':>10}")
    for label, times in rows.items():
        median = statistics.median(times)
        print(f"{label:<30}{median:>10.3f}{sequential / median:>9.1f}x")
    print("\ngoals: concurrency 8 at least 6x faster than sequential; cached under 0.050 s")


if __name__ == "__main__":
    main()
