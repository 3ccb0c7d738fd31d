"""What `inspect` measures, by its defining properties: the step-by-step run is the model's own, the probes'
gradients are the gradients through time that BPTT theory describes, the gates rebuild the cell, and the
training's clip statistics and the attention statistics equal hand computations."""

import math

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from translator.model.cells import gate_activations
from translator.inspection.alignment import alignment_statistics
from translator.inspection.gradients import fit_decay, gradient_norm_function, points_by_distance, summarize
from translator.inspection.unroll import run_cell, run_decoder, run_encoder
from translator.model.seq2seq import Seq2Seq
from translator.training.trainer import gradient_norm_summary

SOURCE = np.array([[1, 5, 6, 7, 2, 0, 0], [1, 8, 9, 10, 11, 12, 2]], "int32")
TARGET_IN = np.array([[1, 4, 5, 0], [1, 6, 7, 8]], "int32")
TARGET_OUT = np.array([[4, 5, 2, 0], [6, 7, 8, 2]], "int32")


def tiny_model(cell, decoder, bidirectional, layers=2, copy=False, merge="concat"):
    config = dict(decoder=decoder, cell=cell, units=8, embedding_dim=6, layers=layers, bidirectional=bidirectional,
                  context="mean" if bidirectional else "last", copy=copy, merge=merge)
    return Seq2Seq(50, 50 if copy else 40, config=config, seed=3).build_with_dummy_batch()


@pytest.mark.parametrize("cell,decoder,bidirectional,copy,merge", [
    ("rnn", "init", False, False, "concat"), ("lstm", "feedback", True, False, "concat"),
    ("gru", "attention", True, False, "concat"), ("lstm", "context", False, False, "concat"),
    ("gru", "attention", True, True, "concat"), ("lstm", "attention", True, False, "sum")])
def test_the_step_by_step_run_is_the_models_own(cell, decoder, bidirectional, copy, merge):
    model = tiny_model(cell, decoder, bidirectional, copy=copy, merge=merge)
    expected = model.encoder(SOURCE)
    encoded, _ = run_encoder(model.encoder, SOURCE)
    real = SOURCE != 0
    np.testing.assert_allclose(encoded["memory"].numpy()[real], expected["memory"].numpy()[real], atol=1e-6)
    np.testing.assert_allclose(encoded["context"].numpy(), expected["context"].numpy(), atol=1e-6)
    prepared = model.decoder.prepare({**expected, "source_ids": SOURCE})
    predictions = run_decoder(model.decoder, TARGET_IN, prepared).predictions(model.decoder, TARGET_IN, prepared)
    np.testing.assert_allclose(predictions.numpy(), model({"source": SOURCE, "target_in": TARGET_IN}).numpy(),
                               atol=1e-5)


