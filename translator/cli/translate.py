"""`translate` and `evaluate`: the model used on sentences, and scored on a test file."""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

import click

from translator.cli.common import load_tensorflow, load_translator, model_dir_option, model_folder, precision_option, search_options
from translator.cli.options import existing_file, new_file, png_file


def input_of(sentences: tuple, input_file: str | None) -> tuple[tuple, str | None]:
    """(sentences, input file) as the user meant them: a lone `-`, or no sentence with text piped in (standard
    input not a terminal), reads standard input as `--input -` does."""
    if input_file is None and (sentences == ("-",) or (not sentences and not sys.stdin.isatty())):
        return (), "-"
    return sentences, input_file


def read_sentences(sentences, input_file, skip_bad_lines):
    """The sentences given as arguments, or one a line from --input FILE ('-' for stdin)."""
    from translator.errors import OptionError
    from translator.data.sentences import read_sentences as read_lines

    if input_file is None:
        if not sentences:
            raise OptionError("give sentences to translate, --input FILE, or text on standard input")
        # an argument typed empty is a mistake (`translate "$TEXT"` with TEXT unset); a file's empty line is
        # kept as an empty translation, so that output line N belongs to input line N
        empty = next((number for number, sentence in enumerate(sentences, 1) if not sentence.strip()), None)
        if empty is not None:
            which = "the sentence" if len(sentences) == 1 else f"sentence {empty} of {len(sentences)}"
            raise OptionError(f"{which} to translate is empty; give some text (or --input FILE, whose empty "
                              "lines stay empty)")
        return list(sentences)
    if sentences:
        raise OptionError("give sentences or --input, not both")
    if input_file != "-" and not skip_bad_lines:
        collections.deque(read_lines(input_file), maxlen=0)  # a line that is not UTF-8, before TensorFlow's import
    lines = read_lines(input_file, skip_bad_lines, warn=lambda message: click.echo(message, err=True))
    first = next(lines, None)  # standard input that holds nothing: the user gave nothing to translate
    if first is None and input_file == "-":
        raise OptionError("standard input held nothing to translate; give sentences, --input FILE, or some text")
    return itertools.chain([] if first is None else [first], lines)


@click.command()
@click.argument("sentences", nargs=-1)
@model_dir_option()
@click.option("--input", "input_file", help="Translate this file, one sentence a line ('-' for stdin, also read when no sentence is given and text is piped in).")
@click.option("--output", "output_file", type=click.Path(path_type=Path), callback=new_file, help="Write the translations to this file instead of standard output.")
@click.option("--skip-bad-lines", is_flag=True, help="A line that is not UTF-8 becomes an empty translation (with a warning) instead of stopping.")
@search_options(n_best=True)
@click.option("--batch-size", default=64, show_default=True, help="Sentences searched together; two batches are searched at a time, and sentences given as arguments that fill less than two are split evenly between them.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line, with scores.")
@click.option("--attention", "with_attention", is_flag=True, help="With --json: add each sentence's attention weights (attention models).")
@click.option("--plot-attention", type=click.Path(path_type=Path), callback=png_file, help="Draw the attention heatmap of the first sentence to this PNG (attention models).")
@precision_option
def translate(sentences, model_dir, input_file, output_file, skip_bad_lines, search_given, batch_size, as_json,
              with_attention, plot_attention, precision_name):
    """Translate SENTENCES (or --input) with the model in --model-dir; outputs keep the input order."""
    from translator.errors import OptionError
    from translator.model.folder import RunDir
    from translator.startup.session import open_translator

    # what can be refused without the model is, before TensorFlow's import (seconds)
    if batch_size < 1:
        raise OptionError("--batch-size must be at least 1")
    run_dir = RunDir(model_folder(model_dir))
    search = run_dir.search_setting(**search_given)
    sentences, input_file = input_of(sentences, input_file)
    sentences = read_sentences(sentences, input_file, skip_bad_lines)
    plain = not (with_attention or plot_attention) and search.n_best == 1  # what a saved graph can do
    translator, done = open_translator(run_dir, search, lambda: load_translator(model_dir, precision_name),
                                       precision_name=precision_name, plain=plain, few_sentences=input_file is None,
                                       quiet=not click.get_current_context().find_root().obj["debug"])
    if (plot_attention or with_attention) and not translator.has_attention:
        raise OptionError(f"--plot-attention/--attention: this model's '{translator.config.model.decoder}' decoder has no "
                          "attention weights to draw; only models trained with --decoder attention have them")
    with output_to(output_file) as out, progress_bar(input_file, output_file) as advance:
        print_translations(translator, sentences, search, batch_size, as_json, with_attention, plot_attention, out,
                           advance)
    done()


