#!/usr/bin/env python
"""The command line of `translator`: parses options, calls the package, prints.

No model code lives here. A `TranslatorError` (bad input a user can fix) or a
usage error becomes one line on stderr and exit status 2; `--debug` shows the
traceback and TensorFlow's own logging instead.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import click

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def corpus_options(function):
    """The options that say how to read a corpus file."""
    options = [
        click.option("--reverse", is_flag=True, help="Swap the two columns: the second becomes the source (Spanish->English from an Anki file)."),
        click.option("--source-column", help="Name of the source column, for a file with a header."),
        click.option("--target-column", help="Name of the target column, for a file with a header."),
        click.option("--skip-bad-lines", is_flag=True, help="Skip malformed lines and count them, instead of stopping at the first."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def corpus_format(reverse, source_column, target_column, skip_bad_lines):
    from translator.corpus import CorpusFormat

    return CorpusFormat(reverse=reverse, source_column=source_column, target_column=target_column, skip_bad_lines=skip_bad_lines)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks and TensorFlow's own logging.")
@click.pass_context
def cli(context, debug):
    """Train, use and compare small sequence-to-sequence translation models on a CPU."""
    context.obj = {"debug": debug}


def load_tensorflow():
    """Import TensorFlow, quietly unless --debug; commands that need it call this first."""
    if not click.get_current_context().find_root().obj["debug"]:
        from translator.quiet import import_tensorflow_quietly

        import_tensorflow_quietly()


@cli.group()
def data():
    """Inspect, import and download parallel corpora."""


@data.command("check")
@click.argument("corpus", type=click.Path(path_type=Path))
@click.option("--against", multiple=True, type=click.Path(path_type=Path), help="Another corpus file (e.g. the test split) to look for shared sentences in; repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@corpus_options
def data_check(corpus, against, as_json, reverse, source_column, target_column, skip_bad_lines):
    """Report on CORPUS before training: sizes, lengths, outliers, duplicates, bad lines, overlap."""
    from translator.corpus import read_corpus
    from translator.datacheck import check_corpus, format_report

    fmt = corpus_format(reverse, source_column, target_column, skip_bad_lines=True)
    report = check_corpus(read_corpus(corpus, fmt), [read_corpus(other, fmt) for other in against])
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else format_report(report))


@data.command("import")
@click.argument("corpus", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder for train.tsv, dev.tsv and test.tsv.")
@click.option("--seed", default=1, show_default=True, help="Seed of the split; the same seed gives the same split.")
@click.option("--dev-size", default=0.01, show_default=True, help="Dev split: a fraction of the pairs below 1, a pair count from 1.")
@click.option("--test-size", default=0.02, show_default=True, help="Test split: a fraction of the pairs below 1, a pair count from 1.")
@click.option("--force", is_flag=True, help="Overwrite splits already in --out.")
@corpus_options
def data_import(corpus, out_dir, seed, dev_size, test_size, force, **corpus_flags):
    """Split CORPUS (a file or an Anki .zip) into train/dev/test TSV files sharing no sentence.

    Pairs that share a source or a target sentence stay in the same split.
    The files hold `source<TAB>target` lines, in the direction read.
    """
    from translator.corpus import read_corpus, split_corpus, write_pairs
    from translator.errors import OptionError

    paths = {name: out_dir / f"{name}.tsv" for name in ("train", "dev", "test")}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not force:
        raise OptionError(f"{', '.join(existing)} already exist; use --force to overwrite or choose another --out")
    loaded = read_corpus(corpus, corpus_format(**corpus_flags))
    splits = split_corpus(loaded.pairs, dev_size=dev_size, test_size=test_size, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, pairs in splits.items():
        write_pairs(pairs, paths[name])
    click.echo(loaded.summary())
    for name, pairs in splits.items():
        click.echo(f"{paths[name]}: {len(pairs):,} pairs")


@data.command("download")
@click.argument("name")
@click.option("--out", "out_dir", default="data/corpora", show_default=True, type=click.Path(path_type=Path), help="Folder to save the archive in.")
def data_download(name, out_dir):
    """Download public corpus NAME (e.g. tutorial-spa-eng, anki-fra-eng), then `data import` it."""
    from translator.download import download_corpus

    path = download_corpus(name, out_dir)
    click.echo(f"saved {path}; next: python cli.py data import {path} --out DIR")


def not_landed(name: str, issue: str):
    """A command whose issue has not landed yet: it says so instead of pretending."""

    @cli.command(
        name,
        help=f"(not available yet: {issue})",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )
    def placeholder():
        from translator.errors import TranslatorError

        raise TranslatorError(f"'{name}' is not available yet: it comes with {issue}")

    return placeholder


not_landed("train", "the model and training issue (#3)")
not_landed("translate", "the inference issue (#4)")
not_landed("evaluate", "the evaluation issue (#5)")
not_landed("compare", "the evaluation issue (#5)")
not_landed("export", "the inference issue (#4)")


def main(argv=None) -> int:
    """Run the CLI; map user errors to one line and exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        from translator.errors import TranslatorError

        cli.main(args=argv, prog_name="cli.py", standalone_mode=False)
        return 0
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except click.UsageError as error:
        if debug:
            traceback.print_exc()
        command = error.ctx.command_path if error.ctx else "cli.py"
        click.echo(f"error: {error.format_message()} (try: python {command} --help)", err=True)
        return EXIT_BAD_INPUT
    except TranslatorError as error:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {error}", err=True)
        return EXIT_BAD_INPUT


def entry_point():
    """The `translator` command installed by `pip install .`."""
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