def random_cell(kind, units=6, features=5):
    cell = {"lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}[kind](units, seed=1)
    cell.build((None, features))
    for weight in cell.weights:  # random biases too, so that each gate's bias slice is exercised
        weight.assign(np.random.default_rng(len(weight.name)).normal(0, 0.5, weight.shape).astype("float32"))
    return cell


def test_lstm_gates_rebuild_the_cells_output():
    cell = random_cell("lstm")
    rng = np.random.default_rng(0)
    x, h, c = (rng.normal(size=shape).astype("float32") for shape in ((3, 5), (3, 6), (3, 6)))
    gates = {k: v.numpy() for k, v in gate_activations(cell, x, [h, c]).items()}
    candidate = np.tanh(x @ cell.kernel.numpy()[:, 12:18] + h @ cell.recurrent_kernel.numpy()[:, 12:18]
                        + cell.bias.numpy()[12:18])
    new_c = gates["forget"] * c + gates["input"] * candidate
    output, (got_h, got_c) = cell(x, [h, c])
    np.testing.assert_allclose(got_c.numpy(), new_c, atol=1e-5)
    np.testing.assert_allclose(got_h.numpy(), gates["output"] * np.tanh(new_c), atol=1e-5)


def test_gru_gates_rebuild_the_cells_output():
    cell = random_cell("gru")
    rng = np.random.default_rng(0)
    x, h = rng.normal(size=(3, 5)).astype("float32"), rng.normal(size=(3, 6)).astype("float32")
    gates = {k: v.numpy() for k, v in gate_activations(cell, x, [h]).items()}
    kernel, recurrent, (input_bias, state_bias) = cell.kernel.numpy(), cell.recurrent_kernel.numpy(), cell.bias.numpy()
    candidate = np.tanh(x @ kernel[:, 12:] + input_bias[12:] + gates["reset"] * (h @ recurrent[:, 12:] + state_bias[12:]))
    output, _ = cell(x, [h])
    np.testing.assert_allclose(output.numpy(), gates["update"] * h + (1 - gates["update"]) * candidate, atol=1e-5)


def probe_gradients(cell, inputs, readout):
    """||dL/d state_t|| [T, batch] for L = sum(readout * final h), through `run_cell`'s probes."""
    steps, batch = inputs.shape[:2]
    probe = tf.zeros([steps, batch, sum(np.atleast_1d(cell.state_size))])
    with tf.GradientTape() as tape:
        tape.watch(probe)
        _, state, _ = run_cell(cell, tf.constant(inputs), tf.ones([steps, batch], tf.bool), probe)
        loss = tf.reduce_sum(state[0] * readout)
    return tape.gradient(loss, probe).numpy()


def by_distance(norms):
    """Long table (sentence, k, norm) of [T, batch] norms whose last step is k = 0."""
    steps, batch = norms.shape
    return pd.DataFrame([{"sentence": b, "k": steps - 1 - t, "norm": norms[t, b]}
                         for t in range(steps) for b in range(batch)])


def test_probe_gradient_is_the_finite_difference_of_the_loss():
    cell = keras.layers.SimpleRNNCell(4, seed=2)
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(5, 1, 3)).astype("float32")
    cell.build((None, 3))
    readout = rng.normal(size=(1, 4)).astype("float32")
    gradient = probe_gradients(cell, inputs, readout)

    def loss(probe):
        _, state, _ = run_cell(cell, tf.constant(inputs), tf.ones([5, 1], tf.bool), tf.constant(probe))
        return float(tf.reduce_sum(state[0] * readout))

    step = 1e-2
    for t, unit in [(0, 0), (2, 3), (4, 1)]:
        bump = np.zeros((5, 1, 4), "float32")
        bump[t, 0, unit] = step
        numeric = (loss(bump) - loss(-bump)) / (2 * step)
        assert numeric == pytest.approx(gradient[t, 0, unit], rel=2e-2, abs=1e-4)


def test_simple_rnn_gradient_falls_geometrically_at_the_rate_the_spectral_norm_bounds():
    """||dh_T/dh_{T-k}|| <= (||U||_2 max tanh')^k, tanh' <= 1. With U = 0.5 Q (Q orthogonal, every singular value
    0.5) and tiny inputs (tanh' ~ 1) the bound is met: the norm halves each step back."""
    units, steps = 16, 12
    cell = keras.layers.SimpleRNNCell(units)
    cell.build((None, 4))
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(units, units)))
    cell.recurrent_kernel.assign((0.5 * q).astype("float32"))
    cell.kernel.assign(np.full((4, units), 1e-3, "float32"))
    inputs = np.random.default_rng(1).normal(size=(steps, 8, 4)).astype("float32")
    readout = np.random.default_rng(2).normal(size=(8, units)).astype("float32")
    norms = np.linalg.norm(probe_gradients(cell, inputs, readout), axis=-1)
    slope = fit_decay(by_distance(norms))
    bound = math.log(np.linalg.norm(cell.recurrent_kernel.numpy(), 2) * 1.0)  # tanh' <= 1
    assert slope <= bound + 1e-4
    assert slope == pytest.approx(math.log(0.5), abs=0.01)

    # a generic matrix of the same spectral norm decays at least as fast as the bound says
    generic = np.random.default_rng(3).normal(size=(units, units))
    cell.recurrent_kernel.assign((0.5 * generic / np.linalg.norm(generic, 2)).astype("float32"))
    assert fit_decay(by_distance(np.linalg.norm(probe_gradients(cell, inputs, readout), axis=-1))) <= bound + 1e-4


def lstm_with_forget_bias(forget_bias):
    """An LSTM cell without recurrent weights whose forget gate is sigmoid(forget_bias) at every step."""
    units = 6
    cell = keras.layers.LSTMCell(units)
    cell.build((None, 3))
    kernel = np.random.default_rng(0).normal(size=(3, 4 * units)).astype("float32")
    kernel[:, units : 2 * units] = 0.0
    cell.kernel.assign(kernel)
    cell.recurrent_kernel.assign(np.zeros((units, 4 * units), "float32"))
    bias = np.zeros(4 * units, "float32")
    bias[units : 2 * units] = forget_bias
    cell.bias.assign(bias)
    return cell


