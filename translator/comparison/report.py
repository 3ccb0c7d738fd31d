"""compare's outputs beside the variants' rows: the gradient decay and dev BLEU by source length of each variant,
results.csv/.md, summary.md (mean and spread over seeds, paired significance against the best) and the plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import sacrebleu
from sacrebleu.significance import PairedTest

from translator.decoding.inference import Translator
from translator.evaluation.evaluate import ReferenceSet, score
from translator.files import write_text_atomically

GRADIENT_SENTENCES = 200


def with_gradient_decay(table: pd.DataFrame, out_dir: Path, dev_file: Path, echo) -> pd.DataFrame:
    """The table with each variant's fitted gradient decay per step (decoder, encoder) as columns, measured on
    dev sentences (`inspect gradients`) where its folder has no gradients.json yet."""
    from translator.inspection.run import measure_gradients, save_gradients

    decay = []
    for name in table["variant"]:
        folder = out_dir / "variants" / name
        if not (folder / "gradients.json").exists():
            echo(f"{name}: measuring gradients through time")
            report = measure_gradients(Translator.load(folder), dev_file, GRADIENT_SENTENCES)
            save_gradients(report, folder, name)
        decay.append(json.loads((folder / "gradients.json").read_text(encoding="utf-8"))["decay_per_step"])
    for part in ("decoder", "encoder"):
        table[f"decay_per_step_{part}"] = [d.get(part) for d in decay]
    return table


def length_buckets(sources: list[str], buckets: int = 5) -> list[tuple[int, int]]:
    """(shortest, longest) source length in words of up to `buckets` groups of about equal size."""
    lengths = np.array([len(s.split()) for s in sources])
    edges = np.unique(np.quantile(lengths, np.linspace(0, 1, buckets + 1), method="lower"))
    if len(edges) == 1:
        return [(int(edges[0]), int(edges[0]))]
    return [(int(edges[0]), int(edges[1]))] + [(int(a) + 1, int(b)) for a, b in zip(edges[1:-1], edges[2:])]


def bleu_by_length(table: pd.DataFrame, dev_set: ReferenceSet, out_dir: Path) -> pd.DataFrame:
    """Dev BLEU of each variant's saved hypotheses (beam where the table has beam scores) by source-length bucket:
    a fixed context vector has to hold a longer sentence, attention does not."""
    key = "beam" if "dev_bleu_beam" in table else "greedy"
    lengths = np.array([len(s.split()) for s in dev_set.sources])
    rows = []
    for name in table["variant"]:
        path = out_dir / "variants" / name / f"dev_{key}.txt"
        if not path.exists():
            continue
        hypotheses = path.read_text(encoding="utf-8").split("\n")[:-1]
        for low, high in length_buckets(dev_set.sources):
            chosen = np.flatnonzero((lengths >= low) & (lengths <= high))
            subset = ReferenceSet([dev_set.sources[i] for i in chosen], [dev_set.references[i] for i in chosen])
            bleu = score([hypotheses[i] for i in chosen], subset)["bleu"]
            rows.append({"variant": name, "words": f"{low}-{high}" if low < high else str(low),
                         "sentences": len(chosen), "bleu": bleu})
    return pd.DataFrame(rows, columns=["variant", "words", "sentences", "bleu"])


MAIN_COLUMNS = ["variant", "parameters", "epochs", "train_minutes", "train_tokens_per_s", "best_dev_loss",
                "dev_bleu_greedy", "dev_chrf_greedy", "dev_bleu_beam", "dev_chrf_beam", "best_beam", "best_lp",
                "ms_per_sentence_beam", "dev_length_ratio", "dev_entity_fidelity", "dev_repetition_rate",
                "decay_per_step_decoder", "decay_per_step_encoder"]


def write_results(table: pd.DataFrame, scores: pd.DataFrame, out_dir: Path) -> None:
    write_text_atomically(out_dir / "scores.csv", scores.to_csv(index=False))
    write_text_atomically(out_dir / "results.csv", table.to_csv(index=False))
    columns = [c for c in MAIN_COLUMNS if c in table] + [c for c in table if c.startswith("test_")]
    write_text_atomically(out_dir / "results.md", table[columns].to_markdown(index=False) + "\n")


def write_summary(table: pd.DataFrame, out_dir: Path, dev_set: ReferenceSet) -> None:
    """Mean and spread over seeds per (decoder, cell); with several seeds, paired bootstrap against the best."""
    metric = "dev_bleu_beam" if "dev_bleu_beam" in table else "dev_bleu_greedy"
    grouped = table.groupby(["decoder", "cell"])[metric].agg(["mean", "std", "count"]).reset_index()
    grouped = grouped.sort_values("mean", ascending=False)
    lines = [f"BLEU on the dev split ({metric}), mean and standard deviation over seeds:", "",
             grouped.round(2).to_markdown(index=False), ""]
    significance = paired_significance(table, dev_set, out_dir, metric)
    if significance is not None:
        lines += ["Paired bootstrap resampling (sacrebleu, 1000 samples) against the best variant;",
                  "p < 0.05 marks a BLEU difference as significant:", "", significance.to_markdown(index=False), ""]
    write_text_atomically(out_dir / "summary.md", "\n".join(lines))


def paired_significance(table, dev_set: ReferenceSet, out_dir: Path, metric: str) -> pd.DataFrame | None:
    """sacrebleu's paired bootstrap of every variant against the best one, on their saved dev hypotheses."""
    key = "beam" if metric.endswith("beam") else "greedy"
    files = {name: out_dir / "variants" / name / f"dev_{key}.txt" for name in table["variant"]}
    available = [v for v in table.sort_values(metric, ascending=False)["variant"] if files[v].exists()]
    if len(available) < 2:
        return None
    # the first system is the baseline: the best
    systems = [(name, files[name].read_text(encoding="utf-8").split("\n")[:-1]) for name in available]
    test = PairedTest(systems, {"BLEU": sacrebleu.BLEU(lowercase=True)}, references=dev_set.reference_streams(),
                      test_type="bs", n_samples=1000)
    _, results = test()
    rows = []
    for name, result in zip(available, results["BLEU"]):
        rows.append({"variant": name, "BLEU": round(result.score, 2),
                     "p_value": None if result.p_value is None else round(result.p_value, 4),
                     "significant": "baseline (best)" if result.p_value is None else ("yes" if result.p_value < 0.05 else "no")})
    return pd.DataFrame(rows)


