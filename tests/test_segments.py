"""Lines of several sentences, and sentences over the maximum length, as pieces to translate and back."""

import pytest

from translator.decoding.segments import segment, split_sentences


def words(text):
    return len(text.split())


@pytest.mark.parametrize("line,pieces", [
    ("Hace frío. ¿Quieres un café? Yo sí.", ["Hace frío.", "¿Quieres un café?", "Yo sí."]),
    ("¡Quédense quietos! El bebé está durmiendo.", ["¡Quédense quietos!", "El bebé está durmiendo."]),
    ('"¿Ella juega tenis?" "Sí."', ['"¿Ella juega tenis?"', '"Sí."']),
    ("«¡Protesto!» «Se admite.»", ["«¡Protesto!»", "«Se admite.»"]),
    ("Tengo 3.5 kilos. 20 personas vinieron.", ["Tengo 3.5 kilos.", "20 personas vinieron."]),
    ("El Sr. García llegó tarde.", ["El Sr. García llegó tarde."]),  # an abbreviation
    ("Vi a J. K. Rowling ayer.", ["Vi a J. K. Rowling ayer."]),  # initials
    ("Es tarde. y me voy.", ["Es tarde. y me voy."]),  # no capital: not a new sentence
    ("Hola", ["Hola"]),
])
def test_sentences_are_split_where_a_new_one_starts(line, pieces):
    assert split_sentences(line).pieces == pieces


def test_joining_keeps_the_original_spacing():
    line = "Hola.  Adiós!\tGracias."
    segmented = segment(line, words, max_length=50)
    assert segmented.pieces == ["Hola.", "Adiós!", "Gracias."]
    assert segmented.join(segmented.pieces) == line
    assert segmented.join(["Hello.", "Bye!", "Thanks."]) == "Hello.  Bye!\tThanks."


def test_a_long_sentence_is_cut_after_clauses_into_the_fewest_pieces_that_fit():
    line = "uno dos, tres cuatro, cinco seis; siete ocho: nueve diez"
    segmented = segment(line, words, max_length=4)
    assert segmented.pieces == ["uno dos, tres cuatro,", "cinco seis; siete ocho:", "nueve diez"]
    assert all(words(piece) <= 4 for piece in segmented.pieces)
    assert segmented.join(segmented.pieces) == line
    assert segment(line, words, max_length=10).pieces == [line]  # fits: left whole


def test_a_clause_longer_than_the_maximum_stays_whole():
    segmented = segment("una frase muy larga sin comas, fin", words, max_length=3)
    assert segmented.pieces == ["una frase muy larga sin comas,", "fin"]


def test_a_sentence_no_longer_in_characters_than_the_maximum_is_not_counted():
    counted = []

    def counting_words(text):
        counted.append(text)
        return words(text)

    assert segment("uno, dos", counting_words, max_length=8).pieces == ["uno, dos"]  # 8 characters: at most 8 tokens
    assert counted == []
    assert segment("uno, dos, tres", counting_words, max_length=2).pieces == ["uno, dos,", "tres"]
    assert counted  # longer than the maximum in characters: counted
