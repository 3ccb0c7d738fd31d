"""Atomic writes: a file is written beside its final name, then renamed into place,
so that a kill at any moment leaves either the old version or the new one whole."""

from pathlib import Path


def write_text_atomically(path: Path, text: str) -> None:
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
