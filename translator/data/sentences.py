"""Sentences to translate, one a line, from a file or standard input.

Lines are read as bytes and decoded one at a time, so that a line that is
not UTF-8 is reported with its number (or, with `skip_bad_lines`, passed on
as an empty sentence, keeping output lines aligned with input lines). A
byte-order mark and Windows line ends are accepted.
"""

from __future__ import annotations

import sys
from typing import Callable, Iterator

from translator.errors import CorpusError
from translator.files import check_input_path

BOM = b"\xef\xbb\xbf"


def check_input_file(path: str) -> None:
    """Fail early, before any model is loaded, when --input names no readable file."""
    if path != "-":
        check_input_path(path, "a file of sentences")


def read_sentences(path: str, skip_bad_lines: bool = False, warn: Callable[[str], None] = print) -> Iterator[str]:
    """The lines of `path` ('-' for standard input) as text, without their line ends."""
    check_input_file(path)
    name = "standard input" if path == "-" else path
    stream = sys.stdin.buffer if path == "-" else open(path, "rb")
    try:
        for number, raw in enumerate(stream, start=1):
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            try:
                yield raw.rstrip(b"\r\n").decode("utf-8")
            except UnicodeDecodeError as error:
                problem = f"not UTF-8 text (undecodable byte 0x{raw[error.start]:02x} at column {error.start + 1})"
                if not skip_bad_lines:
                    raise CorpusError(f"{name} line {number}",
                                      f"{problem}; --skip-bad-lines translates such a line as an empty one") from None
                warn(f"warning: {name} line {number}: {problem}; translated as an empty line")
                yield ""
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
