"""translator: RNN encoder-decoder translation models, trained and used on a CPU.

    from translator import Translator
    translator = Translator.load("translator/pretrained/spa-eng")
    translator.translate(["¿Dónde está la biblioteca?"])[0].text

The names below are imported on first use, so that `import translator` (and the
checks the command line makes before TensorFlow loads) stays light.
"""

__version__ = "0.1.0"

_EXPORTS = {"Translator": "translator.decoding.inference", "Translation": "translator.decoding.inference",
            "SearchConfig": "translator.config", "RunConfig": "translator.config", "train": "translator.training"}


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'translator' has no attribute {name!r}")
