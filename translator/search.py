"""Greedy and beam search, in-graph, over a step function; no model code here.

A step function maps (tokens [n], state) -> (logits [n, vocab], new state),
where `state` is a nest of tensors whose first axis is n. The search decides
which hypotheses live; the caller decides what a step computes. Constants of
a sentence (encoder memory, attention keys) are tiled once per beam with
`tile_beams` and never gathered per step: they travel in the state, gathered
only when finished sentences leave the computed rows (greedy_search, and
beam_search with `carrying`), or live in the step function's closure.

Every sentence has its own length limit `max_lengths[b]`: at that step only
the end token may follow, so a sentence's output never depends on which other
sentences share its batch. With `no_repeat_ngram` n > 0, a token that would
complete an n-gram already in the hypothesis is never chosen (Hugging Face's
`no_repeat_ngram_size`), which stops degenerate loops ("ff ff ff ...").
"""

from __future__ import annotations

import tensorflow as tf

NEG_INF = -1e9


def tile_beams(tree, beam_size: int):
    """[batch, ...] -> [batch * beam, ...], each sentence repeated beam_size times in a row."""
    return tf.nest.map_structure(lambda t: tf.repeat(t, beam_size, axis=0), tree)


def length_penalty(length, alpha: float):
    """GNMT's ((5 + length) / 6) ** alpha; 1 when alpha is 0."""
    return tf.pow((5.0 + tf.cast(length, tf.float32)) / 6.0, alpha)


def repeated_ngram_indices(history, ngram: int):
    """[m, 2] (row, token): the tokens that, appended to each history [n, T], would repeat one of its n-grams."""
    length = tf.shape(history)[1]
    windows = length - ngram + 1  # the n-grams wholly inside the history (none while it is shorter)
    starts = tf.range(tf.maximum(windows, 0))
    prefixes = tf.gather(history, starts[:, None] + tf.range(ngram - 1)[None, :], axis=1)  # [n, W, ngram - 1]
    last = history[:, length - (ngram - 1):]  # the n - 1 tokens the next one would follow
    matches = tf.where(tf.reduce_all(tf.equal(prefixes, last[:, None, :]), axis=-1))  # [m, (row, window)]
    followers = tf.gather_nd(tf.gather(history, starts + ngram - 1, axis=1), matches)
    return tf.stack([matches[:, 0], tf.cast(followers, tf.int64)], axis=1)


def repeated_ngram_tokens(history, ngram: int, vocab_size):
    """[n, vocab] bool: `repeated_ngram_indices` as a mask."""
    indices = repeated_ngram_indices(history, ngram)
    banned = tf.zeros(tf.stack([tf.shape(history)[0], vocab_size]), tf.bool)
    return tf.tensor_scatter_nd_update(banned, indices, tf.ones(tf.shape(indices)[:1], tf.bool))


def _constrained(scores, history, step, max_lengths, end_id, no_repeat_ngram):
    """Step scores [n, vocab] (logits or log-probabilities) with NEG_INF where a token would repeat an n-gram
    (END never) and, at and past a sentence's limit, everywhere but END. Each costs a pass over the vocabulary
    only at the steps where it bans something, which most steps do not."""
    if no_repeat_ngram:
        banned = repeated_ngram_indices(history, no_repeat_ngram)
        banned = tf.boolean_mask(banned, tf.not_equal(banned[:, 1], end_id))
        scores = tf.cond(tf.size(banned) > 0,
                         lambda: tf.tensor_scatter_nd_update(scores, banned, tf.fill(tf.shape(banned)[:1], NEG_INF)),
                         lambda: scores)
    at_limit = step + 1 >= max_lengths
    only_end = tf.equal(tf.range(tf.shape(scores)[-1]), end_id)[None, :]
    return tf.cond(tf.reduce_any(at_limit),
                   lambda: tf.where(at_limit[:, None] & ~only_end, NEG_INF, scores), lambda: scores)


