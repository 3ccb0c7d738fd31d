"""A line of text as the pieces a sentence model can translate, and back.

A model trained on single sentences translates a line holding several of
them badly (the default model dropped "Yo sí." from "Hace frío. ¿Quieres un
café? Yo sí."), and one longer than its maximum length only in part. So a
line is split after sentence-final punctuation (. ! ? …, closing quotes and
brackets included) where the next word starts like a sentence (a capital, a
digit, ¿ ¡ or an opening quote), but not after a known abbreviation; a
sentence still over the maximum length is cut after clause punctuation (, ; :)
into as few pieces as fit. The translations are joined with the whitespace
that separated the pieces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ABBREVIATIONS = {"sr", "sra", "srta", "dr", "dra", "ud", "uds", "vd", "vds", "etc", "p. ej", "ej", "núm", "pág",
                 "mr", "mrs", "ms", "st", "vs", "e.g", "i.e", "no", "approx", "av", "avda"}
SENTENCE_END = re.compile(r"""(?<=[.!?…])["'»”)\]]*(\s+)(?=[¿¡"'«“(\[]*[A-ZÁÉÍÓÚÑÜ0-9¿¡])""")
CLAUSE_END = re.compile(r"(?<=[,;:])(\s+)")


@dataclass
class Segmented:
    pieces: list[str]  # non-empty texts to translate
    separators: list[str]  # the whitespace after each piece but the last

    def join(self, translations: list[str]) -> str:
        out = translations[0]
        for separator, text in zip(self.separators, translations[1:]):
            out += separator + text
        return out


def split_at(pattern: re.Pattern, text: str, keep=lambda before: True) -> Segmented:
    """Split `text` at the whitespace `pattern` matches (group 1) where keep(text before it) holds."""
    pieces, separators, start = [], [], 0
    for match in pattern.finditer(text):
        before = text[start : match.start(1)]
        if before.strip() and keep(before):
            pieces.append(before)
            separators.append(match.group(1))
            start = match.end(1)
    pieces.append(text[start:])
    return Segmented(pieces, separators)


def not_an_abbreviation(before: str) -> bool:
    """False where `before` ends in "Sr." and the like (or a single capital: an initial)."""
    words = before.rstrip("\"'»”)]").rstrip(".").split()
    last = words[-1].lower() if words else ""
    two = " ".join(words[-2:]).lower() if len(words) > 1 else last
    return not (last in ABBREVIATIONS or two in ABBREVIATIONS or (len(last) == 1 and last.isalpha()))


def split_sentences(text: str) -> Segmented:
    return split_at(SENTENCE_END, text, not_an_abbreviation)


def fit_clauses(sentence: str, length_of, max_length: int) -> Segmented:
    """`sentence` cut after clause punctuation into the fewest consecutive groups of at most `max_length` tokens
    (`length_of(text)`); a clause longer than that alone stays whole (and is truncated by the search)."""
    if len(sentence) <= max_length:  # every token covers at least one character: no need to count them
        return Segmented([sentence], [])
    clauses = split_at(CLAUSE_END, sentence)
    if len(clauses.pieces) == 1 or length_of(sentence) <= max_length:
        return Segmented([sentence], [])
    pieces, separators = [clauses.pieces[0]], []
    for separator, clause in zip(clauses.separators, clauses.pieces[1:]):
        if length_of(pieces[-1] + separator + clause) <= max_length:
            pieces[-1] += separator + clause
        else:
            pieces.append(clause)
            separators.append(separator)
    return Segmented(pieces, separators)


def segment(text: str, length_of, max_length: int) -> Segmented:
    """The line as sentences, each cut into clause groups where it is over `max_length` tokens."""
    sentences = split_sentences(text.strip())
    pieces, separators = [], []
    for index, sentence in enumerate(sentences.pieces):
        fitted = fit_clauses(sentence, length_of, max_length)
        if index:
            separators.append(sentences.separators[index - 1])
        pieces += fitted.pieces
        separators += fitted.separators
    return Segmented(pieces, separators)
