"""Every option of a run, declared once: its name, default, help text and bounds.

Each component's options are one frozen dataclass (`CorpusFormat`,
`TextConfig`, `ModelConfig`, `TrainingConfig`, `SearchConfig`); `RunConfig`
gathers what a model folder holds. The command line is generated from these
fields (`options.py`), so an option is added here and nowhere else.

A field's choices are either listed here or named as a registry
("module:NAME") owned by the component that implements them: the decoders,
cells, contexts and tokenizers are checked where they are built, so adding a
decoder touches `decoders.py` only. No Keras or TensorFlow here: reading a
config file or a model folder's config.json needs neither.

Messages name fields in backquotes (`units`); the CLI shows them as flags.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import yaml

from translator import __version__
from translator.errors import ModelDirError, OptionError

MIN_VOCABULARY = 5  # the four reserved tokens (text.RESERVED_TOKENS) and one more


def option(default=None, help: str = "", *, flag: str | None = None, negative: str | None = None,
           choices: tuple | str | None = None, minimum=None, maximum=None, above=None, below=None, type=None):
    """A dataclass field with what the command line and the checks need to know about it.

    flag: its command-line spelling when not --field-name; negative: the off switch of a boolean
    (e.g. --unidirectional); choices: allowed values, or a registry "module:NAME" of them;
    minimum, maximum (inclusive), above, below (exclusive): bounds checked by `check_bounds`;
    type: the value's type where the default (None) does not show it.
    """
    metadata = {"help": help, "flag": flag, "negative": negative, "choices": choices,
                "minimum": minimum, "maximum": maximum, "above": above, "below": below, "type": type}
    return field(default=default, metadata=metadata)


def check_bounds(config) -> None:
    """Refuse a value outside its declared bounds or listed choices (registries are checked by their owners)."""
    for f in fields(config):
        value, meta = getattr(config, f.name), f.metadata
        if value is None or not meta:
            continue
        if isinstance(meta["choices"], tuple) and value not in meta["choices"]:
            raise OptionError(f"`{f.name}`: unknown '{value}'; choose one of {', '.join(meta['choices'])}")
        if meta["minimum"] is not None and value < meta["minimum"]:
            raise OptionError(f"`{f.name}` must be at least {meta['minimum']}, got {value}")
        if meta["maximum"] is not None and value > meta["maximum"]:
            raise OptionError(f"`{f.name}` must be at most {meta['maximum']}, got {value}")
        if meta["above"] is not None and value <= meta["above"]:
            raise OptionError(f"`{f.name}` must be above {meta['above']}, got {value}")
        if meta["below"] is not None and value >= meta["below"]:
            raise OptionError(f"`{f.name}` must be below {meta['below']}, got {value}")


class Checked:
    """Mixin: bounds are checked when a config is made."""

    def __post_init__(self):
        check_bounds(self)


@dataclass(frozen=True)
class CorpusFormat(Checked):
    """How to read a corpus file: which column is the source, and how strictly."""

    reverse: bool = option(False, "Swap the two columns: the second becomes the source (Spanish->English from an Anki file).")
    source_column: str | None = option(None, "Name of the source column, for a file with a header.", type=str)
    target_column: str | None = option(None, "Name of the target column, for a file with a header.", type=str)
    skip_bad_lines: bool = option(False, "Skip malformed lines and count them, instead of stopping at the first.")
    detokenize: str = option("auto", "Make Moses-tokenized, XML-escaped text (\"the crisis , they said &apos;\", as "
                             "WMT and OPUS distribute corpora) plain: auto (where a sample of the file reads so), "
                             "on, off.", choices=("auto", "on", "off"))

    def __post_init__(self):
        super().__post_init__()
        if (self.source_column is None) != (self.target_column is None):
            raise OptionError("`source_column` and `target_column` go together: give both or neither")


@dataclass(frozen=True)
class TextConfig(Checked):
    """How sentences of one language become token ids (the CLI sets both sides alike)."""

    kind: str = option("wordpiece", "Subwords (wordpiece) or whole words (word, for comparison).", flag="--tokenizer",
                       choices="translator.data.text:TOKENIZER_KINDS")
    vocab_size: int = option(8000, "Per language, reserved tokens included (a target for WordPiece, a cap for words).",
                             minimum=MIN_VOCABULARY)
    lowercase: bool = option(False, "Lowercase all text.")
    strip_accents: bool = option(False, "Remove accents (NFKD); the default keeps them (NFC).")
    split_digits: bool = option(True, "Spell numbers digit by digit (no subword holds two digits), so that a number "
                                "never seen in training is still made of known tokens and can be copied.",
                                negative="--no-split-digits")


@dataclass(frozen=True)
class ModelConfig(Checked):
    """Everything needed to rebuild a model (vocabulary sizes come from the tokenizers)."""

    decoder: str = option("attention", "init: c is the initial state only; context: c at every step; feedback: c and "
                          "the previous token; attention: Bahdanau.", choices="translator.model.decoders:DECODERS")
    cell: str = option("gru", "The recurrent cell of encoder and decoder.", choices="translator.model.cells:CELLS")
    embedding_dim: int = option(128, "Width of the token embeddings.", minimum=1)
    units: int = option(256, "Width of the recurrent states.", minimum=1)
    layers: int = option(1, "Encoder layers.", minimum=1)
    bidirectional: bool = option(True, "Encoder direction.", negative="--unidirectional")
    merge: str = option("concat", "How a bidirectional encoder joins its two directions: concat (memory and context "
                        "2 x units wide) or sum (units wide, as the TensorFlow tutorial's encoder: the attention "
                        "decoder's step reads half as much context; faster, but learned less per step here).", choices="translator.model.encoder:MERGES")
    context: str = option("last", "c = h_N, tanh(q h_N), or tanh(q mean h_j).", choices="translator.model.encoder:CONTEXTS")
    dropout: float = option(0.1, "Between encoder layers.", minimum=0.0, below=1.0)
    readout: int = option(0, "Width of a tanh layer between the decoder state (and context) and the output layer; "
                          "0 = none. Makes the attention decoder's output layer, its costliest part, several times "
                          "cheaper.", minimum=0)
    copy: bool = option(False, "Let the attention decoder copy source tokens (a pointer-generator): names and numbers "
                        "it never learned come through. Implies --shared-vocabulary.")
    shared_vocabulary: bool = option(False, "One subword vocabulary learned from both languages (the usual choice "
                                     "for languages that share a script; what --copy needs).")

    def __post_init__(self):
        super().__post_init__()
        if self.copy and self.decoder != "attention":
            raise OptionError(f"`copy` copies by the attention weights: it needs `decoder` attention, "
                              f"not {self.decoder}")
        if self.copy and not self.shared_vocabulary:
            object.__setattr__(self, "shared_vocabulary", True)


TEACHER_FORCING = ("always", "never", "scheduled")
STREAM_ABOVE_MB = 100
PRECISIONS = ("auto", "float32", "bfloat16", "mixed_float16")
SCHEDULES = ("linear", "exponential", "inverse-sigmoid")


@dataclass(frozen=True)
class TrainingConfig(Checked):
    batch_size: int = option(64, "Sentence pairs per step.", minimum=1)
    max_length: int = option(50, "Tokens per side (start/end excluded); longer pairs are dropped (or truncated).",
                             minimum=1)
    truncate: bool = option(False, "Truncate long pairs instead of dropping them.")
    epochs: int = option(10, "Passes over the training pairs.", minimum=1)
    max_minutes: float | None = option(None, "Stop after this much training time.", type=float, above=0)
    max_steps: int | None = option(None, "Stop after this many steps.", type=int, minimum=1)
    learning_rate: float = option(1e-3, "Adam's learning rate after the warm-up.", above=0)
    warmup_steps: int = option(200, "Steps of linear warm-up (at most half the first epoch); 0: none.", minimum=0)
    decay_steps: int = option(20000, "The learning rate halves every this many steps.", minimum=1)
    clip_norm: float = option(5.0, "Clip gradients to this global norm; 0 turns clipping off.", minimum=0)
    label_smoothing: float = option(0.0, "Share of the target probability spread over the vocabulary.",
                                    minimum=0, below=1)
    teacher_forcing: str = option("always", "Feed the true previous token (always), the model's own prediction "
                                  "(never), or the true one with a decaying probability (scheduled). Affects only the "
                                  "feedback and attention decoders: init and context never see the previous token.",
                                  choices=TEACHER_FORCING)
    schedule: str = option("inverse-sigmoid", "Decay of the true-token probability under --teacher-forcing scheduled.",
                           choices=SCHEDULES)
    schedule_steps: int = option(5000, "Step where that probability reaches 0.5 (0 for linear).", minimum=1)
    patience: int = option(3, "Epochs without dev improvement before stopping.", minimum=1)
    checkpoint_every: int = option(500, "Steps between checkpoints.", minimum=1)
    dev_size: float = option(0.02, "Dev split held out when no --dev file is given: a fraction below 1, a pair "
                             "count from 1.", above=0)
    seed: int = option(1, "Seed of initialisation, shuffling and sampling.")
    swap_entities: float = option(0.0, "Share (0-1) of the training pairs holding names or numbers that get "
                                  "invented ones instead, on both sides alike, after the vocabulary is learned: "
                                  "teaches a --copy model to copy names and numbers it never saw.",
                                  minimum=0, maximum=1)
    noise: float = option(0.0, "Share (0-1) of the training pairs whose source is rewritten as people type it "
                          "(accents and inverted marks dropped, all lower or upper case, a keyboard slip), after "
                          "the vocabulary is learned, so that such input translates as the clean text would.",
                          minimum=0, maximum=1)
    drop_test_sentences: bool = option(True, "Drop training pairs that share a sentence with the test sets of the "
                                       "quality suite (translator/testsets/), so that its scores stay honest.",
                                       negative="--keep-test-sentences")
    max_length_ratio: float = option(2.0, "Drop training pairs whose sides' lengths (characters, with 10 of slack) "
                                     "differ more than this: the mark of a misaligned pair; 0 keeps every pair.",
                                     minimum=0)
    stream: str = option("auto", "Read the training corpus from disk in chunks into a token cache in the model "
                         "folder (removed at the end) instead of into memory, so that memory does not grow with the "
                         f"corpus: auto streams files over {STREAM_ABOVE_MB} MB.", choices=("auto", "on", "off"))
    vocab_sample: int = option(200_000, "Pairs, drawn at random, from which a streamed corpus's vocabulary (and the "
                               "names --swap-entities swaps) are learned.", minimum=100)
    max_nan_recoveries: int = option(3, "Roll-backs after a NaN loss before giving up.", minimum=0)
    devices: str = option("1", "Devices to train on: a count, or all (the GPUs, or the CPU's logical devices where "
                          "there is no GPU). Several split each batch across them (tf.distribute.MirroredStrategy); "
                          "with TF_CONFIG set, the workers it names train together (MultiWorkerMirroredStrategy).")
    tune_search: bool = option(True, "End by choosing the beam size and length penalty with the best dev BLEU "
                               "(over the two lists below) and storing them in search.json, which translate, "
                               "evaluate, export and serve use by default.", negative="--no-tune-search")
    carry_graph: bool = option(True, "End by storing the translate graph of the stored search setting in the folder "
                               "(translate_graph/, about 1 MB; what `carry-graph` writes), so that the model's first "
                               "translate starts fast too.", negative="--no-carry-graph")
    tune_beam_sizes: str = option("5,8", "Beam sizes that --tune-search tries (comma-separated, each above 1).")
    tune_length_penalties: str = option("0,0.6,1.0", "Length penalties (GNMT alpha) that --tune-search tries.")
    precision: str = option("float32", "Compute dtype of the layers (variables, logits and loss stay float32): "
                            "bfloat16 gains on CPUs with BF16 instructions, mixed_float16 on GPUs; auto picks "
                            "bfloat16 where this CPU has them and it measures faster, else float32.",
                            choices=PRECISIONS)

    def __post_init__(self):
        super().__post_init__()
        devices = str(self.devices).strip().lower()  # a config file may give a number
        if devices != "all" and not (devices.isdigit() and int(devices) >= 1):
            raise OptionError(f"`devices` must be a count from 1 or all, got '{self.devices}'")
        object.__setattr__(self, "devices", devices)
        self.search_grid()  # refuses a malformed list now, not after hours of training

    def search_grid(self) -> tuple[list[int], list[float]]:
        """(beam sizes, length penalties) that --tune-search tries."""
        def items(value):  # a config file may give a YAML list
            return [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value).split(",")

        try:
            beams = [int(b) for b in items(self.tune_beam_sizes)]
            penalties = [float(a) for a in items(self.tune_length_penalties)]
        except ValueError:
            raise OptionError(f"`tune_beam_sizes` and `tune_length_penalties` are comma-separated numbers, got "
                              f"'{self.tune_beam_sizes}' and '{self.tune_length_penalties}'") from None
        if min(beams) < 2 or min(penalties) < 0:
            raise OptionError(f"`tune_beam_sizes` must each be above 1 and `tune_length_penalties` at least 0, got "
                              f"'{self.tune_beam_sizes}' and '{self.tune_length_penalties}'")
        return beams, penalties


@dataclass(frozen=True)
class SearchConfig(Checked):
    beam_size: int = option(5, "1 is greedy.", minimum=1)
    length_penalty: float = option(0.0, "GNMT alpha; 0 = none.", minimum=0)
    n_best: int = option(1, "Hypotheses per sentence.", minimum=1)
    greedy: bool = option(False, "Greedy decoding (the same as beam size 1).")
    no_repeat_ngram_size: int = option(4, "Never output an n-gram of this many subword tokens twice in one "
                                          "translation (stops loops like 'ff ff ff'); 0: off.", minimum=0)
    coverage_penalty: float = option(0.0, "GNMT coverage penalty beta (beam search, attention models): a finished "
                                     "hypothesis gains beta * sum over source tokens of log(min(attention they "
                                     "received, 1)), so one that left source words unread ranks lower; 0 = none.",
                                     minimum=0)
    whole_words: bool = option(True, "Once an output word starts as a name or number of the source does, finish it "
                               "as the source spells it (models with one vocabulary for both languages).",
                               negative="--no-whole-words")
    name_surrogates: bool = option(True, "Translate a name the training sources never held (or copied fewer than "
                                   "5 times) as a name they held often, then put it back in the output (the "
                                   "model's names.json; not in an exported SavedModel).",
                                   negative="--no-name-surrogates")
    number_surrogates: bool = option(True, "Translate a number written with separators (1.250,50) as a plain number "
                                     "the training pairs copy, then put it back with the target's separators "
                                     "(1,250.50; the model's numbers.json; not in an exported SavedModel).",
                                     negative="--no-number-surrogates")

    def __post_init__(self):
        super().__post_init__()
        if self.n_best > self.beam_size:
            raise OptionError("`n_best` must be at most `beam_size`")

    def with_given(self, *, greedy: bool = False, n_best: int | None = None, **given) -> "SearchConfig":
        """This setting (a model's stored default) with the fields a user gave by name; None keeps the stored
        value, `greedy` means beam size 1, and `n_best` is 1 unless given."""
        unknown = set(given) - {f.name for f in fields(self)}
        if unknown:
            raise TypeError(f"SearchConfig has no field {', '.join(sorted(unknown))}")
        if greedy:
            given["beam_size"] = 1
        setting = replace(self, n_best=1, **{k: v for k, v in given.items() if v is not None})
        return replace(setting, n_best=n_best or 1, greedy=setting.beam_size == 1)


# what an option added later meant for a folder saved before it: tokenizers of older versions kept numbers whole
LEGACY_DEFAULTS = {TextConfig: {"split_digits": False},
                   TrainingConfig: {"max_length_ratio": 0.0, "drop_test_sentences": False}}
PARTS = {"data": CorpusFormat, "source_text": TextConfig, "target_text": TextConfig,
         "model": ModelConfig, "training": TrainingConfig}


@dataclass(frozen=True)
class RunConfig:
    data: CorpusFormat = field(default_factory=CorpusFormat)
    source_text: TextConfig = field(default_factory=TextConfig)
    target_text: TextConfig = field(default_factory=TextConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def to_json(self) -> dict:
        return {"version": __version__, **asdict(self)}

    @classmethod
    def from_json(cls, saved: dict, where: str) -> "RunConfig":
        try:
            return cls(**{name: kind(**(LEGACY_DEFAULTS.get(kind, {}) | saved[name])) for name, kind in PARTS.items()})
        except (KeyError, TypeError, OptionError) as error:
            raise ModelDirError(f"{where}: damaged config ({error})") from None

    @classmethod
    def from_options(cls, options: dict) -> "RunConfig":
        """A RunConfig from options by field name (the text options apply to both sides); absent ones keep
        their defaults."""
        def part(kind):
            return kind(**{f.name: options[f.name] for f in fields(kind) if f.name in options})

        text = part(TextConfig)
        return cls(data=part(CorpusFormat), source_text=text, target_text=text, model=part(ModelConfig),
                   training=part(TrainingConfig))

    def flat(self) -> dict:
        """Every option by field name (the text options as the source side's: the CLI sets both sides alike)."""
        values = {}
        for part in (self.data, self.target_text, self.source_text, self.model, self.training):
            values |= asdict(part)
        return values


def changed_options(saved: RunConfig, given: RunConfig, names) -> list[str]:
    """'`name` value (saved: value)' for each of `names` whose value differs between the two configs."""
    saved_values, given_values = saved.flat(), given.flat()
    return [f"`{name}` {given_values[name]} (saved: {saved_values[name]})"
            for name in sorted(names) if name in saved_values and given_values[name] != saved_values[name]]


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
