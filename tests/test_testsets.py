"""The quality suite's test sets (translator/testsets/) are text no training of the project sees."""

from pathlib import Path

import pandas as pd
import pytest

from translator.data.cleaning import sentence_key, sharing_a_sentence
from translator.data.corpus import read_corpus

TEST_SETS = Path(__file__).resolve().parents[1] / "translator" / "testsets"
UNSEEN_TATOEBA = TEST_SETS / "tatoeba-test-v2021-08-07.unseen.eng-spa.tsv"


def documented_corpora(corpora: Path) -> list[Path]:
    """Every training corpus that ../shared/corpora/README.md documents."""
    return [corpora / "spa-eng.zip", corpora / "news-commentary-v11" / "nc11.en-es.tsv.zip",
            corpora / "news-commentary-v11" / "newstest2008-2012.en-es.tsv"]


def keys(pairs: pd.DataFrame) -> tuple[set, set]:
    return set(pairs["source"].map(sentence_key)), set(pairs["target"].map(sentence_key))


def test_the_test_sets_are_there_with_their_licences():
    readme = (TEST_SETS / "README.md").read_text(encoding="utf-8")
    assert "CC-BY-SA 4.0" in readme and "CC-BY 2.0" in readme
    assert len(read_corpus(TEST_SETS / "flores101-devtest.eng-spa.tsv").pairs) == 1012
    assert len(read_corpus(UNSEEN_TATOEBA).pairs) > 10_000


@pytest.mark.slow
def test_no_documented_corpus_shares_a_sentence_with_a_test_set(corpora):
    """The unseen Tatoeba set was made so; FLORES-101 happens to be (`train` drops any pair that is not, for a
    corpus of the user's: test_cleaning.py)."""
    test_sets = {path.name: read_corpus(path).pairs for path in sorted(TEST_SETS.glob("*.tsv"))}
    for corpus in documented_corpora(corpora):
        training_keys = keys(read_corpus(corpus).pairs)
        for name, test_pairs in test_sets.items():
            shared = sharing_a_sentence(test_pairs, *training_keys)
            assert not shared.any(), f"{name} and {corpus}: {test_pairs[shared].head(3).to_dict('records')}"
