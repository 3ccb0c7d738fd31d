"""`serve`: the models over HTTP."""

from __future__ import annotations

import click

from translator import pretrained
from translator.cli.common import load_tensorflow, precision_option


@click.command()
@click.option("--model-dir", "model_dirs", multiple=True, help="A model folder, as DIR or SRC-TGT=DIR (languages for LibreTranslate clients; read from names like spa-eng); repeatable [default: translator/pretrained/spa-eng].")
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
    from translator.model.folder import RunDir
    from translator.serve.models import ModelSpec

    specs = [ModelSpec.parse(text) for text in model_dirs] or [ModelSpec.parse(str(pretrained.DEFAULT))]
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
