"""Which dtype the layers compute in: `precision` resolved to a Keras dtype policy, applied while a model is built.

Variables stay float32 under every policy (Keras' mixed policies), and the
model casts its logits to float32, so the softmax and the loss never run in
16 bits. On a CPU, Keras runs GRU/LSTM as a loop of per-step matmuls: only
those matmuls and the output layer gain from bfloat16, and only on CPUs with
BF16 instructions (AVX-512 BF16 or AMX), which is what `auto` checks.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import time
from pathlib import Path

POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "mixed_float16": "mixed_float16"}
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def gpu_present() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


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
    if gpu_present() or not cpu_has_bf16():
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


_CAST_COPIES = contextvars.ContextVar("cast_copies", default={})  # id(variable) -> (float32 value, its cast)


def _listed(model, attribute: str) -> set[int]:
    """ids of the variables that the model's layers list under `attribute`."""
    return {id(v) for layer in model._flatten_layers() for v in getattr(layer, attribute, ())}


def _owned_by_float32_layers(model) -> set[int]:
    """ids of the variables whose own layer computes in float32 (a layer built with dtype="float32" inside a
    mixed model): they are read as float32, as that layer would read them."""
    return {id(v) for layer in model._flatten_layers() if layer.compute_dtype == "float32"
            for v in layer._trainable_variables}


def matmul_operand(variable, dtype):
    """`variable` as a matmul operand in `dtype`. Inside weights_cast_once, for a layer's
    `float32_gradient_weights`: the copy cast once, whose gradient is cast back to float32 at each use, so that
    a loop over time sums its steps' gradients in float32. Summed in bfloat16 instead (a captured bfloat16
    tensor's gradient accumulates in bfloat16), the recurrent kernels' gradients lost what cancels between steps:
    attention at tutorial sizes, 1,500 steps, seed 1, dev loss 2.95 against float32's 2.74 (2.79 this way; see
    the README's "bfloat16 on this CPU"). Elsewhere, a cast."""
    import tensorflow as tf
    from keras import ops

    copies = _CAST_COPIES.get().get(id(variable))
    if copies is None or copies[1].dtype != dtype:
        return ops.cast(variable, dtype)
    value, copy = copies

    @tf.custom_gradient
    def view(value):
        return tf.identity(copy), lambda upstream: tf.cast(upstream, value.dtype)

    return view(value)


@contextlib.contextmanager
def weights_cast_once(model):
    """Inside, the model's trainable variables read as tensors already in its compute dtype.

    Keras' mixed policies cast a variable at each read, and a read inside a loop over time is a read per
    step, forward and backward: a bfloat16 training step of the attention decoder ran 281 Cast ops. Cast
    here, once, the loops reuse the cast tensors, and gradients reach the variables through that one cast
    (a loop's gradient for them then adds up in the compute dtype: a GRU's gradient over 30 steps was
    0.8-1.0 % off float32's, against 0.7-0.9 % with a cast per step). The variables of layers that compute in
    float32, and a layer's `float32_weights` (biases added in float32), are read once as float32 instead, and
    its `float32_gradient_weights` as float32 too, while `matmul_operand` serves their cast copy (the recurrent
    kernels). Nothing changes where the compute and
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
    float32 = _owned_by_float32_layers(model) | _listed(model, "float32_weights")
    float32_gradient = _listed(model, "float32_gradient_weights")
    scope, copies = keras.StatelessScope(), {}
    for variable in cast:  # add_update keeps the value as given (a mapping passed to the constructor is cast back)
        kept = id(variable) in float32 or id(variable) in float32_gradient
        value = ops.cast(variable, "float32" if kept else policy.compute_dtype)
        scope.add_update((variable, value))
        if id(variable) in float32_gradient:
            copies[id(variable)] = (value, ops.cast(value, policy.compute_dtype))
    token = _CAST_COPIES.set(copies)
    try:
        with scope:
            yield
    finally:
        _CAST_COPIES.reset(token)
    cast_ids = {id(variable) for variable in cast}
    for variable in model.variables:
        value = scope.get_current_value(variable)
        if id(variable) not in cast_ids and value is not None:
            variable.assign(value)
