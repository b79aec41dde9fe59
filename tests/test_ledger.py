"""The SQLite ledger (runs, experiments written before the tree moves on, readable by a second
connection while a run writes) and the results.tsv/JSON exports of what it holds."""

import dataclasses
import json
import sqlite3
import time
from dataclasses import replace

import pytest

from overnight.errors import LedgerError
from overnight.ledger import Ledger
from overnight.records import Experiment, Status, Usage
from overnight.results import ResultsFile, results_json, results_tsv


@pytest.fixture
def ledger(tmp_path):
    opened = Ledger(tmp_path / ".overnight" / "ledger.db")
    yield opened
    opened.close()


def new_run(ledger, tag="night1", **config):
    return ledger.create_run(
        tag=tag,
        branch=f"overnight/{tag}",
        name="digits",
        metric="val_loss",
        direction="minimize",
        base_commit="a" * 40,
        config=config or {"editable": ["train.py"], "budget": {"experiments": 5}},
    )


def full_experiment(run_id, number=1):
    return Experiment(
        run_id=run_id,
        number=number,
        parent_commit="b" * 40,
        status=Status.KEEP,
        commit="c" * 40,
        metric=0.125,
        secondary={"tokens": 1200.0, "seconds": 4.5},
        description="raise LR to 0.02",
        diff="--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-LR = 0.01\n+LR = 0.02\n",
        changed_files=["train.py", "src/model.py"],
        reason="better by 0.01",
        log_path=".overnight/logs/1.log",
        started_at=1_700_000_000.5,
        duration_s=12.5,
        agent_s=2.25,
        eval_s=10.0,
        tokens_in=1500,
        tokens_out=300,
        cost_usd=0.0042,
        agent_meta={"knob": "LR", "values": [0.01, 0.02], "nested": {"ok": True}},
    )


def test_create_run_records_every_field(ledger):
    before = time.time()

    run = new_run(ledger)

    assert run.id >= 1
    assert run.tag == "night1"
    assert run.branch == "overnight/night1"
    assert (run.name, run.metric, run.direction) == ("digits", "val_loss", "minimize")
    assert run.base_commit == "a" * 40
    assert run.config == {"editable": ["train.py"], "budget": {"experiments": 5}}
    assert before <= run.started_at <= time.time()
    assert run.ended_at is None
    assert run.stop_reason is None


def test_run_by_id_tag_and_latest(ledger):
    first = new_run(ledger, "one")
    second = new_run(ledger, "two")

    assert ledger.run(first.id) == first
    assert ledger.run(tag="one") == first
    assert ledger.run(tag="two") == second
    assert ledger.run() == second
    assert ledger.run(tag="three") is None
    assert ledger.run(999) is None
    assert [r.tag for r in ledger.runs()] == ["one", "two"]


def test_empty_ledger_has_no_latest_run(ledger):
    assert ledger.run() is None
    assert ledger.runs() == []


def test_tags_are_unique(ledger):
    new_run(ledger, "same")

    with pytest.raises(sqlite3.IntegrityError):
        new_run(ledger, "same")


def test_end_run_and_reopen_run(ledger):
    run = new_run(ledger)

    ledger.end_run(run.id, "experiment budget spent: 5 of 5")
    ended = ledger.run(run.id)
    assert ended.stop_reason == "experiment budget spent: 5 of 5"
    assert ended.ended_at is not None and ended.ended_at >= run.started_at

    ledger.reopen_run(run.id)
    reopened = ledger.run(run.id)
    assert reopened.ended_at is None
    assert reopened.stop_reason is None


def test_begin_leaves_a_running_row_that_experiments_skip(ledger):
    run = new_run(ledger)
    recovery = {"backup": ".overnight/cache/backup-1", "state": {"paths": ["notes.txt"]}}

    ledger.begin(run.id, 1, "b" * 40, recovery)

    assert ledger.experiments(run.id) == []
    unfinished = ledger.running(run.id)
    assert (unfinished.number, unfinished.parent_commit) == (1, "b" * 40)
    assert unfinished.recovery == recovery
    assert unfinished.started_at <= time.time()


def test_record_replaces_the_running_row(ledger):
    run = new_run(ledger)
    ledger.begin(run.id, 1, "b" * 40, {})

    ledger.record(full_experiment(run.id, 1))

    assert ledger.running(run.id) is None
    assert [e.number for e in ledger.experiments(run.id)] == [1]


