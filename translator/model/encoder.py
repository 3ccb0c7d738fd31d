"""The encoder: embedding, stacked (bi)directional recurrent layers, context vector."""

from __future__ import annotations

import keras
from keras import ops

from translator.model.cells import recurrent_layer, state_size
from translator.errors import OptionError

CONTEXTS = ("last", "dense", "mean")
MERGES = ("concat", "sum")  # how a bidirectional layer joins its two directions (Keras' merge_mode)


class Encoder(keras.layers.Layer):
    """source ids [batch, src_len] -> {"memory", "mask", "context", "cell_state"}.

    memory:     h_1..h_N of the top layer [batch, src_len, width], width = units (x2 if bidirectional and the
                directions are concatenated; summed, as the TensorFlow tutorial's encoder does, they keep units)
    mask:       [batch, src_len] bool, True on real tokens
    context:    c [batch, width]: h_N ("last"), tanh(q h_N) ("dense"),
                or tanh(q mean_j h_j) over real positions ("mean")
    cell_state: the top layer's final LSTM cell state [batch, width] (present for LSTM only)
    """

    def __init__(self, vocab_size, embedding_dim, units, layers=1, cell="gru", bidirectional=False,
                 context="last", dropout=0.0, merge="concat", **kwargs):
        super().__init__(**kwargs)
        if context not in CONTEXTS:
            raise OptionError(f"`context`: unknown '{context}'; choose one of {', '.join(CONTEXTS)}")
        if merge not in MERGES:
            raise OptionError(f"`merge`: unknown '{merge}'; choose one of {', '.join(MERGES)}")
        if layers < 1:
            raise OptionError(f"`layers` must be at least 1, got {layers}")
        self.vocab_size, self.embedding_dim, self.units, self.layers = vocab_size, embedding_dim, units, layers
        self.cell, self.bidirectional, self.context, self.dropout = cell, bidirectional, context, dropout
        self.merge = merge
        self.width = units * (2 if bidirectional and merge == "concat" else 1)
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
        self.recurrent = [self._layer(i) for i in range(layers)]
        self.between = keras.layers.Dropout(dropout, name="dropout")
        self.q = None if context == "last" else keras.layers.Dense(self.width, activation="tanh", name="q")

    def _layer(self, index):
        layer = recurrent_layer(self.cell, self.units, name=f"{self.cell}_{index}")
        if self.bidirectional:
            return keras.layers.Bidirectional(layer, merge_mode=self.merge, name=f"bi{self.cell}_{index}")
        return layer

    def call(self, source, training=False):
        mask = ops.not_equal(source, 0)
        x = self.embedding(source)
        for index, layer in enumerate(self.recurrent):
            if index:
                x = self.between(x, training=training)
            x, *states = layer(x, mask=mask, training=training)
        return self.encoded(x, mask, states)

    def encoded(self, memory, mask, states):
        """The output dict from the top layer's outputs and final states (as its Keras layer returns them:
        each direction's state tensors in turn)."""
        hidden, cell_state = self._final_state(states)
        encoded = {"memory": memory, "mask": mask, "context": self._context(memory, mask, hidden)}
        return encoded if cell_state is None else {**encoded, "cell_state": cell_state}

    def _final_state(self, states):
        """(h_N, LSTM c_N or None) of the top layer; both directions joined as their outputs are."""
        per_direction = state_size(self.cell)
        directions = [states[i : i + per_direction] for i in range(0, len(states), per_direction)]
        hidden = self.joined([d[0] for d in directions])
        cell = self.joined([d[1] for d in directions]) if per_direction == 2 else None
        return hidden, cell

    def joined(self, per_direction):
        """A layer's tensors of each direction [..., units] as one, the way `merge` says."""
        if len(per_direction) == 1:
            return per_direction[0]
        return ops.concatenate(per_direction, axis=-1) if self.merge == "concat" else ops.add(*per_direction)

    def _context(self, memory, mask, hidden):
        if self.context == "last":
            return hidden
        if self.context == "dense":
            return self.q(hidden)
        weights = ops.expand_dims(ops.cast(mask, memory.dtype), -1)
        mean = ops.sum(memory * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        return self.q(mean)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim, "units": self.units,
            "layers": self.layers, "cell": self.cell, "bidirectional": self.bidirectional,
            "context": self.context, "dropout": self.dropout, "merge": self.merge,
        }
