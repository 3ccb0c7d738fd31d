"""A training corpus tokenized onto disk, for corpora larger than memory (`train --stream`).

The pairs are dealt at random into windows of about WINDOW_PAIRS pairs, each a few flat files of token ids
and lengths; an epoch visits the windows in an order fixed by (seed, epoch) and cuts each one into
length-sorted batches exactly as the in-memory pipeline cuts the whole corpus (`pipeline.batch_members`).
Memory holds one window at a time (65,536 pairs of ~10 tokens a side: about 3 MB), whatever the corpus size,
and padding stays nearly as low as with whole-corpus sorting: on spa-eng's training split (2 windows), 0.25 % of
target positions against 0.13 % in memory (55.8 % in random batches).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from translator.data.pipeline import batch_members, encode_pairs, epoch_seed, padded_batch, pairs_summary
from translator.data.text import Tokenizer

WINDOW_PAIRS = 1 << 16
PARTS = ("source", "source_lengths", "target", "target_lengths")


class TokenCache:
    """The windows of one tokenized corpus in `folder`; same interface as `pipeline.EncodedPairs`."""

    def __init__(self, folder: Path, windows: int, pairs: int, token_dtype, too_long=0, empty=0, truncated=False):
        self.folder, self.windows, self.pairs, self.token_dtype = Path(folder), windows, pairs, np.dtype(token_dtype)
        self.too_long, self.empty, self.truncated = too_long, empty, truncated

    def __len__(self) -> int:
        return self.pairs

    def summary(self) -> str:
        return (f"{pairs_summary(self.pairs, self.too_long, self.empty, self.truncated)} "
                f"(streamed: {self.windows} window(s) in {self.folder})")

    def path(self, window: int, part: str) -> Path:
        return self.folder / f"{window:05d}.{part}"

    def read_window(self, window: int) -> tuple[np.ndarray, ...]:
        """(source ids, source lengths, target ids, target lengths) of one window, flat."""
        return tuple(np.fromfile(self.path(window, part), self.token_dtype if part in ("source", "target") else np.int32)
                     for part in PARTS)

    def lengths(self) -> tuple[np.ndarray, np.ndarray]:
        """(source, target) token counts of every pair (4 bytes a pair and side)."""
        windows = [(np.fromfile(self.path(w, "source_lengths"), np.int32),
                    np.fromfile(self.path(w, "target_lengths"), np.int32)) for w in range(self.windows)]
        return np.concatenate([s for s, _ in windows]), np.concatenate([t for _, t in windows])

    def batch_count(self, batch_size: int) -> int:
        return sum(-(-len(np.fromfile(self.path(w, "target_lengths"), np.int32)) // batch_size)
                   for w in range(self.windows))

    def dataset(self, batch_size: int, shuffle: bool = True, seed: int = 0, epoch: int = 0) -> tf.data.Dataset:
        """The batches of one epoch, as `pipeline.make_dataset` gives them, one window in memory at a time."""
        order = np.random.default_rng(epoch_seed(seed, epoch)).permutation(self.windows) if shuffle \
            else np.arange(self.windows)

        def windows():
            for window in order:
                source, source_lengths, target, target_lengths = self.read_window(window)
                members = batch_members(source_lengths, target_lengths, batch_size, shuffle,
                                        epoch_seed(seed, int(window)), epoch, bucketing=True)
                yield (source.astype(np.int32), source_lengths, target.astype(np.int32), target_lengths,
                       members.values.numpy(), members.row_lengths().numpy())

        flat = tf.TensorSpec([None], tf.int32)
        index = tf.TensorSpec([None], tf.int64)
        spec = (flat, flat, flat, flat, index, index)
        return (tf.data.Dataset.from_generator(windows, output_signature=spec)
                .flat_map(_window_batches)
                .prefetch(tf.data.AUTOTUNE))


@tf.autograph.experimental.do_not_convert
def _window_batches(source, source_lengths, target, target_lengths, members, batch_sizes):
    source = tf.RaggedTensor.from_row_lengths(source, source_lengths)
    target = tf.RaggedTensor.from_row_lengths(target, target_lengths)
    batches = tf.RaggedTensor.from_row_lengths(members, batch_sizes)
    return tf.data.Dataset.from_tensor_slices(batches).map(
        lambda index: padded_batch(tf.gather(source, index), tf.gather(target, index)),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def build_token_cache(folder: Path, chunks: Iterable[pd.DataFrame], expected_pairs: int, source_tokenizer: Tokenizer,
                      target_tokenizer: Tokenizer, max_length: int, truncate: bool, seed: int) -> TokenCache:
    """Tokenize `chunks` (DataFrames with source and target) into a new cache in `folder`, dealing pairs at
    random into ceil(expected_pairs / WINDOW_PAIRS) windows. Deterministic in its inputs and seed."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    windows = max(1, -(-expected_pairs // WINDOW_PAIRS))
    token_dtype = np.uint16 if max(source_tokenizer.vocab_size, target_tokenizer.vocab_size) <= 1 << 16 else np.int32
    cache = TokenCache(folder, windows, 0, token_dtype, truncated=truncate)
    for window in range(windows):
        for part in PARTS:
            cache.path(window, part).touch()  # a window may draw no pair
    rng = np.random.default_rng(seed)
    for chunk in chunks:
        encoded = encode_pairs(chunk, source_tokenizer, target_tokenizer, max_length, truncate)
        cache.pairs, cache.too_long, cache.empty = (cache.pairs + len(encoded), cache.too_long + encoded.too_long,
                                                    cache.empty + encoded.empty)
        window_of_pair = rng.integers(windows, size=len(encoded))
        for window in np.unique(window_of_pair):
            rows = np.flatnonzero(window_of_pair == window)
            for side, ids in (("source", encoded.source), ("target", encoded.target)):
                picked = tf.gather(ids, rows)
                _append(cache.path(window, side), picked.flat_values.numpy().astype(token_dtype))
                _append(cache.path(window, f"{side}_lengths"), picked.row_lengths().numpy().astype(np.int32))
    return cache


def _append(path: Path, values: np.ndarray) -> None:
    with open(path, "ab") as file:
        values.tofile(file)
