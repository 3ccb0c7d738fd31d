#!/usr/bin/env python
"""The quality suite: a model scored on its own test split and on test sets made by others; prints a table,
writes JSON.

    python bench/quality.py [--model-dir spa-eng] [--sets test-split,tatoeba-unseen,flores]
                            [--sample 2000 (of the unseen Tatoeba set)] [--beam-size N --length-penalty A | --greedy] [--out FILE]

Every set is read in the model's direction (the files are English<TAB>Spanish, as the corpora are), each
unique source translated once with the model's stored search and scored by the benchmark protocol
(sacrebleu BLEU lowercase 13a, chrF; evaluation/evaluate.py), with entity fidelity over the set's real
sentences that hold names or numbers (evaluation/fidelity.py). See docs/evaluating-and-comparing.md.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path

import click

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CORPORA = Path(os.environ.get("TRANSLATOR_CORPORA", REPO.parent / "shared" / "corpora"))
TEST_SETS = REPO / "translator" / "testsets"
SETS = {
    "test-split": CORPORA / "spa-eng" / "test.tsv",
    "tatoeba-unseen": TEST_SETS / "tatoeba-test-v2021-08-07.unseen.eng-spa.tsv",
    "flores": TEST_SETS / "flores101-devtest.eng-spa.tsv",
}


def sampled(test, size: int, seed: int = 1):
    """`size` of a ReferenceSet's sources with their references, drawn with `seed`, in file order (all when
    `size` is 0 or the set is smaller)."""
    import numpy as np

    from translator.evaluation.evaluate import ReferenceSet

    if not size or size >= len(test.sources):
        return test
    chosen = np.sort(np.random.default_rng(seed).choice(len(test.sources), size, replace=False))
    return ReferenceSet([test.sources[i] for i in chosen], [test.references[i] for i in chosen])


def score_set(translator, path: Path, search, sample: int) -> dict:
    from translator.data.corpus import read_corpus
    from translator.evaluation.evaluate import ReferenceSet, score, translate_all
    from translator.evaluation.fidelity import fidelity

    test = ReferenceSet.from_pairs(read_corpus(path, translator.config.data).pairs)
    test = sampled(test, sample) if path == SETS["tatoeba-unseen"] else test
    hypotheses, seconds = translate_all(translator, test.sources, search)
    entities = fidelity(test.sources, test.references, hypotheses)
    return {**score(hypotheses, test), "sentences_per_s": round(len(hypotheses) / seconds, 1),
            **{k: entities[k] for k in ("entity_fidelity", "entity_sentences", "amount_fidelity", "amounts",
                                        "repetition_rate")},
            "examples": [{"source": s, "output": h, "references": r}
                         for s, h, r in list(zip(test.sources, hypotheses, test.references))[:5]]}


def table(rows: dict) -> str:
    import pandas as pd

    def percent(share):
        return "–" if share is None else f"{100 * share:.1f} %"

    return pd.DataFrame([{"set": name, "sentences": r["sentences"], "BLEU": r["bleu"], "chrF": r["chrf"],
                          "entity fidelity": f"{percent(r['entity_fidelity'])} of {r['entity_sentences']}",
                          "repetition": percent(r["repetition_rate"]), "sentences/s": r["sentences_per_s"]}
                         for name, r in rows.items()]).to_string(index=False)


@click.command()
@click.option("--model-dir", default="spa-eng", show_default=True, help="A model folder or an installed model.")
@click.option("--sets", default=",".join(SETS), show_default=True, help="Comma-separated: " + ", ".join(SETS))
@click.option("--sample", default=2000, show_default=True,
              help="Unique sources drawn (seeded) from the unseen Tatoeba set (10,022); 0 for all. The others are "
                   "scored whole.")
@click.option("--beam-size", type=int, help="Instead of the model's stored search.")
@click.option("--length-penalty", type=float)
@click.option("--greedy", is_flag=True)
@click.option("--out", type=click.Path(path_type=Path), help="[default: bench/results/DATE-quality-MODEL.json]")
def main(model_dir, sets, sample, beam_size, length_penalty, greedy, out):
    from translator import pretrained
    from translator.startup.quiet import load_tensorflow

    names = [name.strip() for name in sets.split(",")]
    unknown = [name for name in names if name not in SETS]
    if unknown:
        raise click.UsageError(f"--sets: unknown {', '.join(unknown)}; choose from {', '.join(SETS)}")
    missing = [str(SETS[name]) for name in names if not SETS[name].exists()]
    if missing:
        raise click.UsageError(f"missing test set(s): {', '.join(missing)} (TRANSLATOR_CORPORA names the corpora)")
    load_tensorflow()
    from translator.decoding.inference import Translator

    folder = pretrained.resolve(model_dir)
    translator = Translator.load(folder)
    search = translator.search_setting(greedy=greedy, beam_size=beam_size, length_penalty=length_penalty)
    rows = {}
    for name in names:
        click.echo(f"scoring {name} ...", err=True)
        rows[name] = score_set(translator, SETS[name], search, sample)
    click.echo(f"{folder} (beam {search.beam_size}, length penalty {search.length_penalty:g}; "
               f"{rows[names[0]]['signature']})")
    click.echo(table(rows))
    record = {"date": datetime.date.today().isoformat(), "model": str(folder), "beam_size": search.beam_size,
              "length_penalty": search.length_penalty, "sample": sample, "sets": rows}
    out = out or REPO / "bench" / "results" / f"{record['date']}-quality-{folder.name}.json"
    out.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    click.echo(f"written: {out}")


if __name__ == "__main__":
    main()
