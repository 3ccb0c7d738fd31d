"""Shared fixtures. The real corpus is found through TRANSLATOR_CORPORA
(default ../shared/corpora beside the repository); tests that need it skip
with the reason when it is absent."""

import os
from pathlib import Path

import pytest

from translator.quiet import import_tensorflow_quietly

import_tensorflow_quietly()

REPO = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("TRANSLATOR_CORPORA", REPO.parent / "shared" / "corpora"))


@pytest.fixture(scope="session")
def corpora() -> Path:
    if not (CORPORA / "spa-eng" / "train.tsv").exists():
        pytest.skip(f"the shared corpora are not at {CORPORA} (set TRANSLATOR_CORPORA)")
    return CORPORA


@pytest.fixture
def write(tmp_path):
    """write(name, text_or_bytes) -> path of a new file in a temporary folder."""

    def _write(name: str, content) -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    return _write
