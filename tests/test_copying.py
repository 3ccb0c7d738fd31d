"""The pointer-generator: its distribution, its place in the model, search and config."""

import numpy as np
import pytest
import tensorflow as tf

from translator.config import ModelConfig
from translator.model.copying import PointerGenerator, scatter_onto_vocabulary
from translator.errors import OptionError
from translator.model.seq2seq import Seq2Seq

VOCAB = 12


def pointer_with_switch(bias: float) -> PointerGenerator:
    """A pointer whose p_gen is sigmoid(bias) whatever its inputs."""
    pointer = PointerGenerator()
    pointer.switch.build((None, 6))
    pointer.switch.kernel.assign(np.zeros((6, 1), "float32"))
    pointer.switch.bias.assign([bias])
    return pointer


def test_attention_on_repeated_source_tokens_adds_up_on_their_id():
    weights = tf.constant([[0.1, 0.2, 0.3, 0.4, 0.0]])
    source = tf.constant([[1, 7, 7, 2, 0]])
    copied = scatter_onto_vocabulary(weights, source, VOCAB).numpy()[0]
    np.testing.assert_allclose(copied[[1, 7, 2, 0]], [0.1, 0.5, 0.4, 0.0], atol=1e-7)
    assert copied.sum() == pytest.approx(1.0)


def test_a_sequence_of_steps_copies_from_the_same_source():
    weights = tf.random.uniform([2, 3, 4])
    source = tf.constant([[1, 5, 5, 2], [1, 9, 2, 0]])
    per_sequence = scatter_onto_vocabulary(weights, source, VOCAB).numpy()
    for t in range(3):
        np.testing.assert_allclose(per_sequence[:, t], scatter_onto_vocabulary(weights[:, t], source, VOCAB).numpy())


def test_the_mixture_is_a_distribution_and_an_unknown_token_comes_only_by_copying():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, VOCAB)).astype("float32")
    logits[:, 9] = -1e4  # token 9: the output layer never produces it (a name it never saw)
    weights = tf.constant([[0.0, 0.7, 0.3], [0.5, 0.5, 0.0]])
    source = tf.constant([[1, 9, 2], [1, 4, 2]])  # sentence 0 holds token 9, sentence 1 does not
    state, context, inputs = (tf.ones([2, 2]),) * 3
    log_p = pointer_with_switch(0.0)(logits, state, context, inputs, weights, source).numpy()  # p_gen = 0.5
    np.testing.assert_allclose(np.exp(log_p).sum(-1), 1.0, rtol=1e-5)
    assert np.exp(log_p[0, 9]) == pytest.approx(0.5 * 0.7, rel=1e-5)
    assert np.exp(log_p[1, 9]) < 1e-8
    generate_only = pointer_with_switch(30.0)(logits, state, context, inputs, weights, source).numpy()
    produced = np.arange(VOCAB) != 9  # (token 9's log P is floored at log 1e-9, not -1e4)
    np.testing.assert_allclose(generate_only[:, produced], tf.nn.log_softmax(logits).numpy()[:, produced], atol=1e-4)


def tiny_copying_model():
    config = {"decoder": "attention", "copy": True, "embedding_dim": 8, "units": 8}
    return Seq2Seq(30, 30, config=config, seed=1).build_with_dummy_batch()


def test_a_copying_models_step_is_its_teacher_forced_pass_and_sums_to_one():
    model = tiny_copying_model()
    source = np.array([[1, 5, 7, 7, 2, 0], [1, 9, 2, 0, 0, 0]], "int32")
    target_in = np.array([[1, 5, 7], [1, 9, 3]], "int32")
    whole = model({"source": source, "target_in": target_in}).numpy()
    np.testing.assert_allclose(np.exp(whole).sum(-1), 1.0, rtol=1e-5)
    prepared = model.prepare_decoding(source)
    step = model.step_function(prepared)
    state = model.initial_state(prepared)
    for t in range(3):
        log_p, state = step(tf.constant(target_in[:, t]), state)
        np.testing.assert_allclose(log_p.numpy(), whole[:, t], atol=1e-5)


def test_the_loss_reads_the_targets_log_p_as_the_whole_distribution_gives_it_with_the_same_gradients():
    """Training a copying model reads log P at the targets alone (Seq2Seq.target_log_probabilities); it must be
    the full mixture's value there, and differentiate alike, with repeated source tokens and padding."""
    model = tiny_copying_model()
    batch = {"source": np.array([[1, 5, 7, 7, 2, 0], [1, 9, 2, 0, 0, 0]], "int32"),
             "target_in": np.array([[1, 7, 5, 7], [1, 9, 3, 3]], "int32"),
             "target_out": np.array([[7, 5, 7, 2], [9, 3, 3, 2]], "int32")}
    with tf.GradientTape(persistent=True) as tape:
        whole = tf.gather(model(batch, training=False), batch["target_out"], axis=2, batch_dims=2)
        targets_only = model.target_log_probabilities(batch, training=False)
        losses = [tf.reduce_sum(whole), tf.reduce_sum(targets_only)]
    np.testing.assert_allclose(targets_only.numpy(), whole.numpy(), rtol=1e-5, atol=1e-6)
    for variable in model.trainable_variables:
        full, cheap = (tf.convert_to_tensor(tape.gradient(loss, variable)).numpy() for loss in losses)
        np.testing.assert_allclose(cheap, full, rtol=1e-4, atol=1e-6, err_msg=variable.path)


def test_copy_needs_the_attention_decoder_and_implies_a_shared_vocabulary():
    assert ModelConfig(copy=True).shared_vocabulary
    with pytest.raises(OptionError, match="attention"):
        ModelConfig(decoder="feedback", copy=True)
    with pytest.raises(ValueError, match="one vocabulary"):
        Seq2Seq(30, 20, config={"copy": True})
