"""The models installed with the package, each a model folder made by `train` (its MODEL_CARD.md says how).

`--model-dir` takes a folder's path or one of these names; with none, commands use `DEFAULT`.
"""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
DEFAULT = FOLDER / "spa-eng"


def names() -> list[str]:
    return sorted(path.name for path in FOLDER.iterdir() if (path / "config.json").is_file())


def resolve(path: "str | Path") -> Path:
    """`path` where such a folder exists, else the installed model of that name, else `path` as given (for the
    model folder's own check to refuse)."""
    path = Path(path)
    if not path.exists() and len(path.parts) == 1 and (FOLDER / path.name / "config.json").is_file():
        return FOLDER / path.name
    return path
