"""`data`: check, import, download a corpus; learn its names and numbers into a model folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

from translator.cli.common import model_dir_option
from translator.cli.options import existing_file, output_folder

EXIT_PROBLEMS_FOUND = 1  # data check: the corpus was read and has problems


def corpus_options(function):
    """The options that say how to read a corpus file."""
    from translator.config import CorpusFormat
    from translator.cli.options import options_for

    return options_for(CorpusFormat)(function)


@click.group()
def data():
    """Inspect, import and download parallel corpora."""


@data.command("check")
@click.argument("corpus", type=click.Path(path_type=Path))
@click.option("--against", multiple=True, type=click.Path(path_type=Path), help="Another corpus file (e.g. the test split) to look for shared sentences in; repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@corpus_options
def data_check(corpus, against, as_json, **corpus_flags):
    """Report on CORPUS before training: sizes, lengths, outliers, duplicates, bad lines, overlap.

    Exit status: 0 for a clean corpus, 1 when it has bad lines or shares sentences with an --against file
    (as linters do, for scripts), 2 when it cannot be read at all.
    """
    from translator.config import CorpusFormat
    from translator.data.corpus import read_corpus
    from translator.data.check import check_corpus, format_report, found_problems

    fmt = CorpusFormat(**(corpus_flags | {"skip_bad_lines": True}))
    loaded = read_corpus(corpus, fmt)
    report = check_corpus(loaded, [read_corpus(other, fmt) for other in against]) | direction(loaded.pairs)
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else
               format_report(report) + f"\ndirection: {report['direction']}, e.g. {report['example']}")
    if found_problems(report):
        raise click.exceptions.Exit(EXIT_PROBLEMS_FOUND)


def direction(pairs) -> dict:
    """The languages identified on each side, and one pair as an example."""
    from translator.data.languages import language_name, pair_languages

    source, target = pair_languages(pairs)
    example = pairs.iloc[len(pairs) // 2]
    return {"source_language": source, "target_language": target,
            "direction": f"{language_name(source)} -> {language_name(target)}",
            "example": f"\"{example['source']}\" -> \"{example['target']}\""}


@data.command("import")
@click.argument("corpus", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), callback=output_folder, help="Folder for train.tsv, dev.tsv and test.tsv.")
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
    from translator.config import CorpusFormat
    from translator.data.corpus import read_corpus, split_corpus, write_pairs
    from translator.errors import OptionError

    paths = {name: out_dir / f"{name}.tsv" for name in ("train", "dev", "test")}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not force:
        raise OptionError(f"{', '.join(existing)} already exist; use --force to overwrite or choose another --out")
    loaded = read_corpus(corpus, CorpusFormat(**corpus_flags))
    splits = split_corpus(loaded.pairs, dev_size=dev_size, test_size=test_size, seed=seed)
    empty = [name for name, size in (("dev", dev_size), ("test", test_size)) if size and splits[name].empty]
    if empty or len(splits["train"]) < 2:
        raise OptionError(f"{loaded.name}: its {len(loaded.pairs):,} pairs cannot give a {' and a '.join(empty or ['train'])}"
                          f" split sharing no sentence with the others (--dev-size {dev_size:g}, --test-size "
                          f"{test_size:g}); give a bigger corpus, or larger sizes as pair counts")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, pairs in splits.items():
        write_pairs(pairs, paths[name])
    click.echo(loaded.summary())
    click.echo(f"direction: {direction(loaded.pairs)['direction']}")
    for name, pairs in splits.items():
        click.echo(f"{paths[name]}: {len(pairs):,} pairs")


@data.command("names")
@click.argument("corpus", type=click.Path(path_type=Path), callback=existing_file)
@model_dir_option(required=True)
@click.option("--force", is_flag=True, help="Replace the names.json and numbers.json the folder already has.")
def data_names(corpus, model_dir, force):
    """Learn the names and numbers of CORPUS (the model's training corpus) for surrogates into the model folder.

    `train` writes names.json and numbers.json itself; this gives a folder trained before them the one it lacks
    (both with --force). CORPUS is read in the model's direction.
    """
    from translator.data.corpus import read_corpus
    from translator.errors import OptionError
    from translator.model.folder import NAMES, NUMBERS, RunDir
    from translator.entities.numbers import NumberSurrogates
    from translator.entities.names import NameSurrogates

    run_dir = RunDir(model_dir)
    missing = [name for name in (NAMES, NUMBERS) if force or not (run_dir / name).exists()]
    if not missing:
        raise OptionError(f"{run_dir / NAMES} and {NUMBERS} already exist; use --force to replace them")
    pairs = read_corpus(corpus, run_dir.load_config().data).pairs
    if NUMBERS in missing:
        numbers = NumberSurrogates.learn(pairs)
        run_dir.save_number_surrogates(numbers)
        put_back = (f"with '{numbers.target_thousands}' between thousands" if numbers.target_thousands
                    else "as the source spells them (too few grouped numbers in the targets to learn from)")
        click.echo(f"{run_dir / NUMBERS}: numbers written with separators are translated as "
                   f"{', '.join(numbers.surrogates) or '(none: no number is held by both sides often enough)'}, "
                   f"put back {put_back}")
    if NAMES in missing:
        surrogates = NameSurrogates.learn(pairs)
        run_dir.save_name_surrogates(surrogates)
        click.echo(f"{run_dir / NAMES}: {len(surrogates.names):,} names; rare ones are translated as "
                   f"{', '.join(surrogates.surrogates) or '(none: no name is held by both sides)'}")


@data.command("download")
@click.argument("name")
@click.option("--out", "out_dir", default="data/corpora", show_default=True, type=click.Path(path_type=Path), help="Folder to save the archive in.")
def data_download(name, out_dir):
    """Download public corpus NAME (e.g. tutorial-spa-eng, anki-fra-eng), then `data import` it."""
    from translator.data.download import download_corpus

    path = download_corpus(name, out_dir)
    click.echo(f"saved {path}; next: translator data import {path} --out DIR")
