#!/usr/bin/env python
"""The command line of `translator`: parses options, calls the package, prints.

No model code lives here. A `TranslatorError` (bad input a user can fix) or a
usage error becomes one line on stderr and exit status 2; `--debug` shows the
traceback and TensorFlow's own logging instead.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import traceback
from pathlib import Path

import click

from translator.options import absent_path, existing_file, existing_model_folder, new_file, output_folder

EXIT_PROBLEMS_FOUND = 1  # data check: the corpus was read and has problems
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
DEFAULT_MODEL = Path(__file__).resolve().parent / "data" / "models" / "spa-eng"
TRAIN_DEFAULT_MODEL = (
    "python cli.py train ../shared/corpora/spa-eng/train.tsv --reverse --dev ../shared/corpora/spa-eng/dev.tsv "
    "--model-dir data/models/spa-eng"
)


def corpus_options(function):
    """The options that say how to read a corpus file."""
    from translator.config import CorpusFormat
    from translator.options import options_for

    return options_for(CorpusFormat)(function)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks and TensorFlow's own logging.")
@click.pass_context
def cli(context, debug):
    """Train, use and compare small sequence-to-sequence translation models on a CPU."""
    context.obj = {"debug": debug}


def load_tensorflow(runtime_only: bool = False):
    """Import TensorFlow, quietly unless --debug; commands that need it call this first. `runtime_only`: for a
    command that may need no more than a saved graph (tensorflow_runtime.py)."""
    from translator.quiet import import_tensorflow_quietly
    from translator.tensorflow_runtime import import_tensorflow

    if click.get_current_context().find_root().obj["debug"]:
        import_tensorflow(runtime_only)
    else:
        import_tensorflow_quietly(runtime_only)


@cli.group()
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
    from translator.corpus import read_corpus
    from translator.datacheck import check_corpus, format_report, found_problems

    fmt = CorpusFormat(**(corpus_flags | {"skip_bad_lines": True}))
    report = check_corpus(read_corpus(corpus, fmt), [read_corpus(other, fmt) for other in against])
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else format_report(report))
    if found_problems(report):
        raise click.exceptions.Exit(EXIT_PROBLEMS_FOUND)


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
    from translator.corpus import read_corpus, split_corpus, write_pairs
    from translator.errors import OptionError

    paths = {name: out_dir / f"{name}.tsv" for name in ("train", "dev", "test")}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not force:
        raise OptionError(f"{', '.join(existing)} already exist; use --force to overwrite or choose another --out")
    loaded = read_corpus(corpus, CorpusFormat(**corpus_flags))
    splits = split_corpus(loaded.pairs, dev_size=dev_size, test_size=test_size, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, pairs in splits.items():
        write_pairs(pairs, paths[name])
    click.echo(loaded.summary())
    for name, pairs in splits.items():
        click.echo(f"{paths[name]}: {len(pairs):,} pairs")


@data.command("names")
@click.argument("corpus", type=click.Path(path_type=Path), callback=existing_file)
@click.option("--model-dir", required=True, type=click.Path(path_type=Path), callback=existing_model_folder, help="The model folder to write names.json and numbers.json into.")
@click.option("--force", is_flag=True, help="Replace the names.json and numbers.json the folder already has.")
def data_names(corpus, model_dir, force):
    """Learn the names and numbers of CORPUS (the model's training corpus) for surrogates into the model folder.

    `train` writes names.json and numbers.json itself; this gives a folder trained before them the one it lacks
    (both with --force). CORPUS is read in the model's direction.
    """
    from translator.corpus import read_corpus
    from translator.errors import OptionError
    from translator.folder import NAMES, NUMBERS, RunDir
    from translator.number_surrogates import NumberSurrogates
    from translator.surrogates import NameSurrogates

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
    from translator.download import download_corpus

    path = download_corpus(name, out_dir)
    click.echo(f"saved {path}; next: python cli.py data import {path} --out DIR")


def load_option_file(context, _param, path):
    """--config FILE: its values become the defaults, so the command line wins. Keys are spelled as the flags
    (dashes or underscores: tokenizer, max-length) or as the fields."""
    if path is None:
        return None
    from translator.config import read_option_file
    from translator.errors import OptionError

    values = read_option_file(Path(path))
    names = {opt.lstrip("-").replace("-", "_"): p.name for p in context.command.params for opt in p.opts}
    names |= {p.name: p.name for p in context.command.params}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise OptionError(f"{path}: unknown option(s) {', '.join(unknown)}")
    context.default_map = {**(context.default_map or {}), **{names[key]: value for key, value in values.items()}}
    return path


def run_options(exclude=()):
    """Every option of a training run (corpus format, text, model, training), generated from the config."""
    from translator.config import CorpusFormat, ModelConfig, TextConfig, TrainingConfig
    from translator.options import options_for

    return options_for(CorpusFormat, TextConfig, ModelConfig, TrainingConfig, exclude=exclude,
                       before_import=load_tensorflow)


@cli.command()
@click.argument("corpus", type=click.Path(path_type=Path), callback=existing_file)
@click.option("--model-dir", required=True, type=click.Path(path_type=Path), callback=output_folder, help="Folder for the model, its checkpoints and logs.")
@click.option("--dev", type=click.Path(path_type=Path), callback=existing_file, help="Dev corpus for early stopping; without it a dev split is held out from CORPUS.")
@click.option("--config", type=click.Path(), is_eager=True, expose_value=False, callback=load_option_file, help="YAML or JSON file of options; the command line wins.")
@run_options()
@click.option("--resume", is_flag=True, help="Continue the run saved in --model-dir exactly where it stopped.")
@click.option("--force", is_flag=True, help="Train a new model over the one in --model-dir.")
def train(corpus, model_dir, dev, resume, force, **options):
    """Train a model on CORPUS (TSV, CSV or Anki .zip) into --model-dir."""
    from translator.config import RunConfig
    from translator.folder import RunDir

    # bad values and a folder train cannot use are refused before TensorFlow's import (seconds); in a
    # multi-worker run (TF_CONFIG) the others may see the chief's first files, so only train() checks that
    config = RunConfig.from_options(options)
    overrides = {k: options[k] for k in ("epochs", "max_minutes", "max_steps", "devices")}
    requested = given_options()
    RunDir(model_dir).check_for_training(config, resume, force or "TF_CONFIG" in os.environ, requested - set(overrides))
    load_tensorflow()
    from translator.training import train as run_training

    run_training(corpus, model_dir, config, dev=dev, resume=resume, force=force, echo=click.echo,
                 overrides=overrides, requested=requested)


def given_options() -> set[str]:
    """The names of the current command's options that the user set (command line, environment, --config file)."""
    context = click.get_current_context()
    defaults = (click.core.ParameterSource.DEFAULT, None)
    return {p.name for p in context.command.params if context.get_parameter_source(p.name) not in defaults}


def comma_list(kind):
    def parse(_context, _param, value):
        from translator.errors import OptionError

        if value is None:
            return None
        try:
            return [kind(item.strip()) for item in value.split(",") if item.strip()]
        except ValueError:
            raise OptionError(f"expected a comma-separated list of {kind.__name__}s, got '{value}'") from None

    return parse


@cli.command()
@click.argument("corpus", type=click.Path(path_type=Path), callback=existing_file)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), callback=output_folder, help="Folder for the variants, results.csv/.md and plots; run again to continue.")
@click.option("--decoders", callback=comma_list(str), help="Comma-separated decoders [default: all].")
@click.option("--cells", callback=comma_list(str), help="Comma-separated cells [default: the --cell default].")
@click.option("--seeds", default="1", show_default=True, callback=comma_list(int), help="Several seeds give mean, spread and significance.")
@click.option("--dev", type=click.Path(path_type=Path), callback=existing_file, help="Dev corpus; without it one split is held out from CORPUS for all variants.")
@click.option("--test", type=click.Path(path_type=Path), callback=existing_file, help="Also score every variant on this test file.")
@click.option("--beam-sizes", default="1,5", show_default=True, callback=comma_list(int))
@click.option("--length-penalties", default="0", show_default=True, callback=comma_list(float))
@click.option("--quick", is_flag=True, help="A preset that finishes in under 10 minutes here: 20,000 short pairs, small models, learning rate 3e-3, 4 epochs each.")
@click.option("--config", type=click.Path(), is_eager=True, expose_value=False, callback=load_option_file, help="YAML or JSON file of options; the command line wins.")
@run_options(exclude=("decoder", "cell"))
def compare(corpus, out_dir, decoders, cells, seeds, dev, test, beam_sizes, length_penalties, quick, **options):
    """Train each decoder (and cell, and seed) on identical data, sizes and budget, then score them side by side."""
    from translator.config import ModelConfig, RunConfig
    from translator.options import choices_of

    if quick:
        apply_quick_preset(options)
    config = RunConfig.from_options(options)  # a bad value is refused before TensorFlow's import (seconds)
    load_tensorflow()
    from translator.compare import compare as run_compare

    decoders = checked_names("--decoders", decoders, choices_of(ModelConfig, "decoder"))
    cells = checked_names("--cells", cells, choices_of(ModelConfig, "cell")) if cells else [ModelConfig.cell]
    run_compare(corpus, out_dir, config, decoders, cells, seeds, dev=dev, test=test, beam_sizes=beam_sizes,
                length_penalties=length_penalties, quick=quick, echo=click.echo)
    click.echo((out_dir / "results.md").read_text())
    click.echo(f"results: {out_dir / 'results.csv'}, {out_dir / 'summary.md'}, plots: curves.png, bleu.png, beam.png, gradients.png, length.png")


