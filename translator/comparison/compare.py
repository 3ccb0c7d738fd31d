"""Train and evaluate a grid of variants (decoder x cell x seed) on identical data; tables and plots.

OUT/
  data/train.tsv, data/dev.tsv   the one split every variant sees (source<TAB>target)
  data/*_tokenizer.json          the vocabularies, learned once for all variants
  variants/<decoder>-<cell>-seed<S>/   each variant's model folder
  scores.csv                     the long table: variant, split, beam size, length penalty, BLEU, chrF
  results.csv, results.md        one row per variant (rewritten after each one)
  summary.md                     mean and spread over seeds, significance against the best
  curves.png, bleu.png, beam.png
  gradients.png                  gradient norm against steps back in time, a line per variant (`inspect gradients`;
                                 each variant's own curve in its folder, the decay per step in results.csv)
  length.png, length.csv         dev BLEU by source-length bucket, a line per variant
A variant whose row is in results.csv is not trained again, so an interrupted
compare run again with the same OUT continues where it stopped. Each variant is
scored in memory, with the model its training just produced.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import sacrebleu
from sacrebleu.significance import PairedTest

from translator.config import CorpusFormat, RunConfig
from translator.data.corpus import read_corpus, split_corpus, write_pairs
from translator.errors import OptionError
from translator.evaluation.evaluate import ReferenceSet, score
from translator.files import write_text_atomically
from translator.model.folder import SOURCE_TOKENIZER, TARGET_TOKENIZER, RunDir
from translator.decoding.inference import Translator
from translator.evaluation.search_choice import best_setting, score_grid, search_grid
from translator.training import learn_tokenizers, train

QUICK_PAIRS = 20000
QUICK_MAX_WORDS = 8


@dataclass(frozen=True)
class Variant:
    decoder: str
    cell: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.decoder}-{self.cell}-seed{self.seed}"


def prepare_split(corpus: Path, fmt: CorpusFormat, dev: Path | None, out_dir: Path, seed: int, quick: bool, echo):
    """Write the train/dev files every variant uses (once; reused when continuing)."""
    data_dir = out_dir / "data"
    train_file, dev_file = data_dir / "train.tsv", data_dir / "dev.tsv"
    if train_file.exists() and dev_file.exists():
        return train_file, dev_file
    pairs = read_corpus(corpus, fmt).pairs
    if quick:
        short = pairs[(pairs.source.str.split().str.len() <= QUICK_MAX_WORDS)]
        pairs = short.sample(n=min(QUICK_PAIRS, len(short)), random_state=seed)
    if dev is None:
        splits = split_corpus(pairs, dev_size=0.03 if quick else 0.02, test_size=0, seed=seed)
        train_pairs, dev_pairs = splits["train"], splits["dev"]
    else:
        train_pairs, dev_pairs = pairs, read_corpus(dev, fmt).pairs
    data_dir.mkdir(parents=True, exist_ok=True)
    write_pairs(dev_pairs, dev_file)
    write_pairs(train_pairs, train_file)
    echo(f"compare data: {len(train_pairs):,} train pairs, {len(dev_pairs):,} dev pairs in {data_dir}")
    return train_file, dev_file


def shared_tokenizers(train_file: Path, config: RunConfig, out_dir: Path, echo) -> tuple:
    """The (source, target) tokenizers of every variant: learned once from the shared split, kept in OUT/data."""
    folder = RunDir(out_dir / "data")
    if (folder / SOURCE_TOKENIZER).exists() and (folder / TARGET_TOKENIZER).exists():
        return folder.load_tokenizers()
    echo("learning vocabularies (once, for every variant) ...")
    pairs = read_corpus(train_file).pairs
    tokenizers = learn_tokenizers(pairs, config)
    folder.save_tokenizers(*tokenizers)
    return tokenizers


def variant_row(variant: Variant, run, scores: pd.DataFrame) -> dict:
    """One variant's row of results.csv, read off its long-table scores."""
    progress = run.progress
    row = {"variant": variant.name, "decoder": variant.decoder, "cell": variant.cell, "seed": variant.seed,
           "parameters": run.parameters, "epochs": progress.history[-1]["epoch"] if progress.history else 0,
           "train_minutes": round(progress.seconds / 60, 2),
           "train_tokens_per_s": round(progress.tokens / max(progress.seconds, 1e-9), 1),
           "best_dev_loss": round(progress.best_dev_loss, 4)}

    def at(split, beam, alpha):
        return scores[(scores["split"] == split) & (scores["beam"] == beam) & (scores["length_penalty"] == alpha)].iloc[0]

    greedy = at("dev", 1, 0.0)
    row |= {"dev_bleu_greedy": greedy["bleu"], "dev_chrf_greedy": greedy["chrf"]}
    best = best_setting(scores)
    if best is not None:
        chosen = at("dev", *best)
        row |= {"dev_bleu_beam": chosen["bleu"], "dev_chrf_beam": chosen["chrf"], "best_beam": best[0],
                "best_lp": best[1], "ms_per_sentence_beam": chosen["ms_per_sentence"]}
    trusted = chosen if best is not None else greedy  # the setting the variant's search.json holds
    row |= {"dev_length_ratio": trusted["length_ratio"], "dev_entity_fidelity": trusted["entity_fidelity"],
            "dev_repetition_rate": trusted["repetition_rate"]}
    for split_row in scores[scores["split"] == "test"].itertuples():
        suffix = "greedy" if split_row.beam == 1 else "beam"
        row |= {f"test_bleu_{suffix}": split_row.bleu, f"test_chrf_{suffix}": split_row.chrf}
    return row


