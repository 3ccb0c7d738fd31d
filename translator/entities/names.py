"""Name surrogates: a name the model hardly saw in training is translated as one it saw thousands of times, and
put back in the output.

A model copies the names it learned ("Tom" stands in a sixth of Tatoeba's pairs) but drops or respells one it
never saw ("Nerys estaba triste." -> "You were born."), even with a copy mechanism: the default model kept 86 %
of the unseen names of data/probes/names-numbers.tsv. Production systems mask such entities with placeholders;
this model never saw a placeholder token, so the stand-in is a real name it copies well: the source is
translated as "Tom estaba triste." and "Tom" in the output becomes "Nerys" again.

What `learn` keeps from the training pairs' source side (names.json in the model folder):
- `names`: the words written capitalised right after another word more often than in lower case (what
  entity_swap counts as names), with how often they were written so;
- `held`: of those, how many pairs' targets held them verbatim (none: a word the model learned to translate,
  such as a German noun, or "Londres" -> "London");
- `lower_case`: every word the source side writes in lower case, so that a capitalised word whose lower-case
  form is an ordinary word ("Ayer" at a sentence's start) is never taken for a name;
- `surrogates`: the names the two sides most often hold verbatim, most frequent first.

In a sentence, a capitalised word is a name unless its lower-case form is an ordinary word and not one of
`names`; a run of names (words separated by spaces only: "Antonio Guzmán Blanco") is replaced by one
surrogate when any of its words is rare: never seen as a name, or seen fewer than `MIN_SEEN` times and held
verbatim by a target at least once. Each run takes the next surrogate the sentence does not already hold.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only annotations: the translate command's fast start never imports pandas
    import pandas as pd

from translator.entities.swap import name_counts, word_cases
from translator.entities.patterns import WORD, entities, whole_word

MIN_SEEN = 5  # a copied name seen fewer times in the training sources is rare (set beforehand, not tuned)
SURROGATES = 4  # runs replaced per sentence at most


@dataclass(frozen=True)
class Replacement:
    surrogate: str  # what the model translated
    original: str  # what the source said there


def spliced(text: str, spans: list[tuple[int, int]], surrogates: tuple[str, ...], put_back=lambda original: original,
            ) -> tuple[str, tuple[Replacement, ...]]:
    """(text with its (start, end) spans, in order, replaced by the surrogates it does not already hold as words,
    one each while any is left; the replacements made, each with `put_back` of the words it replaced)."""
    free = [surrogate for surrogate in surrogates if not whole_word(surrogate).search(text)]
    pieces, replacements, end = [], [], 0
    for (start, stop), surrogate in zip(spans, free):
        replacements.append(Replacement(surrogate, put_back(text[start:stop])))
        pieces += [text[end:start], surrogate]
        end = stop
    return "".join(pieces) + text[end:], tuple(replacements)


def restore(text: str, replacements: tuple[Replacement, ...]) -> str:
    """The output with each surrogate, wherever it stands as a whole word, back to what the source said there."""
    for replacement in replacements:
        text = whole_word(replacement.surrogate).sub(lambda _: replacement.original, text)
    return text


@dataclass(frozen=True)
class NameSurrogates:
    surrogates: tuple[str, ...]
    names: dict[str, int] = field(default_factory=dict)  # times written capitalised after a word
    held: dict[str, int] = field(default_factory=dict)  # pairs whose target held the name verbatim
    lower_case: frozenset[str] = frozenset()

    @classmethod
    def learn(cls, pairs: pd.DataFrame) -> "NameSurrogates":
        """From training pairs (columns source, target)."""
        capitalised, lower = word_cases(pairs["source"])
        names = name_counts(capitalised, lower)
        held = Counter()
        for source, target in zip(pairs["source"], pairs["target"]):
            held.update(e for e in entities(source, [target]) if e in names)
        surrogates = tuple(word for word, _ in held.most_common(SURROGATES))
        return cls(surrogates, names, dict(held), frozenset(lower))

    def mask(self, text: str) -> tuple[str, tuple[Replacement, ...]]:
        """(text with each rarely seen run of names replaced by a surrogate, the replacements made)."""
        runs = self._rare_runs(text)
        return spliced(text, runs, self.surrogates) if runs else (text, ())

    def _is_name(self, word: str) -> bool:
        return word[0].isupper() and (word in self.names or word.lower() not in self.lower_case)

    def _rare_runs(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each run of names holding a rare one."""
        runs, current = [], []
        for match in WORD.finditer(text):
            if not self._is_name(match.group()):
                current = []
                continue
            if current and text[current[-1].end() : match.start()].strip():
                current = []
            if not current:
                runs.append(current)
            current.append(match)
        rare = [run for run in runs if any(self._is_rare(m.group()) for m in run)]
        return [(run[0].start(), run[-1].end()) for run in rare]

    def _is_rare(self, name: str) -> bool:
        seen = self.names.get(name, 0)
        return seen == 0 or (seen < MIN_SEEN and self.held.get(name, 0) > 0)

    def to_json(self) -> dict:
        return {"surrogates": list(self.surrogates), "names": dict(sorted(self.names.items())),
                "held": dict(sorted(self.held.items())), "lower_case": sorted(self.lower_case)}

    @classmethod
    def from_json(cls, saved: dict) -> "NameSurrogates":
        names, held = ({str(word): int(count) for word, count in saved[key].items()} for key in ("names", "held"))
        return cls(tuple(str(s) for s in saved["surrogates"]), names, held, frozenset(map(str, saved["lower_case"])))
