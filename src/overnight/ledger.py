"""The ledger: every run and every experiment, in SQLite, written before the tree moves on.

WAL mode lets a reader (``overnight status``, a dashboard) look while a run writes. Each
experiment is one row: inserted as ``running`` when it starts, so that a killed harness leaves a
trace that ``--resume`` can find, and completed in one transaction when it ends.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overnight.errors import LedgerError
from overnight.records import Experiment, Status

_SCHEMA = """
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
    stop_reason TEXT
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
    UNIQUE (run_id, number)
);
"""

_COLUMNS = (
    "run_id, number, parent_commit, commit_sha, status, metric, secondary, description, diff, "
    "changed_files, reason, log_path, started_at, duration_s, agent_s, eval_s, tokens_in, "
    "tokens_out, cost_usd, agent_meta"
)


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


@dataclass(frozen=True)
class Unfinished:
    """A ``running`` row: what a resume needs to undo and record an interrupted experiment."""

    number: int
    parent_commit: str
    started_at: float
    recovery: dict[str, Any]


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"cannot open the ledger {path}: {exc}") from None
        self.path = path

    def close(self) -> None:
        self._db.close()

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
    ) -> RunRecord:
        cursor = self._db.execute(
            "INSERT INTO runs (tag, branch, name, metric, direction, base_commit, config,"
            " started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (tag, branch, name, metric, direction, base_commit, json.dumps(config), time.time()),
        )
        run = self.run(cursor.lastrowid)
        assert run is not None
        return run

    def run(self, run_id: int | None = None, tag: str | None = None) -> RunRecord | None:
        """A run by id or tag; with neither, the latest."""
        if run_id is not None:
            row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        elif tag is not None:
            row = self._db.execute("SELECT * FROM runs WHERE tag = ?", (tag,)).fetchone()
        else:
            row = self._db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return _run_record(row) if row else None

    def runs(self) -> list[RunRecord]:
        return [_run_record(r) for r in self._db.execute("SELECT * FROM runs ORDER BY id")]

    def end_run(self, run_id: int, reason: str) -> None:
        self._db.execute(
            "UPDATE runs SET ended_at = ?, stop_reason = ? WHERE id = ?",
            (time.time(), reason, run_id),
        )

    def reopen_run(self, run_id: int) -> None:
        self._db.execute(
            "UPDATE runs SET ended_at = NULL, stop_reason = NULL WHERE id = ?", (run_id,)
        )

    # -- experiments ----------------------------------------------------------------------

    def begin(self, run_id: int, number: int, parent_commit: str, recovery: dict[str, Any]) -> None:
        """Mark experiment ``number`` as started, with what a resume needs to undo it."""
        self._db.execute(
            "INSERT INTO experiments (run_id, number, parent_commit, status, started_at, recovery)"
            " VALUES (?, ?, ?, 'running', ?, ?)",
            (run_id, number, parent_commit, time.time(), json.dumps(recovery)),
        )

    def record(self, experiment: Experiment) -> None:
        """Write the finished experiment in one transaction, replacing its ``running`` row."""
        values = _row_values(experiment)
        with self._transaction():
            self._db.execute(
                "DELETE FROM experiments WHERE run_id = ? AND number = ?",
                (experiment.run_id, experiment.number),
            )
            self._db.execute(
                f"INSERT INTO experiments ({_COLUMNS}) VALUES ({', '.join('?' * len(values))})",
                values,
            )

    def forget(self, run_id: int, number: int) -> None:
        """Drop a ``running`` row for an experiment that never started its change."""
        self._db.execute(
            "DELETE FROM experiments WHERE run_id = ? AND number = ? AND status = 'running'",
            (run_id, number),
        )

    def experiments(self, run_id: int) -> list[Experiment]:
        """The finished experiments of a run; a ``running`` row is left for ``running()``."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM experiments WHERE run_id = ? AND status != 'running'"
            " ORDER BY number",
            (run_id,),
        )
        return [_experiment(row) for row in rows]

    def running(self, run_id: int) -> Unfinished | None:
        """The experiment a killed harness left half done, if any."""
        row = self._db.execute(
            "SELECT number, parent_commit, started_at, recovery FROM experiments"
            " WHERE run_id = ? AND status = 'running' ORDER BY number DESC LIMIT 1",
            (run_id,),
        ).fetchone()
        return Unfinished(row[0], row[1], row[2], json.loads(row[3])) if row else None

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def _run_record(row: tuple) -> RunRecord:
    (id_, tag, branch, name, metric, direction, base, config, started, ended, reason) = row
    return RunRecord(
        id_, tag, branch, name, metric, direction, base, json.loads(config), started, ended, reason
    )


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
    )


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
    ) = row
    return Experiment(
        run_id=run_id,
        number=number,
        parent_commit=parent,
        status=Status(status),
        commit=commit,
        metric=metric,
        secondary=json.loads(secondary),
        description=description,
        diff=diff,
        changed_files=json.loads(changed),
        reason=reason,
        log_path=log_path,
        started_at=started,
        duration_s=duration,
        agent_s=agent_s,
        eval_s=eval_s,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost_usd=cost,
        agent_meta=json.loads(meta),
    )
