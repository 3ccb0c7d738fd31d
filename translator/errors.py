"""Errors a user can cause and fix.

Everything raised as a `TranslatorError` is shown by the CLI as one line and
exit status 2; anything else is a bug and keeps its traceback.
"""


class TranslatorError(Exception):
    """Base class: the message is the whole story for the user."""


class CorpusError(TranslatorError):
    """A corpus file is missing, malformed, or cannot be decoded."""

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


class ModelDirError(TranslatorError):
    """A model folder is missing, incomplete or damaged."""


class OptionError(TranslatorError):
    """An option value or a combination of options makes no sense."""


class TrainingInterrupted(TranslatorError):
    """Ctrl-C during training: the checkpoint is saved and `--resume` continues."""
