"""The data of a run: the corpus read and split, tokenizers learned (or given), both splits encoded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from translator.config import STREAM_ABOVE_MB, RunConfig, TrainingConfig
from translator.data.cleaning import outside_test_sets, plausible_lengths
from translator.data.corpus import count_lines, pair_count, read_corpus, split_corpus, stream_corpus
from translator.entities.swap import corpus_names, swap_entities
from translator.errors import TranslatorError
from translator.files import check_input_path
from translator.data.languages import language_name, pair_languages
from translator.data.noise import add_typing_noise
from translator.data.pipeline import EncodedPairs, encode_pairs
from translator.entities.numbers import NumberSurrogates
from translator.entities.names import NameSurrogates
from translator.data.text import Tokenizer
from translator.data.token_cache import TokenCache, build_token_cache

MIN_TRAINING_PAIRS = 2
CHUNK_PAIRS = 20_000  # pairs read, swapped and tokenized at a time when streaming


@dataclass
class Data:
    train: EncodedPairs | TokenCache
    dev: EncodedPairs
    source_tokenizer: Tokenizer
    target_tokenizer: Tokenizer
    longest_line: str  # where the longest training pair is, for the message after repeated NaNs
    corpus: str = ""  # the files read (summary.json keeps them: `inspect` measures on the dev file by default)
    dev_file: str | None = None
    dev_pairs: pd.DataFrame | None = None  # the dev split's text, on which `train` chooses its search setting
    name_surrogates: NameSurrogates | None = None  # the training sources' names (before any swap), for names.json
    number_surrogates: NumberSurrogates | None = None  # the pairs' plain numbers and separators, for numbers.json
    languages: tuple[str | None, str | None] = (None, None)  # (source, target) ISO 639-1 codes, where identified
    init_from: str | None = None  # the model a fine-tuning run started from


def announce_direction(pairs: pd.DataFrame, echo) -> tuple[str | None, str | None]:
    """Identify and print which language the run translates from and into, with one pair as an example."""
    languages = pair_languages(pairs)
    example = pairs.iloc[len(pairs) // 2]
    echo(f"translating {language_name(languages[0])} -> {language_name(languages[1])}, e.g. "
         f"\"{example['source']}\" -> \"{example['target']}\"")
    return languages


def learn_tokenizers(pairs, config: RunConfig) -> tuple[Tokenizer, Tokenizer]:
    """(source, target) tokenizers learned from the training pairs, each side by its own text options; with
    `shared_vocabulary`, one vocabulary learned from both sides (the source side's options)."""
    if config.model.shared_vocabulary:
        shared = Tokenizer.learn(pd.concat([pairs["source"], pairs["target"]]), config.source_text)
        return shared, Tokenizer(shared.vocab, config.target_text)
    return Tokenizer.learn(pairs["source"], config.source_text), Tokenizer.learn(pairs["target"], config.target_text)


def streams(config: RunConfig, corpus: Path) -> bool:
    """Whether `train` streams this corpus (`stream`: on, off, or auto by the file's size)."""
    if config.training.stream != "auto":
        return config.training.stream == "on"
    return check_input_path(corpus).stat().st_size > STREAM_ABOVE_MB * 1e6


def prepare_data(config: RunConfig, corpus: Path, dev: Path | None, tokenizers: tuple | None, echo,
                 cache_folder: Path | None = None) -> Data:
    """Read and split the corpus, learn the tokenizers unless `tokenizers` (source, target) are given,
    encode both splits. With a `cache_folder` (where the corpus `streams`), the training pairs are tokenized into
    a `TokenCache` there."""
    if cache_folder is not None:
        return prepare_streamed_data(config, corpus, dev, tokenizers, echo, cache_folder)
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
    languages = announce_direction(train, echo)
    if tokenizers is None:
        echo("learning vocabularies ...")
        tokenizers = learn_tokenizers(train, config)
    source_tokenizer, target_tokenizer = tokenizers
    t = config.training
    surrogates = NameSurrogates.learn(train), NumberSurrogates.learn(train)
    train, implausible, in_test_sets = usable_pairs(train, t)
    report_dropped(implausible, in_test_sets, t.max_length_ratio, echo)
    if t.swap_entities:
        train, swapped = swap_entities(train, t.swap_entities, t.seed)
        echo(f"invented names and numbers in {swapped:,} training pairs (--swap-entities {t.swap_entities:g})")
    if t.noise:
        train, noisy = add_typing_noise(train, t.noise, t.seed)
        echo(f"typing noise in {noisy:,} training sources (--noise {t.noise:g})")
    encoded_train = encode_pairs(train, source_tokenizer, target_tokenizer, t.max_length, t.truncate)
    encoded_dev = encode_pairs(dev_pairs, source_tokenizer, target_tokenizer, t.max_length, t.truncate)
    if len(encoded_train) == 0 or len(encoded_dev) == 0:
        raise TranslatorError(f"{train_pairs.name}: no pair fits `max_length` {t.max_length} in the train or dev split")
    echo(f"train: {encoded_train.summary()}; dev: {encoded_dev.summary()}; "
         f"vocabularies: {source_tokenizer.vocab_size:,} source, {target_tokenizer.vocab_size:,} target")
    longest = train.loc[(train["source"].str.len() + train["target"].str.len()).idxmax()]
    return Data(encoded_train, encoded_dev, source_tokenizer, target_tokenizer,
                f"line {longest['line']} ({len(longest['source']) + len(longest['target'])} characters)",
                str(Path(corpus).resolve()), None if dev is None else str(Path(dev).resolve()), dev_pairs, *surrogates,
                languages)


def prepare_streamed_data(config: RunConfig, corpus: Path, dev: Path | None, tokenizers: tuple | None, echo,
                          cache_folder: Path) -> Data:
    """`prepare_data` for a corpus read in chunks: the tokenizers (and the names to swap or stand in for) are
    learned from a random sample of `vocab_sample` pairs, a dev split without `dev` is drawn from that sample
    (training then skips every pair sharing a sentence with it), and the training pairs go into a token cache on
    disk."""
    t = config.training
    lines = count_lines(corpus)
    sample = corpus_sample(corpus, config, lines)
    if dev is not None:
        dev_pairs = read_corpus(dev, config.data).pairs
        held_out = None
    else:
        splits = split_corpus(sample, dev_size=min(pair_count(t.dev_size, lines), len(sample) // 2), test_size=0,
                              seed=t.seed)
        sample, dev_pairs = splits["train"], splits["dev"]
        held_out = (set(dev_pairs["source"]), set(dev_pairs["target"]))
    languages = announce_direction(sample, echo)
    if tokenizers is None:
        echo(f"learning vocabularies from a sample of {len(sample):,} pairs ...")
        tokenizers = learn_tokenizers(sample, config)
    source_tokenizer, target_tokenizer = tokenizers
    chunks = TrainingChunks(corpus, config, held_out, corpus_names(sample) if t.swap_entities else None)
    echo(f"tokenizing the corpus into {cache_folder} ...")
    train = build_token_cache(cache_folder, chunks, lines, source_tokenizer, target_tokenizer,
                              t.max_length, t.truncate, t.seed)
    report_dropped(chunks.implausible, chunks.in_test_sets, t.max_length_ratio, echo)
    if t.swap_entities:
        echo(f"invented names and numbers in {chunks.swapped:,} training pairs (--swap-entities {t.swap_entities:g})")
    if t.noise:
        echo(f"typing noise in {chunks.noisy:,} training sources (--noise {t.noise:g})")
    encoded_dev = encode_pairs(dev_pairs, source_tokenizer, target_tokenizer, t.max_length, t.truncate)
    if len(train) < MIN_TRAINING_PAIRS or len(encoded_dev) == 0:
        raise TranslatorError(f"{corpus}: {len(train)} training and {len(encoded_dev)} dev pair(s) fit `max_length` "
                              f"{t.max_length}; training needs at least {MIN_TRAINING_PAIRS} and one")
    echo(f"train: {train.summary()}; dev: {encoded_dev.summary()}; "
         f"vocabularies: {source_tokenizer.vocab_size:,} source, {target_tokenizer.vocab_size:,} target")
    return Data(train, encoded_dev, source_tokenizer, target_tokenizer,
                f"line {chunks.longest_line} ({chunks.longest_characters} characters)", str(Path(corpus).resolve()),
                None if dev is None else str(Path(dev).resolve()), dev_pairs, NameSurrogates.learn(sample),
                NumberSurrogates.learn(sample), languages)


class TrainingChunks:
    """The training pairs of a streamed corpus, CHUNK_PAIRS at a time: without those sharing a sentence with a
    `held_out` dev split (source and target sets), entities swapped among `names` where the run asks for it.
    After a pass it holds what the run reports: pairs swapped, and the longest pair's line and length."""

    def __init__(self, corpus: Path, config: RunConfig, held_out: tuple[set, set] | None, names):
        self.corpus, self.config, self.held_out, self.names = corpus, config, held_out, names
        self.swapped = self.noisy = self.implausible = self.in_test_sets = self.longest_line = self.longest_characters = 0

    def __iter__(self) -> Iterator[pd.DataFrame]:
        t = self.config.training
        for index, chunk in enumerate(stream_corpus(self.corpus, self.config.data, CHUNK_PAIRS)):
            if self.held_out is not None:
                chunk = chunk[~(chunk["source"].isin(self.held_out[0]) | chunk["target"].isin(self.held_out[1]))]
            chunk, implausible, in_test_sets = usable_pairs(chunk, t)
            self.implausible, self.in_test_sets = self.implausible + implausible, self.in_test_sets + in_test_sets
            if t.swap_entities:
                chunk, count = swap_entities(chunk, t.swap_entities, t.seed + index, self.names)
                self.swapped += count
            if t.noise:
                chunk, count = add_typing_noise(chunk, t.noise, t.seed + index)
                self.noisy += count
            characters = chunk["source"].str.len() + chunk["target"].str.len()
            if len(chunk) and characters.max() > self.longest_characters:
                self.longest_characters = int(characters.max())
                self.longest_line = int(chunk["line"].iloc[characters.argmax()])
            yield chunk


def usable_pairs(pairs: pd.DataFrame, training: TrainingConfig) -> tuple[pd.DataFrame, int, int]:
    """(`pairs` without those sharing a sentence with a test set the project scores on (`drop_test_sentences`),
    and those whose length ratio is over `max_length_ratio` (0: none dropped for it); how many went for each
    reason)."""
    max_ratio = training.max_length_ratio
    unseen = outside_test_sets(pairs) if training.drop_test_sentences else pd.Series(True, index=pairs.index)
    plausible = plausible_lengths(pairs, max_ratio) if max_ratio else pd.Series(True, index=pairs.index)
    kept = pairs[unseen & plausible]
    return kept.reset_index(drop=True), int((unseen & ~plausible).sum()), int((~unseen).sum())


def report_dropped(implausible: int, in_test_sets: int, max_ratio: float, echo) -> None:
    def pairs(count):
        return f"{count:,} training pair{'' if count == 1 else 's'}"

    if in_test_sets:
        echo(f"dropped {pairs(in_test_sets)} sharing a sentence with the test sets of the quality suite "
             "(--keep-test-sentences keeps them)")
    if implausible:
        echo(f"dropped {pairs(implausible)} with implausible length ratios (--max-length-ratio {max_ratio:g})")


def corpus_sample(corpus: Path, config: RunConfig, lines: int) -> pd.DataFrame:
    """The pairs on `vocab_sample` lines drawn at random (fewer where some are empty or a header), one pass."""
    rng = np.random.default_rng(config.training.seed)
    wanted = np.sort(rng.choice(lines, size=min(config.training.vocab_sample, lines), replace=False) + 1)
    chunks = [chunk[np.isin(chunk["line"].to_numpy(), wanted)]
              for chunk in stream_corpus(corpus, config.data, CHUNK_PAIRS)]
    return pd.concat(chunks, ignore_index=True)
