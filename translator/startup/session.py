"""Opening a model for a process that translates and ends (`translate`): the fast start's choice, in one place.

A plain search (the best hypothesis, no attention weights) runs the model's translate graph where there is one
for its setting (graph.py: carried in the model folder, or cached after an earlier run), over only TensorFlow's
runtime; anything else, or a miss, loads the full Keras model, and a plain search's graph is then cached for the
next run.
"""

from __future__ import annotations

from collections.abc import Callable

from translator.config import SearchConfig
from translator.model.folder import RunDir


def open_translator(run_dir: RunDir, search: SearchConfig, load_full: Callable, *, precision_name: str = "float32",
                    plain: bool = True, few_sentences: bool = False, quiet: bool = True) -> tuple:
    """(a translator for `search`, a function to call when done). `load_full()` loads the full Translator;
    `few_sentences` (given as arguments, not a file) skips the graph optimizer, which costs more than it saves
    over one batch."""
    from translator.decoding.streams import share_cores
    from translator.startup.malloc_arenas import limit_malloc_arenas
    from translator.model.precision import resolve
    from translator.startup.graph import cache_graph, saved_translator
    from translator.startup.quiet import load_tensorflow

    limit_malloc_arenas()  # before TensorFlow's threads start
    share_cores()  # each of the two decoding streams its share of the cores, before TensorFlow starts
    load_tensorflow(runtime_only=plain, quiet=quiet)
    if plain:
        graph = saved_translator(run_dir, search, resolve(precision_name), optimize=not few_sentences)
        if graph is not None:
            return graph, lambda: None
    load_tensorflow(quiet=quiet)  # all of it, where only the runtime was imported for the graph
    translator = load_full()
    return translator, (lambda: cache_graph(translator, run_dir, search)) if plain else (lambda: None)