def evaluate_variant(variant: Variant, run, dev_set: ReferenceSet, test_set: ReferenceSet | None, settings) -> dict:
    """Score the variant's best model (in memory) on dev over `settings`, and on test with greedy and the dev's
    best beam setting; save its dev hypotheses and search.json. Returns its results row; appends to scores.csv."""
    translator = run.translator()
    folder = run.run_dir
    rows, hypotheses = score_grid(translator, dev_set, "dev", settings)
    scores = pd.DataFrame(rows)
    best = best_setting(scores)
    write_text_atomically(folder / "dev_greedy.txt", "".join(f"{h}\n" for h in hypotheses[(1, 0.0)]))
    if best is not None:
        write_text_atomically(folder / "dev_beam.txt", "".join(f"{h}\n" for h in hypotheses[best]))
        folder.save_search(*best)
    if test_set is not None:
        test_rows, _ = score_grid(translator, test_set, "test", [(1, 0.0)] + ([best] if best else []))
        scores = pd.concat([scores, pd.DataFrame(test_rows)], ignore_index=True)
    return scores.assign(variant=variant.name)


def compare(corpus: Path, out_dir: Path, base: RunConfig, decoders, cells, seeds, dev: Path | None = None,
            test: Path | None = None, beam_sizes=(1, 5), length_penalties=(0.0,), quick: bool = False,
            echo=print, progress_bar: bool = True) -> pd.DataFrame:
    if base.model.copy and set(decoders) != {"attention"}:
        raise OptionError(f"`copy` is an option of the attention decoder; with it, compare `decoders` attention only "
                          f"(given: {', '.join(decoders)})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_file, dev_file = prepare_split(corpus, base.data, dev, out_dir, base.training.seed, quick, echo)
    dev_set = ReferenceSet.from_pairs(read_corpus(dev_file).pairs)
    test_set = ReferenceSet.from_pairs(read_corpus(test, base.data).pairs) if test else None
    tokenizers = shared_tokenizers(train_file, base, out_dir, echo)
    results_file, scores_file = out_dir / "results.csv", out_dir / "scores.csv"
    rows = pd.read_csv(results_file).to_dict("records") if results_file.exists() else []
    all_scores = [pd.read_csv(scores_file)] if scores_file.exists() else []
    done = {row["variant"] for row in rows}
    settings = search_grid(beam_sizes, length_penalties)
    for variant in (Variant(d, c, s) for d in decoders for c in cells for s in seeds):
        model_dir = out_dir / "variants" / variant.name
        if variant.name in done:
            echo(f"{variant.name}: already done, skipped")
            continue
        echo(f"{variant.name}: training")
        config = replace(base, data=CorpusFormat(),
                         model=replace(base.model, decoder=variant.decoder, cell=variant.cell),
                         training=replace(base.training, seed=variant.seed, tune_search=False,  # scored below
                                          carry_graph=False))
        resume = RunDir(model_dir).checkpoint_folder() is not None
        started = time.monotonic()
        run = train(train_file, model_dir, config, dev=dev_file, resume=resume, force=not resume, echo=echo,
                    progress_bar=progress_bar, tokenizers=tokenizers)
        scores = evaluate_variant(variant, run, dev_set, test_set, settings)
        all_scores = [frame[frame["variant"] != variant.name] for frame in all_scores] + [scores]
        rows.append(variant_row(variant, run, scores))
        write_results(pd.DataFrame(rows), pd.concat(all_scores, ignore_index=True), out_dir)
        echo(f"{variant.name}: done in {(time.monotonic() - started) / 60:.1f} min")
    table = with_gradient_decay(pd.DataFrame(rows), out_dir, dev_file, echo)
    scores = pd.concat(all_scores, ignore_index=True) if all_scores else pd.DataFrame()
    write_results(table, scores, out_dir)
    write_summary(table, out_dir, dev_set)
    lengths = bleu_by_length(table, dev_set, out_dir)
    write_text_atomically(out_dir / "length.csv", lengths.to_csv(index=False))
    draw_plots(table, scores, lengths, out_dir)
    return table


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
