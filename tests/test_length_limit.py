"""The output length limit: learned from the training pairs, kept in the model folder, obeyed by the search."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from translator.decoding.inference import Translator
from translator.model.length_limit import LengthLimit


def test_learned_from_pairs_covers_them_and_is_tighter_than_the_fixed_rule():
    rng = np.random.default_rng(0)
    source = rng.integers(1, 40, size=20_000)
    target = np.round(source * rng.uniform(0.8, 1.3, size=source.size)).astype(int)  # outputs ~ 0.8-1.3 x sources
    limit = LengthLimit.learn(source, target)
    allowed = np.ceil(limit.ratio * source) + limit.extra
    assert limit.covered == pytest.approx(np.mean(target + 1 <= allowed))
    assert limit.covered >= 0.999
    assert 1.2 < limit.ratio < 1.6  # the 99th percentile of ratios near 1.3 (+ END)
    assert np.mean(allowed) < np.mean(2 * source + 14)


def test_limits_in_graph_follow_the_formula():
    limit = LengthLimit(ratio=1.5, extra=3)
    assert limit.limits(tf.constant([1, 4, 10])).numpy().tolist() == [5, 9, 18]  # ceil(1.5 s) + 3


@pytest.mark.slow
def test_training_stores_it_and_translation_obeys_it(toy_model, tmp_path):
    stored = json.loads((toy_model / "length_limit.json").read_text())
    assert stored["covered"] >= 0.999 and stored["ratio"] > 0
    folder = tmp_path / "model"
    shutil.copytree(toy_model, folder)
    (folder / "length_limit.json").write_text(json.dumps({"ratio": 0.0, "extra": 2}))  # at most one word and END
    translator = Translator.load(folder)
    assert translator.length_limit == LengthLimit(0.0, 2)
    _, tokens, _, _ = translator._search_ids(tf.constant(["¿Dónde está el gato?", "Hola."]),
                                             translator.search_setting(beam_size=3))
    assert tokens.shape[-1] <= 2
    (folder / "length_limit.json").write_text("{not json")
    from translator.errors import ModelDirError

    with pytest.raises(ModelDirError, match="length_limit.json: damaged"):
        Translator.load(folder)