def greedy_search(step_fn, initial_state, max_lengths, start_id: int, end_id: int, no_repeat_ngram: int = 0):
    """The most likely token at each step. Returns (tokens [batch, L] padded with END, scores [batch]).

    The argmax reads the logits: a token's log-probability, logit - logsumexp(logits), is computed for the
    chosen one only (a log-softmax over the vocabulary every step cost more than the argmax itself).

    Sentences that have ended leave the computed rows once they are half of them: a batch runs as long as
    its longest output, about twice its median, and a step costs nearly in proportion to its rows. For that
    the state must hold everything per sentence the step reads (`Seq2Seq.carrying_step_function`); the
    rows are gathered at most log2(batch) times.
    """
    batch = tf.shape(max_lengths)[0]
    limit = tf.reduce_max(max_lengths)

    def body(step, state, rows, limits, finished, history, tokens, scores):
        logits, state = step_fn(history[:, -1], state)
        normalizer = tf.reduce_logsumexp(logits, axis=-1)
        constrained = _constrained(logits, history, step, limits, end_id, no_repeat_ngram)
        chosen = tf.where(finished, end_id, tf.argmax(constrained, axis=-1, output_type=tf.int32))
        gained = tf.where(finished, 0.0, tf.gather(logits, chosen, batch_dims=1) - normalizer)
        scores = tf.tensor_scatter_nd_add(scores, rows[:, None], gained)
        column = tf.tensor_scatter_nd_update(tf.fill([batch], end_id), rows[:, None], chosen)
        tokens = tf.concat([tokens, column[:, None]], axis=1)
        history = tf.concat([history, chosen[:, None]], axis=1)
        finished |= tf.equal(chosen, end_id)
        live = tf.reshape(tf.where(~finished), [-1])
        per_row = (state, rows, limits, finished, history)
        per_row = tf.cond(2 * tf.size(live) <= tf.size(rows),
                          lambda: tf.nest.map_structure(lambda t: tf.gather(t, live), per_row), lambda: per_row)
        return (step + 1, *per_row, tokens, scores)

    rows = tf.range(batch)
    start = (tf.constant(0), initial_state, rows, max_lengths, tf.zeros([batch], tf.bool),
             tf.fill([batch, 1], start_id), tf.zeros([batch, 0], tf.int32), tf.zeros([batch]))
    by_row = tf.TensorShape([None])
    shapes = (tf.TensorShape([]), tf.nest.map_structure(lambda t: by_row.concatenate(t.shape[1:]), initial_state),
              by_row, by_row, by_row, tf.TensorShape([None, None]), tf.TensorShape([None, None]), by_row)
    *_, tokens, scores = tf.while_loop(
        lambda step, _s, _r, _l, finished, *_: (step < limit) & ~tf.reduce_all(finished), body, start,
        shape_invariants=shapes,
    )
    return tokens, scores


def coverage_penalty(coverage, beta: float):
    """GNMT's cp = beta * sum_j log(min(sum_t alpha_tj, 1)) for coverage [n, S] (1 on padding): 0 when every source
    token received at least its whole share of attention, very negative when one was left unread."""
    return beta * tf.reduce_sum(tf.math.log(tf.minimum(coverage, 1.0)), axis=-1)


