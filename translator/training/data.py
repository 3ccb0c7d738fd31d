"""The data of a run: the corpus read and split, tokenizers learned (or given), both splits encoded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from translator.config import RunConfig
from translator.corpus import read_corpus, split_corpus
from translator.entity_swap import swap_entities
from translator.errors import TranslatorError
from translator.pipeline import EncodedPairs, encode_pairs
from translator.text import Tokenizer

MIN_TRAINING_PAIRS = 2


@dataclass
class Data:
    train: EncodedPairs
    dev: EncodedPairs
    source_tokenizer: Tokenizer
    target_tokenizer: Tokenizer
    longest_line: str  # where the longest training pair is, for the message after repeated NaNs
    corpus: str = ""  # the files read (summary.json keeps them: `inspect` measures on the dev file by default)
    dev_file: str | None = None
    dev_pairs: pd.DataFrame | None = None  # the dev split's text, on which `train` chooses its search setting


def learn_tokenizers(pairs, config: RunConfig) -> tuple[Tokenizer, Tokenizer]:
    """(source, target) tokenizers learned from the training pairs, each side by its own text options; with
    `shared_vocabulary`, one vocabulary learned from both sides (the source side's options)."""
    if config.model.shared_vocabulary:
        shared = Tokenizer.learn(pd.concat([pairs["source"], pairs["target"]]), config.source_text)
        return shared, Tokenizer(shared.vocab, config.target_text)
    return Tokenizer.learn(pairs["source"], config.source_text), Tokenizer.learn(pairs["target"], config.target_text)


def prepare_data(config: RunConfig, corpus: Path, dev: Path | None, tokenizers: tuple | None, echo) -> Data:
    """Read and split the corpus, learn the tokenizers unless `tokenizers` (source, target) are given,
    encode both splits."""
    train_pairs = read_corpus(corpus, config.data)
    echo(train_pairs.summary())
    if dev is not None:
        dev_pairs = read_corpus(dev, config.data).pairs
        train = train_pairs.pairs
    else:
        splits = split_corpus(train_pairs.pairs, dev_size=config.training.dev_size, test_size=0, seed=config.training.seed)
        train, dev_pairs = splits["train"], splits["dev"]
        if len(dev_pairs) == 0:
            raise TranslatorError(
                f"{train_pairs.name}: cannot hold out a dev set sharing no sentence with training "
                f"({len(train_pairs.pairs)} pair(s)); give a bigger corpus or `dev` FILE"
            )
    if len(train) < MIN_TRAINING_PAIRS:
        raise TranslatorError(
            f"{train_pairs.name}: {len(train)} training pair(s) after holding out a dev set; "
            f"training needs at least {MIN_TRAINING_PAIRS} (give a bigger corpus, or `dev` FILE)"
        )
    if tokenizers is None:
        echo("learning vocabularies ...")
        tokenizers = learn_tokenizers(train, config)
    source_tokenizer, target_tokenizer = tokenizers
    t = config.training
    if t.swap_entities:
        train, swapped = swap_entities(train, t.swap_entities, t.seed)
        echo(f"invented names and numbers in {swapped:,} training pairs (--swap-entities {t.swap_entities:g})")
    encoded_train = encode_pairs(train, source_tokenizer, target_tokenizer, t.max_length, t.truncate)
    encoded_dev = encode_pairs(dev_pairs, source_tokenizer, target_tokenizer, t.max_length, t.truncate)
    if len(encoded_train) == 0 or len(encoded_dev) == 0:
        raise TranslatorError(f"{train_pairs.name}: no pair fits `max_length` {t.max_length} in the train or dev split")
    echo(f"train: {encoded_train.summary()}; dev: {encoded_dev.summary()}; "
         f"vocabularies: {source_tokenizer.vocab_size:,} source, {target_tokenizer.vocab_size:,} target")
    longest = train.loc[(train["source"].str.len() + train["target"].str.len()).idxmax()]
    return Data(encoded_train, encoded_dev, source_tokenizer, target_tokenizer,
                f"line {longest['line']} ({len(longest['source']) + len(longest['target'])} characters)",
                str(Path(corpus).resolve()), None if dev is None else str(Path(dev).resolve()), dev_pairs)
