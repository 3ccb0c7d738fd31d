"""Corpora as they come: Moses-tokenized text made plain again, and the pairs no training should see.

WMT and OPUS distribute corpora such as News Commentary Moses-tokenized and
XML-escaped ("the crisis , they said &apos; ..."). A model trained on that
text learns to write it, and a user's plain sentence looks nothing like its
training data: such a corpus is detokenized (sacremoses, the Moses tool's
maintained port, per language; it unescapes the XML entities too) before it
is used. Sentence-aligned corpora also hold misalignments, which show as
implausible length ratios, and may share sentences with the public test sets
a model is scored on: both are dropped, and counted.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

import pandas as pd

# what Moses tokenization leaves and plain text does not: a space before , . ; : ? ! ) or after (, and its entities
MOSES_MARKS = re.compile(r" [,.;:?!)](?: |$)|\( |&(?:apos|quot|amp|lt|gt|#124|#91|#93);")
MOSES_SHARE = 0.3  # a corpus is taken as Moses-tokenized where this share of a sample's lines shows its marks


def looks_moses_tokenized(sentences: pd.Series) -> bool:
    """Whether a sample of sentences reads as Moses-tokenized (its marks on at least MOSES_SHARE of them)."""
    if len(sentences) == 0:
        return False
    return sentences.str.contains(MOSES_MARKS).mean() >= MOSES_SHARE


def detokenize(sentences: pd.Series, language: str) -> pd.Series:
    """Moses-tokenized, XML-escaped sentences as plain text (`language`: an ISO 639-1 code, e.g. "es")."""
    from sacremoses import MosesDetokenizer

    detokenizer = MosesDetokenizer(lang=language)
    return sentences.map(lambda sentence: detokenizer.detokenize(sentence.split(), unescape=True))


def plausible_lengths(pairs: pd.DataFrame, max_ratio: float) -> pd.Series:
    """True for the pairs whose sides' lengths (in characters) are within `max_ratio` of each other; the
    shorter side gets 10 characters of slack, so that "Sí." / "Yes, it is." is not taken as misaligned."""
    source, target = pairs["source"].str.len(), pairs["target"].str.len()
    shorter, longer = source.where(source < target, target), source.where(source >= target, target)
    return longer <= max_ratio * (shorter + 10)


def sentence_key(sentence: str) -> str:
    """How two sentences are taken as the same for overlap: case, accents' form, spaces and the final
    punctuation do not count."""
    text = unicodedata.normalize("NFC", sentence).casefold()
    return " ".join(re.sub(r"[\s.!?¿¡\"']+$", "", text).split())


def sharing_a_sentence(pairs: pd.DataFrame, sources: set[str], targets: set[str]) -> pd.Series:
    """True for the pairs whose source is in `sources` or whose target is in `targets` (sets of `sentence_key`s)."""
    return pairs["source"].map(sentence_key).isin(sources) | pairs["target"].map(sentence_key).isin(targets)


TEST_SETS = Path(__file__).resolve().parents[1] / "testsets"


@functools.cache
def test_set_sentences() -> frozenset[str]:
    """The `sentence_key`s of every sentence, either language, of the test sets the project scores on
    (translator/testsets/): training never sees them."""
    keys = set()
    for path in sorted(TEST_SETS.glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            keys.update(sentence_key(side) for side in line.split("\t"))
    return frozenset(keys)


def outside_test_sets(pairs: pd.DataFrame) -> pd.Series:
    """True for the pairs neither of whose sentences is in a test set (`test_set_sentences`)."""
    keys = test_set_sentences()
    return ~(pairs["source"].map(sentence_key).isin(keys) | pairs["target"].map(sentence_key).isin(keys))
