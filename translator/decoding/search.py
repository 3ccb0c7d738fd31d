"""Greedy and beam search, in-graph, over a step function; no model code here.

A step function maps (tokens [n], state) -> (logits [n, vocab], new state),
where `state` is a nest of tensors whose first axis is n. The search decides
which hypotheses live; the caller decides what a step computes. Constants of
a sentence (encoder memory, attention keys) are tiled once per beam with
`tile_beams` and never gathered per step: they travel in the state (a dict
state's CONSTANTS entry), gathered only when finished sentences leave the
computed rows (greedy_search, and beam_search with `carrying`), or live in
the step function's closure.

Every sentence has its own length limit `max_lengths[b]`: at that step only
the end token may follow, so a sentence's output never depends on which other
sentences share its batch. With `no_repeat_ngram` n > 0, a token that would
complete an n-gram already in the hypothesis is never chosen (Hugging Face's
`no_repeat_ngram_size`), which stops degenerate loops ("ff ff ff ...").

Hypotheses are token buffers as wide as the longest limit allows (START, then
END until written), filled a column a step, and every constraint is computed
with static shapes (no `tf.where` of indices), so that, given `steps`, a whole
search compiles under XLA (inference.py uses it for a few sentences at a time).
"""

from __future__ import annotations

import tensorflow as tf

NEG_INF = -1e9
CONSTANTS = "prepared"  # a dict state's entry of per-sentence constants (Seq2Seq.initial_state's, with carrying)


def tile_beams(tree, beam_size: int):
    """[batch, ...] -> [batch * beam, ...], each sentence repeated beam_size times in a row."""
    return tf.nest.map_structure(lambda t: tf.repeat(t, beam_size, axis=0), tree)


def length_penalty(length, alpha: float):
    """GNMT's ((5 + length) / 6) ** alpha; 1 when alpha is 0."""
    return tf.pow((5.0 + tf.cast(length, tf.float32)) / 6.0, alpha)


def with_column(buffer, column, values):
    """Token buffers [..., width] with `values` [...] written at `column` (a scalar tensor)."""
    return tf.where(tf.equal(tf.range(tf.shape(buffer)[-1]), column), values[..., None], buffer)


def start_buffer(shape, width, start_id: int, end_id: int):
    """Token buffers [*shape, width]: START in column 0, END after it (where a search writes its tokens)."""
    return with_column(tf.fill(tf.concat([shape, [width]], 0), end_id), 0, tf.fill(shape, start_id))


def repeated_ngrams(history, length, ngram: int):
    """(followers [n, W], repeats [n, W] bool) for token buffers history [n, width] whose first `length` columns
    are written: window w's n - 1 tokens are followed by followers[:, w], and `repeats` holds where they equal the
    history's last n - 1 tokens, so that appending that follower would repeat the window's n-gram. Every shape
    is static given the buffer's, so that XLA can compile it."""
    windows = tf.range(tf.shape(history)[1] - ngram + 1)
    prefixes = tf.gather(history, windows[:, None] + tf.range(ngram - 1)[None, :], axis=1)  # [n, W, ngram - 1]
    last = tf.gather(history, tf.maximum(length - (ngram - 1), 0) + tf.range(ngram - 1), axis=1)
    followers = tf.gather(history, windows + ngram - 1, axis=1)
    written = windows + ngram <= length  # the window and its follower lie in the written columns
    return followers, tf.reduce_all(tf.equal(prefixes, last[:, None, :]), axis=-1) & written[None, :]


def token_mask(tokens, where, vocab_size):
    """[n, vocab] bool: True at tokens[i, j] (ids [n, W]) for the (i, j) where `where` [n, W] holds."""
    rows = tf.broadcast_to(tf.range(tf.shape(tokens)[0])[:, None], tf.shape(tokens))
    indices = tf.reshape(tf.stack([rows, tokens], axis=-1), [-1, 2])
    marks = tf.zeros(tf.stack([tf.shape(tokens)[0], vocab_size]), tf.int32)
    return tf.tensor_scatter_nd_max(marks, indices, tf.reshape(tf.cast(where, tf.int32), [-1])) > 0


