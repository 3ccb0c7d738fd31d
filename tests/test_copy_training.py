"""End to end: a copying model trained on "my name is X" pairs writes names it never saw in training, in the same
way whatever the batch, and its SavedModel agrees."""

import json
import random
import re
import subprocess
import sys

import pytest

from translator.config import ModelConfig, RunConfig, SearchConfig, TextConfig, TrainingConfig
from translator.data.corpus import CorpusFormat
from translator.decoding.export import export_saved_model
from translator.decoding.inference import Translator
from translator.training import train

from test_export_evaluate import LOADER

TEMPLATES = [("me llamo {}.", "my name is {}."), ("{} vive aquí.", "{} lives here."),
             ("¿dónde está {}?", "where is {}?"), ("{} tiene un perro.", "{} has a dog."),
             ("hoy viene {}.", "{} is coming today.")]


def made_up_names(count: int, rng: random.Random) -> list[str]:
    """Distinct names of 2-3 consonant-vowel syllables (Kufora, Mesile)."""
    names = set()
    while len(names) < count:
        names.add("".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(2, 3))))
    return sorted(n.capitalize() for n in names)


@pytest.fixture(scope="module")
def names():
    rng = random.Random(7)
    everyone = made_up_names(430, rng)
    rng.shuffle(everyone)
    return {"unseen": everyone[:30], "training": everyone[30:]}


@pytest.fixture(scope="module")
def copying_model(tmp_path_factory, names):
    folder = tmp_path_factory.mktemp("names")
    rng = random.Random(1)
    lines = [f"{english.format(n)}\t{spanish.format(n)}\n"
             for n in names["training"] for spanish, english in rng.sample(TEMPLATES, 3)]
    (folder / "train.tsv").write_text("".join(lines), encoding="utf-8")
    text = TextConfig(vocab_size=120)
    config = RunConfig(data=CorpusFormat(reverse=True), source_text=text, target_text=text,
                       model=ModelConfig(decoder="attention", copy=True, units=64, embedding_dim=32, dropout=0.0),
                       training=TrainingConfig(batch_size=16, epochs=10, learning_rate=0.01, patience=100,
                                               tune_search=False, carry_graph=False))
    train(folder / "train.tsv", folder / "model", config, echo=lambda *_: None, progress_bar=False)
    return folder / "model"


@pytest.fixture(scope="module")
def unseen_sentences(names):
    return [spanish.format(n) for n, (spanish, _) in zip(names["unseen"], TEMPLATES * 6)]


@pytest.mark.slow
@pytest.mark.parametrize("search", [SearchConfig(greedy=True), SearchConfig(beam_size=5)])
def test_names_never_seen_in_training_are_copied(copying_model, names, unseen_sentences, search):
    translator = Translator.load(copying_model)
    assert translator.source_tokenizer.vocab == translator.target_tokenizer.vocab
    outputs = [t.text for t in translator.translate(unseen_sentences, search)]
    copied = [name for name, output in zip(names["unseen"], outputs) if re.search(rf"\b{name}\b", output)]
    assert len(copied) >= 27, list(zip(unseen_sentences, outputs))


@pytest.mark.slow
@pytest.mark.parametrize("search", [SearchConfig(greedy=True), SearchConfig(beam_size=4, n_best=2)])
def test_a_copying_models_output_does_not_depend_on_the_batch(copying_model, unseen_sentences, search):
    translator = Translator.load(copying_model)
    alone = [translator.translate([s], search)[0] for s in unseen_sentences[:9]]
    together = translator.translate(unseen_sentences[:9], search)
    assert [[a for a, _ in t.alternatives] for t in together] == [[a for a, _ in t.alternatives] for t in alone]
    assert [t.score for t in together] == pytest.approx([t.score for t in alone], abs=1e-5)


@pytest.mark.slow
def test_a_copying_models_saved_model_translates_the_same(copying_model, unseen_sentences, tmp_path):
    translator = Translator.load(copying_model)
    search = SearchConfig(beam_size=3)
    export_saved_model(translator, tmp_path / "saved", search)
    result = subprocess.run([sys.executable, "-c", LOADER, str(tmp_path / "saved")],
                            input=json.dumps(unseen_sentences[:10]), capture_output=True, text=True, cwd=tmp_path,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    expected = translator.translate(unseen_sentences[:10], search)
    assert json.loads(result.stdout)["translation"] == [t.text for t in expected]