def _finish(axes, xlabel: str, ylabel: str, path: Path) -> None:
    """Label, save and close one figure."""
    from translator.inspection.plots import plt

    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8)
    axes.figure.tight_layout()
    axes.figure.savefig(path, dpi=110)
    plt.close(axes.figure)


def draw_plots(table: pd.DataFrame, scores: pd.DataFrame, lengths: pd.DataFrame, out_dir: Path) -> None:
    from translator.inspection.plots import plot_gradient_curves, plt, use_distinct_colors

    _, axes = plt.subplots(figsize=(7, 4.5))
    for name in table["variant"]:
        history = out_dir / "variants" / name / "history.csv"
        if history.exists():
            curve = pd.read_csv(history)
            axes.plot(curve["minutes"], curve["dev_loss"], marker="o", label=name)
    _finish(axes, "training minutes", "dev loss", out_dir / "curves.png")

    columns = [c for c in ("dev_bleu_greedy", "dev_bleu_beam") if c in table]
    axes = table.set_index("variant")[columns].plot.bar(figsize=(7, 4.5), rot=30)
    _finish(axes, "variant", "BLEU (dev)", out_dir / "bleu.png")

    beam_rows = scores[scores["split"] == "dev"] if len(scores) else scores
    if len(beam_rows) and beam_rows["beam"].nunique() > 1:
        _, axes = plt.subplots(figsize=(7, 4.5))
        best_lp = table.set_index("variant")["best_lp"] if "best_lp" in table else {}
        for name, curve in beam_rows.groupby("variant", sort=False):
            alpha = best_lp.get(name, 0.0)
            curve = curve[(curve["beam"] == 1) | (curve["length_penalty"] == alpha)].sort_values("beam")
            axes.plot(curve["beam"], curve["bleu"], marker="o", label=name)
        _finish(axes, "beam size", "BLEU (dev)", out_dir / "beam.png")

    curves = {name: pd.read_csv(out_dir / "variants" / name / "gradients.csv") for name in table["variant"]
              if (out_dir / "variants" / name / "gradients.csv").exists()}
    if curves:
        plot_gradient_curves(curves, out_dir / "gradients.png", relative=True)

    if len(lengths):
        _, axes = plt.subplots(figsize=(7, 4.5))
        use_distinct_colors(axes, lengths["variant"].nunique())
        for name, curve in lengths.groupby("variant", sort=False):
            axes.plot(curve["words"], curve["bleu"], marker="o", label=name)
        _finish(axes, "source length (words)", "BLEU (dev)", out_dir / "length.png")
