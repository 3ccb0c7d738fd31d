"""Shared fixtures. The real corpus is found through TRANSLATOR_CORPORA
(default ../shared/corpora beside the repository); tests that need it skip
with the reason when it is absent."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from translator.startup.quiet import import_tensorflow_quietly

import_tensorflow_quietly()

# the fast start's cache of compiled models (startup/graph.py): one per test session, never the user's ~/.cache
os.environ.setdefault("TRANSLATOR_CACHE", tempfile.mkdtemp(prefix="translator-cache-"))

REPO = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("TRANSLATOR_CORPORA", REPO.parent / "shared" / "corpora"))
TOY = REPO / "data" / "sample" / "toy-spa-eng.tsv"  # 54 short Spanish-English pairs, English first
DEFAULT_MODEL = REPO / "translator" / "pretrained" / "spa-eng"


def run_cli(*args, stdin=None, timeout=300) -> subprocess.CompletedProcess:
    """`python cli.py ARGS` as a user runs it, from the repository root; text output captured. Without `stdin`,
    standard input is empty, as a terminal's would be to a command that does not read it (never the test
    runner's own, which translate reads when it is given no sentence)."""
    return subprocess.run([sys.executable, str(REPO / "cli.py"), *map(str, args)], capture_output=True, text=True,
                          input=stdin, cwd=REPO, timeout=timeout,
                          **({"stdin": subprocess.DEVNULL} if stdin is None else {}))


def translate_every_way(tmp_path: Path, monkeypatch, *arguments) -> list[subprocess.CompletedProcess]:
    """`translate ARGUMENTS` with the default model by each path it can take: the full load (a copy of the folder
    without the graph it carries, which fills an empty cache), from that cache, and from the carried graph."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("TRANSLATOR_CACHE", str(cache))
    bare = tmp_path / "spa-eng"
    shutil.copytree(DEFAULT_MODEL, bare, ignore=shutil.ignore_patterns("translate_graph"))
    full = run_cli("translate", "--model-dir", bare, *arguments)
    assert cache.is_dir() and list(cache.iterdir()), full.stderr
    results = [full, run_cli("translate", "--model-dir", bare, *arguments), run_cli("translate", *arguments)]
    assert all(result.returncode == 0 for result in results), [result.stderr for result in results]
    assert len(list(cache.iterdir())) == 1  # the carried graph cached nothing
    return results


@pytest.fixture(scope="session")
def corpora() -> Path:
    if not (CORPORA / "spa-eng" / "train.tsv").exists():
        pytest.skip(f"the shared corpora are not at {CORPORA} (set TRANSLATOR_CORPORA)")
    return CORPORA


@pytest.fixture
def translate_cache(tmp_path, monkeypatch):
    """An empty fast-start cache of the test's own (TRANSLATOR_CACHE), for it and the commands it runs."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("TRANSLATOR_CACHE", str(folder))
    return folder


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


@pytest.fixture(scope="session")
def toy_model(tmp_path_factory) -> Path:
    """An attention model that has memorised the toy corpus (Spanish -> English), trained once per session."""
    from translator.config import RunConfig, TrainingConfig
    from translator.data.corpus import CorpusFormat
    from translator.config import ModelConfig
    from translator.config import TextConfig
    from translator.training import train

    model_dir = tmp_path_factory.mktemp("toy") / "model"
    config = RunConfig(
        data=CorpusFormat(reverse=True),
        source_text=TextConfig(vocab_size=300),
        target_text=TextConfig(vocab_size=300),
        model=ModelConfig(decoder="attention", units=64, embedding_dim=32, dropout=0.0),
        training=TrainingConfig(batch_size=8, epochs=40, learning_rate=0.01, warmup_steps=5, patience=100,
                                checkpoint_every=1000, carry_graph=False),  # the cache's tests translate it
    )
    train(TOY, model_dir, config, dev=TOY, echo=lambda *_: None, progress_bar=False)
    return model_dir
