"""Seq2Seq: an encoder and one of the registered decoders, as a keras.Model."""

from __future__ import annotations

from dataclasses import asdict

import keras
import numpy as np
from keras import ops

from translator.config import ModelConfig
from translator.model.decoders import decoder_class
from translator.model.encoder import Encoder


@keras.saving.register_keras_serializable(package="translator")
class Seq2Seq(keras.Model):
    """source ids [batch, S] and decoder input ids [batch, T] -> logits [batch, T, target_vocab].

    Logits are float32 under every dtype policy (precision.py): the softmax, the loss and the search's scores
    never run in 16 bits.
    """

    def __init__(self, source_vocab_size: int, target_vocab_size: int, config: dict | None = None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.source_vocab_size, self.target_vocab_size, self.seed = source_vocab_size, target_vocab_size, seed
        self.config = ModelConfig(**(config or {}))
        c = self.config
        self.encoder = Encoder(source_vocab_size, c.embedding_dim, c.units, c.layers, c.cell, c.bidirectional,
                               c.context, c.dropout, c.merge, name="encoder")
        if c.copy and source_vocab_size != target_vocab_size:
            raise ValueError("a copying model needs one vocabulary for both sides (source ids are target ids)")
        copying = {"copy": True} if c.copy else {}  # only the attention decoder copies (ModelConfig checks)
        self.decoder = decoder_class(c.decoder)(target_vocab_size, c.embedding_dim, c.units, c.cell,
                                                context_width=self.encoder.width, seed=seed, readout=c.readout,
                                                name="decoder", **copying)

    def call(self, inputs, training=False, teacher_forcing=None):
        """inputs: {"source": [batch, S], "target_in": [batch, T]}; see Decoder.call for teacher_forcing."""
        encoded = {**self.encoder(inputs["source"], training=training), "source_ids": inputs["source"]}
        logits = self.decoder(inputs["target_in"], encoded, teacher_forcing=teacher_forcing, training=training)
        return ops.cast(logits, "float32")

    def target_log_probabilities(self, inputs, training=False):
        """log P(y_t) [batch, T] (float32) of inputs["target_out"], teacher-forced, for a copying model: equal to
        the log-probabilities `call` gives taken at those tokens, at a fraction of its memory."""
        encoded = {**self.encoder(inputs["source"], training=training), "source_ids": inputs["source"]}
        return self.decoder.target_log_probabilities(inputs["target_in"], inputs["target_out"], encoded, training)

    # --- what search uses: per-sentence constants, a start state, a step ------------------
    def prepare_decoding(self, source):
        """The decoder's per-sentence constants for a batch of source ids (encoder memory, context, keys)."""
        return self.decoder.prepare({**self.encoder(source, training=False), "source_ids": source})

    def initial_state(self, prepared, with_coverage: bool = False, whole_words=None, carrying: bool = False):
        """A search's start state, a dict: "decoder", the decoder's start state; with_coverage (attention
        decoders), "coverage" [n, S], the attention each source token received so far, starting at 0 on the
        source tokens and 1 on padding (which attention never reads, and which must not count as unread; the
        beam search reads it for the GNMT coverage penalty); with `whole_words` (WholeWords), "words", its
        match; carrying, "prepared": the per-sentence constants travel with the state, so that a search that
        drops finished sentences from it (greedy_search) drops them from both (`carrying_step_function`); a beam
        search never reorders them among a sentence's beams (search.CONSTANTS)."""
        state = {"decoder": self.decoder.initial_state(prepared)}
        if with_coverage:
            state["coverage"] = 1.0 - ops.cast(prepared["mask"], "float32")
        if whole_words is not None:
            state["words"] = whole_words.start(prepared["source_ids"])
        if carrying:
            state["prepared"] = prepared
        return state

    def step_function(self, prepared, whole_words=None):
        """(tokens [n], state) -> (logits [n, vocab], new state): the one step a search needs, over a state
        `initial_state` made (the same whole_words)."""
        return lambda tokens, state: self._search_step(tokens, state, prepared, whole_words)

    def carrying_step_function(self, whole_words=None):
        """`step_function` over a state made with carrying=True: it reads the constants from the state."""
        return lambda tokens, state: self._search_step(tokens, state, state["prepared"], whole_words)

    def _search_step(self, tokens, state, prepared, whole_words):
        logits, decoder_state, weights = self.decoder.step(tokens, state["decoder"], prepared)
        logits, state = ops.cast(logits, "float32"), {**state, "decoder": decoder_state}
        if "coverage" in state:
            state["coverage"] = state["coverage"] + ops.cast(weights, "float32")
        if whole_words is not None:
            state["words"] = whole_words.follow(state["words"], tokens, prepared["source_ids"])
            logits = whole_words.constrain(logits, state["words"], prepared["source_ids"])
        return logits, state

    def build_with_dummy_batch(self) -> "Seq2Seq":
        """Create every variable by running one tiny batch (before loading weights)."""
        dummy = np.ones((1, 3), "int32")
        self({"source": dummy, "target_in": dummy})
        prepared = self.prepare_decoding(dummy)
        self.decoder.step(dummy[:, 0], self.decoder.initial_state(prepared), prepared)
        return self

    def get_config(self):
        return {
            **super().get_config(),
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "config": asdict(self.config),
            "seed": self.seed,
        }
