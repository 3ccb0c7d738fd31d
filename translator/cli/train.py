"""`train` and `compare`: a model, or a grid of decoder variants, trained on a corpus."""

from __future__ import annotations

import os
from pathlib import Path

import click

from translator.cli.common import comma_list, given_options, load_tensorflow
from translator.cli.options import existing_file, existing_model_folder, output_folder


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
    from translator.cli.options import options_for

    return options_for(CorpusFormat, TextConfig, ModelConfig, TrainingConfig, exclude=exclude,
                       before_import=load_tensorflow)


def corpora_argument(_context, _param, arguments):
    from translator.data.sources import corpus_sources

    return corpus_sources(list(arguments)) if arguments else []


@click.command()
@click.argument("corpus", nargs=-1, callback=corpora_argument)
@click.option("--model-dir", required=True, type=click.Path(path_type=Path), callback=output_folder, help="Folder for the model, its checkpoints and logs.")
@click.option("--dev", type=click.Path(path_type=Path), callback=existing_file, help="Dev corpus for early stopping; without it a dev split is held out from CORPUS.")
@click.option("--config", type=click.Path(), is_eager=True, expose_value=False, callback=load_option_file, help="YAML or JSON file of options; the command line wins.")
@run_options()
@click.option("--resume", is_flag=True, help="Continue the run saved in --model-dir exactly where it stopped.")
@click.option("--force", is_flag=True, help="Train a new model over the one in --model-dir.")
@click.option("--init-from", type=click.Path(path_type=Path), callback=existing_model_folder, help="Fine-tune: start from this trained model (a folder, or an installed model's name), keeping its sizes and vocabularies, at half its learning rate unless --learning-rate is given.")
def train(corpus, model_dir, dev, resume, force, init_from, **options):
    """Train a model on CORPUS into --model-dir.

    CORPUS (not needed with --resume): a TSV, CSV or Anki .zip file, a TMX translation memory, or two files of aligned lines, one
    language each (news.es news.en: source first). Several corpora are mixed; FILE:WEIGHT repeats a corpus
    (2) or draws a share of its pairs (0.5).
    """
    from translator.config import RunConfig
    from translator.errors import OptionError
    from translator.model.folder import RunDir

    if init_from is not None and resume:
        raise OptionError("--init-from starts a new run; --resume continues one: give one of them")
    if not corpus and not resume:
        raise click.UsageError("Missing argument 'CORPUS...' (only --resume, which continues a run on its own "
                               "corpus, needs none)")
    # bad values and a folder train cannot use are refused before TensorFlow's import (seconds); in a
    # multi-worker run (TF_CONFIG) the others may see the chief's first files, so only train() checks that
    config = RunConfig.from_options(options)
    requested = given_options()
    # a resumed run keeps its budget unless one is given again (max_minutes counts the time of the whole run)
    overrides = {k: options[k] for k in ("epochs", "max_minutes", "max_steps", "devices")
                 if k in requested or not resume}
    RunDir(model_dir).check_for_training(config, resume, force or "TF_CONFIG" in os.environ, requested - set(overrides))
    load_tensorflow()
    from translator.training import train as run_training

    run_training(corpus, model_dir, config, dev=dev, resume=resume, force=force, echo=click.echo,
                 overrides=overrides, requested=requested, init_from=init_from)


@click.command()
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
@click.option("--force", is_flag=True, help="Redo the comparison in --out when it was made with other data or options.")
@run_options(exclude=("decoder", "cell"))
def compare(corpus, out_dir, decoders, cells, seeds, dev, test, beam_sizes, length_penalties, quick, force, **options):
    """Train each decoder (and cell, and seed) on identical data, sizes and budget, then score them side by side."""
    from translator.config import ModelConfig, RunConfig
    from translator.cli.options import choices_of

    if quick:
        apply_quick_preset(options)
    config = RunConfig.from_options(options)  # a bad value is refused before TensorFlow's import (seconds)
    load_tensorflow()
    from translator.comparison.compare import compare as run_compare

    decoders = checked_names("--decoders", decoders, choices_of(ModelConfig, "decoder"))
    cells = checked_names("--cells", cells, choices_of(ModelConfig, "cell")) if cells else [ModelConfig.cell]
    run_compare(corpus, out_dir, config, decoders, cells, seeds, dev=dev, test=test, beam_sizes=beam_sizes,
                length_penalties=length_penalties, quick=quick, echo=click.echo, force=force)
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
