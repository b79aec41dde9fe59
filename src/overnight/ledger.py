"""The ledger: every run and every experiment, in SQLite, written before the tree moves on.

WAL mode lets a reader (``overnight status``, a dashboard) look while a run writes. Each
experiment is one row: inserted as ``running`` when it starts, so that a killed harness leaves a
trace that ``--resume`` can find, and completed in one transaction when it ends.

Every run and experiment row the harness writes carries a seal (see ``seal.py``) over its values,
recomputed from what the row holds right after each write, so ``forged`` can tell the rows
overnight wrote from rows the code under test inserted or edited behind its back.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from overnight.errors import LedgerError
from overnight.records import CaseOutput, Check, Experiment, Review, Status, SuiteResult, Usage
from overnight.seal import key_path, load_key, matches, seal

_PER_EXPERIMENT = (
    "experiments",
    "usage",
    "outputs",
    "checks",
    "held_out_outputs",
    "held_out_checks",
    "measurements",
)

# Visible and held-out matrices in tables of the same shape; the held-out ones are named apart.
_SUITE_TABLES = """
CREATE TABLE IF NOT EXISTS {prefix}outputs (
    run_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    case_id TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    output TEXT,
    error TEXT,
    seconds REAL NOT NULL,
    cached INTEGER NOT NULL,
    PRIMARY KEY (run_id, number, case_id, repeat)
);
CREATE TABLE IF NOT EXISTS {prefix}checks (
    run_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    position INTEGER NOT NULL,
    case_id TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    assertion TEXT NOT NULL,
    passed INTEGER NOT NULL,
    reason TEXT NOT NULL,
    deterministic INTEGER NOT NULL,
    PRIMARY KEY (run_id, number, position)
);
"""

_USAGE_TABLE = """CREATE TABLE IF NOT EXISTS usage (
    run_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    model TEXT NOT NULL,
    calls INTEGER NOT NULL,
    tokens_in INTEGER,  -- NULL: unknown (a coding-agent CLI that reports nothing)
    tokens_out INTEGER,
    cost_usd REAL  -- NULL: unknown, or a model without a price
)"""
_USAGE_INDEX = "CREATE INDEX IF NOT EXISTS usage_by_experiment ON usage (run_id, number)"

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    tag TEXT NOT NULL UNIQUE,
    branch TEXT NOT NULL,
    name TEXT NOT NULL,
    metric TEXT NOT NULL,
    direction TEXT NOT NULL,
    base_commit TEXT NOT NULL,
    config TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    stop_reason TEXT,
    layer TEXT,  -- the config layer the run improves; NULL without layers
    seal TEXT  -- see seal.py; NULL or wrong: overnight did not write the row as it stands
);
CREATE TABLE IF NOT EXISTS experiments (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    number INTEGER NOT NULL,
    parent_commit TEXT NOT NULL,
    commit_sha TEXT,
    status TEXT NOT NULL,
    metric REAL,
    secondary TEXT NOT NULL DEFAULT '{}',
    description TEXT NOT NULL DEFAULT '',
    diff TEXT NOT NULL DEFAULT '',
    changed_files TEXT NOT NULL DEFAULT '[]',
    reason TEXT NOT NULL DEFAULT '',
    log_path TEXT,
    started_at REAL NOT NULL,
    duration_s REAL NOT NULL DEFAULT 0,
    agent_s REAL NOT NULL DEFAULT 0,
    eval_s REAL NOT NULL DEFAULT 0,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    agent_meta TEXT NOT NULL DEFAULT '{}',
    recovery TEXT NOT NULL DEFAULT '{}',
    worker INTEGER NOT NULL DEFAULT 0,  -- the lane that ran it; shown per worker, not sealed
    seal TEXT,  -- over the row, its measurements and usage, and which run it belongs to
    UNIQUE (run_id, number)
);
"""
    + _USAGE_TABLE
    + ";\n"
    + _USAGE_INDEX
    + """;
CREATE TABLE IF NOT EXISTS measurements (
    run_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    tree TEXT NOT NULL,  -- 'candidate'; 'incumbent': the best tree measured again; 'held-out'

    attempt INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run_id, number, tree, attempt)
);
CREATE TABLE IF NOT EXISTS prunes (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    number INTEGER NOT NULL,  -- the kept experiment taken out
    description TEXT NOT NULL,
    metric_without REAL,  -- the mean metric of the tree without it; NULL if not measured
    worth REAL,  -- how much worse the tree is without it (positive: the change helps)
    verdict TEXT NOT NULL,  -- 'dropped', 'kept', 'entangled' or 'crash'
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    number INTEGER NOT NULL,  -- the experiment reviewed
    case_id TEXT,  -- the output's case; NULL for a verdict on a kept experiment
    verdict TEXT NOT NULL,  -- 'up' or 'down' on an output, 'accept' or 'reject' on a keep
    note TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL,
    applied INTEGER NOT NULL DEFAULT 0,  -- a rejection carried out by `review --apply`
    applied_at REAL,
    revert_commit TEXT,  -- the commit that took the rejected change out
    metric_after REAL  -- the branch tip measured once after it
);
CREATE INDEX IF NOT EXISTS reviews_by_experiment ON reviews (run_id, number);
"""
)

