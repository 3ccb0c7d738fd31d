"""The bridge: the encoder's context turned into a decoder's initial state."""

import keras


class Bridge(keras.layers.Layer):
    """context c [batch, context_width] (+ LSTM cell state) -> decoder state, each [batch, units].

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
