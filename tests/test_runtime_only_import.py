"""TensorFlow's runtime without its public API (tensorflow_internals.py): what it leaves out, and that the package
still completes itself where code reads the public API. Each check runs in a fresh interpreter, as the import is
once per process."""

import subprocess
import sys

from conftest import REPO


def run(program: str) -> str:
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_runtime_only_import_leaves_out_the_public_api_and_keras_but_runs_eagerly():
    program = """
import sys
from translator.startup.tensorflow_internals import import_tensorflow
import_tensorflow(runtime_only=True)
from tensorflow.python.eager import context
from tensorflow.python.framework import constant_op
from tensorflow.python.ops import math_ops
print(sorted(m for m in ("tensorflow._api.v2.compat", "keras") if m in sys.modules), context.executing_eagerly(),
      math_ops.add(constant_op.constant(2), 3).numpy())
"""
    assert run(program) == "[] True 5"


def test_reading_the_public_api_completes_the_package_in_place():
    program = """
import sys
from translator.startup.tensorflow_internals import import_tensorflow, is_runtime_only
import_tensorflow(runtime_only=True)
import tensorflow as tf
package = sys.modules["tensorflow"]
print(is_runtime_only(tf), int(tf.reduce_sum(tf.constant([1, 2, 3]))), tf is package, is_runtime_only(tf),
      hasattr(tf, "saved_model"))
"""
    assert run(program) == "True 6 True False True"


def test_a_full_import_after_a_runtime_only_one_completes_it():
    program = """
from translator.startup.tensorflow_internals import import_tensorflow, is_runtime_only
import_tensorflow(runtime_only=True)
import_tensorflow()
import tensorflow as tf
import keras
print(is_runtime_only(tf), keras.layers.Dense(2)(tf.ones([1, 3])).shape)
"""
    assert run(program) == "False (1, 2)"
