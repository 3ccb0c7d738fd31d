"""On a GPU: the recurrent layers stay on the cuDNN kernels, and mixed_float16 trains. Skipped without a GPU
(nothing in the project needs one)."""

import pytest
import tensorflow as tf

from translator.config import ModelConfig, TrainingConfig
from translator.training import TrainStep

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="no GPU on this machine")]


def op_types(concrete_function) -> set[str]:
    """Every op type of a traced function, those of the functions it calls (conds, loops) included."""
    graph_def = concrete_function.graph.as_graph_def()
    nodes = list(graph_def.node) + [node for function in graph_def.library.function for node in function.node_def]
    return {node.op for node in nodes}


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_the_encoder_runs_on_cudnn(cell):
    from test_precision import BATCH

    step = TrainStep(ModelConfig(cell=cell, units=16, embedding_dim=8, layers=2), TrainingConfig(), 12, 12)
    step.train(BATCH)
    traced = step._train.get_concrete_function(*[{k: tf.constant(v) for k, v in BATCH.items()},
                                                 tf.constant(1.0)])
    assert "CudnnRNNV3" in op_types(traced)


def test_mixed_float16_trains_on_the_gpu():
    from test_precision import BATCH

    step = TrainStep(ModelConfig(units=16, embedding_dim=8, dropout=0.0),
                     TrainingConfig(precision="mixed_float16", learning_rate=0.01), 12, 12)
    losses = [step.train(BATCH).loss for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]


def test_a_translator_asked_for_xla_searches_on_the_gpu(toy_model):
    """serve's default (--xla-max-batch 4) on a GPU: an XLA-compiled search failed to compile the encoder's
    cuDNN kernel, so serve's warm-up failed; a GPU searches in the graph."""
    from translator.decoding.inference import Translator

    asked = Translator.load(toy_model, xla_max_batch=4).translate(["Estoy aquí."])
    in_the_graph = Translator.load(toy_model).translate(["Estoy aquí."])
    assert asked[0].text and asked[0].text == in_the_graph[0].text
