"""The fast start: `translate` loads the model's translate graph, cached by an earlier run, instead of building and
tracing it (startup/graph.py)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, run_cli
from translator.config import SearchConfig
from translator.model.folder import WEIGHTS, RunDir
from translator.startup import graph
from translator.startup.graph import RECORD, cache_graph, graph_key, saved_translator
from translator.decoding.inference import Translator

LINES = ["Estoy aquí.", "", "Hace frío. Estás cansado.", "Estoy cansado, estás aquí, estamos aquí."]
ARGUMENTS = [line for line in LINES if line]  # translate refuses an empty argument; a file's empty line stays one


def entries(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def cache_entry(model, search: SearchConfig, policy: str = "float32"):
    run_dir = RunDir(model)
    return graph.cache_entry(run_dir, graph_key(run_dir, search, policy))


def test_the_cached_graph_translates_as_the_model_does(toy_model, translate_cache):
    translator = Translator.load(toy_model)
    search = translator.search_setting(beam_size=3)
    cache_graph(translator, RunDir(toy_model), search)
    cached = saved_translator(RunDir(toy_model), search)
    cached.max_length = translator.max_length = 4  # lines get cut before the graph
    expected = translator.translate(LINES, search)
    assert [(t.text, t.truncated) for t in cached.translate(LINES, search)] == [(t.text, t.truncated) for t in expected]
    assert [t.score for t in cached.translate(LINES, search)] == pytest.approx([t.score for t in expected], abs=1e-5)


def test_an_entry_is_keyed_by_the_model_files_and_the_search(toy_model, tmp_path, translate_cache):
    model = tmp_path / "model"
    shutil.copytree(toy_model, model)
    first = cache_entry(model, SearchConfig(beam_size=3))
    assert cache_entry(model, SearchConfig(beam_size=3)) == first
    assert cache_entry(model, SearchConfig(beam_size=3, length_penalty=0.6)) != first
    assert cache_entry(model, SearchConfig(beam_size=3), "mixed_bfloat16") != first  # traced in bfloat16
    weights = model / WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-1] + bytes([weights.read_bytes()[-1] ^ 1]))  # retrained, say
    assert cache_entry(model, SearchConfig(beam_size=3)) != first


def test_an_entry_is_keyed_by_the_packages_version(toy_model, monkeypatch, translate_cache):
    first = cache_entry(toy_model, SearchConfig())
    monkeypatch.setattr(graph, "__version__", "another version of the search")
    assert cache_entry(toy_model, SearchConfig()) != first


@pytest.mark.slow
def test_translate_caches_its_graph_once_and_then_starts_from_it(toy_model, tmp_path, translate_cache):
    model = tmp_path / "model"
    shutil.copytree(toy_model, model)
    model_files = sorted(p.name for p in model.rglob("*"))

    def translate(*options):
        result = run_cli("translate", "--model-dir", model, *ARGUMENTS, *options)
        assert result.returncode == 0, result.stderr
        return result.stdout

    full = translate("--beam-size", "3")  # builds the model, then caches its graph
    assert len(entries(translate_cache)) == 1
    beam_entry = translate_cache / entries(translate_cache)[0]
    assert translate("--beam-size", "3") == full  # from the cache, without the graph optimizer (a few sentences)
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(line + "\n" for line in LINES))
    from_file = run_cli("translate", "--model-dir", model, "--input", lines, "--beam-size", "3")  # optimized
    by_line = full.splitlines()
    by_line.insert(LINES.index(""), "")
    assert from_file.returncode == 0 and from_file.stdout.splitlines() == by_line
    assert len(entries(translate_cache)) == 1
    translate("--greedy")  # another setting: another entry
    assert len(entries(translate_cache)) == 2
    for entry in translate_cache.iterdir():  # damaged entries: the full path translates and rebuilds them
        (entry / "saved_model.pb").write_bytes(b"damaged")
    assert translate("--beam-size", "3") == full
    assert (beam_entry / "saved_model.pb").stat().st_size > 100  # rebuilt
    assert sorted(p.name for p in model.rglob("*")) == model_files  # nothing written into the model folder


@pytest.mark.slow
def test_translate_decodes_in_bfloat16_when_asked_from_a_cache_entry_of_its_own(toy_model, translate_cache):
    float32 = run_cli("translate", "--model-dir", toy_model, *ARGUMENTS, "--greedy")
    bfloat16 = [run_cli("translate", "--model-dir", toy_model, *ARGUMENTS, "--greedy", "--precision", "bfloat16")
                for _ in range(2)]  # the second from the cache
    assert all(result.returncode == 0 and result.stdout == float32.stdout for result in bfloat16)
    assert len(entries(translate_cache)) == 2


def test_the_cache_can_be_turned_off(toy_model, monkeypatch):
    monkeypatch.setenv("TRANSLATOR_CACHE", "off")
    assert cache_entry(toy_model, SearchConfig()) is None
    result = run_cli("translate", "--model-dir", toy_model, "Estoy aquí.", "--greedy")
    assert result.returncode == 0 and result.stdout == "I am here.\n"


def test_the_cache_keeps_the_latest_used_entries_and_nothing_else(tmp_path):
    for age, name in enumerate(["m-" + f"{i:020x}" for i in range(5)]):
        (tmp_path / name).mkdir()
        (tmp_path / name / "saved_model.pb").write_bytes(b"graph")
        os.utime(tmp_path / name, (1_000_000 - age, 1_000_000 - age))  # m-0 used last
    (tmp_path / "notes").mkdir()  # a user's own folder in the cache
    (tmp_path / ("m-" + "f" * 20)).mkdir()  # no saved_model.pb: not an entry
    writing = tmp_path / (".partial-m-" + "e" * 20)  # one being written (files.atomic_path)
    writing.mkdir()
    (writing / "saved_model.pb").write_bytes(b"graph")
    os.utime(writing, (0, 0))
    graph.prune(tmp_path, keep=2)
    assert entries(tmp_path) == sorted(["m-" + f"{i:020x}" for i in range(2)] + ["notes", "m-" + "f" * 20,
                                                                                 writing.name])


def test_an_entry_holds_no_weights_and_names_each_array_of_the_weights_file(toy_model, translate_cache):
    import h5py

    translator = Translator.load(toy_model)
    search = translator.search_setting(beam_size=3)
    cache_graph(translator, RunDir(toy_model), search)
    entry = cache_entry(toy_model, search)
    assert entries(entry) == sorted([RECORD, "saved_model.pb"])
    with h5py.File(toy_model / WEIGHTS) as stored:
        sizes = {}
        stored.visititems(lambda path, item: sizes.update({path: item.size}) if isinstance(item, h5py.Dataset) else None)
    variables = json.loads((entry / RECORD).read_text())["variables"]
    assert sum(sizes[path] for path in variables.values()) == translator.model.count_params()


def translate_with_imports(model, *arguments) -> subprocess.CompletedProcess:
    """The CLI's `translate --model-dir MODEL ARGUMENTS` in a process of its own, which prints, last, which of the
    modules the fast start avoids it imported ([] where none)."""
    program = ("import atexit, runpy, sys; "
               "atexit.register(lambda: print(sorted(m for m in ('keras', 'tensorflow_text', 'pandas', 'tensorflow._api')"
               " if m in sys.modules))); "
               "sys.argv = ['cli.py', 'translate', '--model-dir', *sys.argv[1:]]; "
               "runpy.run_path('cli.py', run_name='__main__')")
    return subprocess.run([sys.executable, "-c", program, str(model), *arguments], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


@pytest.mark.slow
def test_a_translation_from_the_cache_imports_neither_tensorflows_public_api_nor_keras_nor_tensorflow_texts(
        toy_model, translate_cache):
    """What keeps its start fast and small (startup/graph.py, tensorflow_internals.py)."""
    assert run_cli("translate", "--model-dir", toy_model, "Estoy aquí.", "--greedy").returncode == 0  # caches
    result = translate_with_imports(toy_model, "Estoy aquí.", "--greedy")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "I am here.\n[]\n"


def test_the_public_api_read_after_a_runtime_only_import_loads_as_quietly(toy_model, translate_cache):
    """--precision auto reads tf.config after `translate` imported only TensorFlow's runtime (tensorflow_internals.py):
    the rest of TensorFlow, loading then, must not write its C++ notices to the terminal either."""
    result = run_cli("translate", "--model-dir", toy_model, "Estoy aquí.", "--greedy", "--precision", "auto")
    assert result.returncode == 0 and result.stdout == "I am here.\n"
    assert result.stderr == ""
