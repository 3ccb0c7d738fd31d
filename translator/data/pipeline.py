"""The tf.data pipeline: token ids -> shuffled, length-sorted, padded batches.

The corpus is tokenized once, in-graph and in one vectorized call, and kept as
ragged tensors in memory (115k pairs take a few MB); each epoch then only
shuffles, sorts and pads. An epoch's order depends on (seed, epoch) alone,
so a resumed run can rebuild the same epoch and skip the batches it has seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import tensorflow as tf

from translator.data.text import END_ID, PAD_ID, START_ID, Tokenizer


@dataclass
class EncodedPairs:
    """Token ids of the pairs kept, and how many were dropped or truncated for length."""

    source: tf.RaggedTensor  # [pairs, (tokens)] int32, no start/end
    target: tf.RaggedTensor
    too_long: int = 0  # dropped (or truncated, with truncate=True) for exceeding max_length
    empty: int = 0  # dropped because a side had no token left after normalization
    truncated: bool = False

    def __len__(self) -> int:
        return int(self.source.nrows())

    def summary(self) -> str:
        return pairs_summary(len(self), self.too_long, self.empty, self.truncated)

    def lengths(self) -> tuple[np.ndarray, np.ndarray]:
        """(source, target) token counts of every pair."""
        return self.source.row_lengths().numpy(), self.target.row_lengths().numpy()

    def batch_count(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def dataset(self, batch_size: int, shuffle: bool = True, seed: int = 0, epoch: int = 0) -> tf.data.Dataset:
        return make_dataset(self, batch_size, shuffle, seed, epoch)


def pairs_summary(kept: int, too_long: int, empty: int, truncated: bool) -> str:
    action = "truncated" if truncated else "dropped"
    parts = [f"{kept:,} pairs"]
    if too_long:
        parts.append(f"{too_long:,} {action} for length")
    if empty:
        parts.append(f"{empty:,} dropped as empty after normalization")
    return ", ".join(parts)


def encode_pairs(
    pairs: pd.DataFrame,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    max_length: int,
    truncate: bool = False,
) -> EncodedPairs:
    """Tokenize both sides; drop (or truncate) pairs with a side over `max_length` tokens."""
    source = source_tokenizer.tokenize(tf.constant(pairs["source"].tolist(), tf.string))
    target = target_tokenizer.tokenize(tf.constant(pairs["target"].tolist(), tf.string))
    source_lengths, target_lengths = source.row_lengths().numpy(), target.row_lengths().numpy()
    too_long = (source_lengths > max_length) | (target_lengths > max_length)
    empty = (source_lengths == 0) | (target_lengths == 0)
    keep = ~empty if truncate else ~empty & ~too_long
    source, target = tf.ragged.boolean_mask(source, keep), tf.ragged.boolean_mask(target, keep)
    if truncate:
        source, target = source[:, :max_length], target[:, :max_length]
    return EncodedPairs(source, target, int((too_long & ~empty).sum()), int(empty.sum()), truncate)


def make_dataset(
    encoded: EncodedPairs,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    bucketing: bool = True,
) -> tf.data.Dataset:
    """Batches of {"source", "source_mask", "target_in", "target_out", "target_mask"}.

    source:     [batch, source_len] int32, START ... END, PAD-padded
    target_in:  [batch, target_len] int32, START y_1 ... y_n (what the decoder is fed)
    target_out: [batch, target_len] int32, y_1 ... y_n END (what it must predict)
    *_mask:     bool, True on real tokens

    With `bucketing`, each batch holds pairs of equal target length and near
    source length (see `batch_members`); without, batches are random and
    padded to their longest pair (for comparison).
    """
    members = batch_members(encoded.source.row_lengths().numpy(), encoded.target.row_lengths().numpy(),
                            batch_size, shuffle, seed, epoch, bucketing)
    source, target = encoded.source, encoded.target

    @tf.autograph.experimental.do_not_convert  # plain ops: no need to re-read and convert the source each epoch
    def gather_batch(index):
        return padded_batch(tf.gather(source, index), tf.gather(target, index))

    batches = tf.data.Dataset.from_tensor_slices(members)
    batches = batches.map(gather_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE)


def batch_members(source_lengths, target_lengths, batch_size: int, shuffle: bool, seed: int, epoch: int,
                  bucketing: bool) -> tf.RaggedTensor:
    """The pair indices of each batch of one epoch, [batches, (pairs)], fixed by (seed, epoch).

    Bucketing sorts a random permutation of the whole corpus by (target length,
    source length) - the sort is stable, so pairs of equal lengths land in
    random batches - cuts it into batches and shuffles their order. On spa-eng
    this leaves 0.1 % of target and 2 % of source positions as padding;
    buckets keyed on the longer side left 15 % of target positions, buckets
    keyed on the target 40 % of source positions.
    """
    rng = np.random.default_rng(epoch_seed(seed, epoch))
    order = rng.permutation(len(source_lengths)) if shuffle else np.arange(len(source_lengths))
    if bucketing:
        order = order[np.lexsort((source_lengths[order], target_lengths[order]))]
    starts = np.arange(0, len(order), batch_size)
    if shuffle and bucketing:
        starts = rng.permutation(starts)
    sizes = np.minimum(batch_size, len(order) - starts)
    index = np.concatenate([order[start : start + size] for start, size in zip(starts, sizes)]) if len(order) else order
    return tf.RaggedTensor.from_row_lengths(index.astype(np.int64), sizes.astype(np.int64))


def epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def padded_batch(source, target):
    """Ragged ids [batch, (tokens)] -> the padded batch dict with START/END and masks."""
    batch = source.nrows()
    start, end = tf.fill([batch, 1], START_ID), tf.fill([batch, 1], END_ID)
    source = tf.concat([start, source, end], axis=1).to_tensor(PAD_ID)
    target_in = tf.concat([start, target], axis=1).to_tensor(PAD_ID)
    target_out = tf.concat([target, end], axis=1).to_tensor(PAD_ID)
    return {
        "source": source,
        "target_in": target_in,
        "target_out": target_out,
        "source_mask": tf.not_equal(source, PAD_ID),
        "target_mask": tf.not_equal(target_out, PAD_ID),
    }


def padding_fraction(batches: tf.data.Dataset) -> float:
    """The share of padded target positions over a pass of `batches`."""
    real = total = 0
    for batch in batches:
        mask = batch["target_mask"].numpy()
        real += int(mask.sum())
        total += mask.size
    return 1.0 - real / max(total, 1)
