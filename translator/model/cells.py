"""Recurrent cells by name: "rnn" | "lstm" | "gru", and helpers for their states.

A state is always a list of tensors [batch, units]: [h] for rnn and gru,
[h, c] for lstm, so code that moves states around never asks which cell it is.

Keras' cells return only their new state; `gate_activations` recomputes the
gates from the same kernels, biases and recurrent activation (a test checks
that they rebuild the cell's own output).
"""

import keras
from keras import ops
from keras.src import backend

from translator.errors import OptionError
from translator.model.float32_state import FLOAT32_STATE_CELLS
from translator.model.precision import gpu_present

RECURRENT_LAYERS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
CELLS = tuple(RECURRENT_LAYERS)


def check_cell(cell: str) -> None:
    if cell not in RECURRENT_LAYERS:
        raise OptionError(f"`cell`: unknown '{cell}'; choose one of {', '.join(CELLS)}")


def recurrent_layer(cell: str, units: int, name: str | None = None) -> keras.layers.RNN:
    """A whole-sequence layer returning (sequence, *final_state); its `.cell` serves single steps.

    Where a GPU is present (or under mixed_float16), Keras' own GRU/LSTM/SimpleRNN layer, which a GPU runs
    through cuDNN. Elsewhere Keras would run its cell step by step, an input matmul and a recurrent one in each
    step; a ProjectedInputsRNN of this project's cells (float32_state.py: Keras' formulas, matmuls in bfloat16
    and the state in float32 under mixed_bfloat16) projects the whole sequence's inputs in one matmul first.
    Either way the variables are the same, and the weights load into both.
    """
    check_cell(cell)
    policy = keras.config.dtype_policy().name
    if policy == "mixed_bfloat16" or (policy == "float32" and not gpu_present()):
        matmul_dtype = "bfloat16" if policy == "mixed_bfloat16" else "float32"
        return ProjectedInputsRNN(FLOAT32_STATE_CELLS[cell](units, matmul_dtype=matmul_dtype),
                                  return_sequences=True, return_state=True, name=name)
    return RECURRENT_LAYERS[cell](units, return_sequences=True, return_state=True, name=name)


@keras.saving.register_keras_serializable(package="translator")
class ProjectedInputsRNN(keras.layers.RNN):
    """keras.layers.RNN over a cell with `project_inputs` and `recur` (float32_state.py): the input matmul of every
    step at once, as one [batch x T, features] @ [features, gates x units] matmul before the loop, and only the
    recurrent one inside it. The loop is Keras' own, the `rnn` of its backend that keras.layers.RNN calls (no
    public name: keras.src), with its masks, go_backwards and Bidirectional. Faster in float32 training and
    under XLA, unchanged in bfloat16 (docs/performance.md)."""

    def inner_loop(self, sequences, initial_state, mask, training=False):
        batch, steps = ops.shape(sequences)[0], ops.shape(sequences)[1]
        projected = self.cell.project_inputs(ops.reshape(sequences, (-1, sequences.shape[-1])))
        projected = ops.reshape(projected, (batch, steps, projected.shape[-1]))
        return backend.rnn(self.cell.recur, projected, list(initial_state), go_backwards=self.go_backwards,
                           mask=mask, unroll=self.unroll, input_length=sequences.shape[1],
                           zero_output_for_mask=self.zero_output_for_mask, return_all_outputs=self.return_sequences)


def state_size(cell: str) -> int:
    """How many tensors a state of `cell` holds."""
    return 2 if cell == "lstm" else 1


def gate_names(cell) -> tuple[str, ...]:
    """The gates `gate_activations` returns for this cell; () for a simple RNN."""
    if isinstance(cell, keras.layers.LSTMCell):
        return ("input", "forget", "output")
    if isinstance(cell, keras.layers.GRUCell):
        return ("update", "reset")
    return ()


def gate_activations(cell, inputs, state) -> dict:
    """{gate name: activations [batch, units]} of one step of `cell` from inputs [batch, features] and its state
    before the step (a list: [h] or [h, c]).

    LSTM: i, f, o = sigmoid(x W + h U + b) split by gate (Keras' order i, f, c, o).
    GRU: z (update: h_t = z h_{t-1} + (1 - z) h~_t in Keras' convention) and r (reset).
    """
    hidden = state[0]
    names = gate_names(cell)
    if not names:
        return {}
    units = cell.units
    from_input = ops.matmul(inputs, cell.kernel)
    from_state = ops.matmul(hidden, cell.recurrent_kernel)
    if isinstance(cell, keras.layers.LSTMCell):
        preactivation = from_input + from_state + (cell.bias if cell.use_bias else 0.0)
        gates = {"input": preactivation[:, :units], "forget": preactivation[:, units : 2 * units],
                 "output": preactivation[:, 3 * units :]}
    else:
        if cell.use_bias:
            input_bias, state_bias = (cell.bias[0], cell.bias[1]) if cell.reset_after else (cell.bias, None)
            from_input = from_input + input_bias
            if state_bias is not None:
                from_state = from_state + state_bias
        preactivation = from_input[:, : 2 * units] + from_state[:, : 2 * units]
        gates = {"update": preactivation[:, :units], "reset": preactivation[:, units:]}
    return {name: cell.recurrent_activation(value) for name, value in gates.items()}