def test_lstm_with_the_forget_gate_pinned_open_passes_the_gradient_back_undiminished():
    inputs = np.random.default_rng(1).normal(size=(10, 4, 3)).astype("float32")
    readout = np.random.default_rng(2).normal(size=(4, 6)).astype("float32")
    open_gate = np.linalg.norm(probe_gradients(lstm_with_forget_bias(30.0), inputs, readout), axis=-1)
    # from k = 1 back (t <= T - 2), only the cell state's path remains: dc_t = f dc_{t+1} = dc_{t+1}
    np.testing.assert_allclose(open_gate[:-1], np.broadcast_to(open_gate[-2], open_gate[:-1].shape), rtol=1e-5)
    half_open = np.linalg.norm(probe_gradients(lstm_with_forget_bias(0.0), inputs, readout), axis=-1)
    np.testing.assert_allclose(half_open[:-2] / half_open[1:-1], 0.5, rtol=1e-4)  # f = 0.5: halves each step


def test_norms_are_keyed_by_distance_from_each_directions_end():
    decoder = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]])  # second sentence: two target steps
    forward = np.array([[1.0, 1.0, 4.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
    backward = np.array([[3.0, 9.0, 9.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    points = points_by_distance({"decoder": decoder, "encoder forward": forward, "encoder backward": backward},
                                source_lengths=np.array([3, 4]), target_lengths=np.array([3, 2]))
    norm = points.set_index(["part", "sentence", "k"])["norm"]
    assert norm[("decoder", 0, 0)] == 3.0 and norm[("decoder", 0, 2)] == 1.0 and norm[("decoder", 1, 0)] == 5.0
    assert ("decoder", 1, 2) not in norm  # beyond the sentence
    assert norm[("encoder", 0, 0)] == pytest.approx(math.hypot(4.0, 3.0))  # last forward state, first backward
    assert norm[("encoder", 0, 2)] == pytest.approx(math.hypot(1.0, 9.0))
    assert norm[("encoder", 1, 3)] == 1.0


def test_fit_decay_recovers_a_geometric_rate_and_ignores_rare_distances():
    points = pd.DataFrame([{"sentence": s, "k": k, "norm": 3.0 * 0.6 ** k} for s in range(8) for k in range(6)]
                          + [{"sentence": 0, "k": 40, "norm": 1e9}])  # one long sentence's stray point
    assert fit_decay(points) == pytest.approx(math.log(0.6), abs=1e-9)
    report = summarize(points.assign(part="decoder"))
    assert report.curves.loc[report.curves["k"] == 0, "mean"].item() == pytest.approx(3.0)


def test_gradient_norm_function_measures_every_part_of_a_batch():
    model = tiny_model("gru", "attention", bidirectional=True, layers=1)
    batch = {"source": SOURCE, "target_in": TARGET_IN, "target_out": TARGET_OUT, "source_mask": SOURCE != 0,
             "target_mask": TARGET_OUT != 0}
    norms = gradient_norm_function(model)({k: tf.constant(v) for k, v in batch.items()})
    assert set(norms) == {"decoder", "encoder forward", "encoder backward"}
    decoder = norms["decoder"].numpy()
    assert decoder.shape == (2, 4) and decoder[0, 3] == 0.0  # after the first sentence's last step: no influence
    assert (decoder[0, :3] > 0).all() and (decoder[1] > 0).all()


def test_clip_statistics_of_an_epoch():
    norms = [0.5, 2.0, 7.0, 1.0, 9.0]
    assert gradient_norm_summary(norms, clip_norm=5.0) == {"gradient_norm_median": 2.0, "gradient_norm_max": 9.0,
                                                           "clipped_share": 0.4}
    assert gradient_norm_summary(norms, clip_norm=0.0)["clipped_share"] == 0.0  # clipping off: nothing clipped


def test_the_step_reports_the_global_norm_that_clipping_sees():
    from translator.config import ModelConfig, TrainingConfig
    from translator.training.step import TrainStep, summed_cross_entropy

    step = TrainStep(ModelConfig(decoder="feedback", units=8, embedding_dim=4, dropout=0.0),
                     TrainingConfig(clip_norm=0.01, learning_rate=0.1), 50, 40)
    batch = {"source": SOURCE, "target_in": TARGET_IN, "target_out": TARGET_OUT, "source_mask": SOURCE != 0,
             "target_mask": TARGET_OUT != 0}
    batch = {k: tf.constant(v) for k, v in batch.items()}
    before = [v.numpy() for v in step.model.trainable_variables]
    with tf.GradientTape() as tape:
        logits = step.model(batch, training=True)
        loss = summed_cross_entropy(batch["target_out"], logits, batch["target_mask"]) / float((TARGET_OUT != 0).sum())
    # an embedding's gradient comes as one row per token occurrence (IndexedSlices); Keras' clipping (and
    # tf.linalg.global_norm) takes the norm of those rows as they are, not summed per vocabulary entry
    rows = [getattr(g, "values", g).numpy() for g in tape.gradient(loss, step.model.trainable_variables)]
    by_hand = math.sqrt(sum(float(np.sum(np.square(r.astype(np.float64)))) for r in rows))
    result = step.train(batch)
    assert result.gradient_norm == pytest.approx(by_hand, rel=1e-5)
    assert result.loss == pytest.approx(float(loss), rel=1e-6)
    moved = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(step.model.trainable_variables, before))
    assert 0 < moved <= 0.1 * 1.01  # Adam's first step moves a weight by at most the learning rate


@pytest.mark.parametrize("clip_norm, largest_move", [(0.0, (0.09, 0.101)), (1e-9, (0.0, 0.02))])
def test_clipping_scales_the_gradient_the_optimizer_applies(clip_norm, largest_move):
    """Adam's first step moves a weight by lr * g / (|g| + epsilon): about the learning rate for a gradient well
    over epsilon (1e-7), a small share of it once clipping has scaled the whole gradient down to a norm of 1e-9."""
    from translator.config import ModelConfig, TrainingConfig
    from translator.training.step import TrainStep

    step = TrainStep(ModelConfig(decoder="feedback", units=8, embedding_dim=4, dropout=0.0),
                     TrainingConfig(clip_norm=clip_norm, learning_rate=0.1), 50, 40)
    batch = {"source": SOURCE, "target_in": TARGET_IN, "target_out": TARGET_OUT, "source_mask": SOURCE != 0,
             "target_mask": TARGET_OUT != 0}
    before = [v.numpy() for v in step.model.trainable_variables]
    result = step.train({k: tf.constant(v) for k, v in batch.items()})
    moved = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(step.model.trainable_variables, before))
    assert result.gradient_norm > 1e-3  # the norm reported is the one before clipping
    assert largest_move[0] <= moved <= largest_move[1]


def test_attention_statistics_on_hand_made_weights():
    tokens = ["<s>", "a", "b", "c", "</s>"]
    weights = np.array([[0, 1.0, 0, 0, 0],     # entropy 0
                        [0, 0.5, 0.5, 0, 0],   # ln 2
                        [0, 1.0, 0, 0, 0],     # 0: a again
                        [0, 0, 0, 0, 1.0]])    # 0: the END marker
    steps, words, summary = alignment_statistics([(tokens, ["x"] * 4, weights), None])
    assert words["coverage"].tolist() == [2.5, 0.5, 0.0]  # a, b, c: the markers left out
    assert summary["under_translated_share"] == pytest.approx(1 / 3)  # c
    assert summary["over_translated_share"] == pytest.approx(1 / 3)  # a
    assert summary["mean_entropy_nats"] == pytest.approx(math.log(2) / 4)
    assert summary["mean_normalized_entropy"] == pytest.approx(math.log(2) / math.log(5) / 4)
    assert summary["sentences"] == 1 and summary["output_tokens"] == 4 and summary["source_words"] == 3


def test_the_corpus_to_inspect_defaults_to_the_recorded_dev_file(tmp_path):
    from translator.errors import OptionError
    from translator.inspection.sample import corpus_to_inspect

    model, data = tmp_path / "models" / "m", tmp_path / "corpora"
    model.mkdir(parents=True)
    data.mkdir()
    (data / "dev.tsv").write_text("Hola.\tHello.\n")
    (data / "train.tsv").write_text("Adiós.\tBye.\n")
    summary = model / "summary.json"
    summary.write_text('{"corpus": "../../corpora/train.tsv", "dev_file": "../../corpora/dev.tsv"}')  # shipped models
    assert corpus_to_inspect(model, None) == (data / "dev.tsv").resolve()
    assert corpus_to_inspect(model, data / "train.tsv") == data / "train.tsv"  # given: as given
    summary.write_text(f'{{"corpus": "{data / "train.tsv"}", "dev_file": null}}')  # train's record, dev held out
    assert corpus_to_inspect(model, None) == data / "train.tsv"
    summary.write_text("{}")
    with pytest.raises(OptionError, match="give `corpus` FILE"):
        corpus_to_inspect(model, None)
