"""Additive (Bahdanau) attention with keys computed once per sentence."""

import keras
from keras import ops

MASKED_ENERGY = -3e4  # exp() of it is 0 in float32; unlike -1e9 it is finite in float16 too


class AdditiveAttention(keras.layers.Layer):
    """e_tj = v^T tanh(W s_{t-1} + U h_j), masked; alpha_t = softmax(e_t); c_t = sum_j alpha_tj h_j.

    `keys(memory)` computes U h_j once per sentence; `call` does one step.
    (Keras' own AdditiveAttention has no W and U projections.)
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.query_projection = keras.layers.Dense(units, name="W")  # its bias is the b of W s + b
        self.key_projection = keras.layers.Dense(units, use_bias=False, name="U")
        self.score = keras.layers.Dense(1, use_bias=False, name="v")

    def keys(self, memory):
        """U h_j: [batch, src_len, width] -> [batch, src_len, units]."""
        return self.key_projection(memory)

    def call(self, query, keys, memory, mask):
        """query s_{t-1} [batch, units] -> (c_t [batch, width], alpha_t [batch, src_len])."""
        energies = ops.squeeze(self.score(ops.tanh(keys + ops.expand_dims(self.query_projection(query), 1))), -1)
        energies = ops.where(mask, energies, MASKED_ENERGY)
        weights = ops.softmax(energies, axis=-1) * ops.cast(mask, energies.dtype)  # exact zeros on padding
        return ops.einsum("bs,bsw->bw", weights, memory), weights

    def get_config(self):
        return {**super().get_config(), "units": self.units}
