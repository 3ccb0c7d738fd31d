"""Reading parallel corpora into a pandas DataFrame, and splitting them.

Supported inputs:

* the Anki/Tatoeba format, ``English<TAB>Other[<TAB>attribution]``, as a
  plain file or inside a ``.zip`` as distributed;
* any TSV (``.tsv``/``.txt``) or CSV (``.csv``) file; with a header when the
  user names the columns.

Every pair keeps the number of the line it came from, so that later checks
can point the user at the exact line. A line whose fields cannot be read is
an error naming the file and the line, unless ``skip_bad_lines`` is set.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

import numpy as np
import pandas as pd

from translator.config import CorpusFormat
from translator.data.cleaning import detokenize, looks_moses_tokenized
from translator.errors import CorpusError, OptionError
from translator.files import check_input_path, write_text_atomically

CORPUS_SUFFIXES = (".txt", ".tsv", ".csv")


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str


@dataclass
class Corpus:
    """Sentence pairs read from one file, and what was skipped on the way.

    `pairs` has the columns ``source``, ``target`` (stripped strings) and
    ``line`` (1-based line number in the file).
    """

    name: str
    pairs: pd.DataFrame
    empty_lines: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)
    detokenized: bool = False  # the file was Moses-tokenized and is here as plain text

    def summary(self) -> str:
        parts = [f"{len(self.pairs):,} pairs from {self.name}"]
        if self.detokenized:
            parts.append("detokenized (the file is Moses-tokenized)")
        if self.empty_lines:
            parts.append(f"{self.empty_lines:,} empty lines skipped")
        if self.bad_lines:
            parts.append(f"{len(self.bad_lines):,} bad lines skipped")
        return ", ".join(parts)


def read_corpus(path: str | Path, fmt: CorpusFormat = CorpusFormat()) -> Corpus:
    """Read a corpus file (plain or zipped) into a `Corpus`."""
    path = check_input_path(path)
    if zipfile.is_zipfile(path):
        name, data, suffix = _read_zip_member(path)
    else:
        name, data, suffix = str(path), path.read_bytes(), path.suffix.lower()
    return parse_corpus(data, name, delimiter="," if suffix == ".csv" else "\t", fmt=fmt)


def _read_zip_member(path: Path) -> tuple[str, bytes, str]:
    with zipfile.ZipFile(path) as archive:
        member = _corpus_member(archive, path)
        return f"{path}:{member}", archive.read(member), PurePosixPath(member).suffix.lower()


def _corpus_member(archive: zipfile.ZipFile, path: Path) -> str:
    """The one corpus file inside an archive, refusing members that escape it."""
    members = archive.infolist()
    for member in members:
        if not is_safe_member_name(member.filename):
            raise CorpusError(
                str(path),
                f"archive member '{member.filename}' would escape the archive's folder; "
                "refusing to read this archive",
            )
    candidates = [
        m.filename
        for m in members
        if not m.is_dir()
        and PurePosixPath(m.filename).suffix.lower() in CORPUS_SUFFIXES
        and not PurePosixPath(m.filename).name.startswith(("_", "."))
    ]
    if len(candidates) != 1:
        found = ", ".join(candidates) or "none"
        raise CorpusError(str(path), f"expected one corpus file (.txt/.tsv/.csv) in the archive, found: {found}")
    return candidates[0]


def is_safe_member_name(name: str) -> bool:
    """False for absolute paths, drive letters and any `..` component."""
    normalized = name.replace("\\", "/")
    parts = PurePosixPath(normalized).parts
    return not (normalized.startswith("/") or ".." in parts or (parts and ":" in parts[0]))


def parse_corpus(data: bytes, name: str, delimiter: str = "\t", fmt: CorpusFormat = CorpusFormat()) -> Corpus:
    """Parse the bytes of a corpus file; see the module docstring for the rules."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline does not start a line
    parser = LineParser(name, delimiter, fmt)
    sources, targets, numbers = [], [], []
    for number, raw in enumerate(lines, start=1):
        pair = parser.parse(number, raw)
        if pair is not None:
            sources.append(pair[0])
            targets.append(pair[1])
            numbers.append(number)
    parser.check(pairs_found=len(sources))
    pairs = pd.DataFrame({"source": sources, "target": targets, "line": numbers})
    detokenized = moses_tokenized(pairs, fmt)
    return Corpus(name=name, pairs=plain_text(pairs) if detokenized else pairs, empty_lines=parser.empty_lines,
                  bad_lines=parser.bad_lines, detokenized=detokenized)


