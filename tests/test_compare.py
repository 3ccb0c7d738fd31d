"""compare as a user runs it: a table, plots, rows equal to `evaluate`, and continuation."""

import json

import pandas as pd
import pytest

from conftest import TOY, run_cli

pytestmark = pytest.mark.slow  # each row or case runs whole commands

TINY = ["--units", "32", "--embedding-dim", "16", "--tokenizer", "word", "--batch-size", "8", "--epochs", "4",
        "--warmup-steps", "5", "--learning-rate", "0.01"]


def cli(*args):
    return run_cli(*args, timeout=900)


def test_compare_writes_results_that_evaluate_reproduces_and_continues(tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", TOY, "--reverse", "--out", out, "--decoders", "init,attention", "--seeds", "1,2",
            "--dev", TOY, "--beam-sizes", "1,3", *TINY]
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    table = pd.read_csv(out / "results.csv")
    assert list(table["variant"]) == ["init-gru-seed1", "init-gru-seed2", "attention-gru-seed1", "attention-gru-seed2"]
    for column in ("parameters", "epochs", "train_minutes", "train_tokens_per_s", "best_dev_loss", "dev_bleu_greedy",
                   "dev_chrf_greedy", "dev_bleu_beam", "dev_chrf_beam", "ms_per_sentence_beam"):
        assert table[column].notna().all(), column
    for name in ("results.md", "summary.md", "curves.png", "bleu.png", "beam.png", "gradients.png", "length.png"):
        assert (out / name).stat().st_size > 0, name
    for column in ("decay_per_step_decoder", "decay_per_step_encoder"):  # inspect gradients, per variant
        assert table[column].between(-10, 10).all(), column
    lengths = pd.read_csv(out / "length.csv")
    assert set(lengths["variant"]) == set(table["variant"])
    per_variant = lengths.groupby("variant")["sentences"].sum()
    assert (per_variant == per_variant.iloc[0]).all()  # the same dev sentences, every one in one bucket
    summary = (out / "summary.md").read_text()
    assert "std" in summary and "baseline (best)" in summary

    row = table.iloc[-1]
    evaluated = cli("evaluate", out / "data" / "dev.tsv", "--model-dir", out / "variants" / row["variant"],
                    "--beam-size", int(row["best_beam"]), "--json", "--fidelity")
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["bleu"] == row["dev_bleu_beam"]
    assert (report["length_ratio"], report["repetition_rate"]) == (row["dev_length_ratio"], row["dev_repetition_rate"])
    assert report["entity_fidelity"] == (None if pd.isna(row["dev_entity_fidelity"]) else row["dev_entity_fidelity"])

    # interrupted after the first variant: drop the others' rows and run again
    table.iloc[:1].to_csv(out / "results.csv", index=False)
    again = cli(*args)
    assert again.returncode == 0, again.stderr
    assert "init-gru-seed1: already done, skipped" in again.stdout
    assert "init-gru-seed2: training" in again.stdout
    assert len(pd.read_csv(out / "results.csv")) == 4

    # run again with another option, or another corpus: refused, naming it, the results left as they were
    before = (out / "results.csv").read_bytes()
    changed = cli(*args[:-2], "--learning-rate", "0.02")
    assert changed.returncode == 2 and "--learning-rate 0.02" in changed.stderr and "--force" in changed.stderr
    other = tmp_path / "other.tsv"
    other.write_text(TOY.read_text(encoding="utf-8") + "The end.\tEl fin.\n", encoding="utf-8")
    other_corpus = cli("compare", other, *args[2:])
    assert other_corpus.returncode == 2 and "corpus" in other_corpus.stderr
    assert (out / "results.csv").read_bytes() == before
    redone = cli("compare", other, *args[2:], "--decoders", "init", "--seeds", "1", "--force")
    assert redone.returncode == 0, redone.stderr
    assert list(pd.read_csv(out / "results.csv")["variant"]) == ["init-gru-seed1"]


def test_a_corpus_too_small_for_a_dev_split_leaves_no_files(tmp_path):
    three = tmp_path / "three.tsv"
    three.write_text("Go.\tVe.\nHi.\tHola.\nRun!\tCorre.\n", encoding="utf-8")
    out = tmp_path / "cmp"
    failed = cli("compare", three, "--out", out, "--decoders", "init", *TINY)
    assert failed.returncode == 2 and "dev" in failed.stderr
    assert not (out / "data").exists()
    works = cli("compare", TOY, "--out", out, "--decoders", "init", "--dev", TOY, *TINY, "--force")
    assert works.returncode == 0, works.stderr
