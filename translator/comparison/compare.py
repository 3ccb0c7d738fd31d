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
  compare.json                   what the comparison was made of: data digests and options
A variant whose row is in results.csv is not trained again, so an interrupted
compare run again with the same OUT continues where it stopped; run with other
data or options, it is refused, naming the difference (`force` starts afresh). Each variant is
scored in memory, with the model its training just produced.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from translator.comparison.report import bleu_by_length, draw_plots, with_gradient_decay, write_results, write_summary
from translator.config import CorpusFormat, RunConfig
from translator.data.corpus import read_corpus, split_corpus, write_pairs
from translator.errors import OptionError
from translator.evaluation.evaluate import ReferenceSet
from translator.evaluation.search_choice import best_setting, score_grid, search_grid
from translator.files import write_text_atomically
from translator.model.folder import SOURCE_TOKENIZER, TARGET_TOKENIZER, RunDir
from translator.training import learn_tokenizers, train

KEY = "compare.json"
RESULT_FILES = ("scores.csv", "results.csv", "results.md", "summary.md", "length.csv", "curves.png", "bleu.png",
                "beam.png", "gradients.png", "length.png")
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


def comparison_key(corpus: Path, dev: Path | None, test: Path | None, base: RunConfig, quick: bool) -> dict:
    """What makes a comparison: its data (by digest) and every option but the grid's own (decoder, cell, seed)
    and where it runs (devices)."""
    options = {k: v for k, v in base.flat().items() if k not in ("decoder", "cell", "seed", "devices")}
    return {"corpus": file_digest(corpus), "dev": dev and file_digest(dev), "test": test and file_digest(test),
            "quick": quick, "options": options}


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def claim_folder(out_dir: Path, key: dict, force: bool, echo) -> None:
    """Refuse to continue in `out_dir` a comparison made with other data or options (naming what differs), or,
    with `force`, clear it for this one; record this comparison's key (compare.json)."""
    path = out_dir / KEY
    saved = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    if saved is None and ((out_dir / "data").exists() or (out_dir / "results.csv").exists()) and not force:
        raise OptionError(f"{out_dir} holds a comparison that did not record its data and options; give `force` to "
                          "redo it there, or another `out`")
    if saved is not None and saved != key:
        changed = [name for name in ("corpus", "dev", "test", "quick") if saved.get(name) != key[name]]
        changed += [f"`{name}` {value} (before: {saved.get('options', {}).get(name)})"
                    for name, value in key["options"].items() if saved.get("options", {}).get(name) != value]
        if not force:
            raise OptionError(f"{out_dir} holds a comparison made with another {', '.join(changed)}; give `force` "
                              "to redo it there, or another `out`")
        echo(f"{out_dir}: another {', '.join(changed)}: clearing the earlier comparison (`force`)")
    if saved != key or force:
        for name in ("data", "variants"):
            shutil.rmtree(out_dir / name, ignore_errors=True)
        for name in (*RESULT_FILES, KEY):
            (out_dir / name).unlink(missing_ok=True)
    write_text_atomically(path, json.dumps(key, indent=2))


def prepare_split(corpus: Path, fmt: CorpusFormat, dev: Path | None, out_dir: Path, seed: int, quick: bool, echo):
    """Write the train/dev files every variant uses (once; reused when continuing). Nothing is written where the
    corpus cannot give both."""
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
    if len(dev_pairs) == 0 or len(train_pairs) < 2:
        raise OptionError(f"{corpus}: its {len(pairs):,} pairs cannot give a dev split sharing no sentence with "
                          "training; give a bigger corpus, or `dev` FILE")
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
            echo=print, progress_bar: bool = True, force: bool = False) -> pd.DataFrame:
    if base.model.copy and set(decoders) != {"attention"}:
        raise OptionError(f"`copy` is an option of the attention decoder; with it, compare `decoders` attention only "
                          f"(given: {', '.join(decoders)})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    claim_folder(out_dir, comparison_key(corpus, dev, test, base, quick), force, echo)
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
