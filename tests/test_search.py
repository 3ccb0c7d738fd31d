"""Greedy and beam search: scripted step functions, exhaustive search, a tiny model."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from translator.model.seq2seq import Seq2Seq
from translator.decoding.search import beam_search, coverage_penalty, greedy_search, length_penalty, tile_beams, top_k_by_blocks

START, END = 1, 2
A, B, C = 4, 5, 6
VOCAB = 7


def markov(table):
    """A step function whose next-token distribution depends only on the previous token."""
    log_table = tf.math.log(tf.constant(table, tf.float32) + 1e-9)

    def step(tokens, state):
        return tf.gather(log_table, tokens), state

    return step


def table_with(rows):
    table = np.full((VOCAB, VOCAB), 0.0)
    for previous, probabilities in rows.items():
        for token, p in probabilities.items():
            table[previous, token] = p
    return table


# greedy takes A (0.6) and then wanders (0.3 at best); beam finds B END (0.4 * 0.9)
TRAP = table_with({START: {A: 0.6, B: 0.4}, A: {A: 0.3, B: 0.3, C: 0.2, END: 0.2}, B: {END: 0.9, C: 0.1},
                   C: {END: 1.0}})


def dummy_state(n):
    return [tf.zeros([n, 1])]


def test_greedy_follows_the_local_best():
    tokens, scores = greedy_search(markov(TRAP), dummy_state(1), tf.constant([4]), START, END)
    assert tokens.numpy()[0].tolist()[:2] == [A, A]
    assert scores.numpy()[0] < np.log(0.4 * 0.9)


def test_greedy_scores_are_log_probabilities_of_the_tokens_it_chose_even_from_unnormalised_logits():
    shifted = markov(TRAP)

    def step(tokens, state):  # logits a softmax maps to the same distribution
        logits, state = shifted(tokens, state)
        return logits + 5.0, state

    tokens, scores = greedy_search(step, dummy_state(1), tf.constant([4]), START, END)
    assert tokens.numpy()[0].tolist() == [A, A, A, END]  # the limit forces END at the 4th token (A: END 0.2)
    assert scores.numpy()[0] == pytest.approx(np.log(0.6 * 0.3 * 0.3 * 0.2), abs=1e-5)


def counting_step(rows_seen):
    """Row i says A (p 0.9) until it has said it `wanted` times (its state), then END (p 0.9)."""
    likely = float(np.log(0.9))

    def step(tokens, state):
        said, wanted = state
        rows_seen.append(int(tf.shape(tokens)[0]))
        token = tf.where(said >= wanted, END, A)
        logits = tf.fill([tf.shape(tokens)[0], VOCAB], float(np.log(0.1 / (VOCAB - 1))))
        logits = tf.tensor_scatter_nd_update(logits, tf.stack([tf.range(tf.shape(tokens)[0]), token], 1),
                                             tf.fill(tf.shape(token), likely))
        return logits, (said + 1, wanted)

    return step


def test_greedy_drops_ended_sentences_from_the_computed_rows_and_keeps_every_row_its_own():
    """Each row's length lives in its state (counting_step), so a row mixed up with another when the ended ones
    leave would come out the wrong length."""
    lengths = tf.constant([5, 0, 7, 1, 2, 3, 0, 4])
    rows_seen = []
    tokens, scores = greedy_search(counting_step(rows_seen), (tf.zeros([8], tf.int32), lengths), tf.fill([8], 20),
                                   START, END)
    for row, length in enumerate(lengths.numpy()):
        assert tokens.numpy()[row].tolist() == [A] * length + [END] * (tokens.shape[1] - length)
        assert scores.numpy()[row] == pytest.approx((length + 1) * np.log(0.9), abs=1e-5)
    assert rows_seen[0] == 8 and rows_seen[-1] < 4  # the last steps compute the long sentences only


def test_beam_drops_done_sentences_from_the_computed_rows_and_finds_what_it_found_with_them():
    lengths, beam = tf.constant([5, 0, 7, 1, 2, 3, 0, 4]), 3
    state = tile_beams((tf.zeros([8], tf.int32), lengths), beam)
    results, rows_seen = {}, {}
    for carrying in (False, True):
        rows_seen[carrying] = []
        results[carrying] = beam_search(counting_step(rows_seen[carrying]), state, tf.fill([8], 20), START, END,
                                        beam, n_best=2, carrying=carrying)
    (tokens, scores), (kept_tokens, kept_scores) = results[True], results[False]
    assert tokens.numpy().tolist() == kept_tokens.numpy().tolist()
    np.testing.assert_allclose(scores.numpy(), kept_scores.numpy(), rtol=1e-6)
    for row, length in enumerate(lengths.numpy()):
        assert tokens.numpy()[row, 0].tolist() == [A] * length + [END] * (tokens.shape[2] - length)
    assert rows_seen[True][0] == 8 * beam and rows_seen[True][-1] < 4 * beam  # the last steps: the long ones only
    assert set(rows_seen[False]) == {8 * beam}


def test_beam_finds_the_better_sequence_and_ranks_n_best():
    tokens, scores = beam_search(markov(TRAP), dummy_state(3), tf.constant([4]), START, END, beam_size=3, n_best=3)
    assert tokens.numpy()[0, 0].tolist()[:2] == [B, END]
    assert scores.numpy()[0, 0] == pytest.approx(np.log(0.4 * 0.9), abs=1e-5)
    assert list(scores.numpy()[0]) == sorted(scores.numpy()[0], reverse=True)


def test_finished_hypotheses_are_padded_with_end_never_extended():
    tokens, _ = beam_search(markov(TRAP), dummy_state(3), tf.constant([6]), START, END, beam_size=3, n_best=3)
    for row in tokens.numpy()[0]:
        ended = list(row).index(END)
        assert (row[ended:] == END).all()


def test_length_limit_forces_the_end():
    always_a = table_with({START: {A: 0.999, END: 0.001}, A: {A: 0.99, END: 0.01}})
    tokens, _ = greedy_search(markov(always_a), dummy_state(2), tf.constant([3, 5]), START, END)
    rows = tokens.numpy().tolist()
    assert rows[0][:3] == [A, A, END] and rows[1] == [A, A, A, A, END]
    beams, _ = beam_search(markov(always_a), dummy_state(4), tf.constant([3, 5]), START, END, beam_size=2, n_best=2)
    for sentence, limit in zip(beams.numpy(), (3, 5)):
        for row in sentence:
            assert END in row[:limit].tolist()


def test_length_penalty_favours_longer_hypotheses():
    # END now: log 0.5 = -0.693; A END: log(0.45 * 0.9) = -0.904, but -0.904 / ((5 + 2) / 6) ** 2 = -0.664
    table = table_with({START: {END: 0.5, A: 0.45, B: 0.05}, A: {END: 0.9, A: 0.1}})
    plain, _ = beam_search(markov(table), dummy_state(2), tf.constant([6]), START, END, beam_size=2, alpha=0.0)
    assert plain.numpy()[0, 0, 0] == END
    long, _ = beam_search(markov(table), dummy_state(2), tf.constant([6]), START, END, beam_size=2, alpha=2.0)
    assert long.numpy()[0, 0, 0] == A
    assert float(length_penalty(1, 0.0)) == 1.0


@pytest.fixture(scope="module")
def tiny_model():
    keras.utils.set_random_seed(7)
    config = dict(decoder="attention", cell="gru", units=8, embedding_dim=4, dropout=0.0)
    return Seq2Seq(9, VOCAB, config=config).build_with_dummy_batch()


SOURCES = tf.constant([[1, 4, 5, 2], [1, 6, 2, 0], [1, 7, 8, 2]], tf.int32)


def model_step(model, prepared):
    def step(tokens, state):
        logits, new_state, _ = model.decoder.step(tokens, state, prepared)
        return logits, new_state

    return step


def run_beam(model, sources, limits, beam_size, n_best=1):
    prepared = tile_beams(model.prepare_decoding(sources), beam_size)
    return beam_search(model_step(model, prepared), model.decoder.initial_state(prepared), limits, START, END,
                       beam_size, n_best=n_best)


def test_beam_of_one_is_greedy(tiny_model):
    limits = tf.constant([6, 6, 6])
    prepared = tiny_model.prepare_decoding(SOURCES)
    greedy_tokens, greedy_scores = greedy_search(model_step(tiny_model, prepared),
                                                 tiny_model.decoder.initial_state(prepared), limits, START, END)
    beam_tokens, beam_scores = run_beam(tiny_model, SOURCES, limits, beam_size=1)
    assert beam_tokens.numpy()[:, 0].tolist() == greedy_tokens.numpy().tolist()
    np.testing.assert_allclose(beam_scores.numpy()[:, 0], greedy_scores.numpy(), rtol=1e-5)


def exhaustive_best(model, source, limit):
    """Score every sequence that ends with END within `limit` tokens; the best (tokens, score)."""
    prepared = model.prepare_decoding(source[None, :])
    step = model_step(model, prepared)
    best = (None, -np.inf)
    words = [t for t in range(VOCAB) if t != END]
    for length in range(limit):
        for body in itertools.product(words, repeat=length):
            sequence = list(body) + [END]
            state, previous, score = model.decoder.initial_state(prepared), START, 0.0
            for token in sequence:
                logits, state = step(tf.constant([previous]), state)
                score += float(tf.nn.log_softmax(logits)[0, token])
                previous = token
            if score > best[1]:
                best = (sequence, score)
    return best


def test_beam_as_wide_as_the_vocabulary_matches_exhaustive_search(tiny_model):
    limit = 3
    tokens, scores = run_beam(tiny_model, SOURCES, tf.constant([limit] * 3), beam_size=VOCAB)
    for i in range(3):
        sequence, score = exhaustive_best(tiny_model, SOURCES[i], limit)
        found = tokens.numpy()[i, 0].tolist()
        assert found[: found.index(END) + 1] == sequence
        assert scores.numpy()[i, 0] == pytest.approx(score, abs=1e-4)


# a loop: after A comes B, after B comes A (0.9 each); END is always a little likely
LOOP = table_with({START: {A: 0.9, END: 0.1}, A: {B: 0.8, C: 0.1, END: 0.1}, B: {A: 0.8, C: 0.1, END: 0.1},
                   C: {A: 0.45, B: 0.45, END: 0.1}})


def ngrams(sequence, n):
    return [tuple(sequence[i : i + n]) for i in range(len(sequence) - n + 1)]


def test_repeated_ngram_tokens_on_hand_made_histories():
    from translator.decoding.search import repeated_ngrams, token_mask

    def banned(history, ngram, length=None):
        history = tf.constant(history)
        return token_mask(*repeated_ngrams(history, history.shape[1] if length is None else length, ngram), VOCAB)

    histories = [[START, A, B, A], [START, A, B, C]]
    assert np.flatnonzero(banned(histories, 2).numpy()[0]).tolist() == [B]  # "A B" is there and it ends in A
    assert not banned(histories, 2).numpy()[1].any()  # ends in C, which nothing followed yet
    assert np.flatnonzero(banned(histories, 1).numpy()[1]).tolist() == [START, A, B, C]
    assert not banned([h[:2] for h in histories], 3).numpy().any()  # shorter than any 3-gram
    # a buffer written up to `length` only: what lies beyond (END padding, say) is neither window nor history
    assert np.flatnonzero(banned([[START, A, B, A, B, END]], 2, length=4).numpy()[0]).tolist() == [B]
    assert not banned([[START, A, B, END, END, END]], 2, length=3).numpy().any()


@pytest.mark.parametrize("size", [2, 3])
def test_no_repeat_ngram_stops_the_loop_in_greedy_and_beam_search(size):
    limits = tf.constant([12, 12])
    looping, _ = greedy_search(markov(LOOP), dummy_state(2), limits, START, END)
    assert ngrams(looping.numpy()[0].tolist()[:4], 2).count((A, B)) == 2  # without it: A B A B ...
    greedy, _ = greedy_search(markov(LOOP), dummy_state(2), limits, START, END, no_repeat_ngram=size)
    beam, _ = beam_search(markov(LOOP), dummy_state(6), limits, START, END, beam_size=3, n_best=3,
                          no_repeat_ngram=size)
    outputs = [greedy.numpy()[0].tolist()] + [row.tolist() for row in beam.numpy()[0]]
    for output in outputs:
        output = output[: output.index(END)] if END in output else output
        grams = ngrams(output, size)
        assert len(grams) == len(set(grams)), output
    assert greedy.numpy()[0].tolist()[:size] == [A, B, A][:size]  # the first n-1 steps are unchanged


def test_no_repeat_ngram_keeps_batch_invariance():
    both, _ = beam_search(markov(LOOP), dummy_state(6), tf.constant([12, 5]), START, END, beam_size=3,
                          no_repeat_ngram=2)
    alone, _ = beam_search(markov(LOOP), dummy_state(3), tf.constant([12]), START, END, beam_size=3,
                           no_repeat_ngram=2)
    length = alone.shape[-1]
    assert both.numpy()[0, :, :length].tolist() == alone.numpy()[0].tolist()


def attending_markov(table, attention):
    """A Markov step whose state carries coverage: feeding token t adds attention[t] over three source positions
    (the third one padding, never attended)."""
    log_table = tf.math.log(tf.constant(table, tf.float32) + 1e-9)
    weights = tf.constant(attention, tf.float32)

    def step(tokens, state):
        return tf.gather(log_table, tokens), {**state, "coverage": state["coverage"] + tf.gather(weights, tokens)}

    return step


def test_the_coverage_penalty_prefers_the_hypothesis_that_read_every_source_word():
    # START A END has the best log-probability but leaves source word 2 at 0.2 of its attention; START B END
    # reads both words fully (padding starts at 1 and never counts)
    table = table_with({START: {A: 0.6, B: 0.4}, A: {END: 0.9, B: 0.1}, B: {END: 1.0}})
    attention = np.zeros((VOCAB, 3))
    attention[START], attention[A], attention[B] = [1, 0, 0], [0, 0.2, 0], [0, 1, 0]
    k = 3
    start = {"decoder": dummy_state(k), "coverage": tf.constant([[0.0, 0.0, 1.0]] * k)}

    def best(beta):
        tokens, scores = beam_search(attending_markov(table, attention), start, tf.constant([5]), START, END,
                                     beam_size=k, end_score=lambda state: coverage_penalty(state["coverage"], beta))
        return tokens.numpy()[0, 0].tolist()[:2], float(scores.numpy()[0, 0])

    assert best(0.0) == ([A, END], pytest.approx(np.log(0.6 * 0.9), abs=1e-5))
    assert best(1.0) == ([B, END], pytest.approx(np.log(0.4), abs=1e-5))  # A END scores log 0.54 + log 0.2 < log 0.4


def test_a_models_coverage_is_the_attention_it_paid_with_padding_counted_as_read():
    model = Seq2Seq(20, 20, config={"decoder": "attention", "embedding_dim": 4, "units": 4}, seed=2)
    model.build_with_dummy_batch()
    source = np.array([[1, 5, 6, 2], [1, 7, 2, 0]], "int32")
    prepared = model.prepare_decoding(source)
    step, state = model.step_function(prepared), model.initial_state(prepared, with_coverage=True)
    np.testing.assert_array_equal(state["coverage"].numpy(), [[0, 0, 0, 0], [0, 0, 0, 1]])
    for token in (START, A, B):
        _, state = step(tf.constant([token, token]), state)
    np.testing.assert_allclose(state["coverage"].numpy().sum(-1), [3.0, 4.0], rtol=1e-5)  # 3 steps of weights summing to 1


@pytest.mark.parametrize("no_repeat_ngram", [0, 2])
def test_a_fixed_step_search_compiles_under_xla_and_finds_what_the_compacting_one_finds(no_repeat_ngram):
    """`steps` keeps every shape fixed (no rows leave), so that XLA compiles the search; the output is the same,
    padded with END to `steps` tokens."""
    limits, steps = tf.constant([12, 5, 9]), 14

    def both(search, *args, **kwargs):
        compacting = search(*args, **kwargs)
        fixed = tf.function(lambda: search(*args, **kwargs, steps=steps), jit_compile=True)()
        return compacting, fixed

    (greedy, greedy_scores), (fixed, fixed_scores) = both(greedy_search, markov(LOOP), dummy_state(3), limits, START,
                                                          END, no_repeat_ngram)
    assert fixed.shape == (3, steps)
    assert fixed.numpy()[:, : greedy.shape[1]].tolist() == greedy.numpy().tolist()
    assert (fixed.numpy()[:, greedy.shape[1] :] == END).all()
    np.testing.assert_allclose(fixed_scores.numpy(), greedy_scores.numpy(), rtol=1e-6)
    carrying_state = {"decoder": dummy_state(9)}
    step = markov(LOOP)
    beam_step = lambda tokens, state: (step(tokens, state["decoder"])[0], state)  # noqa: E731
    (beams, beam_scores), (fixed, fixed_scores) = both(beam_search, beam_step, carrying_state, limits, START, END,
                                                       3, 0.6, 3, no_repeat_ngram, carrying=True)
    assert fixed.shape == (3, 3, steps)
    assert fixed.numpy()[..., : beams.shape[2]].tolist() == beams.numpy().tolist()
    np.testing.assert_allclose(fixed_scores.numpy(), beam_scores.numpy(), rtol=1e-6)


@pytest.mark.parametrize("width", [24960, 2560 + 77])
def test_top_k_by_blocks_is_top_k(width):
    """The same values and columns as tf.math.top_k, a width that is no multiple of the block included; where
    values tie (a row banned to NEG_INF but for three tokens) the same values, each at a column that holds it."""
    rows = np.random.default_rng(0).normal(size=(6, width)).astype("float32")
    rows[4, :] = -1e9
    rows[4, [5, width - 1, 700]] = [-2.0, -1.0, -3.0]
    values, columns = top_k_by_blocks(tf.constant(rows), 10)
    expected_values, expected_columns = tf.math.top_k(tf.constant(rows), 10)
    np.testing.assert_array_equal(values.numpy(), expected_values.numpy())
    untied = [0, 1, 2, 3, 5]
    np.testing.assert_array_equal(columns.numpy()[untied], expected_columns.numpy()[untied])
    np.testing.assert_array_equal(np.take_along_axis(rows, columns.numpy(), axis=1), values.numpy())
    assert columns.numpy()[4, :3].tolist() == [width - 1, 5, 700]


def test_beam_search_over_a_wide_vocabulary_finds_what_top_k_finds(monkeypatch):
    """A vocabulary wide enough for top_k_by_blocks (1,500 tokens x beam 5): the same hypotheses and scores as
    with TensorFlow's TopK, batched as the rows come."""
    vocab = 1500
    log_table = tf.constant(np.random.default_rng(1).normal(scale=3.0, size=(vocab, vocab)), tf.float32)

    def step(tokens, state):
        return tf.gather(log_table, tokens), state

    def search():
        return beam_search(step, tile_beams(dummy_state(4), 5), tf.constant([6, 3, 8, 5]), START, END, 5, n_best=3)

    tokens, scores = search()
    monkeypatch.setattr("translator.decoding.search.top_k_by_blocks", lambda scores, k: tf.math.top_k(scores, k=k))
    expected_tokens, expected_scores = search()
    np.testing.assert_array_equal(tokens.numpy(), expected_tokens.numpy())
    np.testing.assert_allclose(scores.numpy(), expected_scores.numpy(), rtol=1e-6)
