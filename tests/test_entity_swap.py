"""Entity swapping: names and numbers replaced by invented ones on both sides alike, in a share of the pairs."""

import pandas as pd
import pytest

from translator.config import TrainingConfig
from translator.entities.swap import swap_entities
from translator.errors import OptionError


def pairs(rows):
    return pd.DataFrame(rows, columns=["source", "target"]).assign(line=range(1, len(rows) + 1))


NAMED = [("Tom compró 500 manzanas en Boston.", "Tom bought 500 apples in Boston."),
         ("Vi a Tom ayer.", "I saw Tom yesterday."),
         ("María vive en Boston.", "Mary lives in Boston.")]


def test_every_entity_is_replaced_by_the_same_invented_one_on_both_sides():
    swapped, count = swap_entities(pairs(NAMED), share=1.0, seed=3)
    assert count == 3
    source, target = swapped.loc[0, "source"], swapped.loc[0, "target"]
    assert "Tom" not in source + target and "Boston" not in source + target and "500" not in source + target
    name, number = source.split()[0], source.split()[2]
    assert target.split()[0] == name and target.split()[2] == number  # the same on both sides
    assert name[0].isupper() and name.lower() not in " ".join(s + t for s, t in NAMED).lower()
    assert number.isdigit() and len(number) == 3 and number[0] != "0"  # as many digits, a real number
    assert swapped.loc[2, "source"].startswith("María")  # no entity: her name differs between the sides
    assert swapped["line"].tolist() == [1, 2, 3]


def test_a_capitalised_sentence_start_that_no_sentence_uses_as_a_name_is_kept():
    rows = [("No sé.", "No idea."), ("Tom no sabe.", "Tom doesn't know."), ("Vi a Tom.", "I saw Tom.")]
    swapped, count = swap_entities(pairs(rows), share=1.0, seed=1)
    assert swapped.loc[0, "source"] == "No sé." and count == 2  # "No" is no name; "Tom" is one inside a sentence


def test_the_share_and_the_seed_decide_which_pairs_change():
    many = pairs([(f"Tom tiene {n} años.", f"Tom is {n} years old.") for n in range(10, 1010)])
    swapped, count = swap_entities(many, share=0.3, seed=7)
    assert 250 <= count <= 350
    changed = (swapped["source"] != many["source"]).sum()
    assert changed == count
    again, _ = swap_entities(many, share=0.3, seed=7)
    assert again.equals(swapped)
    assert swap_entities(many, share=0.0, seed=7)[0] is many


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_a_share_outside_0_to_1_is_refused(share):
    with pytest.raises(OptionError, match="swap_entities"):
        TrainingConfig(swap_entities=share)
