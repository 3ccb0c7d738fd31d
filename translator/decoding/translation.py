"""A translation as the user gets it, and the line-level logic around a batch search: empty lines, lines of several
sentences, lines over the maximum length (`segments`). No Keras here: the fast start (startup/graph.py) shares it with
the full Translator (inference.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from translator.decoding.segments import Segmented, segment
from translator.entities.case import NORMAL, Truecaser, case_pattern, in_pattern
from translator.entities.names import restore
from translator.entities.verbatim import Verbatim


@dataclass
class Translation:
    text: str
    score: float  # log-probability (divided by the length penalty for beam search)
    alternatives: list[tuple[str, float]]  # the n best, best first
    truncated: bool = False  # the source was longer than the model's maximum length and was cut


def translations(texts, scores, truncated) -> list[Translation]:
    """Translations from a search's tensors or arrays: texts [batch, n], scores [batch, n], truncated [batch]."""
    results = []
    for row_texts, row_scores, cut in zip(np.asarray(texts), np.asarray(scores), np.asarray(truncated)):
        alternatives = [(t.decode("utf-8"), float(s)) for t, s in zip(row_texts, row_scores)]
        results.append(Translation(alternatives[0][0], alternatives[0][1], alternatives, bool(cut)))
    return results


def translate_lines(sentences: list[str], search_batch, token_count, max_length: int,
                    surrogates: tuple = (), truecaser: Truecaser | None = None,
                    verbatim: Verbatim | None = None) -> list[Translation]:
    """Each line translated: search_batch(non-empty texts) -> [Translation]; a line is first cut into the pieces
    `segments` makes of it (token_count(text) -> source tokens), whose translations are joined back. With
    `surrogates` (NameSurrogates, NumberSurrogates: each with `mask`), each piece's rarely seen names and its numbers
    written with separators are translated as ones the model copies well, and put back. With a `truecaser`, a piece
    in capitals or all in lower case is translated truecased, and its translation given back in its case
    (entities/case.py). With `verbatim`, emoji, symbols, addresses, handles and hashtags are kept as they are, in
    place (entities/verbatim.py)."""
    segmented = [segment(s, token_count, max_length) if s.strip() else None for s in sentences]
    pieces = [piece for line in segmented if line is not None for piece in line.pieces]
    if surrogates:
        search_batch = _with_surrogates(search_batch, surrogates)
    if truecaser is not None:
        search_batch = _in_true_case(search_batch, truecaser)
    if verbatim is not None:
        search_batch = _with_verbatim(search_batch, verbatim)
    results = iter(over_nonempty(pieces, search_batch, empty_translation))
    joined = []
    for line in segmented:
        parts = [next(results) for _ in line.pieces] if line is not None else [empty_translation()]
        joined.append(parts[0] if len(parts) == 1 else _joined(line, parts))
    return joined


def chosen_surrogates(search, names, numbers) -> tuple:
    """Of a folder's name and number surrogates (None where it has none), those the search setting asks for."""
    wanted = ((names, search.name_surrogates), (numbers, search.number_surrogates))
    return tuple(surrogates for surrogates, asked in wanted if surrogates is not None and asked)


def _with_surrogates(search_batch, surrogates: tuple):
    """search_batch over the texts with what each of `surrogates` masks masked, each translation's put back."""

    def masked(text: str):
        replacements = ()
        for each in surrogates:
            text, more = each.mask(text)
            replacements += more
        return text, replacements

    def search_masked(texts: list[str]) -> list[Translation]:
        masked_texts = [masked(text) for text in texts]
        results = search_batch([text for text, _ in masked_texts])
        return [_restored(result, replacements) for result, (_, replacements) in zip(results, masked_texts)]

    return search_masked


def _with_verbatim(search_batch, verbatim: Verbatim):
    """search_batch over the texts without their verbatim spans, each translation with them put back; a text of
    such spans alone is its own translation."""

    def search_masked(texts: list[str]) -> list[Translation]:
        masked = [verbatim.mask(text) for text in texts]
        todo = [m.core for m in masked if m.core]
        results = iter(search_batch(todo) if todo else [])
        answers = []
        for m in masked:
            result = next(results) if m.core else Translation("", 0.0, [("", 0.0)])
            answers.append(replace(result, text=m.put_back(result.text),
                                   alternatives=[(m.put_back(t), score) for t, score in result.alternatives]))
        return answers

    return search_masked


def _in_true_case(search_batch, truecaser: Truecaser):
    """search_batch over the texts truecased where their case is not the usual, each translation in its text's
    case."""

    def search_truecased(texts: list[str]) -> list[Translation]:
        patterns = [case_pattern(text) for text in texts]
        results = search_batch([text if pattern == NORMAL else truecaser.truecase(text)
                                for text, pattern in zip(texts, patterns)])
        return [result if pattern == NORMAL else replace(
                    result, text=in_pattern(result.text, pattern),
                    alternatives=[(in_pattern(text, pattern), score) for text, score in result.alternatives])
                for result, pattern in zip(results, patterns)]

    return search_truecased


def _restored(result: Translation, replacements) -> Translation:
    if not replacements:
        return result
    alternatives = [(restore(text, replacements), score) for text, score in result.alternatives]
    return replace(result, text=restore(result.text, replacements), alternatives=alternatives)


def translation_record(source: str, result: Translation, alignment=None, with_attention: bool = False) -> dict:
    """One sentence's translation as JSON-ready data: `translate --json`'s line and the service's answer."""
    record = {"source": source, "translation": result.text, "score": result.score,
              "n_best": [{"translation": t, "score": s} for t, s in result.alternatives], "truncated": result.truncated}
    if with_attention:
        record["attention"] = alignment and {"source_tokens": alignment[0], "output_tokens": alignment[1],
                                             "weights": alignment[2].round(4).tolist()}
    return record


def _joined(line: Segmented, parts: list[Translation]) -> Translation:
    text = line.join([part.text for part in parts])
    score = float(sum(part.score for part in parts))
    return Translation(text, score, [(text, score)], any(part.truncated for part in parts))


def empty_translation() -> Translation:
    return Translation("", 0.0, [("", 0.0)])


def over_nonempty(sentences: list[str], run, empty) -> list:
    """run(the non-empty sentences) -> their results, in order; an empty (or all-space) sentence gets empty()."""
    todo = [i for i, s in enumerate(sentences) if s.strip()]
    results = [empty() for _ in sentences]
    for i, result in zip(todo, run([sentences[i] for i in todo]) if todo else []):
        results[i] = result
    return results
