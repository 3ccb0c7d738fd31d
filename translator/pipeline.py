"""The tf.data pipeline: token ids -> shuffled, length-bucketed, padded batches.

The corpus is tokenized once, in-graph and in one vectorized call, and kept as
ragged tensors in memory (115k pairs take a few MB); each epoch then only
shuffles, buckets and pads. An epoch's order depends on (seed, epoch) alone,
so a resumed run can rebuild the same epoch and skip the batches it has seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import tensorflow as tf

from translator.text import END_ID, PAD_ID, START_ID, Tokenizer


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
        action = "truncated" if self.truncated else "dropped"
        parts = [f"{len(self):,} pairs"]
        if self.too_long:
            parts.append(f"{self.too_long:,} {action} for length")
        if self.empty:
            parts.append(f"{self.empty:,} dropped as empty after normalization")
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


def bucket_boundaries(max_length: int) -> list[int]:
    """Bucket edges over the longer side (with start/end tokens): width 1, then 2, then 4.

    Short sentences dominate conversational corpora, so narrow buckets there
    cut padding to a few percent; wider ones at the tail keep buckets filling.
    """
    edges = list(range(3, 24)) + list(range(24, 40, 2)) + list(range(40, max_length + 3, 4))
    return [e for e in edges if e <= max_length + 2] or [max_length + 2]


def make_dataset(
    encoded: EncodedPairs,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    max_length: int = 50,
    bucketing: bool = True,
) -> tf.data.Dataset:
    """Batches of {"source", "source_mask", "target_in", "target_out", "target_mask"}.

    source:     [batch, source_len] int32, START ... END, PAD-padded
    target_in:  [batch, target_len] int32, START y_1 ... y_n (what the decoder is fed)
    target_out: [batch, target_len] int32, y_1 ... y_n END (what it must predict)
    *_mask:     bool, True on real tokens

    With `bucketing`, pairs of similar length are batched together; without,
    batches are padded to their longest pair (for comparison).
    """
    pairs = tf.data.Dataset.from_tensor_slices((encoded.source, encoded.target))
    if shuffle:
        pairs = pairs.shuffle(len(encoded), seed=_epoch_seed(seed, epoch), reshuffle_each_iteration=False)
    pairs = pairs.map(_add_special_tokens, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    padding = {"source": PAD_ID, "target_in": PAD_ID, "target_out": PAD_ID}
    if not bucketing:
        batches = pairs.padded_batch(batch_size, padding_values=padding)
        return batches.map(_add_masks, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    boundaries = bucket_boundaries(max_length)
    batches = pairs.bucket_by_sequence_length(
        element_length_func=lambda pair: tf.maximum(tf.shape(pair["source"])[0], tf.shape(pair["target_in"])[0]),
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padding_values=padding,
    )
    return batches.map(_add_masks, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _add_special_tokens(source, target):
    start, end = tf.constant([START_ID], tf.int32), tf.constant([END_ID], tf.int32)
    return {
        "source": tf.concat([start, source, end], 0),
        "target_in": tf.concat([start, target], 0),
        "target_out": tf.concat([target, end], 0),
    }


def _add_masks(batch):
    return {
        **batch,
        "source_mask": tf.not_equal(batch["source"], PAD_ID),
        "target_mask": tf.not_equal(batch["target_out"], PAD_ID),
    }


def padding_fraction(batches: tf.data.Dataset) -> float:
    """The share of padded target positions over a pass of `batches`."""
    real = total = 0
    for batch in batches:
        mask = batch["target_mask"].numpy()
        real += int(mask.sum())
        total += mask.size
    return 1.0 - real / max(total, 1)
