"""Number surrogates: numbers written with separators are translated as plain ones and put back as the target
writes numbers."""

import json
import shutil

import pandas as pd
import pytest

from tests.conftest import run_cli, translate_every_way
from translator.errors import ModelDirError
from translator.model.folder import RunDir
from translator.entities.numbers import MIN_GROUPED, NumberSurrogates, Quantity
from translator.entities.names import NameSurrogates, Replacement
from translator.decoding.translation import Translation, translate_lines


@pytest.mark.parametrize("spelling, quantity", [
    ("1.250,50", Quantity("1250", "50", True)),  # Spain: the last separator marks the decimals
    ("1,250.50", Quantity("1250", "50", True)),  # Mexico, English
    ("3,5", Quantity("3", "5", False)),  # once, before other than three digits: decimals
    ("2.75", Quantity("2", "75", False)),
    ("1250,5", Quantity("1250", "5", False)),
    ("1.000", Quantity("1000", None, True)),  # once, before three digits: thousands
    ("5,000", Quantity("5000", None, True)),
    ("3.200.000", Quantity("3200000", None, True)),
    ("12.345.678,9", Quantity("12345678", "9", True)),
    ("192.168.1.1", None),  # repeated, not in threes: no quantity
    ("1.2.3", None),
    ("1,2.3", None),
    ("1.234,5,6", None),  # two decimal separators
    ("1234.567.890", None),  # a first group of four
])
def test_a_number_is_read_by_where_its_separators_stand(spelling, quantity):
    assert Quantity.read(spelling) == quantity


def test_a_quantity_is_spelled_with_the_given_thousands_separator_and_the_other_for_decimals():
    assert Quantity("1250", "50", True).spelled(",") == "1,250.50"
    assert Quantity("1250", "50", True).spelled(".") == "1.250,50"
    assert Quantity("3200000", None, True).spelled(",") == "3,200,000"
    assert Quantity("1250", "5", False).spelled(",") == "1250.5"  # not grouped in the source: not grouped


def corpus_pairs(grouped_targets: int = MIN_GROUPED) -> pd.DataFrame:
    """Spanish -> English: 100 and 500 always copied, 10 mostly written as a word, 30 only in times."""
    pairs = [("Cuesta 100 yenes.", "It costs 100 yen.")] * 8 + [("Tengo 500 libros.", "I have 500 books.")] * 6
    pairs += [("Tengo 10 años.", "I'm ten.")] * 5 + [("Tengo 10 gatos.", "I have 10 cats.")] * 4
    pairs += [("Son las 7:30.", "It's 7:30.")] * 9
    pairs += [(f"Pagué {n}.000 yenes.", f"I paid {n},000 yen.") for n in range(2, 2 + grouped_targets)]
    return pd.DataFrame(pairs, columns=["source", "target"])


@pytest.fixture(scope="module")
def numbers() -> NumberSurrogates:
    return NumberSurrogates.learn(corpus_pairs())


def test_learns_surrogates_the_targets_copy_and_the_targets_thousands_separator(numbers):
    assert numbers.surrogates == ("100", "500")  # not 10 (a word in most targets), nor 30 (a time's minutes)
    assert numbers.target_thousands == ","
    assert NumberSurrogates.learn(corpus_pairs(MIN_GROUPED - 1)).target_thousands is None  # too few to tell


def test_a_number_with_separators_is_masked_and_put_back_as_the_target_writes_it(numbers):
    assert numbers.mask("Pagué 1.250,50 euros.") == ("Pagué 100 euros.", (Replacement("100", "1,250.50"),))
    assert numbers.mask("Cuesta 3,5 millones y 2.000.") == \
        ("Cuesta 100 millones y 500.", (Replacement("100", "3.5"), Replacement("500", "2,000")))
    assert numbers.mask("Nací en 1987; son las 7:30.") == ("Nací en 1987; son las 7:30.", ())  # plain: the model's


def test_a_surrogate_the_sentence_holds_is_skipped_and_numbers_beyond_the_surrogates_stay(numbers):
    masked, replacements = numbers.mask("De 100 a 1.250,5 y 2,5 y 3,5.")
    assert replacements == (Replacement("500", "1,250.5"),)
    assert masked == "De 100 a 500 y 2,5 y 3,5."
    assert numbers.mask("De 100 a 2.500.")[1] == ()  # 500 stands in 2.500 as a word: restoring it would change it


def test_without_a_learned_separator_a_number_comes_back_as_the_source_spells_it():
    numbers = NumberSurrogates(("100",), None)
    assert numbers.mask("Pagué 1.250,50 euros.") == ("Pagué 100 euros.", (Replacement("100", "1.250,50"),))
    assert NumberSurrogates(("100",), ",").mask("Ver 192.168.1.1.")[1] == (Replacement("100", "192.168.1.1"),)


def test_round_trips_through_json_and_refuses_a_foreign_separator(numbers):
    assert NumberSurrogates.from_json(json.loads(json.dumps(numbers.to_json()))) == numbers
    with pytest.raises(ValueError, match="target_thousands"):
        NumberSurrogates.from_json({"surrogates": ["100"], "target_thousands": ";"})


def test_lines_are_searched_with_names_and_numbers_masked_and_come_back_with_both(numbers):
    names = NameSurrogates(("Tom",), {"Tom": 30}, {"Tom": 30}, frozenset({"pagó"}))
    seen = []

    def english_search(texts):  # a "model" that writes the decimal comma the way English does not
        seen.extend(texts)
        return [Translation(t.replace("Pagó", "paid"), -1.0, [(t.replace("Pagó", "paid"), -1.0)]) for t in texts]

    result = translate_lines(["Nerys Pagó 1.250,50 euros."], english_search, lambda text: 4, 50, (names, numbers))
    assert seen == ["Tom Pagó 100 euros."]
    assert result[0].text == "Nerys paid 1,250.50 euros."


@pytest.mark.slow
def test_training_stores_the_numbers_and_a_damaged_file_is_named(toy_model, tmp_path):
    assert isinstance(RunDir(toy_model).load_number_surrogates(), NumberSurrogates)
    folder = tmp_path / "model"
    shutil.copytree(toy_model, folder)
    (folder / "numbers.json").write_text('{"surrogates": 3}')
    with pytest.raises(ModelDirError, match="numbers.json: damaged number surrogates"):
        RunDir(folder).load_number_surrogates()
    broken = run_cli("translate", "Hola.", "--model-dir", folder)
    assert broken.returncode == 2 and "numbers.json: damaged number surrogates" in broken.stderr
    assert "Traceback" not in broken.stderr


@pytest.mark.slow
def test_the_default_model_keeps_amounts_by_every_path(tmp_path, monkeypatch):
    sentences = ["Pagué 1.250,50 dólares.", "Cuesta 2,5 euros."]  # alone: "1,250,50,00 dollars", "2,5 e 5"
    first, cached, carried = translate_every_way(tmp_path, monkeypatch, *sentences)
    assert first.stdout == cached.stdout == carried.stdout
    paid, costs = first.stdout.splitlines()
    assert "1,250.50" in paid and "2.5" in costs
    alone = run_cli("translate", *sentences, "--no-number-surrogates")
    assert "1,250.50" not in alone.stdout.splitlines()[0]
