"""Emoji, symbols, addresses, handles and hashtags kept as they are, in place (entities/verbatim.py)."""

import pytest

from translator.decoding.translation import Translation, translate_lines
from translator.entities.verbatim import Verbatim, mask_verbatim


@pytest.mark.parametrize("text, core, before, after", [
    ("Estoy muy feliz hoy 😊", "Estoy muy feliz hoy", "", " 😊"),
    ("😊😊 Hola.", "Hola.", "😊😊 ", ""),
    ("#viernes ¡Qué bien! 👍🏽", "¡Qué bien!", "#viernes ", " 👍🏽"),
    ("👍", "", "👍", ""),
    ("Hola.", "Hola.", "", ""),
])
def test_spans_around_a_line_are_cut_off_and_put_back(text, core, before, after):
    masked = mask_verbatim(text, ("Tom",))
    assert (masked.core, masked.before, masked.after) == (core, before, after)
    assert masked.put_back(masked.core) == text


def test_spans_inside_a_line_become_surrogates_and_come_back():
    masked = mask_verbatim("Escríbeme a ana.garcia@example.com o visita https://example.com/precios?id=3.", ("Tom", "Mary"))
    assert masked.core == "Escríbeme a Tom o visita Mary."
    assert masked.put_back("Write to Tom or visit Mary.") == \
        "Write to ana.garcia@example.com or visit https://example.com/precios?id=3."
    assert mask_verbatim("Hola @pepe y Tom.", ("Tom", "Mary")).core == "Hola Mary y Tom."  # a surrogate not in the text


def test_translate_lines_searches_without_them_and_answers_with_them():
    searched = []

    def search_batch(texts):
        searched.extend(texts)
        return [Translation(text.replace("Hola", "Hello"), -1.0, [(text.replace("Hola", "Hello"), -1.0)])
                for text in texts]

    results = translate_lines(["Hola 😊", "👍", "Hola Tom, mira www.example.org/x ya"], search_batch,
                              lambda text: len(text.split()), 50, verbatim=Verbatim(("Mary",)))
    assert searched == ["Hola", "Hola Tom, mira Mary ya"]
    assert [r.text for r in results] == ["Hello 😊", "👍", "Hello Tom, mira www.example.org/x ya"]
