"""The corpora a run is given (data/sources.py): weights, two-file corpora, TMX memories, the direction checked."""

import pandas as pd
import pytest

from conftest import TOY, run_cli
from translator.config import CorpusFormat
from translator.data.sources import CorpusSource, corpus_sources, read_source, weighted, write_mixture
from translator.errors import CorpusError, OptionError

TOY_PAIRS = [line.split("\t") for line in TOY.read_text(encoding="utf-8").splitlines()]


def write_two_files(folder, stem="toy", first="en", second="es"):
    column = {"en": 0, "es": 1}
    for language in (first, second):
        (folder / f"{stem}.{language}").write_text("".join(p[column[language]] + "\n" for p in TOY_PAIRS),
                                                   encoding="utf-8")
    return folder / f"{stem}.{first}", folder / f"{stem}.{second}"


def write_tmx(path, source_language="es", units=TOY_PAIRS[:30]):
    from xml.sax.saxutils import escape

    body = "".join(f'<tu><tuv xml:lang="es"><seg>{escape(es)}</seg></tuv><tuv xml:lang="en"><seg>{escape(en)}</seg>'
                   f"</tuv></tu>\n" for en, es in units)
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4"><header srclang="{source_language}" '
                    f'datatype="plaintext"/><body>\n{body}</body></tmx>\n', encoding="utf-8")
    return path


def test_weights_two_file_corpora_and_plain_files_are_told_apart(tmp_path):
    english, spanish = write_two_files(tmp_path)
    sources = corpus_sources([str(english), str(spanish), f"{TOY}:0.5", f"{TOY}:2"])
    assert [(len(s.paths), s.weight) for s in sources] == [(2, 1.0), (1, 0.5), (1, 2.0)]
    assert sources[1].spelled() == f"{TOY}:0.5"


@pytest.mark.parametrize("argument, message", [("TOY:0", "above 0"), ("TOY:-1", "above 0"),
                                               ("missing.tsv", "missing.tsv")])
def test_bad_corpus_arguments_are_named(tmp_path, argument, message):
    (tmp_path / "alone.es").write_text("Hola.\n", encoding="utf-8")
    argument = argument.replace("TOY", str(TOY)).replace("ALONE", str(tmp_path / "alone.es"))
    with pytest.raises((OptionError, CorpusError), match=message):
        corpus_sources([argument])


def test_a_weight_repeats_a_corpus_or_draws_a_share_of_it():
    import numpy as np

    pairs = pd.DataFrame({"source": list("abcdefghij") * 100, "target": list("ABCDEFGHIJ") * 100})
    assert len(weighted(pairs, 2, np.random.default_rng(1))) == 2000
    assert 400 < len(weighted(pairs, 0.5, np.random.default_rng(1))) < 600


def test_two_files_and_a_tmx_read_as_the_same_pairs(tmp_path):
    english, spanish = write_two_files(tmp_path, first="es", second="en")
    two_files = read_source(CorpusSource((english, spanish)), CorpusFormat()).pairs
    assert two_files.iloc[0]["source"] == TOY_PAIRS[0][1] and two_files.iloc[0]["target"] == TOY_PAIRS[0][0]
    memory = read_source(CorpusSource((write_tmx(tmp_path / "m.tmx"),)), CorpusFormat()).pairs
    assert memory[["source", "target"]].values.tolist() == two_files[["source", "target"]].values[:30].tolist()
    reversed_memory = read_source(CorpusSource((tmp_path / "m.tmx",)), CorpusFormat(reverse=True)).pairs
    assert reversed_memory.iloc[0]["source"] == TOY_PAIRS[0][0]


def test_unequal_two_files_and_broken_tmx_are_named(tmp_path):
    english, spanish = write_two_files(tmp_path)
    spanish.write_text("Hola.\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="as many lines"):
        read_source(CorpusSource((english, spanish)), CorpusFormat())
    (tmp_path / "bad.tmx").write_text("<tmx><body><tu>", encoding="utf-8")
    with pytest.raises(CorpusError, match="bad.tmx line 1"):
        read_source(CorpusSource((tmp_path / "bad.tmx",)), CorpusFormat())


def test_a_corpus_the_other_way_round_from_the_first_is_refused(tmp_path):
    english, spanish = write_two_files(tmp_path)
    sources = [CorpusSource((spanish, english)), CorpusSource((english, spanish))]
    with pytest.raises(CorpusError, match="other way round"):
        write_mixture(sources, CorpusFormat(), tmp_path / "mixture.tsv", 1, lambda *_: None)


def test_train_mixes_corpora_and_names_them_in_the_summary(tmp_path):
    import json

    spanish, english = write_two_files(tmp_path, first="es", second="en")
    result = run_cli("train", spanish, english, write_tmx(tmp_path / "m.tmx"), f"{TOY}:0.5", "--reverse",
                     "--model-dir", tmp_path / "model", "--max-steps", "1", "--vocab-size", "300", "--no-tune-search",
                     "--no-carry-graph", "--dev", TOY)
    assert result.returncode == 2 and "other way round" in result.stderr  # --reverse turned the first two around
    result = run_cli("train", english, spanish, write_tmx(tmp_path / "m.tmx", "en"), f"{TOY}:0.5", "--reverse",
                     "--model-dir", tmp_path / "model", "--max-steps", "1", "--vocab-size", "300", "--no-tune-search",
                     "--no-carry-graph", "--dev", TOY)
    assert result.returncode == 0, result.stderr
    assert "30 pairs from" in result.stdout and "weight 0.5" in result.stdout
    assert "translating Spanish (es) -> English (en)" in result.stdout
    summary = json.loads((tmp_path / "model" / "summary.json").read_text())
    assert summary["corpus"].endswith("toy-spa-eng.tsv:0.5") and summary["source_language"] == "es"
    assert not summary["corpus"].startswith("/")  # relative to the folder
    assert not list(tmp_path.glob(".model-corpora-*"))  # the mixture's scratch folder is gone
