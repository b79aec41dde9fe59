"""Skill activation on real public skills: does the offline loop generalise, and does it edit
descriptions the way their authors would?

The benchmark in tests/data/activation_benchmark (fifteen published skills' front matter, 120
queries labelled with the skill that should handle them and 30 near misses that none should) is
copied into a fresh git repository per split seed, with ``holdout_seed`` and the experiment
budget set in its overnight.yaml, and ``overnight.run`` improves the descriptions with the
embedding router and the phrases agent. Everything is then read back through the public
surface: the run summary, the ledger's matrices (one check per query, passed when the query was
routed as labelled) and the descriptions at the baseline and best commits. Per seed, and as a
mean, the table gives:

- train F1 at the baseline and at the best state, the run's ``metric``;
- held-out F1 at the baseline and at the best state as the run reports it
  (``best_experiment.held_out_value``), and the gain between them;
- negatives that trigger some skill (a failed check on a query labelled with no skill), among
  the training and held-out matrices of the baseline and of the best state, and the reduction;
- copied 3-grams: every word 3-gram of a best-state description that its baseline description
  lacks counts as added; the share of those that also occur in some training query (a query of
  the baseline's visible matrix in the ledger: one the agent is shown). Words are lower-cased
  runs of letters and digits (``p5.js`` and ``co-authoring`` stay whole). Product and
  file-format names are not excluded here: leaving them out of what it copies is the agent's
  job;
- cut sentences: the baseline and best descriptions are diffed word by word (words compared
  lower-cased, without the punctuation at their ends, so a changed comma is no removal). Each
  run of baseline words the diff removes (deleted or replaced) is one removal. It is whole when
  it starts at a clause boundary (the start of the text, after a word ending in ``. , ; : ! ?``
  or ``)``, or at or after a dash standing alone) and ends at one (the end of the text, or on a
  word ending in such punctuation, or before a dash standing alone); otherwise it cuts a
  sentence mid-way. Removing "workflow" from "a structured workflow for co-authoring" is a cut;
  removing "flow fields," from a list is not.

- the copying ceiling: the held-out F1 the same router (calibrated at the baseline, as in a
  run) gives when every skill's description gains, word for word, each training query it missed
  at the baseline: the most that fitting the training queries can teach the router about the
  held-out ones. Where it is no higher than the baseline's, a description that wins held-out
  queries has to know more than the training queries say.

Each row is checked against the goal where the issue sets one (mean held-out gain >= +0.08,
negatives triggered reduced by >= 30%, <= 10% of added 3-grams copied, no sentence cut).

    python bench/activation.py [--seeds 0,1,2] [--experiments 30] [--holdout 0.4]

About ten minutes on two cores with the defaults, most of it routing queries (the embed extra
must be installed: pip install "overnight[embed]").
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

import overnight
from overnight.activation.metrics import ActivationMetrics, QueryResult
from overnight.activation.routers.embedding import EmbeddingRouter
from overnight.activation.skills import read_skills
from overnight.activation.split import split
from overnight.config import CONFIG_NAME, TriggersEvaluateConfig, load_config
from overnight.ledger import Ledger

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "activation_benchmark"
IDENTITY = {
    f"GIT_{who}_{key}": value
    for who in ("AUTHOR", "COMMITTER")
    for key, value in {"NAME": "bench", "EMAIL": "bench@example.com"}.items()
}
GOAL_GAIN = 0.08  # mean held-out F1 over the baseline's
GOAL_REDUCTION = 0.30  # of the negatives that trigger some skill
GOAL_COPIED = 0.10  # of the added 3-grams
GOAL_CUTS = 0

WORD = re.compile(r"[a-z0-9]+(?:[.'+-][a-z0-9]+)*")
CLAUSE_END = (".", ",", ";", ":", "!", "?", ")")
DASHES = {"-", "--", "–", "—"}


@dataclass
class Outcome:
    """One seed's run, as the table needs it."""

    train_before: float
    train_after: float
    held_out_before: float | None
    held_out_after: float | None
    negatives: int
    triggered_before: int
    triggered_after: int
    added: int  # 3-grams added to descriptions
    copied: int  # of which occur in a training query
    cuts: int
    removals: int
    kept: int
    seconds: float
    ceiling: float

    @property
    def gain(self) -> float | None:
        if self.held_out_before is None or self.held_out_after is None:
            return None
        return self.held_out_after - self.held_out_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="holdout seeds, comma-separated")
    parser.add_argument("--experiments", type=int, default=30)
    parser.add_argument("--holdout", type=float, default=0.4)
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    outcomes = []
    for seed in seeds:
        with tempfile.TemporaryDirectory() as scratch:
            outcome = run_seed(Path(scratch) / "bench", seed, args.experiments, args.holdout)
        outcomes.append(outcome)
        print(
            f"seed {seed}: {outcome.kept} kept of {args.experiments}, {outcome.seconds:.0f} s",
            flush=True,
        )
    print()
    print(table(seeds, outcomes, args.experiments, args.holdout))


