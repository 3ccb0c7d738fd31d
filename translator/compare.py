"""Train and evaluate a grid of variants (decoder x cell x seed) on identical data; tables and plots.

OUT/
  data/train.tsv, data/dev.tsv   the one split every variant sees (source<TAB>target)
  variants/<decoder>-<cell>-seed<S>/   each variant's model folder
  results.csv, results.md        one row per variant (rewritten after each one)
  summary.md                     mean and spread over seeds, significance against the best
  curves.png, bleu.png, beam.png
A variant whose row is in results.csv is not trained again, so an interrupted
compare run again with the same OUT continues where it stopped.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import sacrebleu
from sacrebleu.significance import PairedTest

from translator.config import RunConfig
from translator.corpus import CorpusFormat, read_corpus, split_corpus, write_pairs
from translator.evaluate import ReferenceSet, score, translate_all
from translator.files import write_text_atomically
from translator.training import train
from translator.translator import SearchConfig, Translator

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


def evaluate_variant(model_dir: Path, test: ReferenceSet, beam_sizes, length_penalties) -> tuple[dict, dict]:
    """Scores for greedy and every (beam size, length penalty); returns (row fields, hypotheses by setting)."""
    translator = Translator.load(model_dir)
    row, hypotheses = {}, {}
    greedy, seconds = translate_all(translator, test.sources, SearchConfig(greedy=True))
    hypotheses["greedy"] = greedy
    greedy_scores = score(greedy, test)
    row |= {"bleu_greedy": greedy_scores["bleu"], "chrf_greedy": greedy_scores["chrf"]}
    best = None
    for beam in [b for b in beam_sizes if b > 1]:
        for alpha in length_penalties:
            outputs, seconds = translate_all(translator, test.sources, SearchConfig(beam_size=beam, length_penalty=alpha))
            scores = score(outputs, test)
            row[f"bleu_beam{beam}_lp{alpha:g}"] = scores["bleu"]
            hypotheses[(beam, alpha)] = outputs
            if best is None or scores["bleu"] > best[0]["bleu"]:
                best = (scores, beam, alpha, seconds)
    if best is not None:
        scores, beam, alpha, seconds = best
        row |= {"bleu_beam": scores["bleu"], "chrf_beam": scores["chrf"], "best_beam": beam, "best_lp": alpha,
                "ms_per_sentence_beam": round(1000 * seconds / len(test.sources), 2)}
        hypotheses["beam"] = hypotheses[(beam, alpha)]
    return row, hypotheses


def compare(corpus: Path, out_dir: Path, base: RunConfig, decoders, cells, seeds, dev: Path | None = None,
            test: Path | None = None, beam_sizes=(1, 5), length_penalties=(0.0,), quick: bool = False,
            echo=print, progress_bar: bool = True) -> pd.DataFrame:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_file, dev_file = prepare_split(corpus, base.data, dev, out_dir, base.training.seed, quick, echo)
    dev_set = ReferenceSet.from_pairs(read_corpus(dev_file).pairs)
    test_set = ReferenceSet.from_pairs(read_corpus(test, base.data).pairs) if test else None
    results_file = out_dir / "results.csv"
    rows = pd.read_csv(results_file).to_dict("records") if results_file.exists() else []
    done = {row["variant"] for row in rows}
    for variant in (Variant(d, c, s) for d in decoders for c in cells for s in seeds):
        model_dir = out_dir / "variants" / variant.name
        if variant.name in done:
            echo(f"{variant.name}: already done, skipped")
            continue
        echo(f"{variant.name}: training")
        config = replace(base, data=CorpusFormat(),
                         model=replace(base.model, decoder=variant.decoder, cell=variant.cell),
                         training=replace(base.training, seed=variant.seed))
        resume = (model_dir / "checkpoint").exists()
        started = time.monotonic()
        progress = train(train_file, model_dir, config, dev=dev_file, resume=resume, force=not resume, echo=echo,
                         progress_bar=progress_bar)
        row = {"variant": variant.name, "decoder": variant.decoder, "cell": variant.cell, "seed": variant.seed,
               "parameters": _parameters(model_dir), "epochs": round(progress.history[-1]["epoch"] if progress.history else 0, 2),
               "train_minutes": round(progress.seconds / 60, 2),
               "train_tokens_per_s": round(progress.tokens / max(progress.seconds, 1e-9), 1),
               "best_dev_loss": round(progress.best_dev_loss, 4)}
        scores, hypotheses = evaluate_variant(model_dir, dev_set, beam_sizes, length_penalties)
        row |= {f"dev_{k}" if k.startswith(("bleu", "chrf")) else k: v for k, v in scores.items()}
        for setting in ("greedy", "beam"):
            if setting in hypotheses:
                write_text_atomically(model_dir / f"dev_{setting}.txt", "".join(f"{h}\n" for h in hypotheses[setting]))
        if "best_beam" in scores:
            save_best_search(model_dir, scores["best_beam"], scores["best_lp"])
        if test_set is not None:
            test_scores, _ = evaluate_variant(model_dir, test_set, [b for b in beam_sizes if b > 1][:1] or [1], [row.get("best_lp", 0.0)])
            row |= {f"test_{k}": v for k, v in test_scores.items() if k.startswith(("bleu", "chrf"))}
        rows.append(row)
        write_results(pd.DataFrame(rows), out_dir)
        echo(f"{variant.name}: done in {(time.monotonic() - started) / 60:.1f} min")
    table = pd.DataFrame(rows)
    write_results(table, out_dir)
    write_summary(table, out_dir, dev_set)
    draw_plots(table, out_dir)
    return table


def save_best_search(model_dir: Path, beam_size: int, length_penalty: float) -> None:
    """Record the best beam setting found on dev; `translate` uses it by default."""
    write_text_atomically(Path(model_dir) / "search.json",
                          json.dumps({"beam_size": int(beam_size), "length_penalty": float(length_penalty)}))


def _parameters(model_dir: Path) -> int:
    return json.loads((model_dir / "summary.json").read_text())["parameters"]


MAIN_COLUMNS = ["variant", "parameters", "epochs", "train_minutes", "train_tokens_per_s", "best_dev_loss",
                "dev_bleu_greedy", "dev_chrf_greedy", "dev_bleu_beam", "dev_chrf_beam", "best_beam", "best_lp",
                "ms_per_sentence_beam"]


def write_results(table: pd.DataFrame, out_dir: Path) -> None:
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
    from translator.plots import plt

    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8)
    axes.figure.tight_layout()
    axes.figure.savefig(path, dpi=110)
    plt.close(axes.figure)


def draw_plots(table: pd.DataFrame, out_dir: Path) -> None:
    from translator.plots import plt

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

    grid = [c for c in table if c.startswith("dev_bleu_beam") and "_lp" in c]
    if grid:
        _, axes = plt.subplots(figsize=(7, 4.5))
        for _, row in table.iterrows():
            points = [(1, row["dev_bleu_greedy"])] + [
                (int(c.split("beam")[1].split("_")[0]), row[c]) for c in grid if c.endswith(f"_lp{row.get('best_lp', 0):g}")
            ]
            axes.plot(*zip(*sorted(points)), marker="o", label=row["variant"])
        _finish(axes, "beam size", "BLEU (dev)", out_dir / "beam.png")
