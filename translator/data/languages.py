"""Which language a corpus's side is in, so that a run says which way it translates and a reversed corpus is caught.

A corpus in the wrong direction trains or scores without complaint (a test file the other way round scored
BLEU 1.15 and no warning). Each side's language is identified with lingua (a maintained identifier whose
models ship in its wheel) on a sample of sentences, by vote: its fast mode (0.4 s to build, 70 MB) errs
on a single short sentence, but not on the vote of fifty.
"""

from __future__ import annotations

import functools
from collections import Counter

SAMPLE = 200
# a side is in the language most of its sentences are identified as, when that holds this share of them and
# twice the runner-up's (54 short Tatoeba sentences: Spanish 23, Italian 6, Slovak 4, ...)
PLURALITY, LEAD = 0.35, 2


@functools.cache
def _detector():
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()


def language_of(sentences) -> str | None:
    """The ISO 639-1 code of the language most of `sentences` (a sample of SAMPLE, spread over them) are in, or
    None where none leads clearly (PLURALITY, LEAD)."""
    sentences = list(sentences)
    step = max(len(sentences) // SAMPLE, 1)
    votes = Counter()
    for language in _detector().detect_languages_in_parallel_of(sentences[::step][:SAMPLE]):
        if language is not None:
            votes[language.iso_code_639_1.name.lower()] += 1
    if not votes:
        return None
    (language, count), *others = votes.most_common(2)
    runner_up = others[0][1] if others else 0
    return language if count >= PLURALITY * sum(votes.values()) and count >= LEAD * runner_up else None


def language_name(code: str | None) -> str:
    """"Spanish (es)" for "es"; "unknown" for None."""
    if code is None:
        return "unknown"
    from lingua import IsoCode639_1, Language

    return f"{Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())).name.capitalize()} ({code})"


def pair_languages(pairs) -> tuple[str | None, str | None]:
    """(source language, target language) of a DataFrame of pairs."""
    return language_of(pairs["source"]), language_of(pairs["target"])


# one sentence at a time (a service's /detect) needs lingua's accurate mode, whose models cost 12 s and 1.3 GB
# for its 75 languages: these, the languages of the world's most used translators, load in 3-4 s
SENTENCE_LANGUAGES = ("ENGLISH", "SPANISH", "FRENCH", "GERMAN", "ITALIAN", "PORTUGUESE", "DUTCH", "CATALAN",
                      "POLISH", "RUSSIAN", "UKRAINIAN", "TURKISH", "ARABIC", "CHINESE", "JAPANESE", "KOREAN",
                      "HINDI", "INDONESIAN", "VIETNAMESE", "SWEDISH", "ROMANIAN", "GREEK", "CZECH", "BASQUE")


@functools.cache
def _sentence_detector():
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(*(getattr(Language, name) for name in SENTENCE_LANGUAGES)).build()


def identify(text: str) -> list[tuple[str, float]]:
    """(ISO 639-1 code, confidence 0-1) of the languages `text` may be in, most likely first."""
    return [(value.language.iso_code_639_1.name.lower(), value.value)
            for value in _sentence_detector().compute_language_confidence_values(text) if value.value > 0]
