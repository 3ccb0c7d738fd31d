"""Seq2Seq: an encoder and one of the registered decoders, as a keras.Model."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
import numpy as np

from translator.cells import check_cell
from translator.decoders import decoder_class
from translator.encoder import Encoder
from translator.errors import OptionError


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model (vocabulary sizes come from the tokenizers)."""

    decoder: str = "attention"
    cell: str = "gru"
    embedding_dim: int = 128
    units: int = 256
    layers: int = 1
    bidirectional: bool = True
    context: str = "last"
    dropout: float = 0.1
    readout: int = 0  # a tanh layer this wide before the output layer; 0: none (see decoders.OutputLayer)

    def __post_init__(self):
        check_cell(self.cell)
        decoder_class(self.decoder)
        for name in ("embedding_dim", "units", "layers"):
            if getattr(self, name) < 1:
                raise OptionError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.readout < 0:
            raise OptionError(f"--readout must be 0 (none) or positive, got {self.readout}")
        if not 0 <= self.dropout < 1:
            raise OptionError(f"--dropout must be in [0, 1), got {self.dropout}")


@keras.saving.register_keras_serializable(package="translator")
class Seq2Seq(keras.Model):
    """source ids [batch, S] and decoder input ids [batch, T] -> logits [batch, T, target_vocab]."""

    def __init__(self, source_vocab_size: int, target_vocab_size: int, config: dict | None = None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.source_vocab_size, self.target_vocab_size, self.seed = source_vocab_size, target_vocab_size, seed
        self.config = ModelConfig(**(config or {}))
        c = self.config
        self.encoder = Encoder(source_vocab_size, c.embedding_dim, c.units, c.layers, c.cell, c.bidirectional,
                               c.context, c.dropout, name="encoder")
        self.decoder = decoder_class(c.decoder)(target_vocab_size, c.embedding_dim, c.units, c.cell,
                                                context_width=self.encoder.width, seed=seed, readout=c.readout,
                                                name="decoder")

    def call(self, inputs, training=False, teacher_forcing=None):
        """inputs: {"source": [batch, S], "target_in": [batch, T]}; see Decoder.call for teacher_forcing."""
        encoded = self.encoder(inputs["source"], training=training)
        return self.decoder(inputs["target_in"], encoded, teacher_forcing=teacher_forcing, training=training)

    def encode(self, source):
        """The decoder-ready per-sentence tensors for a batch of sources (for search)."""
        return self.decoder.prepare(self.encoder(source, training=False))

    def build_with_dummy_batch(self) -> "Seq2Seq":
        """Create every variable by running one tiny batch (before loading weights)."""
        dummy = np.ones((1, 3), "int32")
        self({"source": dummy, "target_in": dummy})
        prepared = self.encode(dummy)
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
