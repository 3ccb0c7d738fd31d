#!/usr/bin/env python
"""Write the quality suite's test sets (translator/testsets/) from Helsinki-NLP/OPUS-MT-testsets, once.

    python bench/make_testsets.py OPUS_MT_TESTSETS_FOLDER [--corpora ../shared/corpora]

Each set is written as `English<TAB>Spanish`, the layout of the project's
corpora. The Tatoeba Challenge test loses every pair whose English or
Spanish sentence is in a training corpus the project documents (the whole
spa-eng archive, News Commentary v11 detokenized, the WMT news sets of
2008-2012), compared as `cleaning.sentence_key` does; the count is printed
and kept in translator/testsets/README.md by hand. FLORES-101 devtest is kept whole.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from translator.data.cleaning import sentence_key, sharing_a_sentence  # noqa: E402
from translator.data.corpus import read_corpus  # noqa: E402

TATOEBA = "testsets/eng-spa/tatoeba-test-v2021-08-07"
FLORES = "testsets/flores101_dataset/devtest"


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").rstrip("\n").split("\n")


def training_sentences(corpora: Path) -> tuple[set, set]:
    """The `sentence_key`s of every English and every Spanish sentence of the documented training corpora."""
    english, spanish = set(), set()
    for pairs in (read_corpus(corpora / "spa-eng.zip").pairs,
                  read_corpus(corpora / "news-commentary-v11" / "nc11.en-es.tsv.zip").pairs,
                  read_corpus(corpora / "news-commentary-v11" / "newstest2008-2012.en-es.tsv").pairs):
        english |= set(pairs["source"].map(sentence_key))
        spanish |= set(pairs["target"].map(sentence_key))
    return english, spanish


def write_pairs(pairs: pd.DataFrame, path: Path) -> None:
    path.write_text("".join(f"{e}\t{s}\n" for e, s in zip(pairs["source"], pairs["target"])), encoding="utf-8")


@click.command()
@click.argument("opus_mt_testsets", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--corpora", default=str(REPO.parent / "shared" / "corpora"), type=click.Path(exists=True, path_type=Path))
def main(opus_mt_testsets, corpora):
    out = REPO / "translator" / "testsets"
    out.mkdir(exist_ok=True)
    tatoeba = pd.DataFrame({"source": read_lines(opus_mt_testsets / f"{TATOEBA}.eng"),
                            "target": read_lines(opus_mt_testsets / f"{TATOEBA}.spa")})
    english, spanish = training_sentences(corpora)
    seen = sharing_a_sentence(tatoeba, english, spanish)
    write_pairs(tatoeba[~seen], out / "tatoeba-test-v2021-08-07.unseen.eng-spa.tsv")
    print(f"Tatoeba Challenge test: {len(tatoeba):,} pairs, {int(seen.sum()):,} share a sentence with a training "
          f"corpus, {int((~seen).sum()):,} kept ({tatoeba[~seen]['target'].nunique():,} unique Spanish sentences)")
    flores = pd.DataFrame({"source": read_lines(opus_mt_testsets / f"{FLORES}/eng.devtest"),
                           "target": read_lines(opus_mt_testsets / f"{FLORES}/spa.devtest")})
    write_pairs(flores, out / "flores101-devtest.eng-spa.tsv")
    print(f"FLORES-101 devtest: {len(flores):,} pairs")


if __name__ == "__main__":
    main()