def beam_search(step_fn, initial_state, max_lengths, start_id: int, end_id: int, beam_size: int,
                alpha: float = 0.0, n_best: int = 1, no_repeat_ngram: int = 0, end_score=None, carrying: bool = False):
    """Beam search with finished hypotheses kept apart and never extended. `alpha` may be a tensor, so that one
    graph serves every length penalty.

    initial_state: nest of [batch * beam, ...] (see `tile_beams`); max_lengths [batch].
    Returns (tokens [batch, n_best, L], scores [batch, n_best]); a score is the
    sum of log-probabilities divided by the length penalty (alpha, GNMT), plus
    `end_score(state)` [n] of the state the hypothesis ended in, where given
    (`coverage_penalty`; WholeWords.end_score); both apply only when ranking
    finished hypotheses. end_score must never be positive: a sentence is done
    once none of its live hypotheses can beat its n-best finished ones, bounding
    it by 0.

    `carrying`: the state holds everything per sentence the step and end_score read (as greedy_search needs),
    so that done sentences leave the computed rows once they are half of them: a batch's search runs until its
    slowest sentence is done, and a step costs nearly in proportion to its rows.
    """
    k = beam_size
    batch = tf.shape(max_lengths)[0]
    limit = tf.reduce_max(max_lengths)

    def body(step, rows, limits, alive_seq, alive_log_probs, state, finished_seq, finished_scores, out):
        m = tf.shape(rows)[0]
        history = tf.reshape(alive_seq, [m * k, -1])
        logits, state = step_fn(history[:, -1], state)
        log_probs = logits - tf.reduce_logsumexp(logits, axis=-1, keepdims=True)
        log_probs = _constrained(log_probs, history, step, tf.repeat(limits, k), end_id, no_repeat_ngram)
        vocab = tf.shape(log_probs)[-1]
        candidates = tf.reshape(alive_log_probs[:, :, None] + tf.reshape(log_probs, [m, k, vocab]), [m, -1])
        top_log_probs, top_index = tf.math.top_k(candidates, k=2 * k)  # 2k: at most k of them end
        top_beam, top_token = top_index // vocab, top_index % vocab
        top_seq = tf.concat([tf.gather(alive_seq, top_beam, batch_dims=1), top_token[:, :, None]], axis=-1)
        ended = tf.equal(top_token, end_id)
        ranked = top_log_probs / length_penalty(step + 1, alpha)
        if end_score is not None:  # of the parent's state, after the step that ends it
            ranked += tf.gather(tf.reshape(end_score(state), [m, k]), top_beam, batch_dims=1)

        # alive: the best k that did not end
        alive_log_probs, keep = tf.math.top_k(tf.where(ended, NEG_INF, top_log_probs), k=k)
        alive_seq = tf.gather(top_seq, keep, batch_dims=1)
        parents = tf.reshape(tf.gather(top_beam, keep, batch_dims=1) + tf.range(m)[:, None] * k, [-1])
        state = tf.nest.map_structure(lambda t: tf.gather(t, parents), state)

        # finished: the best k among those kept so far and those that just ended
        new_scores = tf.where(ended, ranked, NEG_INF)
        finished_seq = tf.concat([finished_seq, tf.fill([m, k, 1], end_id)], axis=-1)
        merged_seq = tf.concat([finished_seq, top_seq], axis=1)
        finished_scores, keep = tf.math.top_k(tf.concat([finished_scores, new_scores], axis=1), k=k)
        finished_seq = tf.gather(merged_seq, keep, batch_dims=1)

        per_sentence = (rows, limits, alive_seq, alive_log_probs, state, finished_seq, finished_scores)
        if carrying:
            live = tf.reshape(tf.where(~_done(step + 1, limits, alive_log_probs, finished_scores)), [-1])
            per_sentence, out = tf.cond(2 * tf.size(live) <= m,
                                        lambda: (_rows(per_sentence, live, k), _written(out, per_sentence, end_id)),
                                        lambda: (per_sentence, out))
        return (step + 1, *per_sentence, out)

    def should_continue(step, rows, limits, alive_seq, alive_log_probs, state, finished_seq, finished_scores, out):
        return ~tf.reduce_all(_done(step, limits, alive_log_probs, finished_scores))

    def _done(step, limits, alive_log_probs, finished_scores):
        """[m] whether each sentence's n best finished hypotheses are final: its limit is reached, or none of its
        live hypotheses can beat them (alpha may be a tensor, >= 0: the penalty at the sentence's limit is the
        largest it can get)."""
        best_possible = alive_log_probs[:, 0] / length_penalty(limits, alpha)
        return (step >= limits) | (finished_scores[:, n_best - 1] >= best_possible)

    out = (tf.fill([batch, k, limit + 1], end_id), tf.fill([batch, k], NEG_INF))  # where done sentences are put
    start = (tf.constant(0), tf.range(batch), max_lengths, tf.fill([batch, k, 1], start_id),
             tf.tile(tf.concat([[0.0], tf.fill([k - 1], NEG_INF)], 0)[None, :], [batch, 1]), initial_state,
             tf.fill([batch, k, 1], start_id), tf.fill([batch, k], NEG_INF), out)
    by_row = tf.TensorShape([None])
    shapes = (tf.TensorShape([]), by_row, by_row, tf.TensorShape([None, k, None]), tf.TensorShape([None, k]),
              tf.nest.map_structure(lambda t: by_row.concatenate(t.shape[1:]), initial_state),
              tf.TensorShape([None, k, None]), tf.TensorShape([None, k]),
              (tf.TensorShape([None, k, None]), tf.TensorShape([None, k])))
    steps, *per_sentence, out = tf.while_loop(should_continue, body, start, shape_invariants=shapes)
    tokens, scores = _written(out, per_sentence, end_id)
    return tokens[:, :n_best, 1 : steps + 1], scores[:, :n_best]


def _rows(per_sentence, live, k: int):
    """The per-sentence loop variables of beam_search (the state per beam) at the sentences `live` only."""
    rows, limits, alive_seq, alive_log_probs, state, finished_seq, finished_scores = per_sentence
    beams = tf.reshape(live[:, None] * k + tf.range(k, dtype=live.dtype)[None, :], [-1])
    return (*(tf.gather(t, live) for t in (rows, limits, alive_seq, alive_log_probs)),
            tf.nest.map_structure(lambda t: tf.gather(t, beams), state),
            tf.gather(finished_seq, live), tf.gather(finished_scores, live))


def _written(out, per_sentence, end_id: int):
    """The output (tokens [batch, k, limit + 1], scores [batch, k]) with the finished hypotheses of beam_search's
    sentences `per_sentence` written in at their rows, padded with END."""
    (tokens, scores), (rows, *_, finished_seq, finished_scores) = out, per_sentence
    padded = tf.pad(finished_seq, [[0, 0], [0, 0], [0, tf.shape(tokens)[-1] - tf.shape(finished_seq)[-1]]],
                    constant_values=end_id)
    return (tf.tensor_scatter_nd_update(tokens, rows[:, None], padded),
            tf.tensor_scatter_nd_update(scores, rows[:, None], finished_scores))