def _constrained(scores, history, step, max_lengths, end_id, no_repeat_ngram):
    """Step scores [n, vocab] (logits or log-probabilities) with NEG_INF where a token would repeat an n-gram
    (END never) and, at and past a sentence's limit, everywhere but END; history [n, width] holds START and the
    `step` tokens chosen so far. Each costs a pass over the vocabulary only at the steps where it bans
    something, which most steps do not."""
    vocab_size = tf.shape(scores)[-1]
    if no_repeat_ngram:
        followers, repeats = repeated_ngrams(history, step + 1, no_repeat_ngram)
        repeats &= tf.not_equal(followers, end_id)
        scores = tf.cond(tf.reduce_any(repeats),
                         lambda: tf.where(token_mask(followers, repeats, vocab_size), NEG_INF, scores),
                         lambda: scores)
    at_limit = step + 1 >= max_lengths
    only_end = tf.equal(tf.range(vocab_size), end_id)[None, :]
    return tf.cond(tf.reduce_any(at_limit),
                   lambda: tf.where(at_limit[:, None] & ~only_end, NEG_INF, scores), lambda: scores)


def greedy_search(step_fn, initial_state, max_lengths, start_id: int, end_id: int, no_repeat_ngram: int = 0,
                  steps: int | None = None):
    """The most likely token at each step. Returns (tokens [batch, L] padded with END, scores [batch]).

    The argmax reads the logits: a token's log-probability, logit - logsumexp(logits), is computed for the
    chosen one only (a log-softmax over the vocabulary every step cost more than the argmax itself).

    Sentences that have ended leave the computed rows once they are a quarter of them: a batch runs as long as
    its longest output, about twice its median, and a step costs nearly in proportion to its rows. For that
    the state must hold everything per sentence the step reads (`Seq2Seq.carrying_step_function`); the
    rows are gathered at most log(batch) / log(4/3) times (docs/performance.md).

    `steps`: a static bound on the steps (at least max(max_lengths)) for a search that XLA can compile: every
    tensor keeps its shape, so no row leaves, and L is `steps`.
    """
    batch = tf.shape(max_lengths)[0]
    compact = steps is None
    limit = tf.reduce_max(max_lengths) if compact else steps

    def body(step, state, rows, limits, finished, history, scores, out):
        logits, state = step_fn(tf.gather(history, step, axis=1), state)
        normalizer = tf.reduce_logsumexp(logits, axis=-1)
        constrained = _constrained(logits, history, step, limits, end_id, no_repeat_ngram)
        chosen = tf.where(finished, end_id, tf.argmax(constrained, axis=-1, output_type=tf.int32))
        scores += tf.where(finished, 0.0, tf.gather(logits, chosen, batch_dims=1) - normalizer)
        history = with_column(history, step + 1, chosen)
        finished |= tf.equal(chosen, end_id)
        per_row = (state, rows, limits, finished, history, scores)
        if compact:
            live = tf.reshape(tf.where(~finished), [-1])
            per_row, out = tf.cond(4 * tf.size(live) <= 3 * tf.size(rows),
                                   lambda: (tf.nest.map_structure(lambda t: tf.gather(t, live), per_row),
                                            _written(out, rows, history, scores)),
                                   lambda: (per_row, out))
        return (step + 1, *per_row, out)

    rows = tf.range(batch)
    history = start_buffer([batch], limit + 1, start_id, end_id)
    start = (tf.constant(0), initial_state, rows, max_lengths, tf.zeros([batch], tf.bool), history,
             tf.zeros([batch]), (history, tf.zeros([batch])))
    by_row, by_row_and_step = tf.TensorShape([None]), tf.TensorShape([None, None])
    shapes = (tf.TensorShape([]), tf.nest.map_structure(lambda t: by_row.concatenate(t.shape[1:]), initial_state),
              by_row, by_row, by_row, by_row_and_step, by_row, (by_row_and_step, by_row))
    taken, _, rows, _, _, history, scores, out = tf.while_loop(
        lambda step, _s, _r, _l, finished, *_: (step < limit) & ~tf.reduce_all(finished), body, start,
        shape_invariants=shapes,
    )
    tokens, scores = _written(out, rows, history, scores)
    return (tokens[:, 1 : taken + 1] if compact else tokens[:, 1:]), scores


