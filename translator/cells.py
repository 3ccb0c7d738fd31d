"""Recurrent cells by name: "rnn" | "lstm" | "gru", and helpers for their states.

A state is always a list of tensors [batch, units]: [h] for rnn and gru,
[h, c] for lstm, so code that moves states around never asks which cell it is.

Keras' cells return only their new state; `gate_activations` recomputes the
gates from the same kernels, biases and recurrent activation (a test checks
that they rebuild the cell's own output).
"""

import keras
from keras import ops

from translator.errors import OptionError
from translator.float32_state import FLOAT32_STATE_CELLS

RECURRENT_LAYERS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
CELLS = tuple(RECURRENT_LAYERS)


def check_cell(cell: str) -> None:
    if cell not in RECURRENT_LAYERS:
        raise OptionError(f"`cell`: unknown '{cell}'; choose one of {', '.join(CELLS)}")


def recurrent_layer(cell: str, units: int, name: str | None = None) -> keras.layers.RNN:
    """A whole-sequence layer returning (sequence, *final_state); its `.cell` serves single steps.

    Built under mixed_bfloat16, its cell keeps the state in float32 (float32_state.py); otherwise it is Keras'
    own GRU/LSTM/SimpleRNN layer, which a GPU runs through cuDNN.
    """
    check_cell(cell)
    if keras.config.dtype_policy().name == "mixed_bfloat16":
        return keras.layers.RNN(FLOAT32_STATE_CELLS[cell](units), return_sequences=True, return_state=True,
                                name=name)
    return RECURRENT_LAYERS[cell](units, return_sequences=True, return_state=True, name=name)


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
