"""The compiled functions are traced without AutoGraph: their loops and branches are tf.while_loop and tf.cond
already, and converting the source of every function they call took most of the seconds a beam search took to
trace (inference.py). Any conversion fails these tests."""

import pytest
from tensorflow.python.autograph.impl import api as autograph_api

from translator.config import ModelConfig, SearchConfig, TrainingConfig
from translator.decoding.inference import Translator
from translator.inspection.gates import gate_function
from translator.inspection.gradients import gradient_norm_function
from translator.training import TrainStep
from test_precision import BATCH


@pytest.fixture
def no_autograph(monkeypatch):
    def converting(function, *args, **kwargs):
        raise AssertionError(f"AutoGraph converted {getattr(function, '__qualname__', function)}")

    # what a tf.function traced with AutoGraph calls first (a conversion cached from an earlier trace too)
    monkeypatch.setattr(autograph_api, "converted_call", converting)


def test_searches_trace_without_autograph(toy_model, no_autograph):
    translator = Translator.load(toy_model, xla_max_batch=1)
    for search in (SearchConfig(greedy=True), SearchConfig(beam_size=3, coverage_penalty=0.2, n_best=2)):
        assert translator.translate(["Hola.", "gato"], search)[0].text
        assert translator.translate(["Hola."], search)[0].text  # XLA
    assert translator.translate_with_attention(["Hola."])[0][1] is not None
    assert translator.token_count("Hola gato") > 0


@pytest.mark.parametrize("teacher_forcing", ["always", "scheduled"])
def test_training_and_inspection_trace_without_autograph(no_autograph, teacher_forcing):
    step = TrainStep(ModelConfig(units=16, embedding_dim=8), TrainingConfig(teacher_forcing=teacher_forcing), 12, 12)
    step.train(BATCH, 0.5)
    step.dev_loss([BATCH])
    gate_function(step.model)(BATCH)
    gradient_norm_function(step.model)(BATCH)