def moses_tokenized(pairs: pd.DataFrame, fmt: CorpusFormat) -> bool:
    """Whether `fmt` asks for these pairs (or the first chunk of a streamed corpus) to be detokenized."""
    if fmt.detokenize != "auto":
        return fmt.detokenize == "on"
    sample = pairs.head(2000)
    return looks_moses_tokenized(sample["source"]) and looks_moses_tokenized(sample["target"])


def plain_text(pairs: pd.DataFrame) -> pd.DataFrame:
    """Moses-tokenized pairs detokenized (English rules on both sides: only a few languages' differ)."""
    return pairs.assign(source=detokenize(pairs["source"], "en"), target=detokenize(pairs["target"], "en"))


class LineParser:
    """Turns the lines of one corpus file, one at a time, into (source, target) pairs, counting what it skips."""

    def __init__(self, name: str, delimiter: str, fmt: CorpusFormat):
        self.name, self.delimiter, self.fmt = name, delimiter, fmt
        self.columns = None  # (source index, target index, expected field count or None for Anki)
        self.bad_lines: list[BadLine] = []
        self.empty_lines = 0

    def parse(self, number: int, raw: bytes) -> tuple[str, str] | None:
        """The pair on line `number` (1-based), or None for an empty, bad or header line."""
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.rstrip(b"\r\n").decode("utf-8")
        except UnicodeDecodeError as error:
            self.bad_lines.append(BadLine(number, f"undecodable byte 0x{raw[error.start]:02x} at column "
                                                  f"{error.start + 1} (the file must be UTF-8)"))
            return None
        if not text.strip():
            self.empty_lines += 1
            return None
        fields = _split_fields(text, self.delimiter)
        if self.columns is None:
            self.columns = _columns(fields, self.fmt, self.name, number)
            if self.fmt.source_column is not None:
                return None  # that line was the header
        source_index, target_index, field_count = self.columns
        problem = _field_problem(fields, field_count, source_index, target_index, self.delimiter)
        if problem:
            self.bad_lines.append(BadLine(number, problem))
            return None
        return fields[source_index].strip(), fields[target_index].strip()

    def check(self, pairs_found: int) -> None:
        """After the last line: refuse bad lines (unless skipped) and a file without pairs."""
        if self.bad_lines and not self.fmt.skip_bad_lines:
            first = self.bad_lines[0]
            more = f" (and {len(self.bad_lines) - 1:,} more)" if len(self.bad_lines) > 1 else ""
            raise CorpusError(f"{self.name} line {first.line}",
                              f"{first.reason}{more}; --skip-bad-lines skips such lines")
        if not pairs_found and self.bad_lines:
            first = self.bad_lines[0]
            raise CorpusError(self.name, f"holds no sentence pairs: all {len(self.bad_lines):,} non-empty lines are "
                              f"bad (line {first.line}: {first.reason})")
        if not pairs_found:
            raise CorpusError(self.name, "holds no sentence pairs")


@contextmanager
def open_corpus(path: str | Path) -> Iterator[tuple[str, IO[bytes], str]]:
    """(name, binary file, delimiter) of a corpus file or the one corpus inside an archive, read as a stream."""
    path = check_input_path(path)
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as file:
            yield str(path), file, "," if path.suffix.lower() == ".csv" else "\t"
        return
    with zipfile.ZipFile(path) as archive:
        member = _corpus_member(archive, path)
        with archive.open(member) as file:
            yield f"{path}:{member}", file, "," if PurePosixPath(member).suffix.lower() == ".csv" else "\t"


def stream_corpus(path: str | Path, fmt: CorpusFormat, chunk_pairs: int) -> Iterator[pd.DataFrame]:
    """The pairs of a corpus file in DataFrames of at most `chunk_pairs` rows (columns as `Corpus.pairs`),
    read line by line, so that memory holds one chunk. Errors as `read_corpus`, after the last line
    (so a message counts every bad line)."""
    with open_corpus(path) as (name, file, delimiter):
        parser = LineParser(name, delimiter, fmt)
        rows, found, detokenized = [], 0, None
        for number, raw in enumerate(file, start=1):
            pair = parser.parse(number, raw)
            if pair is not None:
                rows.append((*pair, number))
            if len(rows) == chunk_pairs:
                chunk, rows = pd.DataFrame(rows, columns=["source", "target", "line"]), []
                detokenized = moses_tokenized(chunk, fmt) if detokenized is None else detokenized
                found += len(chunk)
                yield plain_text(chunk) if detokenized else chunk
        if rows:
            chunk = pd.DataFrame(rows, columns=["source", "target", "line"])
            detokenized = moses_tokenized(chunk, fmt) if detokenized is None else detokenized
            found += len(chunk)
            yield plain_text(chunk) if detokenized else chunk
        parser.check(found)


