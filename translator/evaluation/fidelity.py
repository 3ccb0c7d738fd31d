"""Measures of whether a translation can be trusted, beside BLEU: entity fidelity and degenerate repetition.

Entity fidelity: the entities of a source sentence are what entities/patterns.py says they are, given its
reference(s). A sentence keeps its entities when every one appears in the output as a whole word. The rate is
over the sentences that have any.

Amounts: a source number written with separators ("1.250,50") counts as one, spelled as a reference spells
the same digits ("1,250.50"); an output keeps it when it holds that spelling as a whole word. (Entity fidelity
takes it digit run by digit run, so "1 1 250 50 50" kept it.) The rate is over all such numbers.

Repetition: an output repeats when a token comes 4 or more times in a row,
a 3-gram of tokens comes twice, or a word holds one character 4 or more
times in a row (a loop inside a word, "inffffffffize").
"""

from __future__ import annotations

import functools
import re

from translator.entities.patterns import amounts, entities, holds

CHARACTER_LOOP = re.compile(r"([^\W\d_])\1{3,}", re.UNICODE)


@functools.cache
def _tokenizer_13a():
    """sacrebleu's 13a tokenizer, imported on first use (sacrebleu's import is slow)."""
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    return Tokenizer13a()


def repeats(output: str) -> bool:
    tokens = _tokenizer_13a()(output).split()
    in_a_row = any(tokens[i] == tokens[i + 1] == tokens[i + 2] == tokens[i + 3] for i in range(len(tokens) - 3))
    trigrams = [tuple(tokens[i : i + 3]) for i in range(len(tokens) - 2)]
    return in_a_row or len(set(trigrams)) < len(trigrams) or CHARACTER_LOOP.search(output) is not None


def fidelity(sources: list[str], references: list[list[str]], hypotheses: list[str]) -> dict:
    """entity_fidelity (share of sentences with entities that keep them all), entity_recall (share of all
    entities kept), entity_sentences (how many sentences have entities), amount_fidelity (share of the numbers
    written with separators kept as the reference spells them) and amounts (how many), repetition_rate (share of
    outputs that repeat), and the sentences that failed, for a report."""
    with_entities, kept_sentences, kept, total, missed = 0, 0, 0, 0, []
    wanted_amounts = [(amount, output) for source, refs, output in zip(sources, references, hypotheses)
                      for amount in amounts(source, refs)]
    amounts_kept = sum(holds(output, amount) for amount, output in wanted_amounts)
    for source, refs, output in zip(sources, references, hypotheses):
        wanted = entities(source, refs)
        if not wanted:
            continue
        present = [e for e in wanted if holds(output, e)]
        with_entities, total, kept = with_entities + 1, total + len(wanted), kept + len(present)
        if len(present) == len(wanted):
            kept_sentences += 1
        else:
            missed.append({"source": source, "output": output, "missing": [e for e in wanted if e not in present]})
    repeating = [{"source": s, "output": h} for s, h in zip(sources, hypotheses) if repeats(h)]
    return {
        "entity_fidelity": round(kept_sentences / with_entities, 4) if with_entities else None,
        "entity_recall": round(kept / total, 4) if total else None,
        "entity_sentences": with_entities,
        "amount_fidelity": round(amounts_kept / len(wanted_amounts), 4) if wanted_amounts else None,
        "amounts": len(wanted_amounts),
        "repetition_rate": round(len(repeating) / max(len(hypotheses), 1), 4),
        "entities_missed": missed,
        "repeating": repeating,
    }
