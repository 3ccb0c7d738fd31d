"""Bridges: how a decoder's initial state is made. A decoder class names its bridge (`bridge_class`); both
take the encoder's context c (and an LSTM's cell state) and return a state list of [batch, units] tensors."""

import keras
from keras import ops


class Bridge(keras.layers.Layer):
    """The state from the encoder: h'_0 = c.

    Where the widths agree (a unidirectional encoder with as many units as
    the decoder) the context passes through unchanged, so h'_0 = c exactly as
    the model's formulas say; otherwise a learned dense layer (tanh for h,
    linear for an LSTM's cell state) maps it to the decoder's width.
    """

    def __init__(self, units: int, context_width: int, lstm: bool, **kwargs):
        super().__init__(**kwargs)
        self.units, self.context_width, self.lstm = units, context_width, lstm
        reshape = context_width != units
        self.hidden = keras.layers.Dense(units, activation="tanh", name="hidden") if reshape else None
        self.cell = keras.layers.Dense(units, name="cell") if reshape and lstm else None

    def call(self, context, cell_state=None):
        hidden = context if self.hidden is None else self.hidden(context)
        if not self.lstm:
            return [hidden]
        return [hidden, cell_state if self.cell is None else self.cell(cell_state)]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "context_width": self.context_width, "lstm": self.lstm}


class LearnedState(keras.layers.Layer):
    """A learned initial state, the same for every sentence (the context decoder's: c enters as input instead)."""

    def __init__(self, units: int, context_width: int, lstm: bool, **kwargs):
        super().__init__(**kwargs)
        self.units, self.context_width, self.lstm = units, context_width, lstm
        self.states = [self.add_weight(shape=(units,), initializer="zeros", name=name)
                       for name in (("h0", "c0") if lstm else ("h0",))]

    def call(self, context, cell_state=None):
        batch = ops.shape(context)[0]
        return [ops.broadcast_to(s, (batch, self.units)) for s in self.states]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "context_width": self.context_width, "lstm": self.lstm}
