"""The translate graph a process can start from: the model's beam search for one search setting, saved without
its weights, with a record of which array of the model folder's weights file each of its variables takes.

Building the Keras model, loading its weights and tracing the search costs seconds before a first translation;
loading this graph with TensorFlow's runtime alone (tensorflow_internals.py) costs a fraction of that. It is
kept in one of two places, found and loaded the same way:

- carried in the model folder (translate_graph/: `carry-graph`, and `train` at its end), so that even the first
  `translate` on a new machine starts from it;
- cached under $TRANSLATOR_CACHE (default ~/.cache/translator; "off" turns it off) by a `translate` that had to
  load the full model, for a setting the folder carries no graph for; the cache keeps the latest used 8.

One key says which graph fits: a digest of the package version, the search setting, the dtype policy and what
the graph is built from (the config, the tokenizers, the length limit, the weights' names and shapes), not the
weights' values, which are read from the folder when the graph loads: a graph stays valid after `shrink` or
`train --resume` and is passed by for a new vocabulary, model size, setting or version. A cache entry is named by
the key and the weights it was matched against (the record maps variables by value). A graph that cannot be read
is passed by too, and the full model translates.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, astuple
from pathlib import Path

from translator import __version__
from translator.config import SearchConfig
from translator.entities.case import Truecaser
from translator.entities.verbatim import Verbatim
from translator.decoding.translation import Translation, chosen_surrogates, translate_lines, translations
from translator.errors import ModelDirError
from translator.files import atomic_path, cache_root
from translator.model.folder import CONFIG, LENGTH_LIMIT, SOURCE_TOKENIZER, TARGET_TOKENIZER, TRANSLATE_GRAPH, WEIGHTS, RunDir

RECORD = "weights.json"  # beside saved_model.pb: the key, and each variable's array of the weights file
GRAPH_FILES = (CONFIG, SOURCE_TOKENIZER, TARGET_TOKENIZER, LENGTH_LIMIT)  # and the weights' names and shapes
KEPT_ENTRIES = 8  # graphs the cache keeps, the most recently used
ENTRY_NAME = re.compile(r"[^.].*-[0-9a-f]{20}")  # not a hidden one: one being written (files.atomic_path)


def graph_key(run_dir: RunDir, search: SearchConfig, policy: str) -> str:
    """The digest of what a translate graph depends on (see the module's docstring)."""
    import h5py

    digest = hashlib.sha256(f"{__version__} {astuple(search)} {policy}".encode())
    for name in GRAPH_FILES:
        path = run_dir / name
        digest.update(name.encode() + (path.read_bytes() if path.exists() else b"-"))
    with h5py.File(run_dir / WEIGHTS, "r") as stored:
        for path, array in stored_arrays(stored).items():
            digest.update(f"{path} {array.shape}".encode())
    return digest.hexdigest()


def stored_arrays(stored) -> dict:
    """{h5 path: dataset} of every array in an open weights file, in the file's order."""
    import h5py

    found = {}
    stored.visititems(lambda path, item: found.update({path: item}) if isinstance(item, h5py.Dataset) else None)
    return found


class GraphTranslator:
    """A saved graph's signatures behind the Translator's `translate`, for the one search setting it was traced
    with (the best hypothesis only). `surrogates` (of names, numbers), the `truecaser` and `verbatim` serve every
    line (see translate_lines)."""

    def __init__(self, signatures: dict, max_length: int, search: SearchConfig, surrogates: tuple = (),
                 truecaser: Truecaser | None = None, verbatim: Verbatim | None = None):
        self._search, self._count = signatures["translate"], signatures["token_counts"]
        self.max_length, self.search, self.surrogates = max_length, search, surrogates
        self.truecaser, self.verbatim = truecaser, verbatim

    def translate(self, sentences: list[str], search: SearchConfig) -> list[Translation]:
        if search != self.search:
            raise ValueError(f"this graph searches with {self.search}, not {search}")

        def search_batch(texts):
            out = self._search(sentences=texts)
            return translations(out["translation"][:, None], out["score"][:, None], out["truncated"])

        return translate_lines(sentences, search_batch, self.token_count, self.max_length, self.surrogates,
                               self.truecaser, self.verbatim)

    def token_count(self, text: str) -> int:
        return int(self._count(sentences=[text])["tokens"][0])


# --- finding and loading ------------------------------------------------------------------------------------
def saved_translator(run_dir: RunDir, search: SearchConfig, policy: str = "float32",
                     optimize: bool = True) -> GraphTranslator | None:
    """The graph for this folder, setting and dtype policy, carried by the folder or cached; None where there is
    none (or it cannot be read: the full model then translates). `optimize`: False turns TensorFlow's graph
    optimizer off, which over a handful of sentences costs more than it saves."""
    try:
        key = graph_key(run_dir, search, policy)
        carried = run_dir / TRANSLATE_GRAPH
        if (carried / RECORD).is_file() and (translator := load_graph(carried, run_dir, key, search, optimize)):
            return translator
        entry = cache_entry(run_dir, key)  # only now: naming it reads the whole weights file
        if entry is not None and (entry / RECORD).is_file() and (
                translator := load_graph(entry, run_dir, key, search, optimize)):
            with contextlib.suppress(OSError):  # a read-only cache
                os.utime(entry)  # used now: `prune` keeps the latest used
            return translator
    except Exception:  # noqa: BLE001 - whatever a damaged folder or graph raises, the full model translates
        return None
    return None


def load_graph(folder: Path, run_dir: RunDir, key: str, search: SearchConfig, optimize: bool) -> GraphTranslator | None:
    """The graph in `folder` with its variables assigned from the folder's weights file; None where its record
    holds another key."""
    import h5py

    from translator.startup.tensorflow_internals import SavedGraph

    record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    if record["key"] != key:
        return None
    graph = SavedGraph(folder, optimize)
    handles, variables = graph.variables(), record["variables"]
    if set(handles) != set(variables):
        raise ModelDirError(f"{folder / RECORD} does not name the graph's variables")
    with h5py.File(run_dir / WEIGHTS, "r") as stored:
        arrays = {name: stored[path] for name, path in variables.items()}
        for name, array in arrays.items():
            if array.shape != tuple(dim.size for dim in handles[name].get_attr("shape").dim):
                raise ModelDirError(f"{run_dir / WEIGHTS}: {variables[name]} is not shaped as the graph's {name}")
        # with the graph optimizer on, each run costs 0.1 s: all in one
        graph.assign(arrays, together=optimize)
    names = run_dir.load_name_surrogates()
    surrogates = chosen_surrogates(search, names, run_dir.load_number_surrogates())
    return GraphTranslator(graph.signatures(), run_dir.load_config().training.max_length, search, surrogates,
                           Truecaser.from_names(names and names.names), Verbatim(names.surrogates if names else ()))


# --- writing ------------------------------------------------------------------------------------------------
def write_graph(translator, run_dir: RunDir, search: SearchConfig, folder: Path) -> Path:
    """Write the Translator's graph for `search` into `folder` (replacing what is there), its variables named
    as arrays of the model folder's weights file."""
    from translator.decoding.export import export_saved_model

    policy = translator.model.dtype_policy.name
    with tempfile.TemporaryDirectory() as scratch:
        exported = export_saved_model(translator, Path(scratch) / "graph", search)
        record = {"key": graph_key(run_dir, search, policy), "search": asdict(search), "policy": policy,
                  "variables": weight_arrays(exported, run_dir / WEIGHTS)}
        with atomic_path(folder) as partial:
            partial.mkdir(parents=True)
            shutil.copyfile(exported / "saved_model.pb", partial / "saved_model.pb")
            (partial / RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return folder


def weight_arrays(exported: Path, weights: Path) -> dict[str, str]:
    """{variable of the exported graph: the array of the weights file (its h5 path) that holds its value}.

    Found by value: the graph's variables are the Keras model's, loaded from that file and cast to float32
    exactly, so each equals one of its arrays; two arrays of equal value are interchangeable."""
    import h5py
    import numpy as np

    from translator.startup.tensorflow_internals import SavedGraph

    values = SavedGraph(exported, optimize=False, with_variables=True).read()
    with h5py.File(weights, "r") as stored:
        arrays = {path: array[()] for path, array in stored_arrays(stored).items()}
    found = {}
    for variable, value in values.items():
        found[variable] = next((path for path, array in arrays.items()
                                if array.shape == value.shape and np.array_equal(array.astype(value.dtype), value)),
                               None)
        if found[variable] is None:
            raise ModelDirError(f"{weights}: no array holds the value of the graph's variable {variable}")
    return found


def carry_graph(translator, run_dir: RunDir, search: SearchConfig) -> Path:
    """Write the graph into the model folder, which then carries it."""
    return write_graph(translator, run_dir, search, run_dir / TRANSLATE_GRAPH)


def cache_graph(translator, run_dir: RunDir, search: SearchConfig) -> None:
    """Write the graph into the cache; a cache that cannot be written is skipped."""
    import tensorflow as tf

    from translator.errors import TranslatorError

    entry = cache_entry(run_dir, graph_key(run_dir, search, translator.model.dtype_policy.name))
    if entry is None:
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        if entry.exists():  # a damaged entry
            shutil.rmtree(entry)
        write_graph(translator, run_dir, search, entry)
        prune(entry.parent)
    except (OSError, TranslatorError, tf.errors.OpError):  # unwritable, or another process writing it at once
        return


# --- the cache ----------------------------------------------------------------------------------------------
def cache_entry(run_dir: RunDir, key: str) -> Path | None:
    """Where the graph of `key`, matched against this folder's weights, is (or would be) cached."""
    root = cache_root()
    if root is None:
        return None
    digest = hashlib.sha256(key.encode() + (run_dir / WEIGHTS).read_bytes()).hexdigest()
    return root / f"{run_dir.path.resolve().name}-{digest[:20]}"


def prune(root: Path, keep: int = KEPT_ENTRIES) -> None:
    """Remove all but the `keep` most recently used entries. Only folders named and made as entries are touched,
    whatever else $TRANSLATOR_CACHE holds."""
    found = [p for p in root.iterdir() if ENTRY_NAME.fullmatch(p.name) and (p / "saved_model.pb").is_file()]
    for stale in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)[keep:]:
        shutil.rmtree(stale, ignore_errors=True)
