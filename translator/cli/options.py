"""The command line's options, generated from the config dataclasses' fields (`config.option`): flag,
default, type, help and choices come from there, so no option is restated here or in a command.

The package's messages name fields in backquotes (`units`); `as_flags` turns
them into the flags a user typed (--units), which is all the CLI needs to
know about them.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import fields
from pathlib import Path

import click

from translator import pretrained
from translator.config import CorpusFormat, ModelConfig, SearchConfig, TextConfig, TrainingConfig
from translator.errors import OptionError
from translator.files import check_input_path
from translator.model.folder import RunDir

ALL_PARTS = (CorpusFormat, TextConfig, ModelConfig, TrainingConfig, SearchConfig)


def flag_of(f) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


FLAGS = {f.name: flag_of(f) for part in ALL_PARTS for f in fields(part)}


def as_flags(message: str) -> str:
    """`field_name` -> its flag (--field-name, or the one declared: `kind` -> --tokenizer)."""
    return re.sub(r"`([a-z][a-z0-9_]*)`", lambda m: FLAGS.get(m[1], "--" + m[1].replace("_", "-")), message)


def resolve_choices(spec) -> tuple:
    """Listed choices as they are; a registry "module:NAME" imported and its names taken."""
    if not isinstance(spec, str):
        return tuple(spec)
    module, name = spec.split(":")
    return tuple(getattr(importlib.import_module(module), name))


def choices_of(part, name: str, before_import=None) -> tuple:
    """The allowed values of field `name` of `part`; `before_import` runs before a registry is imported."""
    spec = next(f for f in fields(part) if f.name == name).metadata["choices"]
    if isinstance(spec, str) and before_import is not None:
        before_import()
    return resolve_choices(spec)


class RegistryChoice(click.Choice):
    """A Choice whose names come from a registry, imported only when a value other than the default is checked
    or help is shown: the registries live with Keras code, which a command that fails earlier (a bad option,
    a damaged folder) should not wait for."""

    def __init__(self, spec: str, before_import=None, default=None):
        self.spec, self.before_import, self.default, self._choices = spec, before_import, default, None
        self.case_sensitive = False

    def convert(self, value, param, ctx):
        if value == self.default:  # a registered name: the field's default is checked by the tests
            return value
        return super().convert(value, param, ctx)

    @property
    def choices(self):
        if self._choices is None:
            if self.before_import is not None:
                self.before_import()
            self._choices = resolve_choices(self.spec)
        return self._choices

    @choices.setter
    def choices(self, value):
        self._choices = tuple(value)


def click_option(f, before_import=None, default_from: str | None = None):
    """One click option for dataclass field `f`. default_from: say where an unset (None) value comes from."""
    meta, flag = f.metadata, flag_of(f)
    help_text = meta["help"]
    if default_from is not None:
        return click.option(flag, f.name, type=meta["type"] or type(f.default), default=None,
                            help=f"{help_text} [default: {default_from}, else {f.default}]")
    if isinstance(f.default, bool):
        if meta["negative"]:
            return click.option(f"{flag}/{meta['negative']}", f.name, default=f.default, show_default=True,
                                help=help_text)
        return click.option(flag, f.name, is_flag=True, default=f.default, help=help_text)
    if meta["choices"] is not None:
        spec = meta["choices"]
        kind = RegistryChoice(spec, before_import, f.default) if isinstance(spec, str) else click.Choice(spec, case_sensitive=False)
        return click.option(flag, f.name, type=kind, default=f.default, show_default=True, help=help_text)
    if f.default is None:
        return click.option(flag, f.name, type=meta["type"], default=None, help=help_text)
    return click.option(flag, f.name, default=f.default, show_default=True, help=help_text)


def options_for(*parts, exclude=(), before_import=None, default_from: dict | None = None):
    """A decorator adding one option per field of each dataclass in `parts` (but `exclude`), in their order.
    default_from: {field: where an unset value comes from}, for options whose default lies elsewhere."""
    default_from = default_from or {}
    chosen = [f for part in parts for f in fields(part) if f.name not in exclude]

    def apply(function):
        for f in reversed(chosen):
            function = click_option(f, before_import, default_from.get(f.name))(function)
        return function

    return apply


# --- path checks, made while the options are parsed (before TensorFlow's import, which takes seconds) ---------

def existing_file(_context, _param, path):
    """Refuse a missing file or a folder while parsing, before TensorFlow is imported (seconds)."""
    return None if path is None else check_input_path(path)


def new_file(_context, _param, path: Path | None):
    """An output file: its folder must exist and it must not be a folder itself (checked before any work)."""
    if path is not None and path.is_dir():
        raise OptionError(f"{path}: is a folder; give a file name to write")
    if path is not None and not path.absolute().parent.is_dir():
        raise OptionError(f"{path}: no folder {path.absolute().parent} to write it in")
    return path


def png_file(context, param, path: Path | None):
    """An image to write: a new file's checks, and a name ending in .png (matplotlib would add it otherwise)."""
    path = new_file(context, param, path)
    if path is not None and path.suffix.lower() != ".png":
        raise OptionError(f"{path}: the attention heatmap is a PNG image; give a file name ending in .png")
    return path


def output_folder(_context, _param, path):
    """A folder to write into: it may exist, but not as a file."""
    if path is not None and path.exists() and not path.is_dir():
        raise OptionError(f"{path}: is a file, not a folder")
    return path


def absent_path(_context, _param, path):
    """A path that the command will create: refused at once if something is already there."""
    if path is not None and path.exists():
        raise OptionError(f"{path} already exists; remove it or choose another --out")
    return path


def existing_model_folder(_context, _param, path):
    """Refuse a missing or incomplete model folder while parsing, before TensorFlow is imported."""
    if path is None:
        return None
    from translator.model.package import is_model_archive, unpacked

    path = pretrained.resolve(path)
    return RunDir(unpacked(path) if is_model_archive(path) else path).check().path