def count_lines(path: str | Path) -> int:
    """Lines in a corpus file (or the corpus in an archive), read in blocks."""
    with open_corpus(path) as (_, file, _):
        count = last = 0
        while block := file.read(1 << 20):
            count, last = count + block.count(b"\n"), block[-1]
        return count + (last not in (0, ord("\n")))


def _split_fields(text: str, delimiter: str) -> list[str]:
    if delimiter == "\t":
        return text.split("\t")
    return next(csv.reader(io.StringIO(text)), [])


def _columns(first_fields: list[str], fmt: CorpusFormat, name: str, number: int):
    """(source index, target index, field count) from the header or the defaults."""
    if fmt.source_column is None:
        source_index, target_index, field_count = 0, 1, None
    else:
        header = [f.strip() for f in first_fields]
        for wanted in (fmt.source_column, fmt.target_column):
            if wanted not in header:
                raise CorpusError(f"{name} line {number}", f"no column '{wanted}' in the header ({', '.join(header)})")
        source_index, target_index = header.index(fmt.source_column), header.index(fmt.target_column)
        field_count = len(header)
    if fmt.reverse:
        source_index, target_index = target_index, source_index
    return source_index, target_index, field_count


def _field_problem(fields, field_count, source_index, target_index, delimiter) -> str | None:
    separator = "tab" if delimiter == "\t" else "comma"
    if field_count is None and len(fields) not in (2, 3):
        return f"expected 2 {separator}-separated fields (or 3 with an attribution), found {len(fields)}"
    if field_count is not None and len(fields) != field_count:
        return f"expected {field_count} {separator}-separated fields like the header, found {len(fields)}"
    for side, index in (("source", source_index), ("target", target_index)):
        if not fields[index].strip():
            return f"empty {side} sentence (field {index + 1})"
    return None


def split_corpus(pairs: pd.DataFrame, dev_size: float, test_size: float, seed: int) -> dict[str, pd.DataFrame]:
    """Split pairs into train/dev/test so that no sentence of either side is in two splits.

    Pairs that share a source or a target sentence form one group (a connected
    component), and whole groups are dealt to the splits in an order shuffled by
    `seed`. Sizes below 1 are fractions of the pairs, others are pair counts;
    dev and test are filled up to their size with groups that fit, the rest is
    train. Deterministic for a given `seed` and input.
    """
    groups = sentence_groups(pairs)
    group_sizes = np.bincount(groups)
    quotas = {name: pair_count(size, len(pairs)) for name, size in (("test", test_size), ("dev", dev_size))}
    filled = dict.fromkeys(quotas, 0)
    split_of_group = np.full(len(group_sizes), "train", dtype=object)
    for group in np.random.default_rng(seed).permutation(len(group_sizes)):
        for name in quotas:
            if filled[name] + group_sizes[group] <= quotas[name]:
                split_of_group[group] = name
                filled[name] += group_sizes[group]
                break
        if filled == quotas:
            break
    split_of_pair = split_of_group[groups]
    return {name: pairs[split_of_pair == name].reset_index(drop=True) for name in ("train", "dev", "test")}


def pair_count(size: float, total: int) -> int:
    """A split size as a pair count: a fraction below 1 of `total`, else a count."""
    if size < 0:
        raise OptionError(f"a split size must not be negative, got {size}")
    return int(round(size * total)) if size < 1 else int(size)


def sentence_groups(pairs: pd.DataFrame) -> np.ndarray:
    """For each pair, the id of its group of pairs linked by shared sentences (union-find)."""
    source_ids, _ = pd.factorize(pairs["source"])
    target_ids, targets = pd.factorize(pairs["target"])
    parent = np.arange(len(targets) + source_ids.max() + 1)
    offset = len(targets)  # target sentences are nodes 0..T-1, sources follow

    def root(node):
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for source_id, target_id in zip(source_ids, target_ids):
        a, b = root(offset + source_id), root(target_id)
        if a != b:
            parent[a] = b
    roots = np.array([root(t) for t in target_ids])
    return pd.factorize(roots)[0]


def write_pairs(pairs: pd.DataFrame, path: Path) -> None:
    """Write `source<TAB>target` lines atomically."""
    write_text_atomically(path, "".join(f"{s}\t{t}\n" for s, t in zip(pairs["source"], pairs["target"])))