# Made after an older ledger has gained the columns they cover.
_INDEXES = """
CREATE INDEX IF NOT EXISTS experiments_by_status ON experiments (run_id, status);
-- what `overnight status` sums up, read from the index alone
CREATE INDEX IF NOT EXISTS experiments_summed
    ON experiments (run_id, worker, status, started_at, duration_s);
"""

_COLUMNS = (
    "run_id, number, parent_commit, commit_sha, status, metric, secondary, description, diff, "
    "changed_files, reason, log_path, started_at, duration_s, agent_s, eval_s, tokens_in, "
    "tokens_out, cost_usd, agent_meta, worker"
)

# The agents' notes reduced to what the harness reads from them (see Ledger.experiments).
_NOTES_READ = (
    "CASE WHEN json_extract(agent_meta, '$.replay_of') IS NULL THEN '{}'"
    " ELSE json_object('replay_of', json_extract(agent_meta, '$.replay_of')) END"
)

# What the seals cover. Changing either list breaks every seal already written: the upgrade
# that changes it must seal the rows again.
_RUN_SEALED = (
    "id, tag, branch, name, metric, direction, base_commit, config, started_at, ended_at,"
    " stop_reason, layer"
)
_EXPERIMENT_SEALED = (
    "run_id, number, parent_commit, commit_sha, status, metric, secondary, description, diff,"
    " changed_files, reason, log_path, started_at, duration_s, agent_s, eval_s, tokens_in,"
    " tokens_out, cost_usd, agent_meta, recovery"
)

# Columns added after the first ledgers were written, and how an older ledger gains each.
_ADDED_COLUMNS = {
    ("runs", "layer"): "TEXT",
    ("runs", "seal"): "TEXT",
    ("experiments", "seal"): "TEXT",
    ("experiments", "worker"): "INTEGER NOT NULL DEFAULT 0",
}


@dataclass(frozen=True)
class RunRecord:
    id: int
    tag: str
    branch: str
    name: str
    metric: str
    direction: str
    base_commit: str
    config: dict[str, Any]
    started_at: float
    ended_at: float | None
    stop_reason: str | None
    layer: str | None = None


@dataclass(frozen=True)
class Ablation:
    """One kept change taken out of the best state by ``overnight prune``, and what that did."""

    number: int
    description: str
    metric_without: float | None
    worth: float | None
    verdict: str
    at: float


@dataclass(frozen=True)
class Revert:
    """A rejected keep that ``overnight review --apply`` took out of the run branch."""

    number: int
    commit: str  # the revert commit: the branch tip right after it
    metric: float | None  # that tip, measured once; None if it was not measured
    at: float


