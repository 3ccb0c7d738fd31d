"""The Translator: a model folder in, translations out, independent of batching."""

import pytest

from conftest import REPO
from translator.corpus import CorpusFormat, read_corpus
from translator.errors import ModelDirError
from translator.translator import SearchConfig, Translator

TOY = REPO / "data" / "sample" / "toy-spa-eng.tsv"


@pytest.fixture(scope="module")
def translator(toy_model):
    return Translator.load(toy_model)


@pytest.fixture(scope="module")
def toy_pairs():
    return read_corpus(TOY, CorpusFormat(reverse=True)).pairs


def test_memorised_corpus_comes_back_with_greedy_and_beam(translator, toy_pairs):
    for search in (SearchConfig(greedy=True), SearchConfig(beam_size=5)):
        outputs = [t.text for t in translator.translate(list(toy_pairs.source), search)]
        assert outputs == list(toy_pairs.target)


@pytest.mark.parametrize("search", [SearchConfig(greedy=True), SearchConfig(beam_size=5, n_best=3)])
def test_output_does_not_depend_on_the_batch(translator, toy_pairs, search):
    """Same texts; scores equal up to float rounding, which matrix kernels order by batch shape (~1e-7)."""
    sentences = (list(toy_pairs.source) + ["¿Dónde está el perro grande?", "Hola", "gato"]) * 2
    results = {}
    for size in (1, 7, 64):
        results[size] = [
            t for start in range(0, len(sentences), size)
            for t in translator.translate(sentences[start : start + size], search)
        ]
    def texts(size):
        return [[text for text, _ in t.alternatives] for t in results[size]]

    def scores(size):
        return [score for t in results[size] for _, score in t.alternatives]

    for size in (7, 64):
        assert texts(size) == texts(1)
        assert scores(size) == pytest.approx(scores(1), abs=1e-5)


def test_empty_sentence_gives_empty_output(translator):
    outputs = translator.translate(["", "Estoy aquí.", "   "])
    assert [o.text for o in outputs] == ["", "I am here.", ""]


def test_unseen_characters_and_long_input_still_translate(translator):
    outputs = translator.translate(["日本 ☃ Estoy aquí.", "gato " * 200])
    assert all(isinstance(o.text, str) for o in outputs)


def test_n_best_is_ranked(translator):
    result = translator.translate(["Estoy cansado."], SearchConfig(beam_size=4, n_best=4))[0]
    scores = [s for _, s in result.alternatives]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True)
    assert result.text == "I am tired."


def test_missing_and_damaged_model_folders(tmp_path, toy_model):
    with pytest.raises(ModelDirError, match="no such model folder"):
        Translator.load(tmp_path / "absent")
    with pytest.raises(ModelDirError, match="missing config.json"):
        Translator.load(tmp_path)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for f in toy_model.iterdir():
        if f.is_file():
            (damaged / f.name).write_bytes(f.read_bytes())
    (damaged / "model.weights.h5").write_bytes(b"not an h5 file")
    with pytest.raises(ModelDirError, match="damaged weights"):
        Translator.load(damaged)
    (damaged / "config.json").write_text("{")
    with pytest.raises(ModelDirError, match="damaged config"):
        Translator.load(damaged)


def test_shrunk_weights_are_smaller_and_translate_the_same(toy_model, tmp_path, toy_pairs):
    import shutil

    from translator.weights import shrink_weights

    copy = tmp_path / "shrunk"
    shutil.copytree(toy_model, copy)
    before, after = shrink_weights(copy)
    assert after < 0.6 * before
    sentences = list(toy_pairs.source)
    original = [t.text for t in Translator.load(toy_model).translate(sentences, SearchConfig(greedy=True))]
    assert [t.text for t in Translator.load(copy).translate(sentences, SearchConfig(greedy=True))] == original


def test_a_source_over_the_maximum_length_is_flagged_as_cut(toy_model):
    translator = Translator.load(toy_model)
    translator.max_length = 4  # before the first call: the compiled search reads it when traced
    short, long = translator.translate(["Hola", "¿Dónde está el perro grande y el gato pequeño?"], SearchConfig(greedy=True))
    assert not short.truncated and long.truncated
    assert long.text  # still translated, from its first 4 tokens
