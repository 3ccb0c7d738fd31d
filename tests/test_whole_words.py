"""Whole names and numbers in search: a scripted model that mangles names, held to the source's spelling."""

import numpy as np
import pytest
import tensorflow as tf

from translator.decoding.search import beam_search, greedy_search, tile_beams
from translator.data.text import RESERVED_TOKENS
from translator.decoding.whole_words import WholeWords

VOCAB = RESERVED_TOKENS + [".", "in", "we", "Rey", "##kja", "##vik", "##kk", "Inform", "##ation", "##ación", "4",
                           "##5", "##0", "##s", "¿⁀"]
ID = {token: i for i, token in enumerate(VOCAB)}
START, END = ID["[START]"], ID["[END]"]

# what the scripted model prefers after each token (the rest of the mass spread thinly)
PREFERS = {"[START]": "in", "in": "Rey", "Rey": "##kja", "##kja": "##kk", "##kk": ".", "##vik": "##s",
           "##s": ".", ".": "[END]", "we": "Inform", "Inform": "##ation", "##ation": ".", "##ación": ".",
           "4": "##5", "##5": "[END]", "##0": "##0", "¿⁀": "Rey"}


def scripted_step(whole_words, source_ids, start_with=None):
    """A Markov step over VOCAB (PREFERS, else "."; `start_with` replaces the first choice), held by `whole_words` as
    Seq2Seq's search step holds a model's: `follow` the token fed, then `constrain` the next."""
    table = np.full((len(VOCAB), len(VOCAB)), 0.01)
    table[:, ID["."]] = 0.05  # everywhere the second choice
    for previous, token in (PREFERS | ({"[START]": start_with} if start_with else {})).items():
        table[ID[previous], ID[token]] = 0.9
    log_table = tf.math.log(tf.constant(table / table.sum(1, keepdims=True), tf.float32))

    def step(tokens, state):
        logits = tf.gather(log_table, tokens)
        if whole_words is None:
            return logits, state
        words = whole_words.follow(state["words"], tokens, state["source"])
        return whole_words.constrain(logits, words, state["source"]), {**state, "words": words}

    return step


def ids(*sentences):
    rows = [[START] + [ID[t] for t in s.split()] + [END] for s in sentences]
    width = max(map(len, rows))
    return tf.constant([row + [0] * (width - len(row)) for row in rows], tf.int32)


def greedy(source, whole=True, start_with=None):
    whole_words = WholeWords(VOCAB) if whole else None
    state = {"source": source, "words": whole_words.start(source) if whole else tf.zeros([1])}
    tokens, _ = greedy_search(scripted_step(whole_words, source, start_with), state,
                              tf.fill([tf.shape(source)[0]], 12), START, END)
    return [" ".join(VOCAB[i] for i in row if i != END) for row in tokens.numpy()]


def test_a_name_the_model_starts_to_copy_is_finished_as_the_source_spells_it():
    source = ids("we in Rey ##kja ##vik .")
    assert greedy(source, whole=False) == ["in Rey ##kja ##kk ."]
    assert greedy(source) == ["in Rey ##kja ##vik ."]  # and no piece added after it (PREFERS: ##vik -> ##s)


def test_a_number_keeps_every_digit():
    source = ids("in 4 ##5 ##0 ##0")
    assert greedy(source, whole=False, start_with="4") == ["4 ##5"]
    assert greedy(source, start_with="4") == ["4 ##5 ##0 ##0 ."]  # not ended early; no digit added (##0 -> ##0)


def test_a_sentence_initial_word_binds_only_after_two_pieces():
    # "Inform" at the start of the source: the English "Inform ##ation" is not held to "Inform ##ación"
    assert greedy(ids("Inform ##ación ."), start_with="we") == ["we Inform ##ation ."]
    assert greedy(ids("Rey ##kja ##vik ."), start_with="Rey") == ["Rey ##kja ##vik ."]  # two pieces: bound
    assert greedy(ids("¿⁀ Rey ##kja ##vik ."), start_with="Rey") == ["Rey ##kja ##vik ."]  # after an opener too


def test_words_that_are_not_names_or_numbers_never_bind():
    whole_words = WholeWords(VOCAB)
    needed = whole_words.needed(ids("we in Rey ##kja 4 ##5 . Inform ##ación")).numpy()[0]
    assert needed.tolist() == [0, 0, 0, 1, 0, 1, 0, 0, 2, 0, 0]


@pytest.mark.parametrize("beam", [1, 3])
def test_each_sentence_is_held_to_its_own_source_alone_or_in_a_batch(beam):
    sources = ids("in Rey ##kja ##vik .", "in Rey ##kja ##kk .", "we 4 ##5 ##0")
    whole_words = WholeWords(VOCAB)

    def run(source):
        state = {"source": tile_beams(source, beam), "words": whole_words.start(tile_beams(source, beam))}
        tokens, _ = beam_search(scripted_step(whole_words, source), state, tf.fill([tf.shape(source)[0]], 12),
                                START, END, beam_size=beam)
        return [" ".join(VOCAB[i] for i in row if i != END) for row in tokens.numpy()[:, 0]]

    together = run(sources)
    assert together[:2] == ["in Rey ##kja ##vik .", "in Rey ##kja ##kk ."]  # the second source spells it so
    assert together == [run(sources[i : i + 1])[0] for i in range(3)]


def test_a_beam_ranks_a_hypothesis_that_left_out_a_name_or_number_lower():
    """START -> we (0.55) . END, or START -> Rey ##kja ##vik . END (0.45): the likelier one leaves the name out."""
    table = np.full((len(VOCAB), len(VOCAB)), 1e-6)
    for previous, nexts in {"[START]": {"we": 0.55, "Rey": 0.45}, "we": {".": 1.0}, "Rey": {"##kja": 1.0},
                            "##kja": {"##vik": 1.0}, "##vik": {".": 1.0}, ".": {"[END]": 1.0}}.items():
        for token, p in nexts.items():
            table[ID[previous], ID[token]] = p
    log_table = tf.math.log(tf.constant(table, tf.float32))
    whole_words = WholeWords(VOCAB)

    def best(source, with_end_score):
        source = tile_beams(source, 2)

        def step(tokens, state):
            return tf.gather(log_table, tokens), {**state, "words": whole_words.follow(state["words"], tokens, source)}

        end_score = (lambda state: whole_words.end_score(state["words"], source)) if with_end_score else None
        tokens, _ = beam_search(step, {"words": whole_words.start(source)}, tf.constant([8]), START, END,
                                beam_size=2, end_score=end_score)
        return " ".join(VOCAB[i] for i in tokens.numpy()[0, 0] if i != END)

    named = ids("in Rey ##kja ##vik .")
    assert best(named, False) == "we ."
    assert best(named, True) == "Rey ##kja ##vik ."  # log 0.45 > log 0.55 - 1
    assert best(ids("in we ."), True) == "we ."  # no name to leave out
    assert whole_words.missing(whole_words.start(ids("in Rey ##kja 4 ##5 . Inform ##ación")),
                               ids("in Rey ##kja 4 ##5 . Inform ##ación")).numpy().tolist() == [3.0]
