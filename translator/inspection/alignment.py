"""Where attention looks: entropy of each step's weights and coverage of the source tokens.

For one sentence with weights alpha [output steps, source tokens] (rows sum to 1):

  entropy of step t:  H_t = -sum_j alpha_tj ln alpha_tj (nats), and H_t / ln(source tokens) in [0, 1]
                      (0: all weight on one token; 1: spread evenly);
  coverage of token j: sum_t alpha_tj, the attention it received in all (Tu et al. 2016's coverage).

A source word whose coverage stays near 0 was probably left untranslated; one
far above 1 was attended to again and again, the coverage problem behind
repeated output. The START and END markers of the source are left out of
the coverage figures: they are not words to translate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

UNDER_COVERAGE = 0.1  # "(almost) no attention": under a tenth of one output token's worth
OVER_COVERAGE = 2.0  # "much more than one token's worth": more than two output tokens' worth


def step_entropies(weights: np.ndarray) -> np.ndarray:
    """H_t in nats for weights [steps, sources]."""
    weights = np.asarray(weights, np.float64)
    logs = np.log(np.where(weights > 0, weights, 1.0))
    return -(weights * logs).sum(axis=1)


def word_coverage(weights: np.ndarray) -> np.ndarray:
    """Coverage of the source tokens between START and END: column sums of weights [steps, sources]."""
    return np.asarray(weights, np.float64).sum(axis=0)[1:-1]


def alignment_statistics(alignments) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """From [(source tokens, output tokens, weights [output, source])] (empty sentences as None):
    a table of steps (sentence, entropy, normalized entropy), a table of source words (sentence, token,
    coverage), and the summary."""
    steps, words = [], []
    for number, alignment in enumerate(alignments):
        if alignment is None:
            continue
        source_tokens, _, weights = alignment
        entropy = step_entropies(weights)
        steps.append(pd.DataFrame({"sentence": number, "entropy": entropy,
                                   "normalized_entropy": entropy / np.log(max(len(source_tokens), 2))}))
        words.append(pd.DataFrame({"sentence": number, "token": source_tokens[1:-1],
                                   "coverage": word_coverage(weights)}))
    steps = pd.concat(steps, ignore_index=True) if steps else pd.DataFrame(columns=["sentence", "entropy", "normalized_entropy"])
    words = pd.concat(words, ignore_index=True) if words else pd.DataFrame(columns=["sentence", "token", "coverage"])
    return steps, words, summarize(steps, words)


def summarize(steps: pd.DataFrame, words: pd.DataFrame) -> dict:
    coverage = words["coverage"].to_numpy(np.float64)
    return {
        "sentences": int(steps["sentence"].nunique()),
        "output_tokens": len(steps),
        "source_words": len(words),
        "mean_entropy_nats": float(steps["entropy"].mean()) if len(steps) else float("nan"),
        "mean_normalized_entropy": float(steps["normalized_entropy"].mean()) if len(steps) else float("nan"),
        "under_translated_share": float(np.mean(coverage < UNDER_COVERAGE)) if len(coverage) else float("nan"),
        "over_translated_share": float(np.mean(coverage > OVER_COVERAGE)) if len(coverage) else float("nan"),
        "mean_coverage": float(coverage.mean()) if len(coverage) else float("nan"),
    }
