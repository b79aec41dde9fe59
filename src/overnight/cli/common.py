"""What the commands share: the directory and layer arguments, and the two consoles.

The consoles are made on first use, so that ``overnight --help`` never imports rich."""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.console import Console

DIRECTORY = click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default="."
)
RUN = click.option(
    "--tag", "--run", "tag", metavar="TAG", help="Which run (default: the latest)."
)  # every command names a run the same way; --run is the older spelling
LAYER = click.option(
    "--layer", metavar="NAME", help="Which layer of a config with `layers` (e.g. activation)."
)


PIPED_WIDTH = 200  # a table piped into a file or a pager keeps every column


@cache
def console() -> Console:
    from rich.console import Console

    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(highlight=False, width=PIPED_WIDTH if piped else None)


@cache
def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def say_dim(text: str) -> None:
    """A progress line on stderr, printed as it is (square brackets included)."""
    err_console().print(text, style="dim", markup=False)
