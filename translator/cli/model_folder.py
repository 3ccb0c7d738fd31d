"""`shrink`, `carry-graph` and `export`: a trained model folder made ready to hand over."""

from __future__ import annotations

from pathlib import Path

import click

from translator.cli.common import load_tensorflow, load_translator, model_dir_option, search_options
from translator.cli.options import absent_path, new_file


@click.command()
@model_dir_option(required=True)
def shrink(model_dir):
    """Store the model's weights in float16: half the size, for distribution."""
    load_tensorflow()
    from translator.decoding.inference import Translator
    from translator.model.weights import shrink_weights

    Translator.load(model_dir)  # refuses a damaged folder before anything is rewritten
    before, after = shrink_weights(model_dir)
    click.echo(f"{model_dir}: weights {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB (float16)")


@click.command()
@model_dir_option(required=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), callback=new_file, help="The archive to write (FILE.zip).")
def package(model_dir, out):
    """Write the model folder as one .zip to hand over: without its checkpoint and logs, weights in float16, with
    its card and translate graph. Every command's --model-dir takes the archive as it takes a folder."""
    from translator.errors import OptionError

    if out.suffix.lower() != ".zip":
        raise OptionError(f"{out}: the archive's name must end in .zip")
    load_tensorflow()
    from translator.decoding.inference import Translator
    from translator.model.package import package_model

    Translator.load(model_dir)  # refuses a damaged folder before anything is written
    files, size = package_model(model_dir, out)
    click.echo(f"{out}: {files} files, {size / 1e6:.1f} MB; use it with --model-dir {out}")


@click.command("carry-graph")
@model_dir_option(required=True)
def carry_graph(model_dir):
    """Store the model's translate graph in its folder (translate_graph/: the graph of its search setting, without
    the weights): `translate` with that setting then starts fast on any machine, the first time too.

    `train` ends by writing it (unless --no-carry-graph). It reads the weights from the folder, so it stays after
    `shrink` or `train --resume`; run this for a folder without one, after a new search.json (until then the graph
    is passed by), and after upgrading this package (the graph is the code's that wrote it)."""
    load_tensorflow()
    from translator.startup.graph import carry_graph as write_graph
    from translator.model.folder import RunDir

    translator = load_translator(model_dir)
    search = translator.search_setting()
    folder = write_graph(translator, RunDir(model_dir), search)
    size = sum(path.stat().st_size for path in folder.iterdir())
    click.echo(f"{folder}: the translate graph for beam {search.beam_size}, length penalty {search.length_penalty} "
               f"({size / 1e6:.1f} MB)")


@click.command()
@model_dir_option()
@click.option("--out", required=True, type=click.Path(path_type=Path), callback=absent_path, help="Folder for the SavedModel (must not exist).")
@search_options(greedy=False, surrogates=False)  # line-level steps stay outside the graph
def export(model_dir, out, search_given):
    """Write a TensorFlow SavedModel with a `translate` signature (strings in, strings out).

    It loads with plain TensorFlow and tensorflow-text, without this package.
    """
    load_tensorflow()
    from translator.decoding.export import export_saved_model

    translator = load_translator(model_dir)
    path = export_saved_model(translator, out, translator.search_setting(**search_given))
    click.echo(f"saved {path}; signature 'translate': sentences (strings) -> translation, score")
