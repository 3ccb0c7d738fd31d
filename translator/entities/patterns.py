"""What a name and a number are, for every part of the project that handles them: the surrogates that stand
in for rare ones in translation, the swapping that invents them in training, and the fidelity metric that
checks them in outputs.

An entity of a source sentence is a digit string or a capitalised word that the other side (a reference, a
target) holds verbatim: the names and numbers a translation should carry over unchanged ("Tom", "Boston",
"1945"; not "El" at the start of a sentence, whose reference says "The"). An amount is a number written with
separators ("1.250,50"), compared by its digits whatever separators each side uses.
"""

from __future__ import annotations

import re

DIGITS = re.compile(r"\d+")
SEPARATED = re.compile(r"(?<![^\W_])\d+(?:[.,]\d+)+(?![^\W_])")  # a number written with separators
NUMBER = re.compile(r"(?<![^\W_])\d+(?:[.,]\d+)*(?![^\W_])")
WORD = re.compile(r"(?<![^\W_])[^\W\d_][^\W_]*")  # a whole word starting with a letter


def whole_word(entity: str) -> re.Pattern:
    """`entity` where it stands as a whole word: no letter or digit just before or after it."""
    return re.compile(rf"(?<![^\W_]){re.escape(entity)}(?![^\W_])")


def holds(text: str, entity: str) -> bool:
    return whole_word(entity).search(text) is not None


def entities(source: str, references: list[str]) -> list[str]:
    """The digit strings and the capitalised words of `source` that a reference holds as a whole word."""
    words = [w for w in WORD.findall(source) if w[0].isupper()]  # the capitalised ones
    candidates = list(dict.fromkeys(DIGITS.findall(source) + words))
    return [e for e in candidates if any(holds(reference, e) for reference in references)]


def amounts(source: str, references: list[str]) -> list[str]:
    """The numbers `source` writes with separators, each as the first reference that holds the same digits spells
    it; those no reference holds are left out."""
    def digits(number: str) -> str:
        return re.sub(r"\D", "", number)

    spelled = {digits(n): n for reference in reversed(references) for n in NUMBER.findall(reference)}
    return [spelled[digits(n)] for n in dict.fromkeys(SEPARATED.findall(source)) if digits(n) in spelled]
