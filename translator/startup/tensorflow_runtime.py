"""TensorFlow's runtime without its public Python API, for a process that only runs a saved graph (`translate` from
the fast start's cache, fast_start.py).

`import tensorflow` runs the package's `__init__`, which builds the whole public API (`tf.*`: some 1,600 modules)
and imports Keras 3 whole before anything runs: measured here, even with Keras left out, 1.6-1.8 s and 543 MB
resident (Keras adds about 1 s and 95 MB). Running a SavedModel needs only the runtime beneath that API,
`tensorflow.python`: the modules the fast start runs one with, imported without the `__init__`, took 0.55 s and
403 MB, and `translate "Hola."` from the cache peaked at 602 MB instead of 710 (tf.saved_model.load's modules;
587 MB with the session's), 1.8 s instead of 2.5.

`import_tensorflow(runtime_only=True)` puts the `tensorflow` package into sys.modules without running its
`__init__` and switches on TensorFlow 2 behaviour as that `__init__` would, which loads TensorFlow's C++ runtime;
a caller imports the modules it needs beneath it itself (fast_start's loader). The package completes itself (runs
its `__init__`) the first time any code reads an attribute it lacks (`tf.constant`, Keras' own import of
TensorFlow): code that needs the public API later in the same process, such as the full Translator where the cache
misses, gets it as ever, at the usual cost. These are TensorFlow's internal modules: where a later release moves
them, the import fails and the full import is made instead (and the fast start passes the cache by).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import types


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
