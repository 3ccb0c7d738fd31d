"""`inspect`: what RNN theory predicts, measured in a trained model."""

from __future__ import annotations

import json
from pathlib import Path

import click

from translator.cli.common import load_tensorflow, load_translator, model_dir_option
from translator.cli.options import existing_file


@click.group("inspect")
def inspect_group():
    """Look inside a trained model: gradients through time, gates, where attention looks."""


def inspect_options(function):
    """The options every `inspect` command shares."""
    options = [
        model_dir_option(),
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
