"""A model folder that carries its translate graph (startup/graph.py): the first `translate` starts from it, with
the weights of the folder's own weights file, and a graph that no longer fits the folder is passed by."""

import json
import shutil

import pytest

from conftest import DEFAULT_MODEL, TOY, run_cli
from test_fast_start import ARGUMENTS, LINES, entries, translate_with_imports
from translator.startup.graph import RECORD, carry_graph, saved_translator
from translator.config import SearchConfig
from translator.model.folder import SEARCH, SOURCE_TOKENIZER, TRANSLATE_GRAPH, WEIGHTS, RunDir
from translator.decoding.inference import Translator


@pytest.fixture
def carrying_model(toy_model, tmp_path, translate_cache):
    """A copy of the toy model that carries its graph for beam 3 (its search.json)."""
    model = tmp_path / "model"
    shutil.copytree(toy_model, model)
    (model / SEARCH).write_text('{"beam_size": 3, "length_penalty": 0.0}')
    translator = Translator.load(model)
    carry_graph(translator, RunDir(model), translator.search_setting())
    return model


def test_a_carried_graph_translates_as_the_model_does(toy_model, tmp_path, translate_cache):
    model = tmp_path / "model"
    shutil.copytree(toy_model, model)
    translator = Translator.load(model)
    search = translator.search_setting(beam_size=3)
    carry_graph(translator, RunDir(model), search)  # traced at the model's maximum length
    carried = saved_translator(RunDir(model), search)
    carried.max_length = translator.max_length = 4  # 4 tokens: lines get cut before the graph
    expected = translator.translate(LINES, search)
    found = carried.translate(LINES, search)
    assert [(t.text, t.truncated) for t in found] == [(t.text, t.truncated) for t in expected]
    assert [t.score for t in found] == pytest.approx([t.score for t in expected], abs=1e-5)


def test_the_folder_holds_each_weight_once(carrying_model):
    """The graph comes without its variables: every one is an array of the folder's weights file."""
    import h5py

    assert sorted(p.name for p in (carrying_model / TRANSLATE_GRAPH).iterdir()) == ["saved_model.pb", RECORD]
    variables = json.loads((carrying_model / TRANSLATE_GRAPH / RECORD).read_text())["variables"]
    with h5py.File(carrying_model / WEIGHTS) as stored:
        arrays = []
        stored.visititems(lambda path, item: arrays.append(path) if isinstance(item, h5py.Dataset) else None)
    assert sorted(variables.values()) == sorted(arrays)


def test_a_graph_that_no_longer_fits_the_folder_is_passed_by(carrying_model):
    import h5py
    import numpy as np

    run_dir = RunDir(carrying_model)
    search = SearchConfig(beam_size=3)
    assert saved_translator(run_dir, search) is not None
    assert saved_translator(run_dir, SearchConfig(beam_size=4)) is None  # another setting
    assert saved_translator(run_dir, search, "mixed_bfloat16") is None  # traced in float32
    tokenizer = carrying_model / SOURCE_TOKENIZER
    original = tokenizer.read_bytes()
    tokenizer.write_bytes(original + b" ")  # a model trained anew: another vocabulary, say
    assert saved_translator(run_dir, search) is None
    tokenizer.write_bytes(original)
    with h5py.File(carrying_model / WEIGHTS, "r+") as stored:  # or a model of another size
        path = next(path for path in json.loads((carrying_model / TRANSLATE_GRAPH / RECORD).read_text())[
            "variables"].values())
        shape = stored[path].shape
        del stored[path]
        stored[path] = np.zeros((shape[0] + 1, *shape[1:]), np.float32)
    assert saved_translator(run_dir, search) is None


def test_a_graph_still_fits_the_folder_shrunk_or_trained_on(carrying_model):
    """The graph reads the weights' values from the folder: shrunk (float16, cast in the graph), it translates as
    the shrunk model does."""
    from translator.model.weights import shrink_weights

    shrink_weights(carrying_model)
    run_dir = RunDir(carrying_model)
    search = SearchConfig(beam_size=3)
    carried = saved_translator(run_dir, search)
    assert carried is not None
    expected = Translator.load(carrying_model).translate(LINES, search)
    found = carried.translate(LINES, search)
    assert [t.text for t in found] == [t.text for t in expected]
    assert [t.score for t in found] == pytest.approx([t.score for t in expected], abs=1e-5)
    (carrying_model / TRANSLATE_GRAPH / "saved_model.pb").write_bytes(b"damaged")
    assert saved_translator(run_dir, search) is None


@pytest.mark.slow
def test_translate_starts_from_the_carried_graph_and_caches_nothing(carrying_model, translate_cache):
    """The CLI's translate in a process of its own: the model's output, nothing cached, and none of the heavy
    imports the fast start avoids (test_fast_start's last test, here for the carried graph)."""
    result = translate_with_imports(carrying_model, *ARGUMENTS)  # TRANSLATOR_CACHE: the fixture's
    assert result.returncode == 0, result.stderr
    expected = Translator.load(carrying_model).translate(ARGUMENTS, SearchConfig(beam_size=3))
    assert result.stdout == "".join(t.text + "\n" for t in expected) + "[]\n"
    assert entries(translate_cache) == []  # the cache was not needed, so not built


@pytest.mark.slow
def test_train_ends_by_carrying_the_graph_that_translate_then_starts_from(tmp_path, translate_cache):
    """A user's own model starts fast on its first `translate` too: `train` stores the graph of the search setting
    it chose (here the only one it tries), which translates as the model does, with nothing cached."""
    model = tmp_path / "model"
    trained = run_cli("train", TOY, "--reverse", "--model-dir", model, "--units", "16", "--embedding-dim", "8",
                      "--tokenizer", "word", "--batch-size", "8", "--epochs", "2", "--tune-beam-sizes", "3",
                      "--tune-length-penalties", "0")
    assert trained.returncode == 0, trained.stderr
    assert f"translate graph for beam 3, length penalty 0 stored in {model / TRANSLATE_GRAPH}" in trained.stdout
    result = translate_with_imports(model, *ARGUMENTS)
    assert result.returncode == 0, result.stderr
    expected = Translator.load(model).translate(ARGUMENTS, SearchConfig(beam_size=3))
    assert result.stdout == "".join(t.text + "\n" for t in expected) + "[]\n"
    assert entries(translate_cache) == []


def test_the_default_model_carries_its_graph_and_it_translates_as_the_code_does():
    """The carried graph is the code's that wrote it: where a change to the model or the search changes what
    `translate` outputs, this fails until `translator carry-graph --model-dir spa-eng` is run."""
    run_dir = RunDir(DEFAULT_MODEL)
    translator = Translator.load(DEFAULT_MODEL)
    search = translator.search_setting()
    carried = saved_translator(run_dir, search, optimize=False)
    assert carried is not None, "the default model carries no graph that fits it: run carry-graph (see above)"
    sentences = ["Hola.", "¿Dónde está la biblioteca?", "Tengo 1.250,50 euros y me llamo Zbigniew.",
                 "Mi hermano vive en Valparaíso desde 2019.", "No sé qué hacer con tantos libros viejos.",
                 "El tren sale a las 7:45 de la mañana.", "¿Por qué no me lo dijiste antes?"]
    expected = translator.translate(sentences, search)
    assert [t.text for t in carried.translate(sentences, search)] == [t.text for t in expected]
