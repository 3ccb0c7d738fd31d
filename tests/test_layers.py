"""The attention and the bridges, by their defining properties on hand-set weights."""

import numpy as np
import pytest

from translator.model.attention import AdditiveAttention
from translator.model.bridge import Bridge, LearnedState

MEMORY = np.random.default_rng(0).normal(size=(2, 4, 6)).astype("float32")
MASK = np.array([[True, True, True, False], [True, True, False, False]])


def test_attention_with_equal_energies_averages_the_real_positions():
    attention = AdditiveAttention(8)
    keys = attention.keys(MEMORY)
    query = np.zeros((2, 8), "float32")
    attention(query, keys, MEMORY, MASK)
    for variable in attention.trainable_variables:  # W, U, v all zero: every energy is the same
        variable.assign(np.zeros(variable.shape, "float32"))
    context, weights = attention(query, attention.keys(MEMORY), MEMORY, MASK)
    np.testing.assert_allclose(weights.numpy(), MASK / MASK.sum(1, keepdims=True), atol=1e-6)
    expected = (MEMORY * MASK[..., None]).sum(1) / MASK.sum(1, keepdims=True)
    np.testing.assert_allclose(context.numpy(), expected, atol=1e-5)


def test_attention_follows_the_key_that_matches_the_query():
    attention = AdditiveAttention(1)
    memory = np.zeros((1, 3, 1), "float32")
    memory[0, 1, 0] = 1.0  # only position 1 has a non-zero key
    attention(np.zeros((1, 1), "float32"), attention.keys(memory), memory, np.ones((1, 3), bool))
    attention.query_projection.kernel.assign([[0.0]])
    attention.query_projection.bias.assign([0.0])
    attention.key_projection.kernel.assign([[5.0]])
    attention.score.kernel.assign([[4.0]])
    _, weights = attention(np.zeros((1, 1), "float32"), attention.keys(memory), memory, np.ones((1, 3), bool))
    assert int(np.argmax(weights.numpy())) == 1 and weights.numpy()[0, 1] > 0.9


def test_bridge_passes_the_context_through_where_the_widths_agree():
    context = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    (hidden,) = Bridge(5, 5, lstm=False)(context)
    np.testing.assert_array_equal(hidden.numpy(), context)
    hidden, cell = Bridge(5, 5, lstm=True)(context, context * 2)
    np.testing.assert_array_equal(cell.numpy(), context * 2)


@pytest.mark.parametrize("lstm", [False, True])
def test_bridge_maps_a_wider_context_to_the_decoder_width(lstm):
    context = np.ones((3, 10), "float32")
    state = Bridge(4, 10, lstm=lstm)(context, context if lstm else None)
    assert [tuple(s.shape) for s in state] == [(3, 4)] * (2 if lstm else 1)
    assert np.abs(state[0].numpy()).max() <= 1.0  # tanh


def test_learned_state_is_the_same_for_every_sentence_whatever_the_context():
    bridge = LearnedState(4, 6, lstm=True)
    bridge.states[0].assign(np.arange(4, dtype="float32"))
    first = bridge(np.zeros((2, 6), "float32"))
    second = bridge(np.ones((2, 6), "float32"))
    assert len(first) == 2
    np.testing.assert_array_equal(first[0].numpy(), [np.arange(4)] * 2)
    np.testing.assert_array_equal(first[0].numpy(), second[0].numpy())
