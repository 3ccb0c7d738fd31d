"""Input in capitals or all in lower case, translated as the same sentence written normally, and given back in
the input's case.

A model learns from edited text, where a word in capitals is a rare acronym: "ME ENCANTA ESTE LUGAR." came
out as "M ENCANTA ESTE LUGAR." (BLEU 0.2 on the test split in capitals). Such a sentence is truecased
first, each word written as the training corpus writes it (a truecaser: names and acronyms keep their
capitals, other words go to lower case, a sentence starts with a capital), and its translation takes the
input's pattern back: ALL CAPS in, ALL CAPS out; all lower case in, all lower case out. The forms come
from the names the training corpus writes capitalised inside sentences (names.json), so no separate table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from translator.entities.patterns import WORD

NORMAL, UPPER, LOWER = "normal", "upper", "lower"
SENTENCE_START = re.compile(r"(^|[.!?…]\s+)([\W\d_]*?)([^\W\d_])")  # a sentence's first letter, after ¿ ¡ " ( ...


def case_pattern(text: str) -> str:
    """UPPER where every cased letter is a capital and some word has two or more ("NO TOQUES ESO!", not "A."),
    LOWER where every cased letter is small ("hola, que tal"), else NORMAL."""
    letters = [c for c in text if c.isalpha() and c.lower() != c.upper()]
    if not letters:
        return NORMAL
    if all(c.isupper() for c in letters):
        return UPPER if any(len(word) > 1 for word in WORD.findall(text)) else NORMAL
    return LOWER if all(c.islower() for c in letters) else NORMAL


def in_pattern(text: str, pattern: str) -> str:
    """`text` written in `pattern` (NORMAL leaves it as it is)."""
    return text.upper() if pattern == UPPER else text.lower() if pattern == LOWER else text


@dataclass(frozen=True)
class Truecaser:
    forms: dict[str, str]  # a word in lower case -> as the corpus writes it where it is not lower case

    @classmethod
    def from_names(cls, names) -> "Truecaser":
        """From the words a corpus writes capitalised inside sentences (NameSurrogates.names: word -> count),
        the most frequent form of each winning."""
        forms, counts = {}, {}
        for name, count in dict(names or {}).items():
            key = name.lower()
            if count > counts.get(key, 0):
                forms[key], counts[key] = name, count
        return cls(forms)

    def truecase(self, text: str) -> str:
        """Each word as the corpus writes it (lower case unless a name or acronym), each sentence's first
        letter a capital."""
        cased = WORD.sub(lambda match: self.forms.get(match.group().lower(), match.group().lower()), text)
        return SENTENCE_START.sub(lambda m: m.group(1) + m.group(2) + m.group(3).upper(), cased)
