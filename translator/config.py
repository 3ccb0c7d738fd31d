"""The run configuration: every option of a training run, saved as config.json in the model folder.

Each component owns its defaults (`CorpusFormat`, `TextConfig`, `ModelConfig`,
`TrainingConfig`); `RunConfig` gathers them and is what a model folder holds,
with the package version, so that the model can be rebuilt exactly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from translator import __version__
from translator.corpus import CorpusFormat
from translator.errors import ModelDirError, OptionError
from translator.files import write_text_atomically
from translator.model import ModelConfig
from translator.text import TextConfig

TEACHER_FORCING = ("always", "never", "scheduled")
SCHEDULES = ("linear", "exponential", "inverse-sigmoid")


@dataclass(frozen=True)
class TrainingConfig:
    batch_size: int = 64
    max_length: int = 50  # tokens per side, start/end excluded
    truncate: bool = False  # truncate longer pairs instead of dropping them
    epochs: int = 10
    max_minutes: float | None = None
    max_steps: int | None = None
    learning_rate: float = 1e-3
    warmup_steps: int = 200
    decay_steps: int = 20000  # the learning rate halves every decay_steps after warm-up
    clip_norm: float = 5.0  # global-norm gradient clipping; 0 turns it off
    label_smoothing: float = 0.0
    teacher_forcing: str = "always"
    schedule: str = "inverse-sigmoid"
    schedule_steps: int = 5000  # where scheduled sampling's probability of the true token reaches 0.5 (0 for linear)
    patience: int = 3
    checkpoint_every: int = 500
    dev_size: float = 0.02  # held out from the corpus when no --dev file is given
    seed: int = 1
    max_nan_recoveries: int = 3

    def __post_init__(self):
        if self.teacher_forcing not in TEACHER_FORCING:
            raise OptionError(f"unknown --teacher-forcing '{self.teacher_forcing}'; choose one of {', '.join(TEACHER_FORCING)}")
        if self.schedule not in SCHEDULES:
            raise OptionError(f"unknown --schedule '{self.schedule}'; choose one of {', '.join(SCHEDULES)}")
        for name in ("batch_size", "max_length", "epochs", "checkpoint_every", "schedule_steps"):
            if getattr(self, name) < 1:
                raise OptionError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.label_smoothing < 1:
            raise OptionError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.learning_rate <= 0 or self.clip_norm < 0:
            raise OptionError("--learning-rate must be positive and --clip-norm not negative")


@dataclass(frozen=True)
class RunConfig:
    data: CorpusFormat = field(default_factory=CorpusFormat)
    source_text: TextConfig = field(default_factory=TextConfig)
    target_text: TextConfig = field(default_factory=TextConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def to_json(self) -> dict:
        return {"version": __version__, **asdict(self)}

    def flat(self) -> dict:
        """Every option by its command-line name, underscored (the text options as the source side's: the CLI
        sets both sides alike; the tokenizer's `kind` is `tokenizer`)."""
        values = {}
        for part in (self.data, self.target_text, self.source_text, self.model, self.training):
            values |= asdict(part)
        values["tokenizer"] = values.pop("kind")
        return values

    def save(self, path: Path) -> None:
        write_text_atomically(path, json.dumps(self.to_json(), indent=2))

    @classmethod
    def load(cls, path: Path) -> "RunConfig":
        try:
            saved = json.loads(Path(path).read_text(encoding="utf-8"))
            saved.pop("version", None)
            return cls(**{name: kind(**saved[name]) for name, kind in PARTS.items()})
        except FileNotFoundError:
            raise ModelDirError(f"{path} is missing: not a model folder (train one with: python cli.py train CORPUS --model-dir DIR)") from None
        except (ValueError, KeyError, TypeError) as error:
            raise ModelDirError(f"{path}: damaged config ({error})") from None


DECODER_NAMES = ("init", "context", "feedback", "attention")


def check_names(option: str, names, allowed) -> None:
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise OptionError(f"{option}: unknown or missing {', '.join(unknown) or 'value'}; choose from {', '.join(allowed)}")


PARTS = {"data": CorpusFormat, "source_text": TextConfig, "target_text": TextConfig,
         "model": ModelConfig, "training": TrainingConfig}


def read_option_file(path: Path) -> dict:
    """Options from a YAML or JSON file, keys spelled as on the command line (dashes or underscores)."""
    if Path(path).is_dir():
        raise OptionError(f"{path}: is a folder, not a config file")
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))  # JSON is YAML too
    except FileNotFoundError:
        raise OptionError(f"{path}: no such config file") from None
    except UnicodeDecodeError as error:
        raise OptionError(f"{path}: not a YAML or JSON text file (byte 0x{error.object[error.start]:02x} at "
                          f"offset {error.start} is not UTF-8)") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path} line {mark.line + 1}" if mark else str(path)
        raise OptionError(f"{where}: not valid YAML or JSON ({getattr(error, 'problem', error)})") from None
    if not isinstance(loaded, dict):
        raise OptionError(f"{path}: expected a mapping of option names to values")
    return {str(key).replace("-", "_"): value for key, value in loaded.items()}
