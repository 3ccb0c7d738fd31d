"""A model folder that carries its translate graph, so that even the first `translate` on a new machine starts fast.

The fast start's cache (fast_start.py) is filled by a first `translate` that pays the full load and an export on top
(the default model: 8 s and 1 GB here, against 2.4 s and 576 MB from the cache), and every fresh clone of this
repository, every new machine, pays it once. A folder can instead carry the graph: `python cli.py carry-graph`
writes translate_graph/, the SavedModel of the model's stored search setting *without its variables* (1.2 MB for the
default model) and weights.json, which names for each variable of the graph the array of model.weights.h5 that
holds its value. `translate` with that setting loads the graph as from the cache and assigns the weights from the
h5 file as they are stored (float16 in a shrunk folder, cast in the graph), so the folder holds each weight once.

weights.json also holds a key: a digest of the setting, the dtype policy and what the graph is built from (the
config, the tokenizers, the length limit, the weights' names and shapes: `carried_key`). A folder trained anew, or
asked for another setting, no longer matches it, and the graph is passed by (the cache serves as ever); a damaged
one is passed by too. Training on (`--resume`) and `shrink` change only the weights' values, which the graph reads
from the folder, so it stays.

The graph is that of the code that wrote it (as an exported SavedModel is): a change to the search that changes
what it outputs makes the carried graph stale, which tests/test_carried_graph.py finds for the default model by
translating with both; `carry-graph` writes it again.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, astuple
from pathlib import Path

from translator.config import SearchConfig
from translator.errors import ModelDirError
from translator.startup.cache import CachedTranslator, graph_session, model_digest, signature_functions
from translator.files import atomic_path
from translator.model.folder import CONFIG, LENGTH_LIMIT, SOURCE_TOKENIZER, TARGET_TOKENIZER, TRANSLATE_GRAPH, WEIGHTS, RunDir
from translator.decoding.translation import chosen_surrogates

RECORD = "weights.json"  # in TRANSLATE_GRAPH, beside saved_model.pb
GRAPH_FILES = (CONFIG, SOURCE_TOKENIZER, TARGET_TOKENIZER, LENGTH_LIMIT)  # the weights: their names and shapes


def carried_key(run_dir: RunDir, search: SearchConfig, policy: str) -> str:
    """A digest of what the graph depends on: the setting, the dtype policy, the folder's config, tokenizers and
    length limit, and the names and shapes of its weights, not their values, which it reads when loaded: the
    graph still fits a folder trained on (`--resume`) or shrunk, and no longer one that a change of model or
    vocabulary made."""
    import h5py

    digest = model_digest(run_dir, f"{astuple(search)} {policy}".encode(), GRAPH_FILES)
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


def carry_graph(translator, run_dir: RunDir, search: SearchConfig) -> Path:
    """Write the translator's graph for `search` into the model folder (replacing one it carried)."""
    from translator.decoding.export import export_saved_model

    policy = translator.model.dtype_policy.name
    with tempfile.TemporaryDirectory() as scratch:
        exported = export_saved_model(translator, Path(scratch) / "graph", search)
        record = {"key": carried_key(run_dir, search, policy), "search": asdict(search), "policy": policy,
                  "variables": weight_arrays(exported, run_dir / WEIGHTS)}
        with atomic_path(run_dir / TRANSLATE_GRAPH) as partial:
            partial.mkdir()
            shutil.copyfile(exported / "saved_model.pb", partial / "saved_model.pb")
            (partial / RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return run_dir / TRANSLATE_GRAPH


def weight_arrays(exported: Path, weights: Path) -> dict[str, str]:
    """{variable of the exported graph: the array of the weights file (its h5 path) that holds its value}.

    Found by value: the graph's variables are the Keras model's, loaded from that file and cast to float32
    exactly, so each equals one of its arrays; two arrays of equal value are interchangeable."""
    import h5py
    import numpy as np
    from tensorflow.python.ops import resource_variable_ops  # tf.Variable.read_value's op
    from tensorflow.python.saved_model import loader_impl, tag_constants

    session = graph_session(optimize=False)
    loader_impl.SavedModelLoader(str(exported)).load(session, [tag_constants.SERVING])
    with session.graph.as_default():
        values = session.run({op.name: resource_variable_ops.read_variable_op(op.outputs[0], op.get_attr("dtype"))
                              for op in variable_ops(session.graph)})
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


def variable_ops(graph) -> list:
    return [op for op in graph.get_operations() if op.type == "VarHandleOp"]


def carried_translator(run_dir: RunDir, search: SearchConfig, max_length: int, optimize: bool = True,
                       policy: str = "float32") -> CachedTranslator | None:
    """The graph the folder carries for this setting and dtype policy, or None where it carries none that matches
    (or it cannot be read). `optimize` as fast_start.cached_translator's."""
    record_path = run_dir / TRANSLATE_GRAPH / RECORD
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record["key"] != carried_key(run_dir, search, policy):
            return None
        surrogates = chosen_surrogates(search, run_dir.load_name_surrogates(), run_dir.load_number_surrogates())
        signatures = load_carried_signatures(run_dir, record["variables"], optimize)
        return CachedTranslator(signatures, max_length, search, surrogates)
    except Exception:  # noqa: BLE001 - whatever a damaged graph raises, the cache or the full path translates
        return None


def assign_op(handle, array) -> tuple:
    """(an op assigning a value of `array`'s dtype to the variable of `handle`, the placeholder of that value)."""
    from tensorflow.python.ops import array_ops, math_ops, resource_variable_ops  # tf.Variable.assign's ops

    given = array_ops.placeholder(array.dtype, array.shape)
    cast = math_ops.cast(given, handle.get_attr("dtype"))
    return resource_variable_ops.assign_variable_op(handle.outputs[0], cast), given


def load_carried_signatures(run_dir: RunDir, variables: dict[str, str], optimize: bool) -> dict:
    """The carried graph's signatures (as fast_start.load_signatures'), its variables assigned from the weights
    file."""
    import h5py
    from tensorflow.python.saved_model import loader_impl, tag_constants

    session = graph_session(optimize)
    loader = loader_impl.SavedModelLoader(str(run_dir / TRANSLATE_GRAPH))
    loader.load_graph(session.graph, [tag_constants.SERVING])
    handles = {op.name: op for op in variable_ops(session.graph)}
    if set(handles) != set(variables):
        raise ModelDirError(f"{run_dir / TRANSLATE_GRAPH / RECORD} does not name the graph's variables")
    with h5py.File(run_dir / WEIGHTS, "r") as stored:
        arrays = {name: stored[path] for name, path in variables.items()}
        for name, array in arrays.items():
            if array.shape != tuple(dim.size for dim in handles[name].get_attr("shape").dim):
                raise ModelDirError(f"{run_dir / WEIGHTS}: {variables[name]} is not shaped as the graph's {name}")
        with session.graph.as_default():  # all ops first: a run after the graph grew re-reads all of it (0.1 s)
            assigns = {name: assign_op(handles[name], array) for name, array in arrays.items()}
        # With the graph optimizer on (`translate --input`) each run costs 0.1 s (one a weight: the default model
        # loaded in 2.9 s instead of 0.7), so all are assigned in one; with it off a run costs nothing, and one a
        # weight, the largest first, keeps `translate "Hola."` smallest: each array is read and fed as a copy,
        # and a smaller one's copies then fit where a larger one's were (measured after the load: 538 MiB,
        # against 550 in any order and 566 all at once)
        largest_first = sorted(arrays, key=lambda name: arrays[name].size, reverse=True)
        for names in [largest_first] if optimize else [[name] for name in largest_first]:
            session.run([assigns[name][0] for name in names], {assigns[name][1]: arrays[name][()] for name in names})
    loader.run_init_ops(session, [tag_constants.SERVING])
    return signature_functions(session, loader.get_meta_graph_def_from_tags([tag_constants.SERVING]))