def test_experiment_round_trips_every_field(ledger):
    run = new_run(ledger)
    written = full_experiment(run.id)

    ledger.record(written)
    [read] = ledger.experiments(run.id)

    assert read == written
    assert read.status is Status.KEEP
    assert isinstance(read.status, Status)


def test_experiment_with_defaults_round_trips(ledger):
    run = new_run(ledger)
    crashed = Experiment(run_id=run.id, number=2, parent_commit="b" * 40, status=Status.CRASH)

    ledger.record(crashed)

    assert ledger.experiments(run.id) == [crashed]
    assert ledger.experiments(run.id)[0].commit is None
    assert ledger.experiments(run.id)[0].metric is None


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.RUNNING])
def test_every_finished_status_round_trips(ledger, status):
    run = new_run(ledger)

    ledger.record(Experiment(run_id=run.id, number=0, parent_commit="b" * 40, status=status))

    assert ledger.experiments(run.id)[0].status is status


def test_experiments_are_ordered_by_number_and_kept_per_run(ledger):
    run = new_run(ledger, "one")
    other = new_run(ledger, "two")
    for number in (2, 0, 1):
        ledger.record(full_experiment(run.id, number))
    ledger.record(full_experiment(other.id, 0))

    assert [e.number for e in ledger.experiments(run.id)] == [0, 1, 2]
    assert [e.run_id for e in ledger.experiments(other.id)] == [other.id]


def test_recording_the_same_number_again_replaces_it(ledger):
    run = new_run(ledger)
    ledger.record(full_experiment(run.id, 1))
    again = full_experiment(run.id, 1)
    again.status = Status.DISCARD
    again.commit = None

    ledger.record(again)

    assert ledger.experiments(run.id) == [again]


def test_forget_drops_only_a_running_row(ledger):
    run = new_run(ledger)
    ledger.record(full_experiment(run.id, 1))
    ledger.begin(run.id, 2, "b" * 40, {})

    ledger.forget(run.id, 2)
    ledger.forget(run.id, 1)

    assert ledger.running(run.id) is None
    assert [e.number for e in ledger.experiments(run.id)] == [1]


def test_running_returns_the_latest_running_row(ledger):
    run = new_run(ledger)
    other = new_run(ledger, "other")
    ledger.begin(run.id, 3, "p3", {"n": 3})
    ledger.begin(run.id, 4, "p4", {"n": 4})

    assert (ledger.running(run.id).number, ledger.running(run.id).parent_commit) == (4, "p4")
    assert ledger.running(other.id) is None


def test_the_worker_round_trips_from_begin_to_record(ledger):
    run = new_run(ledger)
    ledger.begin(run.id, 1, "b" * 40, {}, worker=2)
    ledger.begin(run.id, 2, "b" * 40, {})

    assert [(u.number, u.worker) for u in ledger.unfinished(run.id)] == [(1, 2), (2, 0)]
    assert ledger.running(run.id).worker == 0

    written = replace(full_experiment(run.id, 1), worker=2)
    ledger.record(written)

    assert ledger.experiments(run.id) == [written]
    assert ledger.forged(run.id) == []


def test_an_older_ledger_gains_the_worker_column(tmp_path):
    path = tmp_path / "ledger.db"
    old = Ledger(path)
    run = new_run(old)
    old.record(full_experiment(run.id, 0))
    old.begin(run.id, 1, "b" * 40, {"k": "v"})
    old.close()
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX experiments_summed")  # as a ledger from before workers was
        db.execute("ALTER TABLE experiments DROP COLUMN worker")
    db.close()

    ledger = Ledger(path)
    try:
        assert ledger.experiments(run.id) == [full_experiment(run.id, 0)]  # worker 0
        assert ledger.unfinished(run.id)[0].worker == 0
        assert ledger.forged(run.id) == []  # the seals still hold
        ledger.record(replace(full_experiment(run.id, 1), worker=1))
        assert [e.worker for e in ledger.experiments(run.id)] == [0, 1]
    finally:
        ledger.close()


