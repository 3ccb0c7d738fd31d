"""The recurrent cells this project runs on a CPU, Keras' formulas split in two; under bfloat16 only their matmuls
run in bfloat16 and what accumulates stays in float32 (so too the Dense layers here).

Each cell's step is `project_inputs` (x W + b) then `recur` (the rest, from the projected input and the state),
so that a layer can project a whole sequence's inputs in one matmul before its loop (cells.ProjectedInputsRNN);
with float32 matmuls a step is Keras' own (a test), and that is what a float32 model runs where no GPU is.

Keras' mixed_bfloat16 runs a whole GRU/LSTM step in bfloat16, state included. With 8 bits of mantissa, the
update h_t = z h_{t-1} + (1 - z) h~_t rounds away the small steps a state takes over a sentence: at equal
training steps (attention, tutorial sizes, 1,500 steps, two seeds) dev loss was 3.06-3.26 against float32's
2.82, and the same model with its recurrent layers in float32 matched float32. These cells keep what
accumulates in float32 and cast only the matmul operands, where bfloat16's speed is; the kernels come from
precision.matmul_operand, so that their gradients, too, add up over the steps in float32.

The cell computes in float32 (its dtype policy, so the Keras RNN layer around it casts the initial state to
float32 and carries float32 through its loop) with `autocast=False`, so that inputs already in bfloat16 are
not cast up and down again; the layer around it stays mixed_bfloat16 and casts its outputs once at the end.
The formulas are Keras' own (GRU with reset_after, Keras' gate orders), so weights load either way.
"""

import keras
from keras import ops

from translator.model import precision
def _project(inputs, kernel, dtype):
    """inputs @ kernel (a variable) with both operands in `dtype`, the product back in float32."""
    return ops.cast(ops.matmul(ops.cast(inputs, dtype), precision.matmul_operand(kernel, dtype)), "float32")


def _as_float32(bias):
    return ops.cast(bias, "float32")


class _Float32State:
    """The constructor and config the three cells share; `matmul_dtype` is what their matmuls run in."""

    keras_name = ""  # the name Keras' own layer gives its cell, so that variable paths are the same either way

    def __init__(self, units, matmul_dtype="bfloat16", **kwargs):
        kwargs.setdefault("dtype", "float32")
        kwargs.setdefault("name", self.keras_name)
        super().__init__(units, autocast=False, **kwargs)
        self.matmul_dtype = matmul_dtype

    @property
    def float32_gradient_weights(self):
        """What precision.matmul_operand serves cast once, summing its gradient over the steps in float32 (the
        bias, a float32 layer's, precision.weights_cast_once reads as float32)."""
        return [self.kernel, self.recurrent_kernel]

    def call(self, inputs, states, training=False):
        return self.recur(self.project_inputs(inputs), states)

    def project_inputs(self, inputs):
        """x W + b (float32): what the step reads of its input, for one step [batch, features] or a whole sequence
        [batch, T, features] at once (ProjectedInputsRNN)."""
        raise NotImplementedError

    def recur(self, projected, states):
        """(output, new states) from the projected input of one step and the states before it."""
        raise NotImplementedError

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [ops.zeros((batch_size, size), "float32") for size in sizes]

    def get_config(self):
        config = super().get_config()
        config.pop("autocast", None)
        return {**config, "matmul_dtype": self.matmul_dtype}


@keras.saving.register_keras_serializable(package="translator")
class Float32StateGRUCell(_Float32State, keras.layers.GRUCell):
    """Keras' GRU step (reset_after: r multiplies U_h h + b_h), z and r from float32 pre-activations."""

    keras_name = "gru_cell"

    def project_inputs(self, inputs):
        return _project(inputs, self.kernel, self.matmul_dtype) + _as_float32(self.bias[0])

    def recur(self, projected, states):
        previous = states[0]
        x_z, x_r, x_h = ops.split(projected, 3, axis=-1)
        s_z, s_r, s_h = ops.split(_project(previous, self.recurrent_kernel, self.matmul_dtype)
                                  + _as_float32(self.bias[1]), 3, axis=-1)
        update = self.recurrent_activation(x_z + s_z)
        reset = self.recurrent_activation(x_r + s_r)
        candidate = self.activation(x_h + reset * s_h)
        hidden = update * previous + (1.0 - update) * candidate
        return hidden, [hidden]


@keras.saving.register_keras_serializable(package="translator")
class Float32StateLSTMCell(_Float32State, keras.layers.LSTMCell):
    """Keras' LSTM step (gates i, f, c, o in that order); the cell state c accumulates in float32."""

    keras_name = "lstm_cell"

    def project_inputs(self, inputs):
        return _project(inputs, self.kernel, self.matmul_dtype) + _as_float32(self.bias)

    def recur(self, projected, states):
        previous, carry = states
        i, f, c, o = ops.split(projected + _project(previous, self.recurrent_kernel, self.matmul_dtype), 4, axis=-1)
        carry = self.recurrent_activation(f) * carry + self.recurrent_activation(i) * self.activation(c)
        hidden = self.recurrent_activation(o) * self.activation(carry)
        return hidden, [hidden, carry]


@keras.saving.register_keras_serializable(package="translator")
class Float32StateSimpleRNNCell(_Float32State, keras.layers.SimpleRNNCell):
    """h_t = tanh(x W + h U + b)."""

    keras_name = "simple_rnn_cell"

    def project_inputs(self, inputs):
        return _project(inputs, self.kernel, self.matmul_dtype) + _as_float32(self.bias)

    def recur(self, projected, states):
        previous = states[0] if isinstance(states, (list, tuple)) else states
        hidden = self.activation(projected + _project(previous, self.recurrent_kernel, self.matmul_dtype))
        return hidden, [hidden]


@keras.saving.register_keras_serializable(package="translator")
class Float32OutputDense(keras.layers.Dense):
    """A Dense layer (no activation) whose matmul runs in the compute dtype, its kernel from
    precision.matmul_operand, and whose bias is added in float32: a float32 output.

    For the logits: the bias's gradient sums softmax minus one-hot over every token of a batch, which nearly
    cancels; with the bias read in bfloat16 it came out 30 % off float32's, this way 0.2 %. For the attention's
    query projection, used at every step of the decoder's loop: its gradients add up over the steps in float32.
    """

    @property
    def float32_weights(self):
        return [self.bias]

    @property
    def float32_gradient_weights(self):
        return [self.kernel]

    def call(self, inputs):
        return _project(inputs, self.kernel, self.compute_dtype) + _as_float32(self.bias)


FLOAT32_STATE_CELLS = {"rnn": Float32StateSimpleRNNCell, "lstm": Float32StateLSTMCell, "gru": Float32StateGRUCell}
