"""Input in capitals or all in lower case (entities/case.py): truecased for the model, given back in its case."""

from translator.decoding.translation import Translation, translate_lines
from translator.entities.case import LOWER, NORMAL, UPPER, Truecaser, case_pattern, in_pattern

TRUECASER = Truecaser.from_names({"María": 40, "MARÍA": 1, "Madrid": 30, "ONU": 12})


def test_case_patterns():
    assert case_pattern("¡NO TOQUES ESO!") == UPPER
    assert case_pattern("hola, que tal") == LOWER
    assert case_pattern("Hola, María.") == NORMAL
    assert case_pattern("A.") == NORMAL  # one capital letter is no pattern
    assert case_pattern("123 !") == NORMAL


def test_truecasing_keeps_names_and_acronyms_and_starts_sentences_with_a_capital():
    assert TRUECASER.truecase("VIVO EN MADRID CON MARÍA. ¿Y TÚ?") == "Vivo en Madrid con María. ¿Y tú?"
    assert TRUECASER.truecase("¡la onu dice que no!") == "¡La ONU dice que no!"
    assert TRUECASER.truecase("«NO» 5 VECES") == "«No» 5 veces"


def test_a_line_in_capitals_is_searched_truecased_and_answered_in_capitals():
    searched = []

    def search_batch(texts):
        searched.extend(texts)
        return [Translation(text.replace("Vivo en", "I live in"), -1.0, [(text, -1.0)]) for text in texts]

    results = translate_lines(["VIVO EN MADRID.", "vivo en madrid", "Vivo en MADRID."], search_batch,
                              lambda text: len(text.split()), 50, truecaser=TRUECASER)
    assert searched == ["Vivo en Madrid.", "Vivo en Madrid", "Vivo en MADRID."]
    assert [r.text for r in results] == ["I LIVE IN MADRID.", "i live in madrid", "I live in MADRID."]
    assert results[0].alternatives[0][0] == in_pattern("Vivo en Madrid.", UPPER)
