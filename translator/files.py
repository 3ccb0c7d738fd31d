"""Files: input paths checked before any heavy import, and atomic writes (a file is written beside its
final name, then renamed into place, so that a kill at any moment leaves the old version or the new one whole)."""

from pathlib import Path

from translator.errors import CorpusError


def write_text_atomically(path: Path, text: str) -> None:
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def check_input_path(path: str | Path, what: str = "a corpus file") -> Path:
    """`path` as a Path, or a CorpusError when it is missing or a folder: callable before any heavy import."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(str(path), "no such file")
    if path.is_dir():
        raise CorpusError(str(path), f"is a folder, not {what}")
    return path
