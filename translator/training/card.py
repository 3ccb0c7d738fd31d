"""MODEL_CARD.md: what a model folder holds, written by `train` so that a folder handed over explains itself."""

from __future__ import annotations

import datetime

import pandas as pd

from translator.config import RunConfig
from translator.data.languages import language_name
from translator.files import write_text_atomically
from translator.model.folder import RunDir

CARD = "MODEL_CARD.md"
KNOWN_LICENCES = {  # corpora this project documents (../shared/corpora/README.md), by a part of their file name
    "spa-eng": "Tatoeba via manythings.org/anki: CC-BY 2.0 (France); attribution tatoeba.org, manythings.org/anki",
    "nc11": "News Commentary v11 (WMT): for research use",
    "news-commentary": "News Commentary (WMT): for research use",
    "newstest": "WMT news test sets: for research use",
}


def licences(corpus: str) -> list[str]:
    return sorted({licence for part, licence in KNOWN_LICENCES.items() if part in corpus})


def write_model_card(run_dir: RunDir, config: RunConfig, summary: dict, search: tuple | None, dev_bleu: float | None):
    """Write MODEL_CARD.md from the run's config, summary.json's figures and the stored search (beam, penalty)."""
    m, t = config.model, config.training
    source, target = summary.get("source_language"), summary.get("target_language")
    history = pd.DataFrame(summary.get("history", []))
    lines = [
        f"# Model card: {run_dir.path.name} ({language_name(source)} -> {language_name(target)})", "",
        f"Written by `train` on {datetime.date.today().isoformat()}; the folder's config.json holds every option.", "",
        "## Data", "",
        f"- Training corpora: {summary.get('corpus', '?')} ({summary.get('train_pairs', 0):,} pairs after filtering"
        f"{', typing noise in a share ' + format(t.noise, 'g') if t.noise else ''}"
        f"{', invented names and numbers in a share ' + format(t.swap_entities, 'g') if t.swap_entities else ''}).",
        f"- Dev: {summary.get('dev_file') or 'held out from the corpus'} ({summary.get('dev_pairs', 0):,} pairs).",
        *[f"- Licence: {licence}" for licence in licences(summary.get("corpus", ""))],
        "- Anything built from the data (this model, its outputs' reports) carries the data's licence terms.", "",
        "## Model", "",
        f"- {m.decoder} decoder{' with copying' if m.copy else ''}, {m.cell.upper()} cells, "
        f"{'bidirectional' if m.bidirectional else 'unidirectional'} encoder of {m.layers} layer(s), embedding "
        f"{m.embedding_dim}, {m.units} units, {summary.get('parameters', 0):,} parameters; "
        f"{config.source_text.kind} vocabulary of {config.source_text.vocab_size:,} per language"
        f"{' (shared)' if m.shared_vocabulary else ''}.", "",
        "## Training", "",
        f"- {summary.get('minutes', 0):.1f} minutes, {summary.get('steps', 0):,} steps of batch {t.batch_size}, "
        f"stopped by: {summary.get('stopped_because', '?')}; best dev loss {summary.get('best_dev_loss', 0):.4f}.",
    ]
    if summary.get("init_from"):
        lines.append(f"- Fine-tuned from {summary['init_from']}.")
    if not history.empty:
        losses = ", ".join(f"{loss:.3f}" for loss in history["dev_loss"])
        lines.append(f"- Dev loss by epoch: {losses}.")
    if search:
        lines.append(f"- Search chosen on dev: beam {search[0]}, length penalty {search[1]:g}"
                     f"{f' (dev BLEU {dev_bleu:.2f})' if dev_bleu is not None else ''}.")
    lines += ["", "## Quality and limits", "",
              "Scores on the dev set say how the model does on text like its training data. Measure it on text it "
              "never saw (`python bench/quality.py --model-dir FOLDER` for Spanish-English models; `evaluate "
              "FILE --fidelity` for yours) and add the table here: names, numbers, long sentences and text "
              "unlike the training corpora are where such models fail first.", ""]
    write_text_atomically(run_dir / CARD, "\n".join(lines))