def checked_names(option, names, allowed) -> list:
    """`names` (all of `allowed` when none are given), or an error naming the unknown ones."""
    from translator.errors import OptionError

    unknown = [n for n in names or () if n not in allowed]
    if unknown:
        raise OptionError(f"{option}: unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return list(names or allowed)


def apply_quick_preset(options):
    """compare --quick: small models, 4 epochs each of the 20,000-pair subset, a high learning rate.

    Measured on spa-eng: with 1.5 minutes a variant at learning rate 1e-3, attention had not begun to
    align (dev BLEU 0.8 and 2.2 over two seeds); at 3e-3 it reached 9.4 in one run and 6.8 in another
    that ran 15 % slower, ranking second or third: a time budget made the order depend on the machine's
    load. An epoch budget gives every variant the same data whatever the load.
    """
    given = click.get_current_context().get_parameter_source
    options |= {"embedding_dim": 64, "units": 128, "vocab_size": 2000, "warmup_steps": 100}
    if given("learning_rate") == click.core.ParameterSource.DEFAULT:
        options["learning_rate"] = 3e-3
    if given("epochs") == click.core.ParameterSource.DEFAULT and options["max_minutes"] is None:
        options["epochs"] = 4


def search_options(n_best=False, greedy=True, surrogates=True):
    """The search options (beam size, length penalty, greedy, n-best); unset, they come from search.json."""
    from translator.config import SearchConfig
    from translator.options import options_for

    exclude = (("n_best",) * (not n_best) + ("greedy",) * (not greedy)
               + ("name_surrogates", "number_surrogates") * (not surrogates))
    where = "the model's search.json (the setting chosen on dev)"
    return options_for(SearchConfig, exclude=exclude, default_from={"beam_size": where, "length_penalty": where,
                                                                    "no_repeat_ngram_size": where,
                                                                    "coverage_penalty": where})


def precision_option(function):
    """--precision for the commands that decode (training has its own, in TrainingConfig)."""
    return click.option("--precision", "precision_name", default="float32", show_default=True,
                        type=click.Choice(["auto", "float32", "bfloat16", "mixed_float16"]),
                        help="Compute dtype of the layers while decoding (scores stay float32): bfloat16 is about 1.2x "
                             "faster on a CPU with BF16 instructions, with the same test BLEU here; auto: bfloat16 "
                             "where the CPU has them and it measures faster.")(function)


def load_translator(model_dir, precision_name: str = "float32"):
    """The model in `model_dir`, or the default model, with a hint to train it when it is missing or damaged."""
    from translator.errors import ModelDirError
    from translator.inference import Translator

    if model_dir is not None:
        return Translator.load(model_dir, precision_name=precision_name)
    try:
        return Translator.load(DEFAULT_MODEL, precision_name=precision_name)
    except ModelDirError as error:
        raise ModelDirError(f"the default model is unusable ({error}); train it with: {TRAIN_DEFAULT_MODEL}") from None


def fast_translator(model_dir, search, few_sentences: bool, policy: str):
    """The model's translate graph for this search setting, as the folder carries it (carried_graph.py) or from
    the cache (fast_start.py); None where there is neither yet (or the folder has a problem, which the full load
    then reports). `few_sentences` (given as arguments, not --input) skips the graph optimizer, which costs more
    than it saves over one batch."""
    from translator.carried_graph import carried_translator
    from translator.errors import TranslatorError
    from translator.fast_start import cached_translator
    from translator.folder import RunDir

    run_dir = RunDir(model_dir or DEFAULT_MODEL)
    try:
        max_length = run_dir.load_config().training.max_length
        return (carried_translator(run_dir, search, max_length, optimize=not few_sentences, policy=policy)
                or cached_translator(run_dir, search, max_length, optimize=not few_sentences, policy=policy))
    except TranslatorError:
        return None


def read_sentences(sentences, input_file, skip_bad_lines):
    """The sentences given as arguments, or one a line from --input FILE ('-' for stdin)."""
    from translator.errors import OptionError
    from translator.sentences import read_sentences as read_lines

    if input_file is None:
        if not sentences:
            raise OptionError("give sentences to translate, or --input FILE (- for stdin)")
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
    return read_lines(input_file, skip_bad_lines, warn=lambda message: click.echo(message, err=True))


@cli.command()
@click.argument("sentences", nargs=-1)
@click.option("--model-dir", type=click.Path(path_type=Path), callback=existing_model_folder, help="A folder made by `train` [default: the Spanish->English model in data/models/spa-eng].")
@click.option("--input", "input_file", help="Translate this file, one sentence a line ('-' for stdin).")
@click.option("--skip-bad-lines", is_flag=True, help="A line that is not UTF-8 becomes an empty translation (with a warning) instead of stopping.")
@search_options(n_best=True)
@click.option("--batch-size", default=64, show_default=True, help="Sentences searched together; two batches are searched at a time, and sentences given as arguments that fill less than two are split evenly between them.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line, with scores.")
@click.option("--attention", "with_attention", is_flag=True, help="With --json: add each sentence's attention weights (attention models).")
@click.option("--plot-attention", type=click.Path(path_type=Path), callback=new_file, help="Draw the attention heatmap of the first sentence to this PNG (attention models).")
@precision_option
def translate(sentences, model_dir, input_file, skip_bad_lines, beam_size, greedy, length_penalty, n_best,
              no_repeat_ngram_size, coverage_penalty, whole_words, name_surrogates, number_surrogates, batch_size,
              as_json, with_attention, plot_attention, precision_name):
    """Translate SENTENCES (or --input) with the model in --model-dir; outputs keep the input order."""
    from translator.config import SearchConfig
    from translator.errors import OptionError
    from translator.folder import RunDir
    from translator.malloc_arenas import limit_malloc_arenas
    from translator.sentences import read_sentences as read_lines
    from translator.streams import batches, in_streams, share_cores

    # what can be refused without the model is, before TensorFlow's import (seconds)
    if batch_size < 1:
        raise OptionError("--batch-size must be at least 1")
    given = (1 if greedy else beam_size, length_penalty, n_best, no_repeat_ngram_size, coverage_penalty)
    # what is not given comes from the model's search.json, as Translator.search_setting has it
    stored = RunDir(model_dir or DEFAULT_MODEL).load_search() or SearchConfig()
    search = stored.with_given(*given, whole_words=whole_words, name_surrogates=name_surrogates,
                               number_surrogates=number_surrogates)
    sentences = read_sentences(sentences, input_file, skip_bad_lines)
    if input_file not in (None, "-") and not skip_bad_lines:
        collections.deque(read_lines(input_file), maxlen=0)  # a line that is not UTF-8
    plain = not (with_attention or plot_attention) and n_best == 1  # what the cached graph can do
    limit_malloc_arenas()  # before TensorFlow's threads start
    share_cores()  # each of the two decoding streams its share of the cores, before TensorFlow starts
    load_tensorflow(runtime_only=plain)
    from translator.precision import resolve
    from translator.translation import translation_record

    translator = fast_translator(model_dir, search, input_file is None, resolve(precision_name)) if plain else None
    to_cache = plain and translator is None
    if translator is None:
        load_tensorflow()  # all of it, where only the runtime was imported for the cache
        translator = load_translator(model_dir, precision_name)
    if (plot_attention or with_attention) and not translator.has_attention:
        raise OptionError(f"--plot-attention/--attention: this model's '{translator.config.model.decoder}' decoder has no "
                          "attention weights to draw; only models trained with --decoder attention have them")

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
            click.echo(json.dumps(record, ensure_ascii=False) if as_json else result.text)
        done += len(batch)
    if to_cache:
        from translator.fast_start import save_to_cache
        from translator.folder import RunDir

        save_to_cache(translator, RunDir(model_dir or DEFAULT_MODEL), search)
    if plot_attention and first_alignment and first_alignment[1]:
        from translator.plots import plot_attention as draw

        first, (source_tokens, output_tokens, weights) = first_alignment
        draw(source_tokens, output_tokens, weights, plot_attention, title=first)
        click.echo(f"attention heatmap of the first sentence: {plot_attention}", err=True)


@cli.command()
@click.argument("test_file", type=click.Path(path_type=Path), callback=existing_file)
@click.option("--model-dir", type=click.Path(path_type=Path), callback=existing_model_folder, help="A folder made by `train` [default: the Spanish->English model in data/models/spa-eng].")
@search_options()
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option("--output", type=click.Path(path_type=Path), callback=new_file, help="Write `source<TAB>hypothesis` lines here.")
@click.option("--fidelity", "with_fidelity", is_flag=True, help="Also measure entity fidelity (names and numbers of the source that its reference keeps, kept in the output) and the repetition rate.")
@precision_option
def evaluate(test_file, model_dir, beam_size, greedy, length_penalty, no_repeat_ngram_size, coverage_penalty,
             whole_words, name_surrogates, number_surrogates, as_json, output, with_fidelity, precision_name):
    """Score the model on TEST_FILE by the benchmark protocol: sacrebleu BLEU (lowercase, 13a) and chrF.

    TEST_FILE is read in the direction the model was trained in; each unique
    source sentence is translated once and scored against all its references.
    """
    from translator.corpus import read_corpus
    from translator.folder import RunDir
    from translator.streams import share_cores

    run_dir = RunDir(model_dir or DEFAULT_MODEL)
    # a bad test file is refused before TensorFlow's import (seconds), read in the model's direction
    test_pairs = read_corpus(test_file, run_dir.load_config().data).pairs if run_dir.holds_model() else None
    share_cores()  # each of the two decoding streams its share of the cores, before TensorFlow starts
    load_tensorflow()
    from translator.evaluate import evaluate as run_evaluation
    from translator.evaluate import format_report

    translator = load_translator(model_dir, precision_name)
    search = translator.search_setting(1 if greedy else beam_size, length_penalty, 1, no_repeat_ngram_size,
                                       coverage_penalty, whole_words, name_surrogates, number_surrogates)
    report = run_evaluation(translator, test_file, search, output, with_fidelity, test_pairs)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@cli.group("inspect")
def inspect_group():
    """Look inside a trained model: gradients through time, gates, where attention looks."""


def inspect_options(function):
    """The options every `inspect` command shares."""
    options = [
        click.option("--model-dir", type=click.Path(path_type=Path), callback=existing_model_folder, help="A folder made by `train` [default: the Spanish->English model in data/models/spa-eng]."),
        click.option("--corpus", type=click.Path(path_type=Path), callback=existing_file, help="Sentence pairs to measure on, read in the model's direction [default: the dev file the model was trained with]."),
        click.option("--sentences", default=200, show_default=True, type=click.IntRange(min=1), help="How many pairs to sample from --corpus (fixed seed: the same ones each time)."),
        click.option("--out", type=click.Path(path_type=Path), help="Folder for the tables and plots [default: MODEL_DIR/inspect]."),
        click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def run_inspection(what, model_dir, corpus, sentences, out, as_json):
    """Load the model, run `translator.inspection.run.inspect_<what>` on it, print its report."""
    load_tensorflow()
    import pandas as pd

    from translator.inspection import run

    translator = load_translator(model_dir)
    out = out or Path(translator.model_dir) / "inspect"
    report = getattr(run, f"inspect_{what}")(translator, Path(translator.model_dir), corpus, sentences, out)
    table = report.pop("table", None)
    if as_json:
        records = {} if table is None else {"table": table.reset_index().to_dict("records")}
        click.echo(json.dumps({**report, **records}, indent=2, default=float))
        return
    click.echo(f"{report.pop('plot')} ({report.pop('corpus')})")
    if isinstance(table, pd.DataFrame):
        click.echo(table.to_string(index=table.index.name is not None, float_format=lambda value: f"{value:.3g}"))
    for key, value in report.items():
        click.echo(f"{key.replace('_', ' ')}: " + (f"{value:.4g}" if isinstance(value, float) else str(value)))


@inspect_group.command("gradients")
@inspect_options
def inspect_gradients(model_dir, corpus, sentences, out, as_json):
    """How the gradient of the last target step's loss reaches earlier encoder and decoder states.

    For each sentence, the norm of that gradient with respect to the state k
    steps back; mean and spread over sentences by k, a log-scale plot, and the
    decay per step (slope of ln(norm) against k: below 0 vanishing, above 0 exploding).
    """
    run_inspection("gradients", model_dir, corpus, sentences, out, as_json)


@inspect_group.command("gates")
@inspect_options
def inspect_gates(model_dir, corpus, sentences, out, as_json):
    """Distribution of each LSTM/GRU gate's activations, per layer; the share saturated (< 0.05 or > 0.95)."""
    run_inspection("gates", model_dir, corpus, sentences, out, as_json)


@inspect_group.command("attention")
@inspect_options
def inspect_attention(model_dir, corpus, sentences, out, as_json):
    """Attention entropy, and the share of source words under-translated (coverage < 0.1) or over-translated (> 2)."""
    run_inspection("attention", model_dir, corpus, sentences, out, as_json)


@cli.command()
@click.option("--model-dir", required=True, type=click.Path(path_type=Path), callback=existing_model_folder, help="A folder made by `train`.")
def shrink(model_dir):
    """Store the model's weights in float16: half the size, for distribution."""
    load_tensorflow()
    from translator.inference import Translator
    from translator.weights import shrink_weights

    Translator.load(model_dir)  # refuses a damaged folder before anything is rewritten
    before, after = shrink_weights(model_dir)
    click.echo(f"{model_dir}: weights {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB (float16)")


@cli.command("carry-graph")
@click.option("--model-dir", required=True, type=click.Path(path_type=Path), callback=existing_model_folder, help="A folder made by `train`.")
def carry_graph(model_dir):
    """Store the model's translate graph in its folder (translate_graph/: the graph of its search setting, without
    the weights): `translate` with that setting then starts fast on any machine, the first time too.

    `train` ends by writing it (unless --no-carry-graph). It reads the weights from the folder, so it stays after
    `shrink` or `train --resume`; run this for a folder without one, after a new search.json (until then the graph
    is passed by), and after upgrading this package (the graph is the code's that wrote it)."""
    load_tensorflow()
    from translator.carried_graph import carry_graph as write_graph
    from translator.folder import RunDir

    translator = load_translator(model_dir)
    search = translator.search_setting()
    folder = write_graph(translator, RunDir(model_dir), search)
    size = sum(path.stat().st_size for path in folder.iterdir())
    click.echo(f"{folder}: the translate graph for beam {search.beam_size}, length penalty {search.length_penalty} "
               f"({size / 1e6:.1f} MB)")


@cli.command()
@click.option("--model-dir", type=click.Path(path_type=Path), callback=existing_model_folder, help="A folder made by `train` [default: the Spanish->English model in data/models/spa-eng].")
@click.option("--out", required=True, type=click.Path(path_type=Path), callback=absent_path, help="Folder for the SavedModel (must not exist).")
@search_options(greedy=False, surrogates=False)  # line-level steps stay outside the graph
def export(model_dir, out, beam_size, length_penalty, no_repeat_ngram_size, coverage_penalty, whole_words):
    """Write a TensorFlow SavedModel with a `translate` signature (strings in, strings out).

    It loads with plain TensorFlow and tensorflow-text, without this package.
    """
    load_tensorflow()
    from translator.export import export_saved_model

    translator = load_translator(model_dir)
    path = export_saved_model(translator, out, translator.search_setting(beam_size, length_penalty, 1,
                                                                         no_repeat_ngram_size, coverage_penalty,
                                                                         whole_words))
    click.echo(f"saved {path}; signature 'translate': sentences (strings) -> translation, score")


@cli.command()
@click.option("--model-dir", "model_dirs", multiple=True, help="A model folder, as DIR or SRC-TGT=DIR (languages for LibreTranslate clients; read from names like spa-eng); repeatable [default: data/models/spa-eng].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option("--max-wait-ms", default=5.0, show_default=True, type=click.FloatRange(0, 10_000), help="How long a request waits for others to share its search call.")
@click.option("--max-batch", default=64, show_default=True, type=click.IntRange(1), help="Sentences per search call.")
@click.option("--max-sentences", default=64, show_default=True, type=click.IntRange(1), help="Sentences per request (413 above).")
@click.option("--max-characters", default=10_000, show_default=True, type=click.IntRange(1), help="Characters per request (413 above).")
@click.option("--xla-max-batch", default=4, show_default=True, type=click.IntRange(0), help="Search calls of up to this many sentences run compiled by XLA: about half the latency, at a compilation of about a second per batch size and source length (in steps of 8 tokens) on first use; 0: never.")
@precision_option
def serve(model_dirs, host, port, max_wait_ms, max_batch, max_sentences, max_characters, xla_max_batch, precision_name):
    """Serve models over HTTP: a LibreTranslate-compatible API, a JSON API, and a web page at /."""
    from translator.folder import RunDir
    from translator.serve.models import ModelSpec

    specs = [ModelSpec.parse(text) for text in model_dirs] or [ModelSpec.parse(str(DEFAULT_MODEL))]
    for spec in specs:
        RunDir(spec.path).check()
    load_tensorflow()
    from translator.serve.app import ServeSettings
    from translator.serve.run import load_models
    from translator.serve.run import serve as run_server

    settings = ServeSettings(max_wait_ms=max_wait_ms, max_batch=max_batch, max_sentences=max_sentences,
                             max_characters=max_characters)
    debug = click.get_current_context().find_root().obj["debug"]
    run_server(load_models(specs, xla_max_batch, precision_name), host, port, settings,
               echo=lambda m: click.echo(m, err=True), debug=debug)


def main(argv=None) -> int:
    """Run the CLI; map user errors to one line and exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        from translator.errors import TrainingInterrupted, TranslatorError

        status = cli.main(args=argv, prog_name="cli.py", standalone_mode=False)
        return status if isinstance(status, int) else 0  # click returns an Exit's code instead of raising it
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except TrainingInterrupted as interrupted:
        from translator.options import as_flags

        click.echo(as_flags(str(interrupted)), err=True)
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
        from translator.options import as_flags

        click.echo(f"error: {as_flags(str(error))}", err=True)
        return EXIT_BAD_INPUT
    except OSError as error:  # a path the checks did not foresee: permissions, a full disk, a vanished file
        if debug:
            traceback.print_exc()
        where = f"{error.filename}: " if error.filename else ""
        click.echo(f"error: {where}{error.strerror or error}", err=True)
        return EXIT_BAD_INPUT


def entry_point():
    """The `translator` command installed by `pip install .`."""
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
