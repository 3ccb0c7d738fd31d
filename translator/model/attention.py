"""Additive (Bahdanau) attention with keys computed once per sentence."""

import keras
from keras import ops

from translator.model.float32_state import Float32OutputDense

MASKED_ENERGY = -3e4  # exp() of it is 0 in float32; unlike -1e9 it is finite in float16 too


class AdditiveAttention(keras.layers.Layer):
    """e_tj = v^T tanh(W s_{t-1} + U h_j), masked; alpha_t = softmax(e_t); c_t = sum_j alpha_tj h_j.

    `keys(memory)` computes U h_j once per sentence; `call` does one step.
    (Keras' own AdditiveAttention has no W and U projections.)

    The energies and the softmax are float32 under every policy, with W s and U h from the compute dtype's
    matmuls: the softmax's gradient cancels almost to zero when summed back over the source positions (W's
    true gradient at initialisation was ~1e-9), and in bfloat16 what is left of it was noise 30 times its size,
    which Adam then followed at full step size.
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs, autocast=False)  # the float32 keys stay float32; each sublayer casts its input
        self.units = units
        self.query_projection = Float32OutputDense(units, name="W")  # its bias is the b of W s + b
        self.key_projection = keras.layers.Dense(units, use_bias=False, name="U")
        self.score = keras.layers.Dense(1, use_bias=False, name="v", dtype="float32")

    def keys(self, memory):
        """U h_j: [batch, src_len, width] -> [batch, src_len, units], float32."""
        return ops.cast(self.key_projection(memory), "float32")

    def call(self, query, keys, memory, mask):
        """query s_{t-1} [batch, units] -> (c_t [batch, width], alpha_t [batch, src_len] float32)."""
        hidden = ops.tanh(keys + ops.expand_dims(self.query_projection(query), 1))
        energies = ops.where(mask, ops.squeeze(self.score(hidden), -1), MASKED_ENERGY)
        weights = ops.softmax(energies, axis=-1) * ops.cast(mask, "float32")  # exact zeros on padding
        # a batch of [1, src_len] @ [src_len, width] products: TensorFlow's einsum "bs,bsw->bw" computed the same
        # and its gradient 1.5-2.4x slower (batch 64 x 10 positions, 320 x 12; graph mode, this CPU)
        context = ops.matmul(ops.expand_dims(ops.cast(weights, memory.dtype), 1), memory)
        return ops.squeeze(context, 1), weights

    def get_config(self):
        return {**super().get_config(), "units": self.units}
