"""A model folder as one file to hand over, and that file used as a model folder.

`package` writes what translating needs and what tells a reader what the model is (its card, config,
history, scores), without the checkpoint and logs that training left (88 of a 100 MB folder), with
float16 weights and its translate graph. `--model-dir FILE.zip` unpacks such an archive once into the
cache ($TRANSLATOR_CACHE/models/, keyed by the archive's digest) and uses it from there.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from translator.errors import ModelDirError
from translator.files import atomic_path, cache_root
from translator.model.folder import CONFIG, WEIGHTS
from translator.model.weights import shrink_weights

LEFT_OUT = ("checkpoint", "logs", "inspection")  # what training and inspection leave that translating does not need
COMPLETE = ".unpacked"  # written last into an unpacked folder


def package_model(model_dir: Path, out: Path) -> tuple[int, int]:
    """Write `model_dir` as the zip archive `out` (members at its root), weights in float16. Returns (files, bytes
    of the archive)."""
    with tempfile.TemporaryDirectory(prefix="translator-package-") as scratch:
        copy = Path(scratch) / "model"
        shutil.copytree(model_dir, copy, ignore=lambda folder, names: [n for n in names if n in LEFT_OUT
                                                                        and Path(folder) == Path(model_dir)])
        shrink_weights(copy)
        files = sorted(path for path in copy.rglob("*") if path.is_file())
        with atomic_path(out) as partial, zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, path.relative_to(copy).as_posix())
    return len(files), out.stat().st_size


def is_model_archive(path: Path) -> bool:
    return path.suffix.lower() == ".zip" and path.is_file()


def unpacked(archive: Path) -> Path:
    """The model folder of a `package` archive: unpacked once into the cache (or, with the cache off, into a
    temporary folder removed at exit)."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    root = cache_root()
    if root is None:
        folder = Path(tempfile.mkdtemp(prefix="translator-model-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    else:
        folder = root / "models" / f"{archive.stem}-{digest}"
        if (folder / COMPLETE).exists():
            return folder
    _extract(archive, folder)
    return folder


def _extract(archive: Path, folder: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as members:
            names = members.namelist()
            unsafe = [n for n in names if n.startswith("/") or ".." in PurePosixPath(n).parts]
            if unsafe or CONFIG not in names or WEIGHTS not in names:
                raise ModelDirError(f"{archive}: not a model archive made by `package` "
                                    f"({'unsafe member ' + unsafe[0] if unsafe else f'no {CONFIG} or {WEIGHTS}'})")
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            members.extractall(folder)
    except zipfile.BadZipFile as error:
        raise ModelDirError(f"{archive}: damaged archive ({error})") from None
    (folder / COMPLETE).write_text(str(archive), encoding="utf-8")

