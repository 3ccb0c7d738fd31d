"""evaluate by the benchmark protocol, and a SavedModel usable without this package."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from conftest import TOY, run_cli
from translator.data.corpus import CorpusFormat, read_corpus
from translator.evaluation.evaluate import ReferenceSet, score
from translator.decoding.export import export_saved_model
from translator.config import SearchConfig
from translator.decoding.inference import Translator



def test_references_are_grouped_per_unique_source():
    pairs = pd.DataFrame({"source": ["a", "b", "a"], "target": ["x", "y", "z"]})
    test = ReferenceSet.from_pairs(pairs)
    assert test.sources == ["a", "b"] and test.references == [["x", "z"], ["y"]]
    assert test.reference_streams() == [["x", "y"], ["z", None]]


def test_a_second_reference_counts():
    test = ReferenceSet(["a", "b"], [["the cat sat on the mat", "a cat is on the mat"], ["hello there friend"]])
    one = score(["a cat is on the mat", "hello there friend"], test)
    assert one["bleu"] == 100.0 and one["exact_match"] == 1.0
    only_first = score(["a cat is on the mat", "hello there friend"], ReferenceSet(test.sources, [["the cat sat on the mat"], ["hello there friend"]]))
    assert only_first["bleu"] < 100.0


def test_bleu_is_lowercased():
    test = ReferenceSet(["a"], [["The Cat sat on the mat today"]])
    assert score(["the cat sat on the mat today"], test)["bleu"] == 100.0


def test_evaluate_command_on_the_memorised_model(toy_model, tmp_path):
    hypotheses = tmp_path / "hyps.tsv"
    result = run_cli("evaluate", TOY, "--model-dir", toy_model, "--json", "--output", hypotheses, "--greedy")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["bleu"] == 100.0 and report["exact_match"] == 1.0 and report["sentences"] == 54
    first = hypotheses.read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert first == ["Estoy aquí.", "I am here."]  # read in the model's direction (Spanish -> English)


def test_evaluate_fidelity_names_the_entities_a_model_lost(toy_model, tmp_path):
    probes = tmp_path / "probes.tsv"
    probes.write_text("I am here.\tEstoy aquí.\nKalani is here, 1987.\tKalani está aquí, 1987.\nIt is 1,250.5.\tEs 1.250,5.\n",
                      encoding="utf-8")
    table = run_cli("evaluate", probes, "--model-dir", toy_model, "--greedy", "--fidelity")
    assert table.returncode == 0, table.stderr
    assert "entity fidelity: 0.0 % of the 2 sentences" in table.stdout  # the toy model never saw a name or number
    assert "amounts: 0.0 % of the 1 numbers written with separators" in table.stdout
    assert "missing 1987, Kalani: Kalani está aquí, 1987. ->" in table.stdout
    report = json.loads(run_cli("evaluate", probes, "--model-dir", toy_model, "--greedy", "--fidelity", "--json").stdout)
    assert (report["entity_fidelity"], report["entity_sentences"], report["amounts"]) == (0.0, 2, 1)


def test_evaluate_searches_with_the_stored_setting_unless_told(toy_model, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(toy_model, model)
    (model / "search.json").write_text('{"beam_size": 3, "length_penalty": 0.4}')

    def report(*options):
        result = run_cli("evaluate", TOY, "--model-dir", model, "--json", *options)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    stored = report()
    assert (stored["search"], stored["length_penalty"]) == ("beam 3", 0.4)
    told = report("--beam-size", "2", "--length-penalty", "0")
    assert (told["search"], told["length_penalty"]) == ("beam 2", 0.0)


LOADER = """
import sys, json
import tensorflow as tf, tensorflow_text  # noqa: F401
assert "translator" not in sys.modules
translate = tf.saved_model.load(sys.argv[1]).signatures["translate"]
out = translate(sentences=tf.constant(json.loads(sys.stdin.read())))
print(json.dumps({"translation": [t.decode("utf-8") for t in out["translation"].numpy()],
                  "score": [float(s) for s in out["score"].numpy()],
                  "modules": sorted(m for m in sys.modules if m.startswith("translator"))}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("search", [SearchConfig(beam_size=3), SearchConfig(beam_size=3, no_repeat_ngram_size=2)])
def test_saved_model_translates_without_this_package(toy_model, tmp_path, search):
    translator = Translator.load(toy_model)
    sentences = list(read_corpus(TOY, CorpusFormat(reverse=True)).pairs.source[:10]) + ["¿Dónde está el gato?"]
    export_saved_model(translator, tmp_path / "saved", search)
    result = subprocess.run([sys.executable, "-c", LOADER, str(tmp_path / "saved")], input=json.dumps(sentences),
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["modules"] == []
    expected = translator.translate(sentences, search)
    assert loaded["translation"] == [t.text for t in expected]
    assert loaded["score"] == pytest.approx([t.score for t in expected], abs=1e-5)


@pytest.mark.slow
def test_export_command_writes_a_saved_model_with_the_search_options_given(toy_model, tmp_path):
    result = run_cli("export", "--model-dir", toy_model, "--out", tmp_path / "saved", "--beam-size", "2",
                     "--coverage-penalty", "0.2")
    assert result.returncode == 0, result.stderr
    assert "signature 'translate'" in result.stdout
    loaded = subprocess.run([sys.executable, "-c", LOADER, str(tmp_path / "saved")], input=json.dumps(["Estoy aquí."]),
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["translation"] == ["I am here."]
