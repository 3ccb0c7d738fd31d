"""token_nll: TensorFlow's sparse softmax cross-entropy, value and gradient, by another route."""

import numpy as np
import pytest
import tensorflow as tf

from translator.model.loss import token_nll


def value_and_gradient(loss, labels, logits, upstream):
    with tf.GradientTape() as tape:
        tape.watch(logits)
        per_token = loss(labels, logits)
        total = tf.reduce_sum(per_token * upstream)
    return per_token.numpy(), tape.gradient(total, logits).numpy()


@pytest.mark.parametrize("shape", [(5, 11), (2, 3, 11)])
def test_token_nll_is_the_sparse_softmax_cross_entropy(shape):
    """Same values and the same gradient (softmax - one-hot, weighted by the upstream gradient) as TensorFlow's
    fused kernel, for a step ([rows, vocab]) and a sequence ([batch, T, vocab]), confident logits included."""
    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(scale=8.0, size=shape), tf.float32)
    labels = tf.constant(rng.integers(0, shape[-1], size=shape[:-1]), tf.int32)
    # per-token weights of the upstream gradient, as a mask and a loss scale give
    upstream = tf.constant(rng.uniform(0.0, 2.0, size=shape[:-1]), tf.float32)
    fused = value_and_gradient(tf.nn.sparse_softmax_cross_entropy_with_logits, labels, logits, upstream)
    ours = value_and_gradient(token_nll, labels, logits, upstream)
    np.testing.assert_allclose(ours[0], fused[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours[1], fused[1], rtol=1e-5, atol=1e-6)
    assert ours[0].shape == shape[:-1]


def test_token_nll_gradient_pulls_the_label_up_and_the_rest_down():
    logits = tf.zeros([1, 4])
    _, gradient = value_and_gradient(token_nll, tf.constant([2]), logits, tf.ones([1]))
    np.testing.assert_allclose(gradient, [[0.25, 0.25, -0.75, 0.25]], rtol=1e-6)