def _written(out, rows, sequences, scores):
    """A search's output (tokens [batch, ..., width], scores [batch, ...]) with the sentences at `rows` written in:
    their token buffers `sequences` and `scores` (greedy: one hypothesis each; beam: the finished k)."""
    tokens, written_scores = out
    return (tf.tensor_scatter_nd_update(tokens, rows[:, None], sequences),
            tf.tensor_scatter_nd_update(written_scores, rows[:, None], scores))


TOP_K_BLOCK = 128  # columns per block in top_k_by_blocks


def top_k_by_blocks(scores, k: int, block: int = TOP_K_BLOCK):
    """tf.math.top_k(scores [n, width], k): the same values, the k largest of each row, and their column indices,
    read from the k blocks of `block` columns whose maxima are largest.

    Those k blocks hold the row's k largest values: a value in any other block is at most its block's maximum,
    which each of the k chosen blocks' maxima reach, so k values at least as large are chosen. TensorFlow's
    CPU TopK walks a row element by element; a block's maximum is a vectorised reduction, and faster. Among
    equal values the order may differ from TopK's (lower index first): a row's result still depends on that
    row alone. A row too narrow for 2k blocks (a small vocabulary) goes to TopK as it is.
    """
    width = scores.shape[-1]
    if width is None or width < 2 * k * block:
        return tf.math.top_k(scores, k=k)
    rows, blocks = tf.shape(scores)[0], -(-width // block)
    padded = tf.pad(scores, [[0, 0], [0, blocks * block - width]], constant_values=float("-inf"))
    by_block = tf.reshape(padded, [rows, blocks, block])
    _, best_blocks = tf.math.top_k(tf.reduce_max(by_block, axis=-1), k=k)  # [n, k]
    chosen = tf.reshape(tf.gather(by_block, best_blocks, batch_dims=1), [rows, k * block])
    values, within = tf.math.top_k(chosen, k=k)
    return values, tf.gather(best_blocks, within // block, batch_dims=1) * block + within % block


def coverage_penalty(coverage, beta: float):
    """GNMT's cp = beta * sum_j log(min(sum_t alpha_tj, 1)) for coverage [n, S] (1 on padding): 0 when every source
    token received at least its whole share of attention, very negative when one was left unread."""
    return beta * tf.reduce_sum(tf.math.log(tf.minimum(coverage, 1.0)), axis=-1)


def beam_search(step_fn, initial_state, max_lengths, start_id: int, end_id: int, beam_size: int,
                alpha: float = 0.0, n_best: int = 1, no_repeat_ngram: int = 0, end_score=None, carrying: bool = False,
                steps: int | None = None):
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
    so that done sentences leave the computed rows once they are a quarter of them: a batch's search runs until its
    slowest sentence is done, and a step costs nearly in proportion to its rows.

    `steps`: as greedy_search's (XLA; no rows leave, L is `steps`).
    """
    k = beam_size
    batch = tf.shape(max_lengths)[0]
    compact = carrying and steps is None
    limit = tf.reduce_max(max_lengths) if steps is None else steps

    def body(step, rows, limits, alive_seq, alive_log_probs, state, finished_seq, finished_scores, out):
        m = tf.shape(rows)[0]
        history = tf.reshape(alive_seq, [m * k, -1])
        logits, state = step_fn(tf.gather(history, step, axis=1), state)
        log_probs = logits - tf.reduce_logsumexp(logits, axis=-1, keepdims=True)
        log_probs = _constrained(log_probs, history, step, tf.repeat(limits, k), end_id, no_repeat_ngram)
        vocab = log_probs.shape[-1] or tf.shape(log_probs)[-1]  # static where known: top_k_by_blocks needs it
        candidates = tf.reshape(alive_log_probs[:, :, None] + tf.reshape(log_probs, [m, k, vocab]), [m, k * vocab])
        top_log_probs, top_index = top_k_by_blocks(candidates, 2 * k)  # 2k: at most k of them end
        top_beam, top_token = top_index // vocab, top_index % vocab
        top_seq = with_column(tf.gather(alive_seq, top_beam, batch_dims=1), step + 1, top_token)
        ended = tf.equal(top_token, end_id)
        ranked = top_log_probs / length_penalty(step + 1, alpha)
        if end_score is not None:  # of the parent's state, after the step that ends it
            ranked += tf.gather(tf.reshape(end_score(state), [m, k]), top_beam, batch_dims=1)

        # alive: the best k that did not end
        alive_log_probs, keep = tf.math.top_k(tf.where(ended, NEG_INF, top_log_probs), k=k)
        alive_seq = tf.gather(top_seq, keep, batch_dims=1)
        parents = tf.reshape(tf.gather(top_beam, keep, batch_dims=1) + tf.range(m)[:, None] * k, [-1])
        state = _of_parents(state, parents)

        # finished: the best k among those kept so far and those that just ended
        new_scores = tf.where(ended, ranked, NEG_INF)
        merged_seq = tf.concat([finished_seq, top_seq], axis=1)
        finished_scores, keep = tf.math.top_k(tf.concat([finished_scores, new_scores], axis=1), k=k)
        finished_seq = tf.gather(merged_seq, keep, batch_dims=1)

        per_sentence = (rows, limits, alive_seq, alive_log_probs, state, finished_seq, finished_scores)
        if compact:
            live = tf.reshape(tf.where(~_done(step + 1, limits, alive_log_probs, finished_scores)), [-1])
            per_sentence, out = tf.cond(
                4 * tf.size(live) <= 3 * m,
                lambda: (_rows(per_sentence, live, k), _written(out, rows, finished_seq, finished_scores)),
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

    sequences = start_buffer([batch, k], limit + 1, start_id, end_id)
    out = (sequences, tf.fill([batch, k], NEG_INF))  # where done sentences are put
    start = (tf.constant(0), tf.range(batch), max_lengths, sequences,
             tf.tile(tf.concat([[0.0], tf.fill([k - 1], NEG_INF)], 0)[None, :], [batch, 1]), initial_state,
             sequences, tf.fill([batch, k], NEG_INF), out)
    by_row, by_beam_and_step = tf.TensorShape([None]), tf.TensorShape([None, k, None])
    shapes = (tf.TensorShape([]), by_row, by_row, by_beam_and_step, tf.TensorShape([None, k]),
              tf.nest.map_structure(lambda t: by_row.concatenate(t.shape[1:]), initial_state),
              by_beam_and_step, tf.TensorShape([None, k]), (by_beam_and_step, tf.TensorShape([None, k])))
    taken, *per_sentence, out = tf.while_loop(should_continue, body, start, shape_invariants=shapes)
    rows, *_, finished_seq, finished_scores = per_sentence
    tokens, scores = _written(out, rows, finished_seq, finished_scores)
    return (tokens[:, :n_best, 1 : taken + 1] if steps is None else tokens[:, :n_best, 1:]), scores[:, :n_best]


def _of_parents(state, parents):
    """The state of the beams `parents` (each of its own sentence). A dict state's CONSTANTS entry is the same for
    every beam of a sentence, so it stays as it is: gathering a sentence's encoder memory and keys anew every step
    cost a tenth of a beam search's time."""
    if isinstance(state, dict) and CONSTANTS in state:
        changing = {key: value for key, value in state.items() if key != CONSTANTS}
        return {**tf.nest.map_structure(lambda t: tf.gather(t, parents), changing), CONSTANTS: state[CONSTANTS]}
    return tf.nest.map_structure(lambda t: tf.gather(t, parents), state)


def _rows(per_sentence, live, k: int):
    """The per-sentence loop variables of beam_search (the state per beam) at the sentences `live` only."""
    rows, limits, alive_seq, alive_log_probs, state, finished_seq, finished_scores = per_sentence
    beams = tf.reshape(live[:, None] * k + tf.range(k, dtype=live.dtype)[None, :], [-1])
    return (*(tf.gather(t, live) for t in (rows, limits, alive_seq, alive_log_probs)),
            tf.nest.map_structure(lambda t: tf.gather(t, beams), state),
            tf.gather(finished_seq, live), tf.gather(finished_scores, live))
