"""The data doctor: what it counts, and when it reports problems."""

from translator.config import CorpusFormat
from translator.data.corpus import read_corpus
from translator.data.check import check_corpus, found_problems


def corpus(write, name, text, **fmt):
    return read_corpus(write(name, text), CorpusFormat(**fmt))


def test_clean_corpus_has_no_problems_and_counts_duplicates_and_lengths(write):
    report = check_corpus(corpus(write, "a.tsv", "Hi.\tHola.\nHi.\tHola.\nGood morning to you all.\tBuenos días a todos.\n"))
    assert report["pairs"] == 3 and report["duplicate_pairs"] == {"count": 1, "lines": [2]}
    assert report["source"]["length_percentiles"]["max"] == 6  # five words and a full stop
    assert not found_problems(report)


def test_bad_lines_and_overlap_are_problems(write):
    bad = corpus(write, "b.tsv", "Hi.\tHola.\nonly one column\nBye.\tAdiós.\n", skip_bad_lines=True)
    report = check_corpus(bad)
    assert [b["line"] for b in report["bad_lines"]] == [2] and found_problems(report)

    train = corpus(write, "train.tsv", "Hi.\tHola.\nBye.\tAdiós.\n")
    test = corpus(write, "test.tsv", "Bye.\tChao.\nThanks.\tGracias.\n")
    overlap = check_corpus(train, [test])["overlap"][0]
    assert overlap["shared_source_sentences"] == 1 and overlap["shared_pairs"] == 0
    assert found_problems(check_corpus(train, [test]))
