"""The three `inspect` commands: measure a model folder on sampled sentences, write tables and plots to OUT."""

from __future__ import annotations

import json
from pathlib import Path

from translator.errors import OptionError
from translator.files import write_text_atomically
from translator.inspection.alignment import alignment_statistics
from translator.inspection.gates import collect_gates, gate_histograms, gate_statistics
from translator.inspection.gradients import GradientReport, gradient_report
from translator.inspection.sample import BATCH_SIZE, corpus_to_inspect, padded_batches, sample_pairs

TABLE_MIN_SHARE = 0.1  # the printed table stops at distances fewer than this share of the sentences reach


def measure_gradients(translator, corpus: Path, sentences: int, seed: int = 0) -> GradientReport:
    """The gradient report of `translator`'s model on a sample of `corpus`."""
    batches, _ = padded_batches(sample_pairs(corpus, translator, sentences, seed), translator)
    return gradient_report(translator.model, batches)


def save_gradients(report: GradientReport, out: Path, label: str) -> dict:
    """gradients.csv (the curves), gradients.json (the decay per step), gradients.png; returns the JSON."""
    from translator.inspection.plots import plot_gradient_curves

    out.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out / "gradients.csv", report.curves.to_csv(index=False))
    summary = {"sentences": int(report.points["sentence"].nunique()),
               "decay_per_step": {part: round(value, 5) for part, value in report.decay.items()}}
    write_text_atomically(out / "gradients.json", json.dumps(summary, indent=2))
    plot_gradient_curves({label: report.curves}, out / "gradients.png", band=True)
    return summary


def inspect_gradients(translator, model_dir: Path, corpus: Path | None, sentences: int, out: Path) -> dict:
    corpus = corpus_to_inspect(model_dir, corpus)
    report = measure_gradients(translator, corpus, sentences)
    summary = save_gradients(report, out, Path(model_dir).name)
    table = report.table()
    table = table[table["sentences"] >= max(1, TABLE_MIN_SHARE * summary["sentences"])]
    decay = {f"decay_per_step_{part}": value for part, value in summary["decay_per_step"].items()}
    return {"corpus": str(corpus), "sentences": summary["sentences"], "table": table, **decay,
            "plot": str(out / "gradients.png")}


def inspect_gates(translator, model_dir: Path, corpus: Path | None, sentences: int, out: Path) -> dict:
    from translator.inspection.plots import plot_gate_histograms

    cell = translator.config.model.cell
    if cell not in ("lstm", "gru"):
        raise OptionError(f"{model_dir}: a simple RNN ('{cell}' cell) has no gates; `inspect gates` needs an LSTM "
                          "or GRU model (train with `cell` lstm or gru)")
    corpus = corpus_to_inspect(model_dir, corpus)
    batches, used = padded_batches(sample_pairs(corpus, translator, sentences), translator)
    activations = collect_gates(translator.model, batches)
    statistics, histograms = gate_statistics(activations), gate_histograms(activations)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out / "gates.csv", statistics.to_csv(index=False))
    write_text_atomically(out / "gates_histograms.csv", histograms.to_csv(index=False))
    plot_gate_histograms(histograms, out / "gates.png")
    return {"corpus": str(corpus), "sentences": used, "table": statistics, "plot": str(out / "gates.png")}


def inspect_attention(translator, model_dir: Path, corpus: Path | None, sentences: int, out: Path) -> dict:
    from translator.inspection.plots import plot_alignment_statistics

    if not translator.has_attention:
        raise OptionError(f"{model_dir}: its '{translator.config.model.decoder}' decoder has no attention to inspect; "
                          "only models trained with `decoder` attention have it")
    corpus = corpus_to_inspect(model_dir, corpus)
    sources = sample_pairs(corpus, translator, sentences)["source"].tolist()
    search = translator.search_setting()
    alignments = []
    for start in range(0, len(sources), BATCH_SIZE):
        alignments += [a for _, a in translator.translate_with_attention(sources[start : start + BATCH_SIZE], search)]
    steps, words, summary = alignment_statistics(alignments)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out / "attention_steps.csv", steps.to_csv(index=False))
    write_text_atomically(out / "attention_words.csv", words.to_csv(index=False))
    write_text_atomically(out / "attention.json", json.dumps(summary, indent=2))
    plot_alignment_statistics(steps, words, out / "attention.png")
    search_name = "greedy" if search.greedy else f"beam {search.beam_size}"
    return {"corpus": str(corpus), "search": search_name, **summary, "plot": str(out / "attention.png")}
