"""The ``overnight`` command: a thin layer over ``overnight.api``.

This is the one place that turns errors into messages and exit codes: 0 done, 1 the run failed,
2 bad usage or config, 130 interrupted outside a run. Each command imports what it needs when
it runs, so that ``--help`` and the commands that only read the ledger start fast.
"""

from __future__ import annotations

import sys

import click

from overnight.cli import judging, reading, running
from overnight.cli.common import err_console
from overnight.errors import OvernightError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="overnight")
def cli() -> None:
    """Autonomous keep-or-revert improvement loops over a git repository."""


for command in (
    running.demo,
    running.init,
    running.run,
    running.eval_,
    reading.log,
    reading.status,
    judging.prune,
    reading.compare,
    judging.review,
    reading.report,
    reading.serve,
):
    cli.add_command(command)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except OvernightError as exc:
        from rich.text import Text

        err_console().print(Text.assemble(("error:", "red"), f" {exc}"), soft_wrap=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err_console().print("interrupted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except KeyboardInterrupt:
        err_console().print("interrupted")
        sys.exit(130)
