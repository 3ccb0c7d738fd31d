import zipfile

import pandas as pd
import pytest

from translator.data.corpus import CorpusFormat, read_corpus, split_corpus
from translator.errors import CorpusError, OptionError


def test_anki_lines_with_and_without_attribution(write):
    path = write("c.txt", "Go.\tVe.\tCC-BY 2.0 (France) Attribution: tatoeba.org\nHi.\tHola.\n")
    pairs = read_corpus(path).pairs
    assert pairs[["source", "target"]].values.tolist() == [["Go.", "Ve."], ["Hi.", "Hola."]]
    assert pairs["line"].tolist() == [1, 2]


def test_reverse_swaps_direction(write):
    pairs = read_corpus(write("c.tsv", "Go.\tVe.\n"), CorpusFormat(reverse=True)).pairs
    assert (pairs.source[0], pairs.target[0]) == ("Ve.", "Go.")


def test_empty_lines_and_whitespace_are_skipped_and_counted(write):
    corpus = read_corpus(write("c.tsv", "\n  Go. \t Ve.  \r\n   \n\nHi.\tHola.\n"))
    assert corpus.pairs[["source", "target"]].values.tolist() == [["Go.", "Ve."], ["Hi.", "Hola."]]
    assert corpus.empty_lines == 3
    assert corpus.pairs["line"].tolist() == [2, 5]


def test_named_columns_in_csv_with_quotes(write):
    path = write("c.csv", 'id,es,en\n1,"Hola, amigo.","Hello, friend."\n2,Sí.,Yes.\n')
    pairs = read_corpus(path, CorpusFormat(source_column="es", target_column="en")).pairs
    assert pairs[["source", "target"]].values.tolist() == [["Hola, amigo.", "Hello, friend."], ["Sí.", "Yes."]]
    assert pairs["line"].tolist() == [2, 3]


def test_unknown_column_names_the_header(write):
    with pytest.raises(CorpusError, match=r"c.tsv line 1: no column 'fr'"):
        read_corpus(write("c.tsv", "en\tes\nHi\tHola\n"), CorpusFormat(source_column="fr", target_column="en"))


def test_one_named_column_alone_is_refused():
    with pytest.raises(OptionError):
        CorpusFormat(source_column="es")


@pytest.mark.parametrize(
    "content, line, reason",
    [
        (b"Go.\tVe.\nno tab here\n", 2, "expected 2 tab-separated fields"),
        (b"Go.\tVe.\nHi.\tHol\xe1.\n", 2, "undecodable byte 0xe1"),
        (b"Go.\tVe.\n\nHi.\t \n", 3, "empty target sentence"),
        (b"\tVe.\n", 1, "empty source sentence"),
        (b"a\tb\tc\td\n", 1, "found 4"),
    ],
)
def test_bad_line_names_file_and_line(write, content, line, reason):
    path = write("bad.tsv", content)
    with pytest.raises(CorpusError) as error:
        read_corpus(path)
    assert str(error.value).startswith(f"{path} line {line}: ")
    assert reason in str(error.value)


def test_skip_bad_lines_counts_them(write):
    corpus = read_corpus(write("c.tsv", b"Go.\tVe.\nnope\nHi.\t\nA\xff\tB\nOk.\tVale.\n"), CorpusFormat(skip_bad_lines=True))
    assert corpus.pairs["source"].tolist() == ["Go.", "Ok."]
    assert [b.line for b in corpus.bad_lines] == [2, 3, 4]
    assert "3 bad lines skipped" in corpus.summary()


def test_file_without_pairs_is_an_error(write):
    with pytest.raises(CorpusError, match="no sentence pairs"):
        read_corpus(write("c.tsv", "\n\n"))


def test_missing_file(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        read_corpus(tmp_path / "absent.tsv")


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def test_zip_as_distributed(tmp_path):
    path = _zip(tmp_path / "spa-eng.zip", {"_about.txt": "about", "spa-eng/spa.txt": "Go.\tVe.\nHi.\tHola.\n"})
    corpus = read_corpus(path, CorpusFormat(reverse=True))
    assert corpus.name.endswith("spa-eng.zip:spa-eng/spa.txt")
    assert corpus.pairs["source"].tolist() == ["Ve.", "Hola."]


def test_zip_errors_name_the_member_line(tmp_path):
    path = _zip(tmp_path / "c.zip", {"spa.txt": "Go.\tVe.\nbroken\n"})
    with pytest.raises(CorpusError, match=r"c.zip:spa.txt line 2: "):
        read_corpus(path)


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt", "..\\evil.txt"])
def test_zip_member_escaping_the_folder_is_refused(tmp_path, member):
    path = _zip(tmp_path / "c.zip", {"spa.txt": "Go.\tVe.\n", member: "x\ty\n"})
    with pytest.raises(CorpusError, match="would escape"):
        read_corpus(path)


def _shared_sentences(splits, side):
    names = list(splits)
    return {
        (a, b): len(set(splits[a][side]) & set(splits[b][side]))
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    }


def test_split_keeps_pairs_that_share_a_sentence_together():
    # chains: A-x, A-y, B-y (one group of 3); others independent
    pairs = pd.DataFrame(
        {
            "source": ["A", "A", "B"] + [f"s{i}" for i in range(97)],
            "target": ["x", "y", "y"] + [f"t{i}" for i in range(97)],
        }
    )
    for seed in range(5):
        splits = split_corpus(pairs, dev_size=0.1, test_size=0.1, seed=seed)
        assert sum(len(s) for s in splits.values()) == 100
        assert not any(_shared_sentences(splits, "source").values())
        assert not any(_shared_sentences(splits, "target").values())
        group = [name for name, s in splits.items() if "A" in set(s.source)]
        assert len(group) == 1 and set(splits[group[0]].source) >= {"A", "B"}


def test_split_is_deterministic_for_a_seed():
    pairs = pd.DataFrame({"source": [f"s{i}" for i in range(200)], "target": [f"t{i}" for i in range(200)]})
    first = split_corpus(pairs, 0.05, 0.05, seed=3)
    again = split_corpus(pairs, 0.05, 0.05, seed=3)
    other = split_corpus(pairs, 0.05, 0.05, seed=4)
    assert all(first[n].equals(again[n]) for n in first)
    assert not first["test"].equals(other["test"])
    assert (len(first["dev"]), len(first["test"])) == (10, 10)


def test_real_archive_splits_share_no_sentence(corpora):
    corpus = read_corpus(corpora / "spa-eng.zip", CorpusFormat(reverse=True))
    assert len(corpus.pairs) == 118_964
    splits = split_corpus(corpus.pairs, dev_size=0.01, test_size=0.02, seed=1)
    assert not any(_shared_sentences(splits, "source").values())
    assert not any(_shared_sentences(splits, "target").values())
    assert len(splits["test"]) > 2000
