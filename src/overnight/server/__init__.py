"""``overnight serve``: the live dashboard (the optional ``serve`` extra: FastAPI and uvicorn).

Nothing here imports FastAPI until a dashboard is started, so the rest of overnight works
without the extra, and a missing extra is one clear line rather than a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from overnight.errors import UsageError
from overnight.server.guard import check_bind, new_token


def serve(
    directory: Path | str,
    host: str = "127.0.0.1",
    port: int = 8765,
    allow_remote: bool = False,
    say: Callable[[str], None] = print,
) -> None:
    """Serve the dashboard of the project in ``directory`` until interrupted; ``say`` gets the
    address to open (with the review token in it) and any warning."""
    warning = check_bind(host, allow_remote)
    try:
        import fastapi  # noqa: F401 - only to tell a missing extra apart
        import uvicorn
    except ImportError:
        raise UsageError(
            'the dashboard needs FastAPI and uvicorn: pip install "overnight[serve]"'
        ) from None
    from overnight.server.app import create_app

    root = Path(directory).resolve()
    token = new_token()
    app = create_app(root, token, allow_remote=allow_remote)
    if warning:
        say(warning)
    shown = f"[{host}]" if ":" in host else host
    say(f"overnight dashboard of {root}: http://{shown}:{port}/?token={token}")
    say("Open that address to review; without the token the page is read-only. Ctrl-C stops.")
    uvicorn.run(app, host=host, port=port, log_level="warning")
