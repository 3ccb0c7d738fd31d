"""What is not language is kept as it is, in place: emoji and symbols, web addresses, e-mail addresses, @handles
and #hashtags.

The model never learned them: "Estoy muy feliz hoy 😊" came out "I'm very happy today." with the emoji
dropped, and an address is cut into subwords that come back changed. Such a span at the start or the end of a
line is cut off before the search and put back around the translation; one inside it is translated as a name
the model copies well (names.json's surrogates, as rare names are: entities/names.py) and put back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from translator.entities.names import Replacement, restore, spliced

URL = r"(?:https?://|www\.)[^\s<>\"]+[^\s<>\".,;:!?)\]»']"
EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
HANDLE = r"(?<![\w@])[@#][^\W\d_]\w*"
SYMBOL = r"[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200D\u20E3\u2122\u00A9\u00AE]+"
VERBATIM = re.compile(f"{URL}|{EMAIL}|{HANDLE}|{SYMBOL}")


@dataclass(frozen=True)
class Masked:
    """A line made ready for the model: its `core` to translate, what was cut off around it, and the spans
    inside it replaced by surrogates."""

    core: str
    before: str = ""
    after: str = ""
    replacements: tuple[Replacement, ...] = ()

    def put_back(self, translation: str) -> str:
        if not self.core:
            return self.before + self.after
        return self.before + restore(translation, self.replacements) + self.after


def mask_verbatim(text: str, surrogates: tuple[str, ...]) -> Masked:
    """`text` with its leading and trailing verbatim spans (and the spaces beside them) cut off and the ones
    inside replaced by `surrogates` (kept where none is left)."""
    spans = [match.span() for match in VERBATIM.finditer(text)]
    if not spans:
        return Masked(text)
    start, end = 0, len(text)
    while spans and not text[start:spans[0][0]].strip():  # leading spans, spaces between them
        start = spans.pop(0)[1]
    while spans and not text[spans[-1][1]:end].strip():  # trailing ones
        end = spans.pop()[0]
    core = text[start:end]
    before, after = text[:start], text[end:]
    core_start = len(core) - len(core.lstrip())
    before, core = before + core[:core_start], core[core_start:]
    core_end = len(core.rstrip())
    core, after = core[:core_end], core[core_end:] + after
    inner = [(a - len(before), b - len(before)) for a, b in spans if a >= len(before) and b <= len(before) + len(core)]
    core, replacements = spliced(core, inner, surrogates) if inner else (core, ())
    return Masked(core, before, after, replacements)



@dataclass(frozen=True)
class Verbatim:
    """`mask_verbatim` with a model's name surrogates (none: inner spans stay as they are)."""

    surrogates: tuple[str, ...] = ()

    def mask(self, text: str) -> Masked:
        return mask_verbatim(text, self.surrogates)
