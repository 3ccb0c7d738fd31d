"""Copying source tokens: the pointer-generator of See et al. (2017), "Get To The Point".

At each step a learned switch p_gen = sigmoid(w [s_t; c_t; x_t] + b) mixes two
distributions over the (shared) vocabulary: the output layer's softmax, and
the attention weights alpha_t laid onto the ids of the source tokens they
attend to (weights on repeated tokens add up):

    P(w) = p_gen * softmax(y'_t)(w) + (1 - p_gen) * sum_{j: x_j = w} alpha_tj

A word the output layer never learned to produce (a name, a number spelled
digit by digit) can thus be written by attending to it. Copying by index
needs one vocabulary for both languages (`shared_vocabulary`). The layer
returns log P, which stands wherever logits did: log_softmax(log P) = log P,
so the loss and both searches need no change.
"""

from __future__ import annotations

import keras
from keras import ops

from translator.model.loss import token_nll

SMALLEST_PROBABILITY = 1e-9  # log(0) would make a token the search can never pick into NaN gradients


class PointerGenerator(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.switch = keras.layers.Dense(1, name="p_gen")

    def call(self, logits, state, context, inputs, weights, source_ids):
        """log P [..., vocab] (float32) for a step ([n, ...]) or a sequence ([batch, T, ...]).

        logits [..., vocab]; state s_t, context c_t and decoder input x_t [..., width each];
        weights alpha_t [..., src_len]; source_ids [batch, src_len].
        """
        p_gen = ops.cast(ops.sigmoid(self.switch(ops.concatenate([state, context, inputs], axis=-1))), "float32")
        generated = ops.softmax(ops.cast(logits, "float32"), axis=-1)
        copied = scatter_onto_vocabulary(ops.cast(weights, "float32"), source_ids, ops.shape(logits)[-1])
        return ops.log(ops.maximum(p_gen * generated + (1.0 - p_gen) * copied, SMALLEST_PROBABILITY))

    def target_log_probability(self, logits, state, context, inputs, weights, source_ids, targets):
        """log P(targets) [batch, T], as `call` gives it at the targets (bar its floor), from the logits' own
        cross-entropy and the attention on the source tokens equal to each target: no [batch, T, vocab] tensor
        beyond the logits, where the mixture over the whole vocabulary took seven, forward and backward."""
        switch = ops.cast(self.switch(ops.concatenate([state, context, inputs], axis=-1)), "float32")[..., 0]
        generated = -token_nll(targets, ops.cast(logits, "float32"))
        source_ids, targets = ops.cast(source_ids, "int32"), ops.cast(targets, "int32")
        same = ops.equal(ops.expand_dims(source_ids, 1), ops.expand_dims(targets, 2))  # [batch, T, S]
        copied = ops.sum(ops.cast(weights, "float32") * ops.cast(same, "float32"), axis=-1)  # [batch, T]
        return ops.logaddexp(ops.log_sigmoid(switch) + generated,
                             ops.log_sigmoid(-switch) + ops.log(ops.maximum(copied, SMALLEST_PROBABILITY)))

    def switch_value(self, state, context, inputs):
        """p_gen itself, for inspection and tests."""
        return ops.sigmoid(self.switch(ops.concatenate([state, context, inputs], axis=-1)))[..., 0]


def scatter_onto_vocabulary(weights, source_ids, vocab_size):
    """weights [..., S] over source positions -> [..., vocab]: each position's weight added at its token's id."""
    if len(weights.shape) == 3:  # a sequence [batch, T, S]: every step attends to the same source
        source_ids = ops.repeat(ops.expand_dims(source_ids, 1), ops.shape(weights)[1], axis=1)
    leading = ops.shape(weights)[:-1]
    flat_weights = ops.reshape(weights, (-1, ops.shape(weights)[-1]))  # [R, S]
    rows = ops.shape(flat_weights)[0]
    row_index = ops.repeat(ops.expand_dims(ops.arange(rows, dtype="int32"), 1), ops.shape(flat_weights)[1], axis=1)
    indices = ops.stack([row_index, ops.reshape(ops.cast(source_ids, "int32"), (rows, -1))], axis=-1)
    copied = ops.scatter(ops.reshape(indices, (-1, 2)), ops.reshape(flat_weights, (-1,)), (rows, vocab_size))
    return ops.reshape(copied, (*leading, vocab_size))
