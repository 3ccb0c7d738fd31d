"""float32_state.py: under bfloat16 the recurrent cells keep their state in float32 and run only their matmuls in
bfloat16; with float32 matmuls they are Keras' own cells, and their weights load into Keras' layers and back."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from translator.model import precision
from translator.model.cells import RECURRENT_LAYERS, ProjectedInputsRNN, recurrent_layer
from translator.model.float32_state import FLOAT32_STATE_CELLS
from translator.model.seq2seq import Seq2Seq

UNITS, FEATURES, BATCH = 8, 5, 3
KERAS_CELLS = {"rnn": keras.layers.SimpleRNNCell, "lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}


def built_pair(cell, matmul_dtype, keras_policy="float32"):
    """(Keras' cell under `keras_policy`, ours with `matmul_dtype`), holding the same random weights."""
    ours = FLOAT32_STATE_CELLS[cell](UNITS, matmul_dtype=matmul_dtype)
    theirs = KERAS_CELLS[cell](UNITS, dtype=keras_policy)
    for layer in (ours, theirs):
        layer.build((BATCH, FEATURES))
    rng = np.random.default_rng(0)
    for mine, keras_variable in zip(ours.weights, theirs.weights):
        value = rng.normal(0, 0.5, mine.shape).astype("float32")
        mine.assign(value)
        keras_variable.assign(value)
    return theirs, ours


def states(cell, rng):
    return [tf.constant(rng.normal(0, 0.5, (BATCH, UNITS)), tf.float32) for _ in range(2 if cell == "lstm" else 1)]


@pytest.mark.parametrize("cell", FLOAT32_STATE_CELLS)
def test_with_float32_matmuls_a_step_is_keras_own(cell):
    theirs, ours = built_pair(cell, "float32")
    rng = np.random.default_rng(1)
    inputs, state = tf.constant(rng.normal(0, 1, (BATCH, FEATURES)), tf.float32), states(cell, rng)
    expected_output, expected_state = theirs(inputs, state)
    output, new_state = ours(inputs, state)
    np.testing.assert_allclose(output, expected_output, atol=1e-6)
    for mine, keras_state in zip(new_state, expected_state):
        np.testing.assert_allclose(mine, keras_state, atol=1e-6)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_a_long_run_stays_nearer_float32_than_keras_mixed_bfloat16(cell):
    """The defining property: 300 steps of slowly moving state (small inputs, the state's own recurrence) drift
    less from the float32 run than Keras' mixed_bfloat16 cell, whose state (bfloat16, as Keras' RNN layer casts
    it) rounds to 8 bits of mantissa."""
    reference, ours = built_pair(cell, "bfloat16")
    mixed, _ = built_pair(cell, "bfloat16", keras_policy="mixed_bfloat16")
    rng = np.random.default_rng(2)
    inputs = tf.constant(rng.normal(0, 0.05, (300, BATCH, FEATURES)), tf.float32)
    start = states(cell, rng)
    final = {}
    for name, layer in (("reference", reference), ("ours", ours), ("mixed", mixed)):
        state = [tf.cast(s, layer.compute_dtype) for s in start]
        for step_inputs in inputs:
            _, state = layer(step_inputs, state)
        final[name] = tf.cast(state[0], tf.float32).numpy()
    assert ours(inputs[0], start)[1][0].dtype == "float32"
    ours_error = np.abs(final["ours"] - final["reference"]).max()
    mixed_error = np.abs(final["mixed"] - final["reference"]).max()
    assert ours_error < 0.5 * mixed_error, (ours_error, mixed_error)


def test_bfloat16_layers_carry_float32_states_and_return_bfloat16():
    with precision.dtype_policy("mixed_bfloat16"):
        layer = recurrent_layer("gru", UNITS)
    sequence, state = layer(tf.ones((BATCH, 4, FEATURES)))
    assert isinstance(layer.cell, FLOAT32_STATE_CELLS["gru"]) and layer.cell.compute_dtype == "float32"
    assert sequence.dtype == state.dtype == "bfloat16"  # what the next layer reads: cast once, after the loop


def test_a_bfloat16_decoder_steps_in_float32_state_and_its_weights_load_into_float32():
    config = {"units": 16, "embedding_dim": 8, "decoder": "attention", "bidirectional": True, "cell": "lstm"}
    with precision.dtype_policy("mixed_bfloat16"):
        mixed = Seq2Seq(12, 12, config=config, seed=1).build_with_dummy_batch()
    prepared = mixed.prepare_decoding(np.array([[1, 5, 2]], "int32"))
    _, state, _ = mixed.decoder.step(np.array([1], "int32"), mixed.decoder.initial_state(prepared), prepared)
    assert [s.dtype for s in state] == ["float32", "float32"]
    plain = Seq2Seq(12, 12, config=config, seed=2).build_with_dummy_batch()
    assert [v.path.split("/", 1)[1] for v in mixed.weights] == [v.path.split("/", 1)[1] for v in plain.weights]
    for mixed_variable, plain_variable in zip(mixed.weights, plain.weights):
        plain_variable.assign(mixed_variable)
    inputs = {"source": np.array([[1, 5, 6, 2]], "int32"), "target_in": np.array([[1, 8, 9]], "int32")}
    np.testing.assert_allclose(mixed(inputs), plain(inputs), atol=0.05)  # the same model, bfloat16 matmuls aside


@pytest.mark.parametrize("cell", FLOAT32_STATE_CELLS)
def test_a_layer_projecting_its_inputs_before_the_loop_computes_what_keras_own_layer_does(cell):
    """The defining property of ProjectedInputsRNN (what a float32 layer is on a CPU): the whole-sequence input
    matmul first, then the loop, gives Keras' own layer's outputs and final states, both directions, with padding
    masked, from the same weights under the same variable paths."""
    assert isinstance(recurrent_layer(cell, UNITS, name="layer"), ProjectedInputsRNN)
    ours = keras.layers.Bidirectional(recurrent_layer(cell, UNITS, name="layer"))
    theirs = keras.layers.Bidirectional(RECURRENT_LAYERS[cell](UNITS, return_sequences=True, return_state=True,
                                                               name="layer"))
    rng = np.random.default_rng(3)
    inputs = tf.constant(rng.normal(0, 1, (BATCH, 6, FEATURES)), tf.float32)
    mask = tf.constant([[True] * 6, [True] * 4 + [False] * 2, [True] * 2 + [False] * 4])
    ours(inputs, mask=mask), theirs(inputs, mask=mask)
    assert [v.path.split("/", 1)[1] for v in ours.weights] == [v.path.split("/", 1)[1] for v in theirs.weights]
    for mine, keras_variable in zip(ours.weights, theirs.weights):
        mine.assign(rng.normal(0, 0.5, mine.shape).astype("float32"))
        keras_variable.assign(mine)
    for output, expected in zip(ours(inputs, mask=mask), theirs(inputs, mask=mask), strict=True):
        np.testing.assert_allclose(output, expected, atol=1e-6)
