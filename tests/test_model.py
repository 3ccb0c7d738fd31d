"""Unit tests of the model family: shapes, masks, and each decoder's defining property."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from translator.model.decoders import DECODERS, Decoder, register
from translator.config import ModelConfig
from translator.model.seq2seq import Seq2Seq

CELLS = ["rnn", "lstm", "gru"]
SOURCE = np.array([[1, 5, 6, 7, 2, 0, 0], [1, 8, 2, 0, 0, 0, 0]], "int32")
TARGET_IN = np.array([[1, 9, 10, 11], [1, 12, 0, 0]], "int32")


def tiny(decoder, cell="gru", bidirectional=True, layers=2, context="last", seed=3, readout=0, merge="concat"):
    keras.utils.set_random_seed(seed)
    config = dict(decoder=decoder, cell=cell, units=8, embedding_dim=6, bidirectional=bidirectional,
                  layers=layers, context=context, dropout=0.0, readout=readout, merge=merge)
    return Seq2Seq(20, 30, config=config, seed=seed).build_with_dummy_batch()


def logits_of(model, source=SOURCE, target_in=TARGET_IN, **kwargs):
    return model({"source": source, "target_in": target_in}, **kwargs).numpy()


def test_registry_has_the_four_decoders_and_refuses_duplicates():
    assert list(DECODERS) == ["init", "context", "feedback", "attention"]
    with pytest.raises(ValueError, match="registered twice"):
        register("init")(type("Again", (Decoder,), {}))


@pytest.mark.parametrize("decoder", list(DECODERS))
@pytest.mark.parametrize("cell", CELLS)
def test_shapes_for_every_decoder_and_cell(decoder, cell):
    model = tiny(decoder, cell)
    assert logits_of(model).shape == (2, 4, 30)
    assert np.isfinite(logits_of(model)).all()


@pytest.mark.parametrize("context", ["last", "dense", "mean"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_encoder_context_width(context, bidirectional):
    model = tiny("init", "lstm", bidirectional=bidirectional, context=context)
    encoded = model.encoder(SOURCE)
    width = 16 if bidirectional else 8
    assert encoded["memory"].shape == (2, 7, width)
    assert encoded["context"].shape == (2, width)
    assert encoded["cell_state"].shape == (2, width)
    assert encoded["mask"].numpy().sum(1).tolist() == [5, 3]


def test_summed_directions_are_the_concatenated_halves_added():
    """merge sum: memory, context and LSTM cell state are what concat gives with the same weights, its two
    direction halves added (a one-layer encoder: a second layer would read a different width)."""
    joined = tiny("init", "lstm", layers=1, context="last")
    summed = tiny("init", "lstm", layers=1, context="last", merge="sum", seed=4)
    summed.encoder.set_weights(joined.encoder.get_weights())
    both, one = joined.encoder(SOURCE), summed.encoder(SOURCE)
    for key in ("memory", "context", "cell_state"):
        halves = both[key].numpy()
        assert one[key].shape[-1] == 8
        np.testing.assert_allclose(one[key].numpy(), halves[..., :8] + halves[..., 8:], atol=1e-6)


@pytest.mark.parametrize("decoder", list(DECODERS))
def test_summed_directions_feed_every_decoder_at_the_units_width(decoder):
    model = tiny(decoder, "gru", merge="sum")
    assert model.decoder.context_width == 8
    if decoder != "context":  # whose start state is learned
        assert model.decoder.bridge.hidden is None  # h'_0 = c where the widths agree
    assert logits_of(model).shape == (2, 4, 30)
    short = logits_of(model, SOURCE[1:, :3], TARGET_IN[1:])
    np.testing.assert_allclose(short, logits_of(model, SOURCE[1:], TARGET_IN[1:]), atol=1e-5)


@pytest.mark.parametrize("decoder", list(DECODERS))
def test_source_padding_changes_nothing(decoder):
    model = tiny(decoder, "lstm")
    short = logits_of(model, SOURCE[1:, :3], TARGET_IN[1:])
    padded = logits_of(model, SOURCE[1:], TARGET_IN[1:])
    np.testing.assert_allclose(short, padded, atol=1e-5)


@pytest.mark.parametrize("decoder, depends", [("init", False), ("context", False), ("feedback", True), ("attention", True)])
def test_which_decoders_see_the_previous_token(decoder, depends):
    model = tiny(decoder)
    other_tokens = TARGET_IN.copy()
    other_tokens[:, 1:] = np.where(other_tokens[:, 1:] > 0, 3 + (other_tokens[:, 1:] % 5), 0)
    a, b = logits_of(model), logits_of(model, target_in=other_tokens)
    np.testing.assert_allclose(a[:, 0], b[:, 0], atol=1e-6)  # step 1 sees only START in both
    assert (not np.allclose(a[:, 1:], b[:, 1:], atol=1e-6)) == depends


@pytest.mark.parametrize("decoder", list(DECODERS))
@pytest.mark.parametrize("cell", CELLS)
def test_step_by_step_equals_the_whole_sequence_path(decoder, cell):
    """What search uses (step) must compute what training used (the fast path)."""
    model = tiny(decoder, cell)
    prepared = model.prepare_decoding(SOURCE)
    stepped = model.decoder.unroll(tf.constant(TARGET_IN), prepared, None, False).numpy()
    np.testing.assert_allclose(stepped, logits_of(model), atol=1e-5)


@pytest.mark.parametrize("decoder", list(DECODERS))
def test_a_readout_layer_feeds_the_output_layer_and_keeps_both_paths_equal(decoder):
    model = tiny(decoder, readout=5)
    output = model.decoder.output_layer
    assert output.to_vocabulary.kernel.shape == (5, 30)  # the vocabulary-wide matmul reads 5 features
    assert output.from_state.kernel.shape == (8, 5) and output.from_context.kernel.shape[1] == 5
    stepped = model.decoder.unroll(tf.constant(TARGET_IN), model.prepare_decoding(SOURCE), None, False).numpy()
    np.testing.assert_allclose(stepped, logits_of(model), atol=1e-5)
    assert not np.allclose(logits_of(model), logits_of(tiny(decoder)), atol=1e-3)


def test_init_decoder_starts_from_the_context():
    model = tiny("init", "gru", bidirectional=False, layers=1)
    prepared = model.prepare_decoding(SOURCE)
    np.testing.assert_allclose(model.decoder.initial_state(prepared)[0].numpy(), prepared["context"].numpy())


def test_attention_weights_sum_to_one_over_real_positions_and_vanish_on_padding():
    model = tiny("attention", "gru")
    weights = model.decoder.attention_weights(tf.constant(TARGET_IN), model.prepare_decoding(SOURCE)).numpy()
    assert weights.shape == (2, 4, 7)
    mask = (SOURCE != 0)[:, None, :]
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert (weights[np.broadcast_to(~mask, weights.shape)] == 0).all()


@pytest.mark.parametrize("decoder", list(DECODERS))
def test_gradients_reach_the_encoder_embedding(decoder):
    model = tiny(decoder, "gru")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model({"source": SOURCE, "target_in": TARGET_IN}) ** 2)
    gradient = tape.gradient(loss, model.encoder.embedding.embeddings)
    assert float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(gradient)))) > 0


def test_free_running_feeds_back_predictions():
    model = tiny("feedback")
    prepared = model.prepare_decoding(SOURCE)
    forced = model.decoder.unroll(tf.constant(TARGET_IN), prepared, None, False).numpy()
    free = model.decoder.unroll(tf.constant(TARGET_IN), prepared, 0.0, False).numpy()
    np.testing.assert_allclose(forced[:, 0], free[:, 0], atol=1e-6)
    # free running: the input at step t+1 is the argmax at step t, whatever the true token
    other = np.where(TARGET_IN > 0, 4, 0).astype("int32")
    other[:, 0] = 1
    np.testing.assert_allclose(free, model.decoder.unroll(tf.constant(other), prepared, 0.0, False).numpy(), atol=1e-6)


def test_config_round_trips():
    model = tiny("attention", "lstm", readout=4, merge="sum")
    again = Seq2Seq.from_config(model.get_config())
    assert again.config == model.config == ModelConfig(**model.get_config()["config"])
