"""Recurrent cells by name: "rnn" | "lstm" | "gru", and helpers for their states.

A state is always a list of tensors [batch, units]: [h] for rnn and gru,
[h, c] for lstm, so code that moves states around never asks which cell it is.
"""

import keras

from translator.errors import OptionError

RECURRENT_LAYERS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
CELLS = tuple(RECURRENT_LAYERS)


def check_cell(cell: str) -> None:
    if cell not in RECURRENT_LAYERS:
        raise OptionError(f"`cell`: unknown '{cell}'; choose one of {', '.join(CELLS)}")


def recurrent_layer(cell: str, units: int, name: str | None = None) -> keras.layers.RNN:
    """A whole-sequence layer returning (sequence, *final_state); its `.cell` serves single steps."""
    check_cell(cell)
    return RECURRENT_LAYERS[cell](units, return_sequences=True, return_state=True, name=name)


def state_size(cell: str) -> int:
    """How many tensors a state of `cell` holds."""
    return 2 if cell == "lstm" else 1
