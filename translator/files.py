"""Files: input paths checked before any heavy import, and atomic writes.

Every file or folder the package writes goes through `atomic_path`: it is
written beside its final name, then renamed into place, so that a kill at any
moment leaves the old version or the new one whole, never a mix.
"""

import contextlib
import os
import shutil
from pathlib import Path

from translator.errors import CorpusError


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def previous_version(path: Path) -> Path:
    """Where `atomic_path` keeps a replaced folder for the instant between its two renames."""
    return path.with_name(f".old-{path.name}")


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary sibling of `path` (same suffix, for writers that check it) to write a file or a
    folder into; it replaces `path` only when the block ends without an error, and is removed otherwise."""
    path = Path(path)
    partial = path.with_name(f".partial-{path.name}")
    _remove(partial)
    try:
        yield partial
        if partial.is_dir() and path.exists():  # a folder cannot be renamed over another: swap in two renames
            old = previous_version(path)
            _remove(old)
            path.replace(old)
            partial.replace(path)
            _remove(old)
        else:
            partial.replace(path)
    finally:
        _remove(partial)


def write_text_atomically(path: str | Path, text: str) -> None:
    with atomic_path(path) as partial:
        partial.write_text(text, encoding="utf-8")


def check_input_path(path: str | Path, what: str = "a corpus file") -> Path:
    """`path` as a Path, or a CorpusError when it is missing or a folder: callable before any heavy import."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(str(path), "no such file")
    if path.is_dir():
        raise CorpusError(str(path), f"is a folder, not {what}")
    return path


CACHE_ENV = "TRANSLATOR_CACHE"


def cache_root() -> Path | None:
    """The package's cache folder (compiled translate graphs, unpacked model archives), or None when
    $TRANSLATOR_CACHE is "off"."""
    configured = os.environ.get(CACHE_ENV, "")
    if configured.lower() == "off":
        return None
    return Path(configured) if configured else Path.home() / ".cache" / "translator"
