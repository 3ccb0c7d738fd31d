"""Choosing the search setting on dev: the beam size and length penalty with the best dev BLEU.

`compare` scores a grid for every variant; `train` ends by scoring its own
grid and storing the winner in search.json, which `translate`, `evaluate`,
`export` and the service then use unless told otherwise.
"""

from __future__ import annotations

import pandas as pd

from translator.config import SearchConfig
from translator.evaluation.evaluate import ReferenceSet, score, translate_all
from translator.evaluation.fidelity import fidelity


def score_grid(translator, references: ReferenceSet, split: str, settings) -> tuple[list[dict], dict]:
    """Long-table rows (split, beam, length penalty, BLEU, chrF, length ratio, entity fidelity, repetition rate,
    ms per sentence) for each search setting, and the hypotheses by (beam, length penalty)."""
    rows, hypotheses = [], {}
    for beam, alpha in settings:
        search = SearchConfig(beam_size=beam, length_penalty=alpha, greedy=beam == 1)
        outputs, seconds = translate_all(translator, references.sources, search)
        scores = score(outputs, references)
        trust = fidelity(references.sources, references.references, outputs)
        rows.append({"split": split, "beam": beam, "length_penalty": alpha, "bleu": scores["bleu"],
                     "chrf": scores["chrf"], "length_ratio": scores["length_ratio"],
                     "entity_fidelity": trust["entity_fidelity"], "repetition_rate": trust["repetition_rate"],
                     "ms_per_sentence": round(1000 * seconds / len(references.sources), 2)})
        hypotheses[(beam, alpha)] = outputs
    return rows, hypotheses


def search_grid(beam_sizes, length_penalties) -> list[tuple[int, float]]:
    """Greedy once (a length penalty changes nothing there), then every beam size > 1 with every penalty."""
    return [(1, 0.0)] + [(b, a) for b in sorted(set(beam_sizes)) if b > 1 for a in length_penalties]


def best_setting(scores: pd.DataFrame) -> tuple[int, float] | None:
    """The (beam, length penalty) with the best dev BLEU among beams > 1 (the first such on a tie)."""
    beams = scores[(scores["split"] == "dev") & (scores["beam"] > 1)]
    if beams.empty:
        return None
    best = beams.loc[beams["bleu"].idxmax()]
    return int(best["beam"]), float(best["length_penalty"])


def choose_search(translator, dev_set: ReferenceSet, beam_sizes, length_penalties) -> tuple[tuple[int, float] | None,
                                                                                          pd.DataFrame]:
    """(the best (beam, length penalty) on dev or None where the grid has no beam, the grid's scores)."""
    rows, _ = score_grid(translator, dev_set, "dev", search_grid(beam_sizes, length_penalties))
    scores = pd.DataFrame(rows)
    return best_setting(scores), scores
