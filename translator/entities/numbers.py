"""Number surrogates: a number written with separators ("1.250,50", "3,5") is translated as a plain number the
model copies well, and put back in the output as the target side writes numbers ("1,250.50", "3.5").

Tatoeba's Spanish sources group thousands in 62 pairs and write a decimal comma in 2, so the default model garbled
such numbers ("Pagué 1.250,50 euros." -> "I paid 1 1 250 50 50."; "Cuesta 3,5 millones de dólares." -> "It costs
3,00 million dollars.") while it copies plain ones ("Nací en 1987." -> "I was born in 1987."). A wrong amount is
worse than a clumsy sentence, so each such number is replaced by a plain number that the training pairs' two sides
hold verbatim, and the surrogate in the output becomes the source's number again, with the target's separators.

Reading a number: where both "." and "," appear, the last one marks the decimals and the other groups thousands; a
separator that appears more than once, or once before exactly three digits, groups thousands ("1.000", "5,000");
one before fewer or more digits marks decimals ("3,5"). Numbers whose separators fit neither ("192.168.1.1", a
version "1.2.3") are put back as the source spells them.

What `learn` keeps from the training pairs (numbers.json in the model folder):
- `surrogates`: plain numbers of two or more digits that the targets hold verbatim in at least MIN_HELD_SHARE of
  the pairs whose source holds them (and in MIN_HELD pairs at least), most often held first;
- `target_thousands`: the separator with which most of the targets' grouped numbers group thousands ("," in
  English), where at least MIN_GROUPED are grouped; the decimal separator is then the other one. Without it a
  number is put back as the source spells it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only annotations: the translate command's fast start never imports pandas
    import pandas as pd

from translator.entities.patterns import SEPARATED, whole_word
from translator.entities.names import Replacement, spliced

SEPARATORS = ".,"
MIN_HELD, MIN_HELD_SHARE = 5, 0.9  # a surrogate's verbatim copies in the training pairs (set beforehand, not tuned)
MIN_GROUPED = 5  # grouped target numbers needed to learn the target's thousands separator
SURROGATES = 4  # numbers replaced per sentence at most
PLAIN = re.compile(r"(?<![\w.,:/])\d{2,}(?![\w:/]|[.,]\d)")  # digits alone: not a time, a date or a part of a number
GROUPED = re.compile(r"(?<![\w.,])\d{1,3}(?:([.,])\d{3})+(?![\w]|[.,]\d)")  # captures the thousands separator


@dataclass(frozen=True)
class Quantity:
    """A number as read from its spelling: its digits before and after the decimal separator."""

    whole: str
    fraction: str | None
    grouped: bool  # written with thousands separators

    @classmethod
    def read(cls, spelling: str) -> Quantity | None:
        """The quantity `spelling` (a SEPARATED match) writes, or None where its separators fit neither reading."""
        separators = [c for c in spelling if c in SEPARATORS]
        decimal = None
        if len(set(separators)) == 2:
            decimal = separators[-1]
        elif len(separators) == 1 and len(spelling.split(separators[0])[1]) != 3:
            decimal = separators[0]
        if decimal is not None and separators.count(decimal) > 1:
            return None
        whole, fraction = spelling.rsplit(decimal, 1) if decimal else (spelling, None)
        groups = re.split("[.,]", whole)
        if len(groups) > 1 and not (len(groups[0]) <= 3 and all(len(group) == 3 for group in groups[1:])):
            return None
        return cls("".join(groups), fraction, len(groups) > 1)

    def spelled(self, thousands: str) -> str:
        """Written with `thousands` between groups of three (where the source grouped) and the other separator
        before the decimals."""
        whole = self.whole
        if self.grouped:
            head = len(whole) % 3 or 3
            whole = thousands.join([whole[:head]] + [whole[i:i + 3] for i in range(head, len(whole), 3)])
        decimal = SEPARATORS.replace(thousands, "")
        return whole if self.fraction is None else f"{whole}{decimal}{self.fraction}"


@dataclass(frozen=True)
class NumberSurrogates:
    surrogates: tuple[str, ...]
    target_thousands: str | None = None

    @classmethod
    def learn(cls, pairs: pd.DataFrame) -> NumberSurrogates:
        """From training pairs (columns source, target)."""
        seen, held, separators = Counter(), Counter(), Counter()
        for source, target in zip(pairs["source"], pairs["target"]):
            for number in set(PLAIN.findall(source)):
                seen[number] += 1
                held[number] += whole_word(number).search(target) is not None
            separators.update(GROUPED.findall(target))
        surrogates = [number for number, count in held.most_common()
                      if count >= MIN_HELD and count >= MIN_HELD_SHARE * seen[number]][:SURROGATES]
        thousands = separators.most_common(1)[0][0] if sum(separators.values()) >= MIN_GROUPED else None
        return cls(tuple(surrogates), thousands)

    def mask(self, text: str) -> tuple[str, tuple[Replacement, ...]]:
        """(text with each number written with separators replaced by a surrogate, the replacements made: each
        with the number as the target writes it)."""
        numbers = [number.span() for number in SEPARATED.finditer(text)]
        return spliced(text, numbers, self.surrogates, self.target_spelling) if numbers else (text, ())

    def target_spelling(self, spelling: str) -> str:
        quantity = Quantity.read(spelling)
        if quantity is None or self.target_thousands is None:
            return spelling
        return quantity.spelled(self.target_thousands)

    def to_json(self) -> dict:
        return {"surrogates": list(self.surrogates), "target_thousands": self.target_thousands}

    @classmethod
    def from_json(cls, saved: dict) -> NumberSurrogates:
        thousands = saved["target_thousands"]
        if thousands not in (None, *SEPARATORS):
            raise ValueError(f"target_thousands must be '.', ',' or null, not {thousands!r}")
        return cls(tuple(str(number) for number in saved["surrogates"]), thousands)
