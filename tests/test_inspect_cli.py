"""`inspect` and the training's gradient-norm records, as a user runs them."""

import json
import statistics

import pandas as pd
import pytest
import tensorflow as tf

from conftest import TOY, run_cli

pytestmark = pytest.mark.slow  # trains models and runs whole commands

TINY = ["--reverse", "--dev", TOY, "--units", "32", "--embedding-dim", "16", "--tokenizer", "word", "--batch-size", "8",
        "--epochs", "6", "--warmup-steps", "5", "--learning-rate", "0.01", "--clip-norm", "1", "--no-tune-search",
        "--no-carry-graph"]


@pytest.fixture(scope="module")
def models(tmp_path_factory, toy_model):
    """Tiny models by name: an rnn attention model, a gru init model, and the session's gru attention model."""
    folder = tmp_path_factory.mktemp("inspect")
    made = {"gru": toy_model}
    for name, options in {"rnn": ["--cell", "rnn"], "init": ["--decoder", "init", "--epochs", "2"]}.items():
        result = run_cli("train", TOY, "--model-dir", folder / name, *TINY, *options)
        assert result.returncode == 0, result.stderr
        made[name] = folder / name
    return made


def test_gradients_table_plot_and_decay(models, tmp_path):
    for cell in ("rnn", "gru"):
        out = tmp_path / cell
        result = run_cli("inspect", "gradients", "--model-dir", models[cell], "--corpus", TOY, "--out", out)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        assert "decoder mean" in result.stdout and "decay per step decoder" in result.stdout
        curves = pd.read_csv(out / "gradients.csv")
        assert set(curves["part"]) == {"decoder", "encoder"} and (curves["mean"] > 0).all()
        assert curves.loc[curves["k"] == 0, "sentences"].tolist() == [54, 54]  # every toy pair, each part
        assert (out / "gradients.png").stat().st_size > 10_000
        decay = json.loads((out / "gradients.json").read_text())["decay_per_step"]
        assert all(-10 < value < 10 for value in decay.values())


def test_gradients_as_json_on_the_dev_file_the_model_was_trained_with(models):
    result = run_cli("inspect", "gradients", "--model-dir", models["rnn"], "--json", "--sentences", "20")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["corpus"] == str(TOY) and report["sentences"] == 20
    assert report["table"][0]["k"] == 0 and report["table"][0]["decoder mean"] > 0
    assert (models["rnn"] / "inspect" / "gradients.png").exists()


def test_gates_per_layer_and_refused_for_a_simple_rnn(models, tmp_path):
    result = run_cli("inspect", "gates", "--model-dir", models["gru"], "--corpus", TOY, "--out", tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["table"]
    assert {(r["layer"], r["gate"]) for r in rows} == {(layer, gate) for gate in ("update", "reset")
                                                       for layer in ("encoder 1 forward", "encoder 1 backward",
                                                                     "decoder")}
    for row in rows:
        assert 0 < row["mean"] < 1 and row["saturated"] == pytest.approx(row["below_0.05"] + row["above_0.95"])
    histograms = pd.read_csv(tmp_path / "gates_histograms.csv")
    assert histograms.groupby(["layer", "gate"])["share"].sum().round(6).eq(1).all()
    assert (tmp_path / "gates.png").stat().st_size > 10_000

    refused = run_cli("inspect", "gates", "--model-dir", models["rnn"], "--corpus", TOY)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "has no gates" in refused.stderr and "Traceback" not in refused.stderr


def test_attention_statistics_and_refused_without_attention(models, tmp_path):
    result = run_cli("inspect", "attention", "--model-dir", models["gru"], "--corpus", TOY, "--out", tmp_path,
                     "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sentences"] == 54 and 0 <= report["mean_normalized_entropy"] <= 1
    assert 0 <= report["under_translated_share"] <= 1 and 0 <= report["over_translated_share"] <= 1
    words = pd.read_csv(tmp_path / "attention_words.csv")
    assert len(words) == report["source_words"] and words["coverage"].mean() == pytest.approx(report["mean_coverage"])

    refused = run_cli("inspect", "attention", "--model-dir", models["init"], "--corpus", TOY)
    assert refused.returncode == 2 and "'init' decoder has no attention" in refused.stderr
    assert refused.stderr.count("\n") == 1


def test_history_summarises_the_per_step_gradient_norms_that_tensorboard_holds(models):
    """history.csv's median, max and clipped share per epoch, and summary.json's clip rate, recomputed by hand
    from the per-step norms in the TensorBoard log."""
    norms = {}
    for path in (models["rnn"] / "logs").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == "train/gradient_norm":
                    norms[event.step] = float(tf.make_ndarray(value.tensor))
    history = pd.read_csv(models["rnn"] / "history.csv")
    assert sorted(norms) == list(range(1, history["step"].iloc[-1] + 1))
    first = 1
    for row in history.itertuples():
        epoch = [norms[s] for s in range(first, row.step + 1)]
        assert row.gradient_norm_median == pytest.approx(statistics.median(epoch), rel=1e-6)
        assert row.gradient_norm_max == pytest.approx(max(epoch), rel=1e-6)
        assert row.clipped_share == pytest.approx(sum(n > 1.0 for n in epoch) / len(epoch))
        first = row.step + 1
    summary = json.loads((models["rnn"] / "summary.json").read_text())
    assert summary["clip_rate"] == pytest.approx(sum(n > 1.0 for n in norms.values()) / len(norms))
    assert 0 < summary["clip_rate"] < 1  # clip_norm 1 on the toy corpus clips some steps, not all


def test_bad_inspect_options_are_one_line(models, tmp_path):
    for args in (["--sentences", "0"], ["--corpus", tmp_path / "missing.tsv"], ["--model-dir", tmp_path / "none"]):
        result = run_cli("inspect", "gradients", "--model-dir", models["rnn"], *args)
        assert result.returncode == 2, args
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
