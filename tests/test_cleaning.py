"""Corpora as they come (data/cleaning.py): Moses-tokenized text made plain, misaligned pairs dropped; and the
typing noise training adds to sources (data/noise.py)."""

import numpy as np
import pandas as pd
import pytest

from translator.config import CorpusFormat
from translator.data.cleaning import (detokenize, looks_moses_tokenized, outside_test_sets, plausible_lengths,
                                      sentence_key)
from translator.data.corpus import read_corpus
from translator.data.noise import add_typing_noise, keyboard_slip, typed, without_accents

MOSES_LINES = ("the world has been searching for historical analogies , they said .\t¿ 1929 o 1989 ?\n"
               "it &apos;s a &quot; crisis &quot; ( a big one ) .\tes una &quot; crisis &quot; ( grande ) .\n")


def test_moses_text_is_made_plain():
    plain = detokenize(pd.Series(["it &apos;s a &quot; crisis &quot; ( a big one ) .", "¿ 1929 o 1989 ?"]), "en")
    assert list(plain) == ['it\'s a "crisis" (a big one).', "¿1929 o 1989?"]


def test_moses_tokenized_text_is_recognised_and_plain_text_is_not():
    assert looks_moses_tokenized(pd.Series(["the crisis , they said .", "what now ?", "no ."]))
    plain = ["The crisis, they said.", "What now?", "Is 3 . 5 right?", "No.", "Fine (really).", "Go on!"]
    assert not looks_moses_tokenized(pd.Series(plain))  # one odd line in six is not a tokenized file


def test_a_moses_corpus_is_read_as_plain_text_unless_told_not_to(write):
    path = write("nc.tsv", MOSES_LINES)
    corpus = read_corpus(path)
    assert corpus.detokenized and "detokenized" in corpus.summary()
    assert corpus.pairs["target"].tolist() == ["¿1929 o 1989?", 'es una "crisis" (grande).']
    kept = read_corpus(path, CorpusFormat(detokenize="off"))
    assert not kept.detokenized and kept.pairs["target"][0] == "¿ 1929 o 1989 ?"


def test_a_plain_corpus_is_left_as_it_is(write):
    corpus = read_corpus(write("plain.tsv", "Go.\tVe.\nIt's \"fine\" (really).\tEstá \"bien\" (de verdad).\n"))
    assert not corpus.detokenized and corpus.pairs["source"][1] == 'It\'s "fine" (really).'


def test_length_ratio_drops_misaligned_pairs_but_not_short_answers():
    pairs = pd.DataFrame({"source": ["Sí.", "Hola.", "El mercado cayó un diez por ciento en un solo día de pánico."],
                          "target": ["Yes, it is.", "Hello.", "Yes."]})
    assert plausible_lengths(pairs, 2.0).tolist() == [True, True, False]


def test_sentence_key_ignores_case_spacing_and_final_punctuation():
    assert sentence_key("¿Qué  haces?") == sentence_key("¿qué haces") != sentence_key("Qué hace")


def test_training_pairs_sharing_a_sentence_with_a_test_set_are_found():
    flores = (pytest.importorskip("translator").__path__[0] + "/testsets/flores101-devtest.eng-spa.tsv")
    english, spanish = open(flores, encoding="utf-8").readline().rstrip("\n").split("\t")
    pairs = pd.DataFrame({"source": [spanish.upper(), "Hola."], "target": ["something else", "Hello."]})
    assert outside_test_sets(pairs).tolist() == [False, True]


def test_accents_and_inverted_marks_go_as_on_an_english_keyboard():
    assert without_accents("¿Dónde está el niño? Pingüino") == "¿Donde esta el nino? Pinguino"


def test_a_keyboard_slip_changes_one_long_word_by_one_letter():
    rng = np.random.default_rng(3)
    for _ in range(50):
        slipped = keyboard_slip("Yo no sé dónde está mi teléfono", rng)
        changed = [(a, b) for a, b in zip("Yo no sé dónde está mi teléfono".split(), slipped.split()) if a != b]
        assert len(changed) <= 1
        for before, after in changed:
            assert len(before) >= 4 and abs(len(before) - len(after)) <= 1
    assert keyboard_slip("Yo sí.", rng) == "Yo sí."  # no word long enough


def test_noise_touches_about_its_share_of_sources_and_never_a_target():
    pairs = pd.DataFrame({"source": ["¿Dónde está mi teléfono móvil?"] * 2000, "target": ["Where is my phone?"] * 2000})
    noisy, changed = add_typing_noise(pairs, 0.3, seed=1)
    share = (noisy["source"] != pairs["source"]).mean()
    assert changed == (noisy["source"] != pairs["source"]).sum() and 0.2 < share < 0.3
    assert (noisy["target"] == pairs["target"]).all()
    again, _ = add_typing_noise(pairs, 0.3, seed=1)
    assert again.equals(noisy)
    assert typed("Hola.", np.random.default_rng(0)).strip()  # never empties a sentence
