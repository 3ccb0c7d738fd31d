"""The real sentences `inspect` measures: a fixed random sample of a corpus, read in the model's direction."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from translator.data.corpus import read_corpus
from translator.errors import OptionError
from translator.model.folder import RunDir

BATCH_SIZE = 50


def corpus_to_inspect(model_dir: Path, corpus: Path | None) -> Path:
    """`corpus` if given, else the dev file the model was trained with (or its training corpus, where the dev
    set was held out of it), as its summary.json records them (`train` records absolute paths; a relative one,
    as the shipped models have, is relative to the model folder)."""
    if corpus is not None:
        return corpus
    recorded = RunDir(model_dir).load_summary()
    for key in ("dev_file", "corpus"):
        path = Path(model_dir) / recorded[key] if recorded.get(key) else None
        if path is not None and path.is_file():
            return path.resolve()
    raise OptionError(f"{model_dir}: no record of the corpus it was trained on (or the file is gone); "
                      "give `corpus` FILE, e.g. the dev split")


def sample_pairs(corpus: Path, translator, sentences: int, seed: int = 0) -> pd.DataFrame:
    """`sentences` pairs with distinct sources, drawn at random (the same for the same seed) from `corpus`."""
    if sentences < 1:
        raise OptionError(f"`sentences` must be at least 1, got {sentences}")
    pairs = read_corpus(corpus, translator.config.data).pairs.drop_duplicates("source")
    return pairs.sample(n=min(sentences, len(pairs)), random_state=seed).reset_index(drop=True)


def padded_batches(pairs: pd.DataFrame, translator):
    """The pairs as padded batch dicts (as training sees them; pairs over the model's maximum length left out),
    and how many pairs they hold."""
    from translator.data.pipeline import encode_pairs, make_dataset

    encoded = encode_pairs(pairs, translator.source_tokenizer, translator.target_tokenizer, translator.max_length)
    if len(encoded) == 0:
        raise OptionError(f"none of the {len(pairs)} sampled pairs fits the model's maximum length "
                          f"of {translator.max_length} tokens")
    return make_dataset(encoded, BATCH_SIZE, shuffle=False), len(encoded)