@dataclass(frozen=True)
class Unfinished:
    """A ``running`` row: what a resume needs to undo and record an interrupted experiment, and
    which worker runs it."""

    number: int
    parent_commit: str
    started_at: float
    recovery: dict[str, Any]
    worker: int = 0


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._key: bytes | None = None
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(
                _SCHEMA + "".join(_SUITE_TABLES.format(prefix=p) for p in ("", "held_out_"))
            )
            self._upgrade()
            self._db.executescript(_INDEXES)
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"cannot open the ledger {path}: {exc}") from None
        self.path = path

    def close(self) -> None:
        self._db.close()

    def _upgrade(self) -> None:
        """Ledgers written before a column existed gain it, empty, in one transaction so that two
        harnesses opening an old ledger at once do not both alter it. A ledger from before seals
        has its rows sealed as they stand: trusted once, on upgrade."""
        if not _missing_columns(self._db) and not _usage_tokens_required(self._db):
            return
        with self._transaction():
            if _usage_tokens_required(self._db):
                _allow_unknown_tokens(self._db)
            missing = _missing_columns(self._db)
            for table, column in sorted(missing):
                declared = _ADDED_COLUMNS[table, column]
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declared}")
            if {("runs", "seal"), ("experiments", "seal")} <= missing:
                for (run_id,) in self._db.execute("SELECT id FROM runs").fetchall():
                    self._seal_run(run_id)
                for key in self._db.execute("SELECT run_id, number FROM experiments").fetchall():
                    self._seal_experiment(*key)

    # -- runs -----------------------------------------------------------------------------

    def create_run(
        self,
        tag: str,
        branch: str,
        name: str,
        metric: str,
        direction: str,
        base_commit: str,
        config: dict[str, Any],
        layer: str | None = None,
    ) -> RunRecord:
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (tag, branch, name, metric, direction, base_commit, config,"
                " started_at, layer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    tag,
                    branch,
                    name,
                    metric,
                    direction,
                    base_commit,
                    json.dumps(config),
                    time.time(),
                    layer,
                ),
            )
            self._seal_run(cursor.lastrowid)
        run = self.run(cursor.lastrowid)
        assert run is not None
        return run

    def run(
        self, run_id: int | None = None, tag: str | None = None, layer: str | None = None
    ) -> RunRecord | None:
        """A run by id or tag; with neither, the latest (of ``layer``, when given)."""
        if run_id is not None:
            row = self._db.execute(f"{_RUN_SELECT} WHERE id = ?", (run_id,)).fetchone()
        elif tag is not None:
            row = self._db.execute(f"{_RUN_SELECT} WHERE tag = ?", (tag,)).fetchone()
        elif layer is not None:
            row = self._db.execute(
                f"{_RUN_SELECT} WHERE layer = ? ORDER BY id DESC LIMIT 1", (layer,)
            ).fetchone()
        else:
            row = self._db.execute(f"{_RUN_SELECT} ORDER BY id DESC LIMIT 1").fetchone()
        return _run_record(row) if row else None

    def runs(self) -> list[RunRecord]:
        return [_run_record(r) for r in self._db.execute(f"{_RUN_SELECT} ORDER BY id")]

    def end_run(self, run_id: int, reason: str) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE runs SET ended_at = ?, stop_reason = ? WHERE id = ?",
                (time.time(), reason, run_id),
            )
            self._seal_run(run_id)

    def forget_run(self, run_id: int) -> None:
        """Remove a run that never recorded an experiment (its start failed), so that nothing
        of it is left for ``status`` to show or ``--resume`` to find."""
        with self._transaction():
            for table in (*_PER_EXPERIMENT, "prunes", "reviews"):
                self._db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            self._db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def reopen_run(self, run_id: int) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE runs SET ended_at = NULL, stop_reason = NULL WHERE id = ?", (run_id,)
            )
            self._seal_run(run_id)

    # -- experiments ----------------------------------------------------------------------

    def begin(
        self,
        run_id: int,
        number: int,
        parent_commit: str,
        recovery: dict[str, Any],
        worker: int = 0,
    ) -> None:
        """Mark experiment ``number`` as started on ``worker``, with what a resume needs to undo
        it."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO experiments (run_id, number, parent_commit, status, started_at,"
                " recovery, worker) VALUES (?, ?, ?, 'running', ?, ?, ?)",
                (run_id, number, parent_commit, time.time(), json.dumps(recovery), worker),
            )
            self._seal_experiment(run_id, number)

    def record(self, experiment: Experiment) -> None:
        """Write the finished experiment in one transaction, replacing its ``running`` row."""
        values = _row_values(experiment)
        key = (experiment.run_id, experiment.number)
        with self._transaction():
            for table in _PER_EXPERIMENT:
                self._db.execute(f"DELETE FROM {table} WHERE run_id = ? AND number = ?", key)
            self._db.execute(
                f"INSERT INTO experiments ({_COLUMNS}) VALUES ({', '.join('?' * len(values))})",
                values,
            )
            self._db.executemany(
                "INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (*key, u.purpose, u.model, u.calls, u.tokens_in, u.tokens_out, u.cost_usd)
                    for u in experiment.usage
                ],
            )
            if experiment.suite is not None:
                self._write_suite(key, experiment.suite)
            if experiment.held_out is not None:
                self._write_suite(key, experiment.held_out, prefix="held_out_")
            self._db.executemany(
                "INSERT INTO measurements VALUES (?, ?, ?, ?, ?)",
                [
                    (*key, tree, attempt, value)
                    for tree, values in (
                        ("candidate", experiment.measurements),
                        ("incumbent", experiment.remeasured),
                        ("held-out", _present(experiment.held_out_value)),
                        ("held-out-split", experiment.held_out_splits),
                    )
                    for attempt, value in enumerate(values)
                ],
            )
            self._seal_experiment(*key)

    def _write_suite(self, key: tuple[int, int], suite: SuiteResult, prefix: str = "") -> None:
        self._db.executemany(
            f"INSERT INTO {prefix}outputs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (*key, o.case_id, o.repeat, o.output, o.error, o.seconds, o.cached)
                for o in suite.outputs
            ],
        )
        self._db.executemany(
            f"INSERT INTO {prefix}checks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (*key, i, c.case_id, c.repeat, c.assertion, c.passed, c.reason, c.deterministic)
                for i, c in enumerate(suite.checks)
            ],
        )

    def suite_result(self, run_id: int, number: int, held_out: bool = False) -> SuiteResult | None:
        """Every output and the whole matrix of one experiment, or None if it has no suite.
        Held-out cases live in tables of their own, read only when asked for by name, so no
        query for the visible matrix (the brief's) can pick them up."""
        prefix = "held_out_" if held_out else ""
        key = (run_id, number)
        outputs = [
            CaseOutput(case, repeat, output, error, seconds, bool(cached))
            for case, repeat, output, error, seconds, cached in self._db.execute(
                "SELECT case_id, repeat, output, error, seconds, cached"
                f" FROM {prefix}outputs"
                " WHERE run_id = ? AND number = ? ORDER BY rowid",
                key,
            )
        ]
        checks = [
            Check(case, repeat, assertion, bool(passed), reason, bool(deterministic))
            for case, repeat, assertion, passed, reason, deterministic in self._db.execute(
                "SELECT case_id, repeat, assertion, passed, reason, deterministic"
                f" FROM {prefix}checks"
                " WHERE run_id = ? AND number = ? ORDER BY position",
                key,
            )
        ]
        return SuiteResult(outputs, checks) if outputs or checks else None

    def held_out_scores(self, run_id: int) -> dict[int, tuple[int, int]]:
        """Experiment number -> (held-out checks passed, held-out checks), where measured."""
        rows = self._db.execute(
            "SELECT number, SUM(passed), COUNT(*) FROM held_out_checks WHERE run_id = ?"
            " GROUP BY number",
            (run_id,),
        )
        return {number: (passed, total) for number, passed, total in rows}

    def held_out_case_ids(self, run_id: int) -> set[str]:
        """Every case the run held out, as its held-out matrices recorded them."""
        rows = self._db.execute(
            "SELECT DISTINCT case_id FROM held_out_outputs WHERE run_id = ?", (run_id,)
        )
        return {case_id for (case_id,) in rows}

    def forget(self, run_id: int, number: int) -> None:
        """Drop a ``running`` row for an experiment that never started its change."""
        self._db.execute(
            "DELETE FROM experiments WHERE run_id = ? AND number = ? AND status = 'running'",
            (run_id, number),
        )

    def experiments(
        self,
        run_id: int,
        *,
        after: int = -1,
        notes: bool = True,
        diffs: bool = True,
        statuses: Sequence[Status] | None = None,
    ) -> list[Experiment]:
        """The finished experiments of a run numbered above ``after``, oldest first; a
        ``running`` row is left for ``running()``. Without ``notes``, the agents' own notes
        (``agent_meta``) are left out but for ``replay_of``, which the harness reads; without
        ``diffs``, each ``diff`` is empty. They are most of what a long run's rows weigh, and
        a listing needs neither. ``statuses`` keeps only the experiments that ended so."""
        where, key = "run_id = ? AND number > ?", [run_id, after]
        if statuses is not None:
            marks = ", ".join("?" * len(statuses))
            where += (
                f" AND number IN (SELECT number FROM experiments"
                f" WHERE run_id = ? AND status IN ({marks}))"
            )
            key += [run_id, *map(str, statuses)]
        columns = _COLUMNS if notes else _COLUMNS.replace("agent_meta", _NOTES_READ)
        columns = columns if diffs else columns.replace(" diff,", " '',")
        rows = self._db.execute(
            f"SELECT {columns} FROM experiments"
            f" WHERE {where} AND status != 'running' ORDER BY number",
            key,
        )
        experiments = [_experiment(row) for row in rows]
        usage: dict[int, list[Usage]] = {}
        for number, *fields in self._db.execute(
            "SELECT number, purpose, model, tokens_in, tokens_out, cost_usd, calls FROM usage"
            f" WHERE {where} ORDER BY rowid",
            key,
        ):
            usage.setdefault(number, []).append(Usage(*fields))
        measured: dict[tuple[int, str], list[float]] = {}
        for number, tree, value in self._db.execute(
            f"SELECT number, tree, value FROM measurements WHERE {where}"
            " ORDER BY number, tree, attempt",
            key,
        ):
            measured.setdefault((number, tree), []).append(value)
        held_out = self.held_out_scores(run_id)
        for experiment in experiments:
            experiment.usage = usage.get(experiment.number, [])
            experiment.measurements = measured.get((experiment.number, "candidate"), [])
            experiment.remeasured = measured.get((experiment.number, "incumbent"), [])
            experiment.held_out_value = next(
                iter(measured.get((experiment.number, "held-out"), [])), None
            )
            experiment.held_out_splits = measured.get((experiment.number, "held-out-split"), [])
            if experiment.number in held_out:
                experiment.held_out = self.suite_result(run_id, experiment.number, held_out=True)
        return experiments

    # -- a run summed up, without reading its rows ------------------------------------------

    def status_counts(self, run_id: int) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT status, COUNT(*) FROM experiments"
            " WHERE run_id = ? AND status != 'running' GROUP BY status",
            (run_id,),
        )
        return dict(rows.fetchall())

    def spent(self, run_id: int) -> float:
        """Every model call's known cost in the run, in USD."""
        (total,) = self._db.execute(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM usage WHERE run_id = ?", (run_id,)
        ).fetchone()
        return float(total)

    def unpriced(self, run_id: int) -> int:
        """Experiments of the run with a model call of unknown cost."""
        (count,) = self._db.execute(
            "SELECT COUNT(DISTINCT number) FROM usage WHERE run_id = ? AND cost_usd IS NULL",
            (run_id,),
        ).fetchone()
        return int(count)

    def span(self, run_id: int) -> tuple[float, float]:
        """The first finished experiment's start and the last one's end (0, 0 without any)."""
        start, end = self._db.execute(
            "SELECT MIN(started_at), MAX(started_at + duration_s) FROM experiments"
            " WHERE run_id = ? AND status != 'running'",
            (run_id,),
        ).fetchone()
        return (start or 0.0, end or 0.0)

    def per_worker(self, run_id: int) -> list[tuple[int, int, int, int, int, float]]:
        """For each worker: (worker, experiments, kept, stale, conflicts, busy seconds), the
        baseline counted in the busy seconds only; from an index, without reading the rows."""
        return self._db.execute(
            "SELECT worker, SUM(status != 'baseline'), SUM(status = 'keep'),"
            " SUM(status = 'stale'), SUM(status = 'conflict'), SUM(duration_s)"
            " FROM experiments WHERE run_id = ? AND status != 'running'"
            " GROUP BY worker ORDER BY worker",
            (run_id,),
        ).fetchall()

    def replays(self, run_id: int) -> dict[int, int]:
        """How many stale winners each worker measured again on the best. It reads every row's
        notes, so it is asked only of a run with several workers."""
        rows = self._db.execute(
            "SELECT worker, COUNT(*) FROM experiments WHERE run_id = ? AND status != 'running'"
            " AND instr(agent_meta, '\"replay_of\"') > 0"
            " AND json_extract(agent_meta, '$.replay_of') IS NOT NULL GROUP BY worker",
            (run_id,),
        )
        return dict(rows.fetchall())

    def kept_replays(self, run_id: int) -> int:
        """Stale winners that, measured again on the best, were kept there."""
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM experiments WHERE run_id = ? AND status = 'keep'"
            " AND json_extract(agent_meta, '$.replay_of') IS NOT NULL",
            (run_id,),
        ).fetchone()
        return int(count)

    def notes(self, run_id: int) -> dict[int, str]:
        """Each finished experiment's agent notes as stored: JSON text, for a writer of JSON
        that has no use for decoding them first."""
        rows = self._db.execute(
            "SELECT number, agent_meta FROM experiments WHERE run_id = ? AND status != 'running'",
            (run_id,),
        )
        return dict(rows.fetchall())

    def finished(self, run_id: int) -> tuple[int, int]:
        """How many experiments of the run have finished, and the last one's number (-1: none)."""
        count, last = self._db.execute(
            "SELECT COUNT(*), MAX(number) FROM experiments"
            " WHERE run_id = ? AND status != 'running'",
            (run_id,),
        ).fetchone()
        return count, -1 if last is None else last

    def unfinished(self, run_id: int) -> list[Unfinished]:
        """Every experiment a killed harness left half done (one per worker in flight)."""
        rows = self._db.execute(
            f"{_UNFINISHED_SELECT} WHERE run_id = ? AND status = 'running' ORDER BY number",
            (run_id,),
        ).fetchall()
        return [_unfinished(row) for row in rows]

    def running(self, run_id: int) -> Unfinished | None:
        """The experiment a killed harness left half done, if any."""
        row = self._db.execute(
            f"{_UNFINISHED_SELECT} WHERE run_id = ? AND status = 'running'"
            " ORDER BY number DESC LIMIT 1",
            (run_id,),
        ).fetchone()
        return _unfinished(row) if row else None

    # -- prunes ---------------------------------------------------------------------------

    def record_ablation(self, run_id: int, ablation: Ablation) -> None:
        self._db.execute(
            "INSERT INTO prunes VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                ablation.number,
                ablation.description,
                ablation.metric_without,
                ablation.worth,
                ablation.verdict,
                ablation.at,
            ),
        )

    def ablations(self, run_id: int) -> list[Ablation]:
        """Every change any prune of the run took out, oldest first."""
        rows = self._db.execute(
            "SELECT number, description, metric_without, worth, verdict, at FROM prunes"
            " WHERE run_id = ? ORDER BY rowid",
            (run_id,),
        )
        return [Ablation(*row) for row in rows]

    # -- reviews --------------------------------------------------------------------------

    def add_review(self, review: Review) -> Review:
        """Store a verdict as given (``at`` is set to now when 0); it supersedes, never replaces,
        an earlier verdict on the same item."""
        if not review.at:
            review = replace(review, at=time.time())
        self._db.execute(
            "INSERT INTO reviews (run_id, number, case_id, verdict, note, at, applied)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                review.run_id,
                review.number,
                review.case_id,
                review.verdict,
                review.note,
                review.at,
                review.applied,
            ),
        )
        return review

    def reviews(self, run_id: int | None = None) -> list[Review]:
        """Every verdict of run ``run_id`` (of every run when None), oldest first."""
        where, args = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        rows = self._db.execute(
            "SELECT run_id, number, verdict, note, case_id, at, applied FROM reviews"
            f" {where} ORDER BY at, id",
            args,
        )
        return [Review(*row[:6], applied=bool(row[6])) for row in rows]

    def mark_applied(
        self, run_id: int, number: int, commit: str | None, metric: float | None = None
    ) -> None:
        """Record that experiment ``number``'s current verdict, a rejection, was carried out:
        ``commit`` took the change out (None: it was gone already), and the branch tip then
        measured ``metric``."""
        self._db.execute(
            "UPDATE reviews SET applied = 1, applied_at = ?, revert_commit = ?, metric_after = ?"
            " WHERE verdict = 'reject' AND id = (SELECT id FROM reviews WHERE run_id = ?"
            " AND number = ? AND case_id IS NULL ORDER BY at DESC, id DESC LIMIT 1)",
            (time.time(), commit, metric, run_id, number),
        )

    def reverts(self, run_id: int) -> list[Revert]:
        """The rejected keeps taken out of the run's branch, in the order they were."""
        rows = self._db.execute(
            "SELECT number, revert_commit, metric_after, applied_at FROM reviews"
            " WHERE run_id = ? AND applied = 1 AND revert_commit IS NOT NULL"
            " ORDER BY applied_at, id",
            (run_id,),
        )
        return [Revert(*row) for row in rows]

    # -- seals ----------------------------------------------------------------------------

    def forged(self, run_id: int) -> list[str]:
        """One line per row of the run that overnight did not write as it stands: inserted or
        edited behind its back, or a sealed row moved to another run or number. It reads the
        whole run, so it is for a resume or a check, not for every step."""
        key = self._sealing_key()
        run = self._db.execute(
            f"SELECT {_RUN_SEALED}, seal FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        if run is None:
            return [f"run {run_id} is not in the ledger"]
        name = f"run {run[1]!r}"
        problems = []
        if not matches(key, "run", run[:-1], run[-1]):
            problems.append(f"{name} was not written by overnight (its row was edited or forged)")
        rows = self._db.execute(
            f"SELECT {_EXPERIMENT_SEALED}, seal FROM experiments WHERE run_id = ? ORDER BY number",
            (run_id,),
        ).fetchall()
        for row in rows:
            if not matches(key, "experiment", self._experiment_sealed(row[:-1]), row[-1]):
                problems.append(
                    f"experiment {row[1]!r} of {name} was not written by overnight"
                    " (its row was edited or forged)"
                )
        return problems

    def verify(self, run_id: int) -> None:
        """Raise if any row of the run is not as overnight wrote it, in one line for the CLI."""
        problems = self.forged(run_id)
        if not problems:
            return
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        (rows,) = self._db.execute(
            "SELECT COUNT(*) + 1 FROM experiments WHERE run_id = ?", (run_id,)
        ).fetchone()
        if len(problems) == rows > 1:  # a lost or moved key, more likely than a forger
            more += f"; every row fails, as if sealed with a key other than {key_path()}"
        raise LedgerError(f"{problems[0]}{more}")

    def _sealing_key(self) -> bytes:
        """Loaded on the first seal, so a reader that never writes or checks needs no key."""
        if self._key is None:
            self._key = load_key()
        return self._key

    def _seal_run(self, run_id: int | None) -> None:
        row = self._db.execute(f"SELECT {_RUN_SEALED} FROM runs WHERE id = ?", (run_id,)).fetchone()
        self._db.execute(
            "UPDATE runs SET seal = ? WHERE id = ?", (seal(self._sealing_key(), "run", row), run_id)
        )

    def _seal_experiment(self, run_id: int, number: int) -> None:
        key = (run_id, number)
        row = self._db.execute(
            f"SELECT {_EXPERIMENT_SEALED} FROM experiments WHERE run_id = ? AND number = ?", key
        ).fetchone()
        sealed = seal(self._sealing_key(), "experiment", self._experiment_sealed(row))
        self._db.execute(
            "UPDATE experiments SET seal = ? WHERE run_id = ? AND number = ?", (sealed, *key)
        )

    def _experiment_sealed(self, row: tuple) -> list[Any]:
        """What an experiment's seal covers: its row; its measurements, which the noise-aware
        policy trusts, and its usage; and its run's tag and start, so that a sealed row copied
        from another ledger sealed with the same key does not pass."""
        key = row[:2]
        return [
            row,
            self._db.execute("SELECT tag, started_at FROM runs WHERE id = ?", key[:1]).fetchone(),
            self._db.execute(
                "SELECT tree, attempt, value FROM measurements WHERE run_id = ? AND number = ?"
                " ORDER BY tree, attempt",
                key,
            ).fetchall(),
            self._db.execute(
                "SELECT purpose, model, calls, tokens_in, tokens_out, cost_usd FROM usage"
                " WHERE run_id = ? AND number = ?"
                " ORDER BY purpose, model, calls, tokens_in, tokens_out, cost_usd",
                key,
            ).fetchall(),
        ]

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


_RUN_SELECT = (
    "SELECT id, tag, branch, name, metric, direction, base_commit, config, started_at,"
    " ended_at, stop_reason, layer FROM runs"
)

_UNFINISHED_SELECT = "SELECT number, parent_commit, started_at, recovery, worker FROM experiments"


def _usage_tokens_required(db: sqlite3.Connection) -> bool:
    """A ledger from before coding-agent CLIs were counted: its usage table cannot say
    "unknown" for tokens."""
    return any(row[1] == "tokens_in" and row[3] for row in db.execute("PRAGMA table_info(usage)"))


def _allow_unknown_tokens(db: sqlite3.Connection) -> None:
    """SQLite cannot drop NOT NULL in place: the usage table is copied into a new one."""
    db.execute("ALTER TABLE usage RENAME TO usage_before_unknown_tokens")
    db.execute("DROP INDEX IF EXISTS usage_by_experiment")
    db.execute(_USAGE_TABLE)
    db.execute("INSERT INTO usage SELECT * FROM usage_before_unknown_tokens")
    db.execute("DROP TABLE usage_before_unknown_tokens")
    db.execute(_USAGE_INDEX)


def _missing_columns(db: sqlite3.Connection) -> set[tuple[str, str]]:
    present = {
        (table, row[1])
        for table in ("runs", "experiments")
        for row in db.execute(f"PRAGMA table_info({table})")
    }
    return set(_ADDED_COLUMNS) - present


def _run_record(row: tuple) -> RunRecord:
    (id_, tag, branch, name, metric, direction, base, config, started, ended, reason, layer) = row
    return RunRecord(
        id_,
        tag,
        branch,
        name,
        metric,
        direction,
        base,
        json.loads(config),
        started,
        ended,
        reason,
        layer,
    )


def _unfinished(row: tuple) -> Unfinished:
    number, parent, started, recovery, worker = row
    return Unfinished(number, parent, started, json.loads(recovery), worker)


def _row_values(e: Experiment) -> tuple:
    return (
        e.run_id,
        e.number,
        e.parent_commit,
        e.commit,
        str(e.status),
        e.metric,
        json.dumps(e.secondary),
        e.description,
        e.diff,
        json.dumps(e.changed_files),
        e.reason,
        e.log_path,
        e.started_at,
        e.duration_s,
        e.agent_s,
        e.eval_s,
        e.tokens_in,
        e.tokens_out,
        e.cost_usd,
        json.dumps(e.agent_meta),
        e.worker,
    )


_STATUSES = {status.value: status for status in Status}


@functools.lru_cache(maxsize=256)
def _files(changed: str) -> tuple[str, ...]:
    """The changed files' JSON decoded once: most experiments change the same few files."""
    return tuple(json.loads(changed))


def _experiment(row: tuple) -> Experiment:
    (
        run_id,
        number,
        parent,
        commit,
        status,
        metric,
        secondary,
        description,
        diff,
        changed,
        reason,
        log_path,
        started,
        duration,
        agent_s,
        eval_s,
        tokens_in,
        tokens_out,
        cost,
        meta,
        worker,
    ) = row
    return Experiment(
        run_id=run_id,
        number=number,
        parent_commit=parent,
        status=_STATUSES[status],
        commit=commit,
        metric=metric,
        secondary=json.loads(secondary),
        description=description,
        diff=diff,
        changed_files=list(_files(changed)),
        reason=reason,
        log_path=log_path,
        started_at=started,
        duration_s=duration,
        agent_s=agent_s,
        eval_s=eval_s,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost_usd=cost,
        agent_meta={} if meta == "{}" else json.loads(meta),  # most rows read without notes
        worker=worker,
    )


def _present(value: float | None) -> list[float]:
    return [] if value is None else [value]
