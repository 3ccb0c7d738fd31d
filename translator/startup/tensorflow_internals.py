"""Every use of TensorFlow's internal modules (`tensorflow.python.*`), in one place: what the fast start needs
to run a saved translate graph with TensorFlow's runtime alone.

`import tensorflow` runs the package's `__init__`, which builds the whole public API (`tf.*`: some 1,600 modules)
and imports Keras whole before anything runs. Running a saved graph needs only the runtime beneath that API.
`import_tensorflow(runtime_only=True)` puts the `tensorflow` package into sys.modules without running its
`__init__` and switches on TensorFlow 2 behaviour as that `__init__` would; the package completes itself (runs
its `__init__`) the first time any code reads an attribute it lacks (`tf.constant`, Keras' own import), so code
that needs the public API later in the same process gets it as ever, at the usual cost.

The graph itself runs in a v1 session (TensorFlow's own loader, tf.saved_model.load, rebuilds every function
as a Python graph and imports hundreds more modules), with its variables assigned from the model folder's
weights file, and three of tensorflow-text's op libraries registered without its Python API.

These are internals: a release may move them. At run time the fast start then passes the saved graph by and
the full model translates, slower; tests/test_tensorflow_internals.py fails loudly instead, naming the one that
moved. docs/performance.md has what each saves.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import os
import sys
import types
from pathlib import Path

# tensorflow-text's op libraries holding the text ops a translate graph runs (NormalizeUTF8,
# RegexSplitWithOffsets, FastWordpieceTokenizeWithOffsets; its detokenizer is core TensorFlow's ops)
TEXT_OP_LIBRARIES = ("_normalize_ops", "_regex_split_ops", "_fast_wordpiece_tokenizer")


def import_tensorflow(runtime_only: bool = False, completing=contextlib.nullcontext) -> None:
    """Import TensorFlow: its runtime only (see above), or whole (completing a runtime-only import made before).
    `completing`: a context manager to complete the package in where a later attribute read does (quiet.py's)."""
    package = sys.modules.get("tensorflow")
    if package is None and runtime_only:
        import_runtime(completing)
    elif package is None:
        import tensorflow  # noqa: F401
    elif not runtime_only and is_runtime_only(package):
        complete(package)


def import_runtime(completing=contextlib.nullcontext) -> None:
    spec = importlib.util.find_spec("tensorflow")
    package = importlib.util.module_from_spec(spec)  # __path__ and __spec__ set, __init__ not run

    def completed_attribute(name):  # PEP 562: read only for the attributes the package lacks
        with completing():
            return getattr(complete(package), name)

    package.__getattr__ = completed_attribute
    sys.modules["tensorflow"] = package
    try:
        os.environ["TF2_BEHAVIOR"] = "1"  # as the __init__ does first: modules read it as they are imported
        from tensorflow.python import tf2

        tf2.enable()
        from tensorflow.python.compat import v2_compat

        v2_compat.enable_v2_behavior()  # what the __init__ ends with: eager execution, resource variables, ...
    except (ImportError, AttributeError):  # a release that moved them
        complete(package)


def is_runtime_only(package: types.ModuleType) -> bool:
    return "__getattr__" in vars(package)


def complete(package: types.ModuleType) -> types.ModuleType:
    """Run the package's `__init__` in it: the public API, over the modules already imported."""
    if is_runtime_only(package):
        del package.__getattr__  # before the __init__, whose own attribute reads must not come back here
        package.__spec__.loader.exec_module(package)
    return package


def silence_loggers() -> None:
    """TensorFlow's Python loggers turned down by their modules, which a runtime-only import has too
    (tf.get_logger, tf.autograph.set_verbosity)."""
    from tensorflow.python.autograph.utils import ag_logging
    from tensorflow.python.platform import tf_logging

    tf_logging.get_logger().setLevel(logging.ERROR)
    ag_logging.set_verbosity(0)


def graph_session(optimize: bool):
    """A TensorFlow session on a graph of its own (tf.compat.v1.Session, tf.Graph), with TensorFlow's graph
    optimizer (grappler, which runs on the first call) on or off. The text ops the graphs run are registered
    first."""
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.client import session as session_lib
    from tensorflow.python.framework import ops

    register_text_ops()
    options = config_pb2.ConfigProto()
    options.graph_options.rewrite_options.disable_meta_optimizer = not optimize
    return session_lib.Session(graph=ops.Graph(), config=options)


@functools.cache
def register_text_ops() -> None:
    """Register the text ops a translate graph needs without importing tensorflow_text, whose Python API loads
    every one of its ~30 op libraries. Importing tensorflow_text afterwards (the full load) loads them again
    harmlessly."""
    from tensorflow.python.framework import load_library  # tf.load_op_library

    package = importlib.util.find_spec("tensorflow_text").submodule_search_locations[0]
    for name in TEXT_OP_LIBRARIES:
        load_library.load_op_library(os.path.join(package, "python", "ops", f"{name}.so"))


class SavedGraph:
    """A SavedModel's graph (tf.compat.v1.saved_model.load) in a session of its own: its variables read or
    assigned, its signatures run as functions of numpy arrays."""

    def __init__(self, folder: Path, optimize: bool, with_variables: bool = False):
        """`with_variables`: the values saved with the graph restored (a SavedModel that has them)."""
        from tensorflow.python.saved_model import loader_impl, tag_constants

        self.session, self.tags = graph_session(optimize), [tag_constants.SERVING]
        self.loader = loader_impl.SavedModelLoader(str(folder))
        if with_variables:
            self.loader.load(self.session, self.tags)
        else:
            self.loader.load_graph(self.session.graph, self.tags)

    def variables(self) -> dict:
        """{variable name: its op} of every variable of the graph."""
        return {op.name: op for op in self.session.graph.get_operations() if op.type == "VarHandleOp"}

    def read(self) -> dict:
        """{variable name: its value}."""
        from tensorflow.python.ops import resource_variable_ops  # tf.Variable.read_value's op

        with self.session.graph.as_default():
            reads = {name: resource_variable_ops.read_variable_op(op.outputs[0], op.get_attr("dtype"))
                     for name, op in self.variables().items()}
        return self.session.run(reads)

    def assign(self, arrays: dict, together: bool) -> None:
        """Each variable named in `arrays` given that array's value (cast to its dtype in the graph); all in one
        run where `together`, else one run a variable, the largest first, which keeps the peak memory lowest
        (each array is fed as a copy, and a smaller one's copies then fit where a larger one's were)."""
        from tensorflow.python.ops import array_ops, math_ops, resource_variable_ops  # tf.Variable.assign's ops

        handles = self.variables()
        with self.session.graph.as_default():  # all ops first: a run after the graph grew re-reads all of it
            assigns = {}
            for name, array in arrays.items():
                given = array_ops.placeholder(array.dtype, array.shape)
                cast = math_ops.cast(given, handles[name].get_attr("dtype"))
                assigns[name] = resource_variable_ops.assign_variable_op(handles[name].outputs[0], cast), given
        largest_first = sorted(arrays, key=lambda name: arrays[name].size, reverse=True)
        for names in [largest_first] if together else [[name] for name in largest_first]:
            self.session.run([assigns[name][0] for name in names], {assigns[name][1]: arrays[name][()] for name in names})

    def signatures(self) -> dict:
        """Each signature of the graph as a function of numpy arrays (after its init ops ran)."""
        self.loader.run_init_ops(self.session, self.tags)
        meta_graph = self.loader.get_meta_graph_def_from_tags(self.tags)
        return {name: functools.partial(run_signature, self.session, signature)
                for name, signature in meta_graph.signature_def.items()}


def run_signature(session, signature, **inputs) -> dict:
    feeds = {signature.inputs[name].name: value for name, value in inputs.items()}
    return session.run({name: tensor.name for name, tensor in signature.outputs.items()}, feeds)