def run_seed(root: Path, seed: int, experiments: int, holdout: float) -> Outcome:
    """One fresh repository holding the benchmark, improved for ``experiments`` experiments."""
    shutil.copytree(DATA, root)
    config = yaml.safe_load((root / CONFIG_NAME).read_text(encoding="utf-8"))
    config["evaluate"].update(holdout=holdout, holdout_seed=seed)
    config["budget"] = {"experiments": experiments}
    (root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "benchmark")):
        subprocess.run(["git", *args], cwd=root, check=True, env={**os.environ, **IDENTITY})
    evaluate = load_config(root / CONFIG_NAME).evaluate
    assert isinstance(evaluate, TriggersEvaluateConfig)

    started = time.monotonic()
    summary = overnight.run(root, experiments=experiments)
    seconds = time.monotonic() - started

    baseline, best = summary.experiments[0], summary.best_experiment
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        run_id = summary.run.id
        visible = ledger.suite_result(run_id, baseline.number)
        negatives = {q.query for q in evaluate.queries if q.skill is None}
        before = triggered(ledger, run_id, baseline.number, negatives)
        after = triggered(ledger, run_id, best.number, negatives)
    finally:
        ledger.close()
    training = {check.case_id for check in visible.checks} if visible else set()
    seen = set().union(*(trigrams(query) for query in training))
    added = copied = cuts = removals = 0
    for path in evaluate.skills:
        old = description(root, baseline.commit or baseline.parent_commit, path)
        new = description(root, best.commit or best.parent_commit, path)
        grams = added_trigrams(old, new)
        added += len(grams)
        copied += len(grams & seen)
        spans = removed_spans(old, new)
        removals += len(spans)
        cuts += sum(not whole for whole in spans)
    return Outcome(
        train_before=baseline.metric or 0.0,
        train_after=best.metric or 0.0,
        held_out_before=baseline.held_out_value,
        held_out_after=best.held_out_value,
        negatives=len(negatives),
        triggered_before=before,
        triggered_after=after,
        added=added,
        copied=copied,
        cuts=cuts,
        removals=removals,
        kept=len(summary.kept),
        seconds=seconds,
        ceiling=copying_ceiling(root, evaluate, seed, holdout),
    )


@dataclass(frozen=True)
class Query:
    query: str
    expected: str | None


def copying_ceiling(
    root: Path, evaluate: TriggersEvaluateConfig, seed: int, holdout: float
) -> float:
    """Held-out F1 once each skill's description holds the training queries it missed (see the
    module's docstring), with the threshold and margin calibrated at the baseline."""
    skills = read_skills([root / path for path in evaluate.skills])
    queries = [Query(q.query, q.skill) for q in evaluate.queries]
    train, held_out = split(queries, holdout, seed)
    router = EmbeddingRouter()
    router.calibrate([(q.query, q.expected) for q in train], skills, "f1")
    missed: dict[str, list[str]] = {skill.name: [] for skill in skills}
    for query in train:
        if query.expected and router.route(query.query, skills).choice != query.expected:
            missed[query.expected].append(query.query.rstrip(".?! ") + ".")
    taught = [
        replace(skill, description=" ".join([skill.description, *missed[skill.name]]))
        for skill in skills
    ]
    results = [
        QueryResult(q.query, q.expected, (router.route(q.query, taught).choice,)) for q in held_out
    ]
    return ActivationMetrics.from_results(results).f1


def triggered(ledger: Ledger, run_id: int, number: int, negatives: set[str]) -> int:
    """Negatives routed to some skill in the experiment's training and held-out matrices."""
    count = 0
    for held_out in (False, True):
        suite = ledger.suite_result(run_id, number, held_out=held_out)
        if suite is not None:
            count += sum(not c.passed for c in suite.checks if c.case_id in negatives)
    return count


def description(root: Path, commit: str, path: str) -> str:
    text = subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=root, check=True, capture_output=True, text=True
    ).stdout
    return yaml.safe_load(text.split("---\n")[1])["description"]


def trigrams(text: str) -> set[tuple[str, ...]]:
    words = WORD.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def added_trigrams(old: str, new: str) -> set[tuple[str, ...]]:
    return trigrams(new) - trigrams(old)


