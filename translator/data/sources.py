"""The corpora a run is given: several, with sampling weights, in the formats translators and WMT use.

`train A.tsv:2 B.zip` trains on A twice over and B once an epoch; a weight below 1 draws that share of the
corpus's pairs (a new draw each time the mixture is made). Beside one-file corpora (corpus.py), a parallel
corpus may be two plain-text files of aligned lines, one language each (`train news.es news.en`, the
Moses/OPUS convention: the first file is the source) or a TMX translation memory (the header's `srclang`
is the source, the other language the target). The mixture is written to one file that the single-corpus
pipeline reads as it reads any corpus (training/data.py), streamed or not.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np
import pandas as pd

from translator.config import CorpusFormat
from translator.data.corpus import CORPUS_SUFFIXES, Corpus, moses_tokenized, plain_text, read_corpus, stream_corpus
from translator.data.languages import language_name, pair_languages
from translator.errors import CorpusError, OptionError
from translator.files import check_input_path

LANGUAGE_SUFFIX = re.compile(r"^\.[a-z]{2,3}([-_][A-Za-z]{2,4})?$")  # .es, .en, .spa, .pt_BR
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CHUNK_PAIRS = 20_000


@dataclass(frozen=True)
class CorpusSource:
    """One corpus of a run: a file (or the two files of a parallel pair) and its sampling weight."""

    paths: tuple[Path, ...]
    weight: float = 1.0

    @property
    def name(self) -> str:
        return " + ".join(str(p) for p in self.paths)

    def spelled(self, path_name=str) -> str:
        """As it is given on the command line (each path written by `path_name`)."""
        return " ".join(map(path_name, self.paths)) + ("" if self.weight == 1 else f":{self.weight:g}")


def corpus_sources(arguments: list[str]) -> list[CorpusSource]:
    """The corpora named on a command line: each `PATH[:WEIGHT]`, or two files `NAME.xx NAME.yy` of one parallel
    corpus (same name, language suffixes: the weight, if any, after the second)."""
    given = [_path_and_weight(argument) for argument in arguments]
    sources, index = [], 0
    while index < len(given):
        path, weight = given[index]
        if index + 1 < len(given) and _parallel_pair(path, given[index + 1][0]) and given[index][1] is None:
            partner, weight = given[index + 1]
            sources.append(CorpusSource((check_input_path(path), check_input_path(partner)), _weight(weight)))
            index += 2
            continue
        sources.append(CorpusSource((check_input_path(path),), _weight(weight)))
        index += 1
    if not sources:
        raise OptionError("no corpus given")
    return sources


def _path_and_weight(argument: str) -> tuple[Path, str | None]:
    """`PATH:WEIGHT` split where PATH is not itself an existing file holding a colon."""
    head, colon, tail = str(argument).rpartition(":")
    if colon and head and not Path(argument).exists() and re.fullmatch(r"[-+.\deE]+", tail):
        return Path(head), tail
    return Path(argument), None


def _weight(text: str | None) -> float:
    if text is None:
        return 1.0
    try:
        weight = float(text)
    except ValueError:
        weight = -1.0
    if not weight > 0:
        raise OptionError(f"a corpus weight must be a number above 0, got '{text}' (CORPUS:WEIGHT, e.g. news.tsv:0.5)")
    return weight


def _parallel_pair(first: PurePath, second: PurePath) -> bool:
    return (first.stem == second.stem and first.suffix != second.suffix
            and all(LANGUAGE_SUFFIX.match(p.suffix) and p.suffix.lower() not in CORPUS_SUFFIXES + (".zip", ".tmx")
                    for p in (first, second)))


def read_source(source: CorpusSource, fmt: CorpusFormat) -> Corpus:
    """The pairs of one corpus, whatever its format (source and target as `fmt.reverse` says)."""
    if len(source.paths) == 2:
        return read_parallel_files(*source.paths, fmt)
    if source.paths[0].suffix.lower() == ".tmx":
        return read_tmx(source.paths[0], fmt)
    return read_corpus(source.paths[0], fmt)


def read_parallel_files(source_path: Path, target_path: Path, fmt: CorpusFormat) -> Corpus:
    """Two files of aligned lines; their line counts must agree. An empty line on either side skips the pair."""
    sides = [_lines(path) for path in (source_path, target_path)]
    if len(sides[0]) != len(sides[1]):
        raise CorpusError(f"{source_path} and {target_path}", f"the files of a parallel corpus must have as many "
                          f"lines; they have {len(sides[0]):,} and {len(sides[1]):,}")
    if fmt.reverse:
        sides.reverse()
    pairs = pd.DataFrame({"source": sides[0], "target": sides[1], "line": np.arange(1, len(sides[0]) + 1)})
    return _corpus(f"{source_path} + {target_path}", pairs, fmt)


def _lines(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    except UnicodeDecodeError as error:
        raise CorpusError(str(path), f"undecodable byte 0x{error.object[error.start]:02x} at byte {error.start} "
                          "(the file must be UTF-8)") from None


def read_tmx(path: Path, fmt: CorpusFormat) -> Corpus:
    """A TMX translation memory: each translation unit's text in the header's source language and in the one
    other language (a memory of more languages is refused, naming them)."""
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise CorpusError(f"{path} line {error.position[0]}", f"not well-formed TMX ({error})") from None
    header, units = root.find("header"), root.iter("tu")
    rows = [{(tuv.get(XML_LANG) or tuv.get("lang") or "").lower(): "".join(tuv.find("seg").itertext()).strip()
             for tuv in unit.iter("tuv") if tuv.find("seg") is not None} for unit in units]
    languages = sorted({language for row in rows for language in row})
    source_language = (header.get("srclang", "") if header is not None else "").lower()
    if len(languages) != 2 or source_language not in languages:
        raise CorpusError(str(path), f"expected a memory of two languages, one of them the header's srclang "
                          f"'{source_language}'; found {', '.join(languages) or 'no translation units'}")
    order = [source_language] + [language for language in languages if language != source_language]
    if fmt.reverse:
        order.reverse()
    kept = [(row.get(order[0], ""), row.get(order[1], ""), number) for number, row in enumerate(rows, start=1)]
    pairs = pd.DataFrame([row for row in kept if row[0] and row[1]], columns=["source", "target", "line"])
    return _corpus(str(path), pairs, fmt, empty=len(kept) - len(pairs))


def _corpus(name: str, pairs: pd.DataFrame, fmt: CorpusFormat, empty: int = 0) -> Corpus:
    empty += int(((pairs["source"] == "") | (pairs["target"] == "")).sum())
    pairs = pairs[(pairs["source"] != "") & (pairs["target"] != "")].reset_index(drop=True)
    if pairs.empty:
        raise CorpusError(name, "holds no sentence pairs")
    detokenized = moses_tokenized(pairs, fmt)
    return Corpus(name, plain_text(pairs) if detokenized else pairs, empty_lines=empty, detokenized=detokenized)


def weighted(pairs: pd.DataFrame, weight: float, rng: np.random.Generator) -> pd.DataFrame:
    """`pairs` repeated int(`weight`) times, plus a random draw of the fraction left."""
    whole, fraction = int(weight), weight - int(weight)
    drawn = pairs[rng.random(len(pairs)) < fraction] if fraction else pairs.iloc[:0]
    return pd.concat([pairs] * whole + [drawn], ignore_index=True)


def write_mixture(sources: list[CorpusSource], fmt: CorpusFormat, path: Path, seed: int, echo) -> int:
    """Write the weighted pairs of every corpus to `path` (`source<TAB>target`, as read: `fmt.reverse` applies
    here, not to the mixture), corpus by corpus in chunks; report each corpus's share. Returns the pair count."""
    rng, total, directions = np.random.default_rng(seed), 0, {}
    with open(path, "w", encoding="utf-8") as out:
        for source in sources:
            read = 0
            for chunk in _chunks(source, fmt):
                if not read:
                    directions[source.name] = pair_languages(chunk)
                    check_direction(directions)
                mixed = weighted(chunk, source.weight, rng)
                out.write("".join(f"{one_line(s)}\t{one_line(t)}\n"
                                  for s, t in zip(mixed["source"], mixed["target"])))
                read, total = read + len(chunk), total + len(mixed)
            echo(f"{read:,} pairs from {source.name}" + ("" if source.weight == 1 else f", weight {source.weight:g}"))
    return total


def check_direction(directions: dict) -> None:
    """Refuse a corpus whose (source, target) languages are the other way round from the first corpus's."""
    (first, (source, target)), *_ = directions.items()
    name, (this_source, this_target) = list(directions.items())[-1]
    if None not in (source, target) and (this_source, this_target) == (target, source) and source != target:
        raise CorpusError(name, f"reads as {language_name(this_source)} -> {language_name(this_target)}, the other way "
                          f"round from {first} ({language_name(source)} -> {language_name(target)}); give its "
                          "columns or files in the other order")


def is_plain_file(source: CorpusSource) -> bool:
    """Whether a corpus is one file that corpus.py reads (not a two-file corpus or a TMX memory)."""
    return len(source.paths) == 1 and source.paths[0].suffix.lower() != ".tmx"


def one_line(text: str) -> str:
    """A sentence as one field of a TSV line (a TMX segment may hold tabs and line breaks)."""
    return " ".join(text.split()) if "\t" in text or "\n" in text or "\r" in text else text


def _chunks(source: CorpusSource, fmt: CorpusFormat):
    if is_plain_file(source):
        yield from stream_corpus(source.paths[0], fmt, CHUNK_PAIRS)
    else:
        yield read_source(source, fmt).pairs
