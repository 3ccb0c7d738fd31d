"""The models a server holds: each a loaded Translator with a name, a language pair and its card's facts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from translator import pretrained
from translator.errors import OptionError
from translator.model.folder import RunDir

# ISO 639-3 (as in Tatoeba/Anki file names such as spa-eng) -> ISO 639-1 (as LibreTranslate clients send)
ISO_639_1 = {"ara": "ar", "deu": "de", "eng": "en", "fra": "fr", "heb": "he", "hin": "hi", "ita": "it", "jpn": "ja",
             "kor": "ko", "nld": "nl", "pol": "pl", "por": "pt", "rus": "ru", "spa": "es", "swe": "sv", "tur": "tr",
             "ukr": "uk", "cmn": "zh", "zho": "zh"}
LANGUAGE_NAMES = {"ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French", "he": "Hebrew",
                  "hi": "Hindi", "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish",
                  "pt": "Portuguese", "ru": "Russian", "sv": "Swedish", "tr": "Turkish", "uk": "Ukrainian",
                  "zh": "Chinese"}
FOLDER_PAIR = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})(?:$|[-_.])")


@dataclass(frozen=True)
class ModelSpec:
    """`--model-dir [SRC-TGT=]DIR`: the folder and, when given or readable from its name, the languages."""

    path: Path
    source: str = ""
    target: str = ""

    @classmethod
    def parse(cls, text: str) -> "ModelSpec":
        pair, _, path = text.rpartition("=")
        if pair:
            source, dash, target = pair.partition("-")
            if not (dash and source and target):
                raise OptionError(f"--model-dir {text}: expected DIR or SRC-TGT=DIR (e.g. es-en=translator/pretrained/spa-eng)")
            return cls(pretrained.resolve(path), language_code(source), language_code(target))
        path = pretrained.resolve(path)
        match = FOLDER_PAIR.match(path.resolve().name)
        if not match:
            return cls(path)
        return cls(path, *map(language_code, match.groups()))


@dataclass
class ServedModel:
    name: str
    spec: ModelSpec
    translator: object  # translator.Translator (imported with TensorFlow, after start-up checks)
    batcher: object = None
    ready: bool = False
    card: dict = field(default_factory=dict)

    def matches(self, source: str, target: str, unknown_matches: bool = True) -> bool:
        """Whether this model serves source -> target ("" or "auto": any; codes as `language_code` has them); a
        model of unknown languages matches any where `unknown_matches`."""
        source, target = language_code(source), language_code(target)
        return (source in ("", "auto", self.spec.source) or (unknown_matches and not self.spec.source)) and \
            (target in ("", self.spec.target) or (unknown_matches and not self.spec.target))


def language_code(code: str) -> str:
    """The two-letter code clients send (LibreTranslate's) for an ISO 639-3 one (Tatoeba's), lower case."""
    code = code.lower()
    return ISO_639_1.get(code, code)


def model_card(name: str, spec: ModelSpec, translator) -> dict:
    """What /v1/model reports: direction, sizes, the search setting, how it runs (precision, XLA), and the test
    scores of MODEL_CARD.md."""
    config, folder = translator.config, Path(translator.model_dir)
    search = translator.default_search
    summary = RunDir(folder).load_summary()
    card_text = (folder / "MODEL_CARD.md").read_text(encoding="utf-8") if (folder / "MODEL_CARD.md").exists() else ""
    return {
        "name": name,
        "source": spec.source, "target": spec.target,
        "direction": f"{LANGUAGE_NAMES.get(spec.source, spec.source or '?')} -> {LANGUAGE_NAMES.get(spec.target, spec.target or '?')}",
        "title": card_text.splitlines()[0].lstrip("# ").strip() if card_text else name,
        "decoder": config.model.decoder, "cell": config.model.cell, "units": config.model.units,
        "embedding_dim": config.model.embedding_dim, "layers": config.model.layers,
        "bidirectional": config.model.bidirectional, "merge": config.model.merge,
        "vocab_size": {"source": translator.source_tokenizer.vocab_size, "target": translator.target_tokenizer.vocab_size},
        "parameters": summary.get("parameters"),
        "max_length": translator.max_length,
        "search": {"beam_size": search.beam_size, "length_penalty": search.length_penalty},
        "has_attention": translator.has_attention,
        "precision": translator.model.dtype_policy.name, "xla_max_batch": translator.xla_max_batch,
        "test_scores": first_score_table(card_text),
    }


def first_score_table(markdown: str) -> list[dict]:
    """The rows of the first markdown table with a BLEU column, as dicts (numbers where they are numbers)."""
    lines = [line.strip() for line in markdown.splitlines()]
    for index, line in enumerate(lines):
        cells = [c.strip() for c in line.strip("|").split("|")] if line.startswith("|") else []
        if "BLEU" in cells:
            rows = []
            for row in lines[index + 2 :]:
                if not row.startswith("|"):
                    break
                values = [_number(c.strip()) for c in row.strip("|").split("|")]
                rows.append(dict(zip(cells, values)))
            return rows
    return []


def _number(text: str):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return text
