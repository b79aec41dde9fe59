"""Seals on ledger rows: a keyed HMAC-SHA256 over a row's values, so that a row the harness did
not write (a forged ``keep``, an edited baseline metric, a changed commit or measurement) shows.

The code under test runs as the same user as the harness and can open the ledger with sqlite3,
so a plain checksum would prove nothing: it could recompute it. The key therefore lives outside
the repository, in ``$XDG_CONFIG_HOME/overnight/ledger.key`` (``~/.config/overnight/ledger.key``
by default), which the sandbox hides from the code under test: without the key it cannot mint a
valid seal. Without a sandbox this is a tripwire, not a wall: code that goes looking for the key
can read it and forge seals that pass.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path

from overnight.errors import LedgerError

KEY_BYTES = 32


def key_path() -> Path:
    """Where the key lives; only ``XDG_CONFIG_HOME`` moves it (tests point it at a tmp dir)."""
    config = os.environ.get("XDG_CONFIG_HOME", "")
    try:
        # The XDG spec says a relative value is to be ignored.
        base = Path(config) if os.path.isabs(config) else Path.home() / ".config"
    except RuntimeError as exc:  # no home directory to be found
        raise LedgerError(f"cannot find where the ledger key lives: {exc}") from None
    return base / "overnight" / "ledger.key"


def load_key() -> bytes:
    """The user's key, created on first use."""
    path = key_path()
    if not path.exists():
        _create(path)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise LedgerError(f"cannot read the ledger key {path}: {exc.strerror or exc}") from None
    if len(key) != KEY_BYTES:
        raise LedgerError(f"the ledger key {path} is damaged: it is not {KEY_BYTES} bytes long")
    return key


def seal(key: bytes, kind: str, values: object) -> str:
    """The seal of one row; ``kind`` keeps a run's seal from passing for an experiment's."""
    message = json.dumps([kind, values], separators=(",", ":"), default=_blob)
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def matches(key: bytes, kind: str, values: object, stored: object) -> bool:
    return isinstance(stored, str) and hmac.compare_digest(seal(key, kind, values), stored)


def _create(path: Path) -> None:
    """Write the key whole under a temporary name, then link it into place: a reader never sees
    half a key, and of two processes creating it at once the first wins and both use its key."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".ledger.key.")  # mode 0600
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(secrets.token_bytes(KEY_BYTES))
                file.flush()
                os.fsync(file.fileno())
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    except OSError as exc:
        raise LedgerError(f"cannot create the ledger key {path}: {exc.strerror or exc}") from None


def _blob(value: object) -> object:
    """A BLOB never comes from the harness, but a forger may store one; it must not crash."""
    if isinstance(value, bytes):
        return {"blob": value.hex()}
    raise TypeError(f"cannot seal a {type(value).__name__}")
