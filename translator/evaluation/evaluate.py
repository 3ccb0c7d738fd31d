"""Scoring translations by the benchmark protocol of ../shared/corpora/README.md.

One hypothesis per unique source sentence; its references are all target
sentences paired with it in the test file; sacrebleu corpus BLEU (lowercase,
13a tokenizer) and corpus chrF.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sacrebleu

from translator.data.corpus import read_corpus
from translator.evaluation.fidelity import fidelity
from translator.files import write_text_atomically
from translator.config import SearchConfig
from translator.decoding.inference import Translator
from translator.decoding.streams import STREAMS, batches, in_streams

BATCH_SIZE = 64


@dataclass
class ReferenceSet:
    sources: list[str]  # unique, in order of first appearance
    references: list[list[str]]  # all references of each source

    @classmethod
    def from_pairs(cls, pairs: pd.DataFrame) -> "ReferenceSet":
        grouped = pairs.groupby("source", sort=False)["target"].agg(list)
        return cls(list(grouped.index), list(grouped.values))

    def reference_streams(self) -> list[list[str | None]]:
        """sacrebleu's layout: stream k holds every source's k-th reference (None where it has fewer)."""
        depth = max(map(len, self.references))
        return [[refs[k] if k < len(refs) else None for refs in self.references] for k in range(depth)]


def score(hypotheses: list[str], test: ReferenceSet) -> dict:
    """BLEU, chrF, exact-match rate and length ratio of `hypotheses` against `test`."""
    streams = test.reference_streams()
    bleu_metric = sacrebleu.BLEU(lowercase=True, tokenize="13a")
    bleu = bleu_metric.corpus_score(hypotheses, streams)
    chrf = sacrebleu.CHRF().corpus_score(hypotheses, streams)
    exact = sum(h in refs for h, refs in zip(hypotheses, test.references)) / len(hypotheses)
    return {
        "bleu": round(bleu.score, 2),
        "chrf": round(chrf.score, 2),
        "exact_match": round(exact, 4),
        "length_ratio": round(bleu.sys_len / max(bleu.ref_len, 1), 4),
        "sentences": len(hypotheses),
        "signature": str(bleu_metric.get_signature()),
    }


def translate_all(translator: Translator, sources: list[str], search: SearchConfig,
                  streams: int = STREAMS) -> tuple[list[str], float]:
    """Hypotheses for `sources` (in their order), and the seconds it took.

    Sentences are batched in order of their source tokens, so that a batch's search ends when its sentences do
    rather than waiting for one long batch-mate (an output's length follows its source's in tokens more closely
    than in characters: the test split's greedy search ran 620 steps in all instead of 727); two batches are
    searched at a time (`streams`, streams.py).
    """
    started = time.perf_counter()
    token_counts = translator.token_counts(sources)
    by_length = list(batches(sorted(range(len(sources)), key=lambda i: token_counts[i]), BATCH_SIZE, streams))
    hypotheses = [""] * len(sources)
    translated = in_streams(lambda batch: translator.translate([sources[i] for i in batch], search), by_length,
                            streams)
    for batch, translations in zip(by_length, translated):
        for i, translation in zip(batch, translations):
            hypotheses[i] = translation.text
    return hypotheses, time.perf_counter() - started


def evaluate(translator: Translator, test_file: Path, search: SearchConfig, output: Path | None = None,
             with_fidelity: bool = False, test_pairs: pd.DataFrame | None = None) -> dict:
    """Translate the test file's unique sources in the model's direction and score them; `with_fidelity` adds
    entity fidelity and the repetition rate (fidelity.py), with the sentences that failed them. `test_pairs`:
    the file as already read in the model's direction."""
    if test_pairs is None:
        test_pairs = read_corpus(test_file, translator.config.data).pairs
    test = ReferenceSet.from_pairs(test_pairs)
    hypotheses, seconds = translate_all(translator, test.sources, search)
    if output is not None:
        write_text_atomically(output, "".join(f"{s}\t{h}\n" for s, h in zip(test.sources, hypotheses)))
    report = {
        "test_file": str(test_file),
        "search": "greedy" if search.greedy or search.beam_size == 1 else f"beam {search.beam_size}",
        "length_penalty": search.length_penalty,
        **score(hypotheses, test),
        "sentences_per_s": round(len(hypotheses) / seconds, 1),
    }
    return report | fidelity(test.sources, test.references, hypotheses) if with_fidelity else report


def format_report(report: dict) -> str:
    table = pd.DataFrame(
        [{"search": report["search"], "BLEU": report["bleu"], "chrF": report["chrf"],
          "exact match": f"{100 * report['exact_match']:.1f} %", "length ratio": report["length_ratio"],
          "sentences": report["sentences"], "sentences/s": report["sentences_per_s"]}]
    )
    lines = [report["test_file"], table.to_string(index=False), report["signature"]]
    if "entity_fidelity" in report:
        lines += fidelity_lines(report)
    return "\n".join(lines)


def fidelity_lines(report: dict, examples: int = 5) -> list[str]:
    """The fidelity figures in a sentence, then a few of the sentences that lost an entity or repeat."""
    def percent(share):
        return "n/a" if share is None else f"{100 * share:.1f} %"

    lines = [f"entity fidelity: {percent(report['entity_fidelity'])} of the {report['entity_sentences']} sentences "
             f"with names or numbers keep them all (entities kept: {percent(report['entity_recall'])}); "
             f"repetition: {percent(report['repetition_rate'])} of outputs"]
    if report["amounts"]:
        lines.append(f"amounts: {percent(report['amount_fidelity'])} of the {report['amounts']} numbers written "
                     "with separators come out as the reference writes them")
    for miss in report["entities_missed"][:examples]:
        lines.append(f"  missing {', '.join(miss['missing'])}: {miss['source']} -> {miss['output']}")
    for loop in report["repeating"][:examples]:
        lines.append(f"  repeats: {loop['source']} -> {loop['output']}")
    return lines