@contextlib.contextmanager
def progress_bar(input_file: str | None, output_file: Path | None):
    """advance(sentences done) drawing a bar on the terminal's standard error, for an --input read while the
    translations go to a file or a pipe (on a terminal they would share its lines); else a no-op."""
    if input_file is None or not sys.stderr.isatty() or (output_file is None and sys.stdout.isatty()):
        yield lambda count: None
        return
    from tqdm import tqdm

    from translator.data.corpus import count_lines

    total = None if input_file == "-" else count_lines(input_file)
    with tqdm(total=total, unit=" sentences", file=sys.stderr, leave=False, dynamic_ncols=True) as bar:
        yield bar.update


@contextlib.contextmanager
def output_to(path: Path | None):
    """Standard output, or the file `path`, which replaces one already there only once every line is written."""
    if path is None:
        yield None  # click.echo's default: standard output
        return
    from translator.files import atomic_path

    with atomic_path(path) as partial, partial.open("w", encoding="utf-8") as out:
        yield out
    click.echo(f"translations written to {path}", err=True)


def print_translations(translator, sentences, search, batch_size, as_json, with_attention, plot_attention, out=None,
                       advance=lambda count: None):
    """Each sentence's translation (a JSON record with `as_json`) to `out` as its batch is done (`advance` told
    how many); the first sentence's attention drawn to `plot_attention`."""
    from translator.decoding.streams import batches, in_streams
    from translator.decoding.translation import translation_record

    def translated(numbered_batch):
        number, batch = numbered_batch
        if with_attention or (plot_attention and number == 0):
            return batch, translator.translate_with_attention(batch, search)
        return batch, [(result, None) for result in translator.translate(batch, search)]

    first_alignment, done = None, 0
    for batch, results in in_streams(translated, enumerate(batches(sentences, batch_size))):
        if done == 0 and plot_attention:
            first_alignment = (batch[0], results[0][1])
        for index, (source, (result, alignment)) in enumerate(zip(batch, results)):
            if result.truncated:
                click.echo(f"warning: sentence {done + index + 1} is longer than the model's maximum "
                           f"of {translator.max_length} tokens; only its beginning was translated", err=True)
            record = translation_record(source, result, alignment, with_attention) if as_json else None
            click.echo(json.dumps(record, ensure_ascii=False) if as_json else result.text, file=out)
        done += len(batch)
        advance(len(batch))
    if plot_attention and first_alignment and first_alignment[1]:
        from translator.inspection.plots import plot_attention as draw

        first, (source_tokens, output_tokens, weights) = first_alignment
        draw(source_tokens, output_tokens, weights, plot_attention, title=first)
        click.echo(f"attention heatmap of the first sentence: {plot_attention}", err=True)


def check_direction(test_file: Path, pairs, summary: dict) -> None:
    """Refuse a test file whose source side is in the model's target language (the other way round)."""
    from translator.data.languages import language_name, language_of
    from translator.errors import CorpusError

    source, target = summary.get("source_language"), summary.get("target_language")
    if source is None or target is None or source == target:
        return
    found = language_of(pairs["source"])
    if found == target:
        raise CorpusError(str(test_file), f"its source side reads as {language_name(found)}, but the model translates "
                          f"{language_name(source)} -> {language_name(target)}: the file is the other way round "
                          "(--reverse reads it so)")


@click.command()
@click.argument("test_file", type=click.Path(path_type=Path), callback=existing_file)
@model_dir_option()
@search_options()
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option("--output", type=click.Path(path_type=Path), callback=new_file, help="Write `source<TAB>hypothesis` lines here.")
@click.option("--fidelity", "with_fidelity", is_flag=True, help="Also measure entity fidelity (names and numbers of the source that its reference keeps, kept in the output) and the repetition rate.")
@click.option("--reverse", is_flag=True, help="Read TEST_FILE with its two columns the other way round from the model's training corpus.")
@precision_option
def evaluate(test_file, model_dir, search_given, as_json, output, with_fidelity, reverse, precision_name):
    """Score the model on TEST_FILE by the benchmark protocol: sacrebleu BLEU (lowercase, 13a) and chrF.

    TEST_FILE is read in the direction the model was trained in; each unique
    source sentence is translated once and scored against all its references.
    """
    from translator.data.corpus import read_corpus
    from translator.model.folder import RunDir
    from translator.decoding.streams import share_cores

    run_dir = RunDir(model_folder(model_dir))
    # a bad test file is refused before TensorFlow's import (seconds), read in the model's direction
    test_pairs = None
    if run_dir.holds_model():
        fmt = run_dir.load_config().data
        test_pairs = read_corpus(test_file, replace(fmt, reverse=fmt.reverse != reverse)).pairs
        check_direction(test_file, test_pairs, run_dir.load_summary())
    share_cores()  # each of the two decoding streams its share of the cores, before TensorFlow starts
    load_tensorflow()
    from translator.evaluation.evaluate import evaluate as run_evaluation
    from translator.evaluation.evaluate import format_report

    translator = load_translator(model_dir, precision_name)
    search = translator.search_setting(**search_given)
    report = run_evaluation(translator, test_file, search, output, with_fidelity, test_pairs)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))