def removed_spans(old: str, new: str) -> list[bool]:
    """Each run of ``old``'s words that the edit removed, and whether it was a whole clause."""
    before, after = old.split(), new.split()
    matcher = difflib.SequenceMatcher(None, normalised(before), normalised(after), autojunk=False)
    return [
        at_boundary(before, start) and at_boundary(before, end)
        for tag, start, end, _, _ in matcher.get_opcodes()
        if tag in ("delete", "replace")
    ]


def normalised(words: list[str]) -> list[str]:
    return [word.lower().strip(".,;:!?()\"'") or word for word in words]


def at_boundary(words: list[str], position: int) -> bool:
    """Whether a clause may start or end between ``words[position - 1]`` and ``words[position]``."""
    if position in (0, len(words)):
        return True
    previous, following = words[position - 1], words[position]
    return previous.endswith(CLAUSE_END) or previous in DASHES or following in DASHES


def table(seeds: list[int], outcomes: list[Outcome], experiments: int, holdout: float) -> str:
    """A Markdown table: a column per seed, then the mean (counts: pooled), the goal, pass/fail."""
    gains = [o.gain for o in outcomes if o.gain is not None]
    before = sum(o.triggered_before for o in outcomes)
    after = sum(o.triggered_after for o in outcomes)
    negatives = sum(o.negatives for o in outcomes)
    reduction = (before - after) / before if before else 0.0
    added = sum(o.added for o in outcomes)
    copied = sum(o.copied for o in outcomes) / added if added else 0.0
    cuts = sum(o.cuts for o in outcomes)
    gain = statistics.fmean(gains) if gains else None

    def figures(name: str, value: Callable[[Outcome], float | None], form: str) -> list[str]:
        values = [value(o) for o in outcomes]
        known = [v for v in values if v is not None]
        mean = statistics.fmean(known) if known else None
        return [name, *(shown(v, form) for v in values), shown(mean, form)]

    def counts(name: str, cell: Callable[[Outcome], str], total: str) -> list[str]:
        return [name, *(cell(o) for o in outcomes), total]

    rows = [
        [*figures("baseline train F1", lambda o: o.train_before, ".3f"), "", ""],
        [*figures("best-state train F1", lambda o: o.train_after, ".3f"), "", ""],
        [*figures("baseline held-out F1", lambda o: o.held_out_before, ".3f"), "", ""],
        [*figures("best-state held-out F1", lambda o: o.held_out_after, ".3f"), "", ""],
        [
            *figures("held-out F1 gain", lambda o: o.gain, "+.3f"),
            f">= +{GOAL_GAIN:.2f}",
            verdict(gain is not None and gain >= GOAL_GAIN),
        ],
        [
            *counts(
                "negatives triggering, baseline",
                lambda o: f"{o.triggered_before}/{o.negatives}",
                f"{before}/{negatives}",
            ),
            "",
            "",
        ],
        [
            *counts(
                "negatives triggering, best state",
                lambda o: f"{o.triggered_after}/{o.negatives}",
                f"{after}/{negatives}",
            ),
            "",
            "",
        ],
        [
            *counts(
                "negatives triggering, reduction",
                lambda o: ratio(o.triggered_before - o.triggered_after, o.triggered_before),
                f"{reduction:.0%}",
            ),
            f">= {GOAL_REDUCTION:.0%}",
            verdict(reduction >= GOAL_REDUCTION),
        ],
        [
            *counts(
                "added 3-grams copied from training queries",
                lambda o: f"{o.copied}/{o.added}",
                f"{copied:.0%}",
            ),
            f"<= {GOAL_COPIED:.0%}",
            verdict(copied <= GOAL_COPIED),
        ],
        [
            *counts(
                "sentences cut mid-way / removals", lambda o: f"{o.cuts}/{o.removals}", str(cuts)
            ),
            f"= {GOAL_CUTS}",
            verdict(cuts == GOAL_CUTS),
        ],
        [*figures("copying ceiling: held-out F1", lambda o: o.ceiling, ".3f"), "", ""],
        [*figures("kept experiments", lambda o: o.kept, ".1f"), "", ""],
        [*figures("run time (s)", lambda o: o.seconds, ".0f"), "", ""],
    ]
    header = ["", *(f"seed {seed}" for seed in seeds), "mean", "goal", ""]
    lines = ["| " + " | ".join(row) + " |" for row in (header, ["---"] * len(header), *rows)]
    note = (
        f"{experiments} experiments per seed, holdout {holdout:g}; embedding router, phrases agent"
    )
    return "\n".join(lines) + "\n\n" + note


def shown(value: float | None, form: str) -> str:
    return "n/a" if value is None else format(value, form)


def ratio(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "n/a"


def verdict(passed: bool) -> str:
    return "pass" if passed else "FAIL"


if __name__ == "__main__":
    main()
