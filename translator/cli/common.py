"""What the commands share: importing TensorFlow quietly, the --model-dir, search and precision options, and
loading the model a command names."""

from __future__ import annotations

import functools
from dataclasses import fields
from pathlib import Path

import click

from translator import pretrained
from translator.cli.options import existing_model_folder

TRAIN_DEFAULT_MODEL = (
    "translator train ../shared/corpora/spa-eng/train.tsv --reverse --dev ../shared/corpora/spa-eng/dev.tsv "
    "--model-dir translator/pretrained/spa-eng"
)


def load_tensorflow(runtime_only: bool = False) -> None:
    """Import TensorFlow, quietly unless --debug; commands that need it call this first. `runtime_only`: for a
    command that may need no more than a saved graph (startup/tensorflow_internals.py)."""
    from translator.startup.quiet import load_tensorflow as load

    load(runtime_only, quiet=not click.get_current_context().find_root().obj["debug"])


def model_dir_option(required: bool = False):
    """--model-dir: a folder made by `train` or the name of an installed model; the default model if not given."""
    default = "" if required else f" [default: {pretrained.DEFAULT.name}]"
    return click.option("--model-dir", required=required, type=click.Path(path_type=Path),
                        callback=existing_model_folder,
                        help=f"A folder made by `train`, or an installed model: {', '.join(pretrained.names())}{default}.")


def model_folder(model_dir: Path | None) -> Path:
    return model_dir or pretrained.DEFAULT


def load_translator(model_dir: Path | None, precision_name: str = "float32"):
    """The model in `model_dir`, or the default model, with a hint to train it when it is missing or damaged."""
    from translator.decoding.inference import Translator
    from translator.errors import ModelDirError

    if model_dir is not None:
        return Translator.load(model_dir, precision_name=precision_name)
    try:
        return Translator.load(pretrained.DEFAULT, precision_name=precision_name)
    except ModelDirError as error:
        raise ModelDirError(f"the default model is unusable ({error}); train it with: {TRAIN_DEFAULT_MODEL}") from None


def search_options(n_best: bool = False, greedy: bool = True, surrogates: bool = True):
    """The search options (beam size, length penalty, greedy, n-best, ...), handed to the command as one dict,
    `search_given`, of what the user set (None: from the model's search.json, the setting chosen on dev)."""
    from translator.cli.options import options_for
    from translator.config import SearchConfig

    exclude = (("n_best",) * (not n_best) + ("greedy",) * (not greedy)
               + ("name_surrogates", "number_surrogates") * (not surrogates))
    where = "the model's search.json (the setting chosen on dev)"
    names = {f.name for f in fields(SearchConfig)} - set(exclude)

    def decorate(function):
        @functools.wraps(function)
        def command(**values):
            return function(search_given={name: values.pop(name) for name in names}, **values)

        return options_for(SearchConfig, exclude=exclude, default_from=dict.fromkeys(
            ("beam_size", "length_penalty", "no_repeat_ngram_size", "coverage_penalty"), where))(command)

    return decorate


def precision_option(function):
    """--precision for the commands that decode (training has its own, in TrainingConfig)."""
    return click.option("--precision", "precision_name", default="float32", show_default=True,
                        type=click.Choice(["auto", "float32", "bfloat16", "mixed_float16"]),
                        help="Compute dtype of the layers while decoding (scores stay float32): bfloat16 is faster "
                             "on a CPU with BF16 instructions; auto: bfloat16 where the CPU has them and it "
                             "measures faster.")(function)


def comma_list(kind):
    """A click callback: "a,b,c" -> [kind(a), kind(b), kind(c)]."""
    def parse(_context, _param, value):
        from translator.errors import OptionError

        if value is None:
            return None
        try:
            return [kind(item.strip()) for item in value.split(",") if item.strip()]
        except ValueError:
            raise OptionError(f"expected a comma-separated list of {kind.__name__}s, got '{value}'") from None

    return parse


def given_options() -> set[str]:
    """The names of the current command's options that the user set (command line, environment, --config file)."""
    context = click.get_current_context()
    defaults = (click.core.ParameterSource.DEFAULT, None)
    return {p.name for p in context.command.params if context.get_parameter_source(p.name) not in defaults}
