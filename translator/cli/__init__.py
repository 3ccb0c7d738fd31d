"""The command line of `translator`: one module per command group; each command parses its options, calls the
package, and prints.

A `TranslatorError` (bad input a user can fix) or a usage error becomes one line on stderr and exit status 2;
`--debug` shows the traceback and TensorFlow's own logging instead.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click

from translator.cli.data import data
from translator.cli.inspect import inspect_group
from translator.cli.model_folder import carry_graph, export, package, shrink
from translator.cli.serve import serve
from translator.cli.train import compare, train
from translator.cli.translate import evaluate, translate

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks and TensorFlow's own logging.")
@click.pass_context
def cli(context, debug):
    """Train, use and compare small sequence-to-sequence translation models on a CPU."""
    context.obj = {"debug": debug}


for command in (data, train, compare, translate, evaluate, inspect_group, shrink, package, carry_graph, export, serve):
    cli.add_command(command)


def main(argv=None) -> int:
    """Run the CLI; map user errors to one line and exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        from translator.errors import TrainingInterrupted, TranslatorError

        status = cli.main(args=argv, prog_name=program_name(), standalone_mode=False)
        return status if isinstance(status, int) else 0  # click returns an Exit's code instead of raising it
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except TrainingInterrupted as interrupted:
        from translator.cli.options import as_flags

        click.echo(as_flags(str(interrupted)).replace("translator train", f"{program_name()} train"), err=True)
        return EXIT_INTERRUPTED
    except click.UsageError as error:
        if debug:
            traceback.print_exc()
        command = error.ctx.command_path if error.ctx else program_name()
        click.echo(f"error: {error.format_message()} (try: {command} --help)", err=True)
        return EXIT_BAD_INPUT
    except TranslatorError as error:
        if debug:
            traceback.print_exc()
        from translator.cli.options import as_flags

        click.echo(f"error: {as_flags(str(error))}", err=True)
        return EXIT_BAD_INPUT
    except OSError as error:  # a path the checks did not foresee: permissions, a full disk, a vanished file
        if debug:
            traceback.print_exc()
        where = f"{error.filename}: " if error.filename else ""
        click.echo(f"error: {where}{error.strerror or error}", err=True)
        return EXIT_BAD_INPUT


def program_name() -> str:
    """How the user called the command, for usage lines and hints: `python cli.py` from a clone, else `translator`."""
    return "python cli.py" if Path(sys.argv[0]).name == "cli.py" else "translator"


def entry_point():
    """The `translator` command installed by `pip install .`."""
    sys.exit(main())