def test_an_older_ledger_learns_to_say_unknown_tokens(tmp_path):
    """Usage tables from before coding-agent CLIs were counted required tokens; opened now, the
    table takes unknown ones, keeps its rows, and the seals still hold."""
    path = tmp_path / "ledger.db"
    old = Ledger(path)
    run = new_run(old)
    priced = replace(full_experiment(run.id, 0), usage=[Usage("proposal", "gpt", 10, 2, 0.01)])
    old.record(priced)
    old.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT * FROM usage").fetchall()
        db.execute("DROP TABLE usage")
        db.execute(
            "CREATE TABLE usage (run_id INTEGER NOT NULL, number INTEGER NOT NULL, purpose TEXT"
            " NOT NULL, model TEXT NOT NULL, calls INTEGER NOT NULL, tokens_in INTEGER NOT NULL,"
            " tokens_out INTEGER NOT NULL, cost_usd REAL)"
        )
        db.executemany("INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.close()
    assert rows

    ledger = Ledger(path)
    try:
        assert ledger.experiments(run.id) == [priced]
        assert ledger.forged(run.id) == []
        unknown = Usage("proposal", "claude-code", None, None, None)
        ledger.record(replace(full_experiment(run.id, 1), usage=[unknown]))
        assert ledger.experiments(run.id)[1].usage == [unknown]
        assert ledger.unpriced(run.id) == 1
    finally:
        ledger.close()
    with sqlite3.connect(path) as db:
        columns = {row[1]: row[3] for row in db.execute("PRAGMA table_info(usage)")}
        indexes = [row[1] for row in db.execute("PRAGMA index_list(usage)")]
    db.close()
    assert columns["tokens_in"] == columns["tokens_out"] == 0  # NULL allowed
    assert indexes == ["usage_by_experiment"]


def test_wal_mode_is_on(ledger):
    with sqlite3.connect(ledger.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_second_ledger_on_the_same_file_reads_what_the_first_wrote(ledger):
    run = new_run(ledger)
    ledger.record(full_experiment(run.id, 0))
    ledger.begin(run.id, 1, "b" * 40, {"k": "v"})

    reader = Ledger(ledger.path)
    try:
        assert reader.run() == run
        assert reader.experiments(run.id) == [full_experiment(run.id, 0)]
        assert reader.running(run.id).number == 1

        ledger.record(full_experiment(run.id, 1))
        assert [e.number for e in reader.experiments(run.id)] == [0, 1]
    finally:
        reader.close()


def test_reopening_the_file_keeps_everything(tmp_path):
    path = tmp_path / "ledger.db"
    first = Ledger(path)
    run = new_run(first)
    first.record(full_experiment(run.id))
    first.close()

    second = Ledger(path)
    try:
        assert second.run(tag="night1") == run
        assert second.experiments(run.id) == [full_experiment(run.id)]
    finally:
        second.close()


def test_a_file_that_is_not_a_database_is_a_ledger_error(tmp_path):
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is not sqlite" * 100)

    with pytest.raises(LedgerError, match="cannot open the ledger"):
        Ledger(path)


def test_results_tsv_header_and_rows(ledger):
    run = new_run(ledger)
    rows = [
        Experiment(
            run.id,
            0,
            "p",
            Status.BASELINE,
            commit="1234567abcdef",
            metric=1.0,
            secondary={"tokens": 1200.0},
            description="baseline",
        ),
        Experiment(
            run.id,
            1,
            "p",
            Status.KEEP,
            commit="abcdef0123456",
            metric=0.875,
            secondary={"tokens": 1100.0, "memory_gb": 2.5},
            description="raise LR\tto 0.02\nand warm up",
        ),
        Experiment(run.id, 2, "p", Status.CRASH, description="double the width"),
    ]

    text = results_tsv(run, rows)

    assert text.endswith("\n")
    assert text.splitlines() == [
        "commit\tval_loss\tstatus\tdescription\tmemory_gb\ttokens",
        "1234567\t1.000000\tbaseline\tbaseline\t\t1200",
        "abcdef0\t0.875000\tkeep\traise LR to 0.02 and warm up\t2.5\t1100",
        "\t\tcrash\tdouble the width\t\t",
    ]


def test_results_file_kept_up_to_date_reads_as_the_whole_history(ledger, tmp_path):
    """Rows are appended one by one; a new secondary metric writes the file again."""
    run = new_run(ledger)
    path = tmp_path / "results.tsv"
    history: list[Experiment] = []
    results = ResultsFile(path, run, history)
    for number, secondary in enumerate([{}, {"tokens": 5.0}, {}, {"tokens": 7.0, "gb": 1.5}, {}]):
        history.append(
            Experiment(run.id, number, "p", Status.DISCARD, metric=1.0, secondary=secondary)
        )
        results.add(history[-1], history)

        assert path.read_text() == results_tsv(run, history)


def test_results_tsv_without_secondary_metrics(ledger):
    run = new_run(ledger)
    rows = [
        Experiment(
            run.id, 0, "p", Status.BASELINE, commit="1234567abc", metric=0.5, description="baseline"
        )
    ]

    assert results_tsv(run, rows) == (
        "commit\tval_loss\tstatus\tdescription\n1234567\t0.500000\tbaseline\tbaseline\n"
    )


def test_results_tsv_of_an_empty_history_is_the_header(ledger):
    assert results_tsv(new_run(ledger), []) == "commit\tval_loss\tstatus\tdescription\n"


def test_results_json_round_trips_the_ledger_rows(ledger):
    run = new_run(ledger)
    ledger.record(full_experiment(run.id, 1))

    [line] = results_json(ledger.experiments(run.id)).splitlines()
    data = json.loads(line)

    assert data["status"] == "keep"
    assert data["number"] == 1
    assert data["commit"] == "c" * 40
    assert data["secondary"] == {"tokens": 1200.0, "seconds": 4.5}
    assert data["agent_meta"]["values"] == [0.01, 0.02]


def test_experiments_after_a_number_and_without_the_agents_notes(ledger):
    """What a listing or a live page reads of a long run: only the rows it has not seen, and
    without the agents' notes, except the one note the harness itself reads (replay_of)."""
    run = new_run(ledger)
    for number in (1, 2, 3):
        experiment = full_experiment(run.id, number)
        experiment.measurements = [0.125, 0.1 + number]
        experiment.usage = [Usage("proposal", "m", 100 * number, 10, 0.01, 1)]
        if number == 3:
            experiment.agent_meta = {**experiment.agent_meta, "replay_of": 2}
        ledger.record(experiment)

    newer = ledger.experiments(run.id, after=1)
    assert [e.number for e in newer] == [2, 3]
    assert newer[0].measurements == [0.125, 2.1]
    assert newer[0].usage == [Usage("proposal", "m", 200, 10, 0.01, 1)]

    light = ledger.experiments(run.id, notes=False)
    assert [e.agent_meta for e in light] == [{}, {}, {"replay_of": 2}]
    assert light[2].replay_of == 2
    full = ledger.experiments(run.id)
    assert full[0].agent_meta["values"] == [0.01, 0.02]
    assert [dataclasses.replace(e, agent_meta={}) for e in full[:2]] == light[:2]
    assert ledger.experiments(run.id, after=3) == []
    listed = ledger.experiments(run.id, notes=False, diffs=False)
    assert [e.diff for e in listed] == ["", "", ""] and full[0].diff.startswith("--- a/")
    assert [dataclasses.replace(e, diff="") for e in light] == listed


def test_the_queries_of_a_long_run_use_indexes(ledger):
    run = new_run(ledger)
    plans = {
        "in flight": "SELECT number FROM experiments WHERE run_id = ? AND status = 'running'",
        "newer rows": "SELECT number FROM experiments WHERE run_id = ? AND number > ?",
        "their usage": "SELECT number FROM usage WHERE run_id = ? AND number > ?",
        "their values": "SELECT value FROM measurements WHERE run_id = ? AND number > ?",
    }
    for name, query in plans.items():
        args = (run.id, 0)[: query.count("?")]
        plan = " ".join(row[-1] for row in ledger._db.execute(f"EXPLAIN QUERY PLAN {query}", args))
        assert "USING" in plan and "INDEX" in plan, (name, plan)


def test_json_lines_with_the_notes_as_stored_equal_the_decoded_ones(ledger):
    run = new_run(ledger)
    for number in (1, 2):
        ledger.record(full_experiment(run.id, number))
    light = ledger.experiments(run.id, notes=False)
    spliced = [json.loads(line) for line in results_json(light, ledger.notes(run.id)).splitlines()]
    plain = [json.loads(line) for line in results_json(ledger.experiments(run.id)).splitlines()]
    assert spliced == plain and plain[0]["agent_meta"]["values"] == [0.01, 0.02]
