"""Which dtype the layers compute in: `precision` resolved to a Keras dtype policy, applied while a model is built.

Variables stay float32 under every policy (Keras' mixed policies), and the
model casts its logits to float32, so the softmax and the loss never run in
16 bits. On a CPU, Keras runs GRU/LSTM as a loop of per-step matmuls: only
those matmuls and the output layer gain from bfloat16, and only on CPUs with
BF16 instructions (AVX-512 BF16 or AMX), which is what `auto` checks.
"""

from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path

POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "mixed_float16": "mixed_float16"}
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:  # not Linux: no cheap way to ask, and no claim made
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


@functools.cache
def bfloat16_measures_faster(repeats: int = 20) -> bool:
    """Time a 64x512 @ 512x1536 matmul (a GRU step's size) in both dtypes; about 0.1 s."""
    import tensorflow as tf

    def seconds(dtype):
        a, b = tf.ones([64, 512], dtype), tf.ones([512, 1536], dtype)
        tf.matmul(a, b).numpy()  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            result = tf.matmul(a, b)
        result.numpy()
        return time.perf_counter() - start

    return seconds(tf.bfloat16) < 0.9 * seconds(tf.float32)


def resolve(precision: str) -> str:
    """`precision` (auto|float32|bfloat16|mixed_float16) -> the Keras dtype policy to build with.

    auto: bfloat16 on a CPU-only machine whose CPU has BF16 instructions and where a bfloat16 matmul
    measures faster; float32 elsewhere (GPUs included: choose mixed_float16 there explicitly).
    """
    if precision != "auto":
        return POLICIES[precision]
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU") or not cpu_has_bf16():
        return "float32"
    return POLICIES["bfloat16"] if bfloat16_measures_faster() else "float32"


@contextlib.contextmanager
def dtype_policy(policy: str):
    """Layers built inside compute in `policy`'s dtype; the global policy is restored after."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@contextlib.contextmanager
def weights_cast_once(model):
    """Inside, the model's trainable variables read as tensors already in its compute dtype.

    Keras' mixed policies cast a variable at each read, and a read inside a loop over time is a read per
    step, forward and backward: a bfloat16 training step of the attention decoder ran 281 Cast ops. Cast
    here, once, the loops reuse the cast tensors, and gradients reach the variables through that one cast
    (a loop's gradient for them then adds up in the compute dtype: a GRU's gradient over 30 steps was
    0.8-1.0 % off float32's, against 0.7-0.9 % with a cast per step). Nothing changes where the compute and
    variable dtypes agree (float32). Built on keras.StatelessScope, which maps variables to values; what a
    layer assigns inside (a random seed's state) is written to its variable on the way out.
    """
    import keras
    from keras import ops

    policy = model.dtype_policy
    if policy.compute_dtype == policy.variable_dtype:
        yield
        return
    cast = model.trainable_variables
    scope = keras.StatelessScope()
    for variable in cast:  # add_update keeps the value as given (a mapping passed to the constructor is cast back)
        scope.add_update((variable, ops.cast(variable, policy.compute_dtype)))
    with scope:
        yield
    cast_ids = {id(variable) for variable in cast}
    for variable in model.variables:
        value = scope.get_current_value(variable)
        if id(variable) not in cast_ids and value is not None:
            variable.assign(value)
