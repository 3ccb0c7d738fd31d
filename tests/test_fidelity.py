"""Entity fidelity and repetition, on hand-made sentences."""

import pytest

from translator.entities.patterns import amounts, entities, holds
from translator.evaluation.fidelity import fidelity, repeats


def test_entities_are_the_names_and_numbers_the_reference_keeps():
    source = "Los Estados Unidos lanzaron una bomba sobre Hiroshima en 1945."
    reference = "The United States dropped a bomb on Hiroshima in 1945."
    assert entities(source, [reference]) == ["1945", "Hiroshima"]  # not "Los", "Estados", "Unidos"
    assert entities("El gato de Tom.", ["The cat is Tom's.", "Tom's cat."]) == ["Tom"]
    assert entities("María vive aquí.", ["Mary lives here."]) == []  # translated, not copied: no entity


def test_an_entity_counts_only_as_a_whole_word():
    assert holds("Tom's cat.", "Tom") and holds("in 1945.", "1945")
    assert not holds("A tomato.", "Tom") and not holds("Tomas came.", "Tom") and not holds("in 19455", "1945")


@pytest.mark.parametrize("output,expected", [
    ("Tom bought a camera.", False),
    ("no no no no", True),  # a token 4 times in a row
    ("I think that I think that it is.", True),  # a repeated 3-gram
    ("new reasons inffffffize.", True),  # a loop inside a word
    ("It's a good, good idea.", False),
    ("Look, look, look!", False),  # three times, punctuation between: not a loop
])
def test_repetition(output, expected):
    assert repeats(output) is expected


def test_fidelity_counts_sentences_that_keep_every_entity():
    sources = ["Tom compró una cámara por 500 dólares.", "Tom vino.", "Hace frío."]
    references = [["Tom bought a camera for $500."], ["Tom came."], ["It's cold."]]
    outputs = ["Tom bought a $300 camera.", "Tom came.", "It's cold cold cold cold."]
    report = fidelity(sources, references, outputs)
    assert report["entity_sentences"] == 2
    assert report["entity_fidelity"] == 0.5  # the first lost "500"
    assert report["entity_recall"] == 0.6667  # 2 of 3 entities
    assert report["entities_missed"][0]["missing"] == ["500"]
    assert report["repetition_rate"] == pytest.approx(0.3333)
    assert report["repeating"][0]["source"] == "Hace frío."


def test_an_amount_is_a_number_with_separators_as_the_reference_spells_its_digits():
    assert amounts("Pagué 1.250,50 euros y 3,5 más, a las 7:30.", ["I paid 1,250.50 euros and 3.5 more at 7:30."]) \
        == ["1,250.50", "3.5"]  # not 7 or 30: no separator
    assert amounts("Pesa 2,5 kilos.", ["It weighs two and a half kilos."]) == []  # no reference holds the digits
    assert amounts("Hay 1.000.", ["There are 1000.", "There are 1,000."]) == ["1000"]  # the first reference's


def test_amount_fidelity_wants_the_whole_number_where_entity_fidelity_took_its_digit_runs():
    sources, references = ["Pagué 1.250,50 euros.", "Cuesta 3,5."], [["I paid 1,250.50 euros."], ["It costs 3.5."]]
    report = fidelity(sources, references, ["I paid 1 1 250 50 50.", "It costs 3.5."])
    assert report["entity_fidelity"] == 1.0  # every digit run is there
    assert report["amounts"] == 2 and report["amount_fidelity"] == 0.5
