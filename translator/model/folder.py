"""The model folder, in one place: every file's name, and how each is read and written.

  config.json                 every option (RunConfig) and the package version
  source_tokenizer.json, target_tokenizer.json
  model.weights.h5            the best weights by dev loss
  search.json                 optional: the beam setting chosen on dev (by `train`, or by `compare`)
  search_scores.csv           optional: the dev BLEU of each setting `train` tried
  length_limit.json           optional: how long an output may run, learned from the training pairs
  names.json                  optional: the names the training sources held, for name surrogates (entities/names.py)
  translate_graph/            optional: the translate graph of the stored search setting, without its weights
                              (`carry-graph`: a first `translate` on a new machine starts fast; startup/graph.py)
  history.csv                 one row per epoch
  summary.json                what the training run did
  checkpoint/                 everything a resume needs (variables.npz: weights and optimizer state;
                              progress.json: step, position in the epoch, early-stopping counters)
  logs/                       TensorBoard scalars
Every file is written through `files.atomic_path`, so a kill at any moment
leaves the last good version whole.

No TensorFlow at import: `RunDir.check` refuses a wrong folder while the
command line is parsed, before seconds go into importing it. The methods that
need TensorFlow or a model import it when called.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from translator.errors import ModelDirError, TranslatorError
from translator.files import atomic_path, previous_version, write_text_atomically

CONFIG = "config.json"
SOURCE_TOKENIZER = "source_tokenizer.json"
TARGET_TOKENIZER = "target_tokenizer.json"
WEIGHTS = "model.weights.h5"
SEARCH = "search.json"
SEARCH_SCORES = "search_scores.csv"
LENGTH_LIMIT = "length_limit.json"
NAMES = "names.json"
NUMBERS = "numbers.json"
HISTORY = "history.csv"
TRANSLATE_GRAPH = "translate_graph"
SUMMARY = "summary.json"
RUN = "run.json"
CHECKPOINT = "checkpoint"
LOGS = "logs"
REQUIRED_FILES = (CONFIG, SOURCE_TOKENIZER, TARGET_TOKENIZER, WEIGHTS)
JSON_FILES = {CONFIG: "config", SOURCE_TOKENIZER: "tokenizer file", TARGET_TOKENIZER: "tokenizer file", SEARCH: "search setting",
              LENGTH_LIMIT: "length limit", NAMES: "name list", NUMBERS: "number surrogates"}


class RunDir:
    """One model folder; `path / name` for any file it holds."""

    def __init__(self, path: "str | Path | RunDir"):
        self.path = Path(getattr(path, "path", path))

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __str__(self) -> str:
        return str(self.path)

    # --- checks, before TensorFlow ------------------------------------------------------
    def require(self) -> "RunDir":
        """Self, or a ModelDirError naming what is missing."""
        if not self.path.is_dir():
            what = "not a folder" if self.path.exists() else "no such model folder"
            raise ModelDirError(f"{self.path}: {what} (train one with: translator train CORPUS --model-dir {self.path})")
        missing = [name for name in REQUIRED_FILES if not (self / name).is_file()]
        if missing:
            raise ModelDirError(f"{self.path}: not a complete model folder, missing {', '.join(missing)}")
        return self

    def check(self) -> "RunDir":
        """`require`, then every file read once to see that it is whole (loading reports damage too, but
        only after TensorFlow's import)."""
        self.require()
        for name, what in JSON_FILES.items():
            if (self / name).exists():
                try:
                    json.loads((self / name).read_bytes())
                except ValueError as error:  # truncated or overwritten; UnicodeDecodeError is a ValueError
                    raise ModelDirError(f"{self / name}: damaged {what} ({error})") from None
        import h5py

        try:
            with h5py.File(self / WEIGHTS, "r"):
                pass
        except OSError as error:
            raise ModelDirError(f"{self / WEIGHTS}: damaged weights ({str(error).splitlines()[0][:200]})") from None
        return self

    def holds_model(self) -> bool:
        return (self / CONFIG).exists()

    def check_for_training(self, config, resume: bool, force: bool, requested=frozenset()) -> None:
        """Refuse what `train` cannot do here, before any work: resuming without a whole checkpoint and config,
        or with `requested` options (names) that differ from the saved run's in `config`; training a new
        model over one without `force`."""
        from translator.config import changed_options
        from translator.errors import OptionError

        if not resume:
            if self.holds_model() and not force:
                raise OptionError(f"{self} already holds a model; use `resume` to continue it, "
                                  "`force` to train a new one over it, or another `model_dir`")
            return
        if self.checkpoint_folder() is None:
            raise OptionError(f"{self}: no checkpoint to resume from")
        changed = changed_options(self.load_config(), config, requested)
        if changed:
            raise OptionError(f"{self}: `resume` continues the saved run, but these options differ from it: "
                              f"{', '.join(changed)}; drop them, or train a new model with `force`")
        self.load_checkpoint(read_arrays=False)

    # --- config, tokenizers, weights ------------------------------------------------------
    def load_config(self):
        from translator.config import RunConfig

        path = self / CONFIG
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelDirError(f"{path} is missing: not a model folder (train one with: translator train CORPUS "
                                "--model-dir DIR)") from None
        except ValueError as error:
            raise ModelDirError(f"{path}: damaged config ({error})") from None
        return RunConfig.from_json(saved, str(path))

    def save_config(self, config) -> None:
        write_text_atomically(self / CONFIG, json.dumps(config.to_json(), indent=2))

    def load_tokenizers(self):
        """(source, target) tokenizers."""
        return self._load_tokenizer(SOURCE_TOKENIZER), self._load_tokenizer(TARGET_TOKENIZER)

    def _load_tokenizer(self, name: str):
        from translator.data.text import Tokenizer

        path = self / name
        try:
            return Tokenizer.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ModelDirError(f"{path}: tokenizer file missing") from None
        except (ValueError, KeyError, TypeError, TranslatorError) as error:
            raise ModelDirError(f"{path}: damaged tokenizer file ({error})") from None

    def save_tokenizers(self, source, target) -> None:
        write_text_atomically(self / SOURCE_TOKENIZER, json.dumps(source.to_json(), ensure_ascii=False))
        write_text_atomically(self / TARGET_TOKENIZER, json.dumps(target.to_json(), ensure_ascii=False))

    def load_weights(self, model) -> None:
        try:
            model.load_weights(self / WEIGHTS)
        except Exception as error:  # h5py and Keras raise many kinds for a damaged file
            raise ModelDirError(f"{self / WEIGHTS}: damaged weights ({str(error).splitlines()[0][:200]})") from None

    def save_weights(self, model) -> None:
        with atomic_path(self / WEIGHTS) as partial:
            model.save_weights(partial)

    # --- the search setting chosen on dev ---------------------------------------------------
    def search_setting(self, **given):
        """The stored search setting (search.json, else SearchConfig's defaults) with the fields given by name
        (SearchConfig.with_given), as the model's Translator has it, without loading the model."""
        from translator.config import SearchConfig

        return (self.load_search() or SearchConfig()).with_given(**given)

    def load_search(self):
        """The SearchConfig in search.json, or None when there is none."""
        from translator.config import SearchConfig

        path = self / SEARCH
        if not path.exists():
            return None
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            return SearchConfig(beam_size=int(saved["beam_size"]), length_penalty=float(saved["length_penalty"]),
                                no_repeat_ngram_size=int(saved.get("no_repeat_ngram_size",
                                                                   SearchConfig.no_repeat_ngram_size)),
                                coverage_penalty=float(saved.get("coverage_penalty", 0.0)))
        except (OSError, ValueError, KeyError, TypeError, TranslatorError) as error:
            raise ModelDirError(f"{path}: damaged search setting ({error}); delete it to use beam 5") from None

    def save_search(self, beam_size: int, length_penalty: float) -> None:
        write_text_atomically(self / SEARCH, json.dumps({"beam_size": int(beam_size), "length_penalty": float(length_penalty)}))

    # --- the output length limit learned in training ------------------------------------------
    def load_length_limit(self):
        """The LengthLimit in length_limit.json, or the fixed default where there is none."""
        from translator.model.length_limit import LengthLimit

        path = self / LENGTH_LIMIT
        if not path.exists():
            return LengthLimit()
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            return LengthLimit(float(saved["ratio"]), int(saved["extra"]), saved.get("covered"))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelDirError(f"{path}: damaged length limit ({error}); delete it to use 2 x source + 14") from None

    def save_length_limit(self, limit) -> None:
        write_text_atomically(self / LENGTH_LIMIT, json.dumps(limit.to_json(), indent=2))

    # --- the names and numbers of the training sources ------------------------------------------------
    def load_name_surrogates(self):
        """The NameSurrogates in names.json, or None where there is none (a folder trained before them)."""
        from translator.entities.names import NameSurrogates

        return self._load_surrogates(NAMES, NameSurrogates, "name list", "name")

    def load_number_surrogates(self):
        """The NumberSurrogates in numbers.json, or None where there is none (a folder trained before them)."""
        from translator.entities.numbers import NumberSurrogates

        return self._load_surrogates(NUMBERS, NumberSurrogates, "number surrogates", "number")

    def _load_surrogates(self, name: str, kind, what: str, entity: str):
        path = self / name
        if not path.exists():
            return None
        try:
            return kind.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ModelDirError(f"{path}: damaged {what} ({error}); delete it to translate without {entity} "
                                "surrogates") from None

    def save_name_surrogates(self, surrogates) -> None:
        write_text_atomically(self / NAMES, json.dumps(surrogates.to_json(), ensure_ascii=False))

    def save_number_surrogates(self, surrogates) -> None:
        write_text_atomically(self / NUMBERS, json.dumps(surrogates.to_json(), indent=2))

    # --- training records ----------------------------------------------------------------
    def save_history(self, rows: list[dict]) -> None:
        import pandas as pd

        write_text_atomically(self / HISTORY, pd.DataFrame(rows).to_csv(index=False))

    def relative(self, path: "str | Path | None") -> str | None:
        """An existing file's path relative to this folder (records in the folder stay true when the folder moves
        with its data); anything else as it is."""
        if path is None or not Path(path).is_file():
            return None if path is None else str(path)
        return os.path.relpath(Path(path).resolve(), self.path.resolve())

    def save_run(self, corpora: list[dict], dev: Path | None) -> None:
        """What `train` was given beside its options (corpora: {"paths": [...], "weight": w}), so that `resume`
        needs only the folder. Each path is kept relative to the folder (which may move with its data) and as it
        is (the folder may move alone)."""
        def both(path):
            return {"relative": self.relative(path), "absolute": str(Path(path).resolve())}

        record = {"corpora": [{"paths": [both(p) for p in c["paths"]], "weight": c["weight"]} for c in corpora],
                  "dev": None if dev is None else both(dev)}
        write_text_atomically(self / RUN, json.dumps(record, indent=2))

    def load_run(self) -> dict:
        """run.json, each path the one of its two spellings that exists (None where neither does); ModelDirError
        where the file is missing or damaged."""
        def found(spellings):
            for path in ((self.path / spellings["relative"]).resolve(), Path(spellings["absolute"])):
                if path.exists():
                    return path
            return None

        path = self / RUN
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            return {"corpora": [{"paths": [found(p) for p in c["paths"]], "weight": float(c["weight"])}
                                for c in record["corpora"]],
                    "dev": None if record["dev"] is None else found(record["dev"]),
                    "dev_given": record["dev"] is not None,
                    "spelled": [p["absolute"] for c in record["corpora"] for p in c["paths"]]}
        except FileNotFoundError:
            raise ModelDirError(f"{path} is missing (a run from before it was kept): give the corpus again") from None
        except (ValueError, KeyError, TypeError) as error:
            raise ModelDirError(f"{path}: damaged ({error})") from None

    def save_summary(self, summary: dict) -> None:
        write_text_atomically(self / SUMMARY, json.dumps(summary, indent=2))

    def load_summary(self) -> dict:
        """summary.json, or {} where there is none or it cannot be read (it is a record, not needed to translate)."""
        try:
            return json.loads((self / SUMMARY).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    # --- the checkpoint ----------------------------------------------------------------------
    def checkpoint_folder(self) -> Path | None:
        """The checkpoint to resume from (the previous one if a save was killed between its renames), or None."""
        for folder in (self / CHECKPOINT, previous_version(self / CHECKPOINT)):
            if folder.exists():
                return folder
        return None

    def save_checkpoint(self, arrays: dict, progress: dict) -> None:
        import numpy as np

        with atomic_path(self / CHECKPOINT) as partial:
            partial.mkdir()
            np.savez(partial / "variables.npz", **arrays)
            (partial / "progress.json").write_text(json.dumps(progress), encoding="utf-8")

    def load_checkpoint(self, read_arrays: bool = True) -> tuple[dict, dict]:
        """(arrays by name, progress), or a TranslatorError naming the missing or damaged file. Without
        `read_arrays`, a check: only the index of variables.npz is read (a cut file has none), arrays {}."""
        import numpy as np

        folder = self.checkpoint_folder() or self / CHECKPOINT
        path = folder / "progress.json"
        try:
            progress = json.loads(path.read_text(encoding="utf-8"))
            path = folder / "variables.npz"
            with np.load(path) as saved:
                arrays = {name: saved[name] for name in saved.files} if read_arrays else {}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:  # a truncated .npz is a bad zip
            problem = "missing" if isinstance(error, FileNotFoundError) else f"damaged ({error})"
            raise TranslatorError(f"{path}: {problem}; cannot resume from this checkpoint") from None
        return arrays, progress

    def remove_checkpoint(self) -> None:
        import shutil

        for folder in (self / CHECKPOINT, previous_version(self / CHECKPOINT)):
            shutil.rmtree(folder, ignore_errors=True)
