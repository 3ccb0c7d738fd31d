"""The fast start runs on TensorFlow's internal modules (`tensorflow.python.*`: its runtime without the public
API, a v1 session, the SavedModel loader). Where a use of one fails at run time, the fast start passes it by
and the full model translates, only slower; this test fails instead, naming each internal that a TensorFlow
release moved or removed, found by reading every such import in the package."""

import ast
import importlib

import pytest

from conftest import REPO


def internal_imports() -> list[tuple[str, str, str]]:
    """(module file, internal module, name imported from it) for every `from tensorflow.python... import`."""
    found = []
    for path in sorted((REPO / "translator").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("tensorflow.python",
                                                                                    "tensorflow.core")):
                found += [(str(path.relative_to(REPO)), node.module, alias.name) for alias in node.names]
    return found


def test_the_package_uses_internals_only_in_its_fast_start():
    assert internal_imports(), "no internal import found: the reader is broken"
    assert {where.split("/")[1] for where, _, _ in internal_imports()} == {"startup"}


@pytest.mark.parametrize("where, module, name", internal_imports(), ids=lambda v: v if "." in v else None)
def test_each_internal_the_fast_start_uses_still_exists(where, module, name):
    imported = importlib.import_module(module)
    if not hasattr(imported, name):
        importlib.import_module(f"{module}.{name}")  # a submodule: `from tensorflow.python import tf2`


@pytest.mark.parametrize("function", ["read_variable_op", "assign_variable_op"])
def test_the_variable_ops_the_carried_graph_runs_exist(function):
    from tensorflow.python.ops import resource_variable_ops

    assert callable(getattr(resource_variable_ops, function))


def test_the_session_and_the_loader_have_what_the_fast_start_calls():
    from tensorflow.python.client import session
    from tensorflow.python.saved_model import loader_impl

    assert callable(session.Session.run)
    for method in ("load", "load_graph", "run_init_ops", "get_meta_graph_def_from_tags"):
        assert callable(getattr(loader_impl.SavedModelLoader, method)), method


@pytest.mark.parametrize("module, attribute", [
    ("tensorflow.python.ops.array_ops", "placeholder"), ("tensorflow.python.ops.math_ops", "cast"),
    ("tensorflow.python.framework.load_library", "load_op_library"), ("tensorflow.python.framework.ops", "Graph"),
    ("tensorflow.python.platform.tf_logging", "get_logger"),
    ("tensorflow.python.autograph.utils.ag_logging", "set_verbosity"), ("tensorflow.python.tf2", "enable"),
    ("tensorflow.python.compat.v2_compat", "enable_v2_behavior"), ("tensorflow.core.protobuf.config_pb2", "ConfigProto"),
    ("tensorflow.python.saved_model.tag_constants", "SERVING"),
])
def test_each_internal_function_the_fast_start_calls_exists(module, attribute):
    assert hasattr(importlib.import_module(module), attribute), f"{module}.{attribute}"
