"""translator: RNN encoder-decoder translation models, trained and used on a CPU."""

__version__ = "0.1.0"
