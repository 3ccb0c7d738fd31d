"""How long a translation may run, learned from the training pairs instead of a fixed 2 x source + 10.

A search stops a hypothesis at its sentence's limit (only END may follow
there), so the limit is what ends a degenerate loop that never emits END.
Too high and such a loop runs on ("inffffffff..."); too low and real
translations are cut. `learn` takes a high percentile of the
target/source length ratio of the training pairs (sources of 5 tokens and
more: a short source's ratio says little) and adds the tokens that the
remaining pairs need, so that 99.9 % of the training pairs fit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

RATIO_PERCENTILE = 99.0
COVERED_SHARE = 0.999
MIN_SOURCE_FOR_RATIO = 5


@dataclass(frozen=True)
class LengthLimit:
    """Output tokens (END included) <= ceil(ratio x source tokens) + extra (source markers excluded)."""

    ratio: float = 2.0
    extra: int = 14  # with ratio 2: the former fixed 2 x (source + START + END) + 10
    covered: float | None = None  # the share of training pairs within the limit, where learned

    @classmethod
    def learn(cls, source_lengths, target_lengths) -> "LengthLimit":
        """From token counts of the training pairs (targets without END)."""
        source = np.maximum(np.asarray(source_lengths, np.float64), 1.0)
        output = np.asarray(target_lengths, np.float64) + 1  # END
        long_enough = source >= MIN_SOURCE_FOR_RATIO
        ratios = (output / source)[long_enough] if long_enough.any() else output / source
        ratio = float(np.percentile(ratios, RATIO_PERCENTILE))
        over = np.maximum(output - np.ceil(ratio * source), 0.0)
        extra = max(1, math.ceil(float(np.quantile(over, COVERED_SHARE))))
        covered = float(np.mean(output <= np.ceil(ratio * source) + extra))
        return cls(round(ratio, 4), extra, round(covered, 5))

    def limits(self, source_lengths):
        """Output limits [batch] for source token counts [batch] (a tensor, markers excluded)."""
        import tensorflow as tf

        scaled = tf.math.ceil(self.ratio * tf.cast(source_lengths, tf.float32))
        return tf.cast(scaled, tf.int32) + self.extra

    def to_json(self) -> dict:
        return asdict(self)
