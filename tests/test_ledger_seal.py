"""Seals on ledger rows: the tests play code under test that opens the ledger with sqlite3 behind
the harness's back, and expect every forged or edited row to be reported, in one line each."""

import os
import sqlite3
import stat
import threading

import pytest

from overnight.errors import LedgerError
from overnight.ledger import Ledger
from overnight.records import Experiment, Status, Usage
from overnight.seal import KEY_BYTES, key_path, load_key


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch):
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def path(tmp_path):
    """A ledger with a finished run: a baseline, a keep and a discard, then one still running."""
    path = tmp_path / "project" / ".overnight" / "ledger.db"
    ledger = Ledger(path)
    write_run(ledger)
    ledger.close()
    return path


def write_run(ledger, tag="night1"):
    run = ledger.create_run(tag, f"overnight/{tag}", "digits", "val_loss", "minimize", "a" * 40, {})
    for number, status, metric in ((0, Status.BASELINE, 1.0), (1, Status.KEEP, 0.5)):
        ledger.begin(run.id, number, "b" * 40, {"before": number})
        ledger.record(
            Experiment(
                run.id,
                number,
                "b" * 40,
                status,
                commit=f"{number}" * 40,
                metric=metric,
                measurements=[metric, metric + 0.01],
                remeasured=[1.0] if number else [],
                usage=[Usage("proposal", "m", 10, 5, 0.01), Usage("judge", "m", 3, 1, None)],
            )
        )
    ledger.record(Experiment(run.id, 2, "1" * 40, Status.DISCARD, metric=0.75))
    ledger.end_run(run.id, "budget")
    ledger.reopen_run(run.id)
    ledger.begin(run.id, 3, "1" * 40, {"before": 3})
    return run


def tamper(path, *statements):
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)
    db.close()


def forged(path):
    ledger = Ledger(path)
    try:
        return ledger.forged(1)
    finally:
        ledger.close()


def test_an_untouched_ledger_reports_nothing(path):
    assert forged(path) == []


def test_a_forged_keep_row_is_reported(path):
    tamper(
        path,
        "INSERT INTO experiments (run_id, number, parent_commit, commit_sha, status, metric,"
        " started_at) VALUES (1, 4, 'x', 'deadbeef', 'keep', 0.01, 0)",
    )
    assert forged(path) == [
        "experiment 4 of run 'night1' was not written by overnight (its row was edited or forged)"
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE experiments SET metric = 9.0 WHERE number = 0",  # the baseline made worse
        "UPDATE experiments SET commit_sha = 'deadbeef' WHERE number = 0",
        "UPDATE measurements SET value = 0.001 WHERE number = 0 AND attempt = 1",
        "INSERT INTO measurements VALUES (1, 0, 'candidate', 2, 0.5)",
        "UPDATE usage SET cost_usd = 0 WHERE number = 0 AND purpose = 'proposal'",
        "UPDATE experiments SET description = x'00ff' WHERE number = 0",  # a blob, of all things
        "UPDATE experiments SET seal = NULL WHERE number = 0",
    ],
)
def test_an_edited_row_is_reported(path, statement):
    tamper(path, statement)
    assert forged(path) == [
        "experiment 0 of run 'night1' was not written by overnight (its row was edited or forged)"
    ]


def test_a_seal_copied_onto_another_row_is_reported(path):
    tamper(
        path,
        "UPDATE experiments SET seal = (SELECT seal FROM experiments WHERE number = 1)"
        " WHERE number = 2",
    )
    assert [line.split(" of ")[0] for line in forged(path)] == ["experiment 2"]


def test_a_sealed_row_moved_to_another_number_or_run_is_reported(path):
    tamper(path, "UPDATE experiments SET number = 7 WHERE number = 2")
    assert [line.split(" of ")[0] for line in forged(path)] == ["experiment 7"]

    ledger = Ledger(path)
    second = ledger.create_run("night2", "overnight/night2", "digits", "val_loss", "min", "a", {})
    ledger.close()
    tamper(path, f"UPDATE experiments SET run_id = {second.id} WHERE run_id = 1 AND number = 1")
    ledger = Ledger(path)
    try:
        assert "experiment 1 of run 'night2'" in ledger.forged(second.id)[0]
    finally:
        ledger.close()


def test_a_sealed_row_copied_from_another_ledger_is_reported(path, tmp_path):
    other = tmp_path / "other" / "ledger.db"
    ledger = Ledger(other)
    write_run(ledger)  # the same tag, run id and numbers, sealed with the same key
    ledger.close()
    tamper(
        path,
        f"ATTACH '{other}' AS other",
        "DELETE FROM experiments WHERE number = 2",
        "INSERT INTO experiments SELECT * FROM other.experiments WHERE number = 2",
    )
    assert [line.split(" of ")[0] for line in forged(path)] == ["experiment 2"]


def test_an_edited_run_row_is_reported(path):
    tamper(path, "UPDATE runs SET base_commit = 'deadbeef'")
    assert forged(path) == [
        "run 'night1' was not written by overnight (its row was edited or forged)"
    ]


def test_verify_sums_up_in_one_line(path):
    ledger = Ledger(path)
    try:
        ledger.verify(1)
        tamper(path, "UPDATE experiments SET metric = 0 WHERE number IN (0, 1, 2)")
        with pytest.raises(LedgerError) as raised:
            ledger.verify(1)
    finally:
        ledger.close()
    message = str(raised.value)
    assert message.startswith("experiment 0 of run 'night1' was not written by overnight")
    assert message.endswith("(and 2 more)")
    assert "\n" not in message
    assert raised.value.exit_code == 1


def test_a_ledger_checked_with_another_key_says_so(path, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "elsewhere"))
    ledger = Ledger(path)
    try:
        with pytest.raises(LedgerError, match="every row fails, as if sealed with a key other"):
            ledger.verify(1)
    finally:
        ledger.close()


def test_a_ledger_from_before_seals_is_sealed_on_open(path):
    tamper(path, "ALTER TABLE runs DROP COLUMN seal", "ALTER TABLE experiments DROP COLUMN seal")

    assert forged(path) == []
    with sqlite3.connect(path) as db:
        unsealed = db.execute("SELECT COUNT(*) FROM experiments WHERE seal IS NULL").fetchone()
    db.close()
    assert unsealed == (0,)


def test_a_ledger_stripped_of_one_seal_column_is_not_trusted(path):
    tamper(path, "ALTER TABLE experiments DROP COLUMN seal")
    assert len(forged(path)) == 4


def test_the_key_is_private_and_the_same_for_every_process(config_home):
    keys = []
    start = threading.Barrier(8)

    def first_use():
        start.wait()
        keys.append(load_key())

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert key_path() == config_home / "overnight" / "ledger.key"
    assert len(set(keys)) == 1 and len(keys[0]) == KEY_BYTES
    assert stat.S_IMODE(os.stat(key_path()).st_mode) == 0o600
    assert os.listdir(config_home / "overnight") == ["ledger.key"]


def test_an_unreadable_key_is_a_ledger_error(tmp_path):
    key_path().mkdir(parents=True)  # a directory where the key should be
    ledger = Ledger(tmp_path / "ledger.db")
    try:
        with pytest.raises(LedgerError, match="cannot read the ledger key"):
            ledger.create_run("t", "b", "n", "m", "minimize", "a", {})
        assert ledger.runs() == []  # nothing is written unsealed
    finally:
        ledger.close()


def test_a_damaged_key_is_a_ledger_error():
    key_path().parent.mkdir(parents=True)
    key_path().write_bytes(b"short")
    with pytest.raises(LedgerError, match="is damaged"):
        load_key()
