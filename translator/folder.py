"""The model folder's file names, and the check that it is complete and readable; no TensorFlow
here, so that a command can refuse a wrong folder before it spends seconds importing it."""

from __future__ import annotations

import json
from pathlib import Path

from translator.errors import ModelDirError

CONFIG = "config.json"
SOURCE_TOKENIZER = "source_tokenizer.json"
TARGET_TOKENIZER = "target_tokenizer.json"
WEIGHTS = "model.weights.h5"
SEARCH = "search.json"  # optional: the beam setting chosen on dev
REQUIRED_FILES = (CONFIG, SOURCE_TOKENIZER, TARGET_TOKENIZER, WEIGHTS)
JSON_FILES = {CONFIG: "config", SOURCE_TOKENIZER: "tokenizer file", TARGET_TOKENIZER: "tokenizer file", SEARCH: "search setting"}


def require_model_files(model_dir: str | Path) -> Path:
    """`model_dir` as a Path, or a ModelDirError naming what is missing."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        what = "not a folder" if model_dir.exists() else "no such model folder"
        raise ModelDirError(f"{model_dir}: {what} (train one with: python cli.py train CORPUS --model-dir {model_dir})")
    missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        raise ModelDirError(f"{model_dir}: not a complete model folder, missing {', '.join(missing)}")
    return model_dir


def check_model_folder(model_dir: str | Path) -> Path:
    """`require_model_files`, then every file read once to see that it is whole: what a command does while
    parsing its options (loading the model reports damage too, but only after TensorFlow's import)."""
    model_dir = require_model_files(model_dir)
    for name, what in JSON_FILES.items():
        if (model_dir / name).exists():
            try:
                json.loads((model_dir / name).read_bytes())
            except ValueError as error:  # a truncated or overwritten file; UnicodeDecodeError is a ValueError
                raise ModelDirError(f"{model_dir / name}: damaged {what} ({error})") from None
    _check_weights(model_dir / WEIGHTS)
    return model_dir


def _check_weights(path: Path) -> None:
    import h5py

    try:
        with h5py.File(path, "r"):
            pass
    except OSError as error:
        raise ModelDirError(f"{path}: damaged weights ({str(error).splitlines()[0][:200]})") from None
