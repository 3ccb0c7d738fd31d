"""Training that must learn, resume exactly, and fail clearly."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import TOY
from translator.config import CorpusFormat, ModelConfig, RunConfig, SearchConfig, TextConfig, TrainingConfig
from translator.data.corpus import read_corpus
from translator.errors import OptionError, TranslatorError
from translator.model.folder import RunDir
from translator.decoding.inference import Translator
from translator.training import (TrainStep, learning_rate, masked_cross_entropy, teacher_forcing_probability, train,
                                 warmup_steps)



def toy_config(decoder="attention", cell="gru", units=32, **training):
    words = TextConfig(kind="word", vocab_size=200)
    defaults = dict(batch_size=8, epochs=3, learning_rate=0.01, warmup_steps=5, patience=100, checkpoint_every=5,
                    tune_search=False, carry_graph=False)  # each traces searches: tested where asserted
    return RunConfig(
        source_text=words, target_text=words,
        model=ModelConfig(decoder=decoder, cell=cell, units=units, embedding_dim=16, dropout=0.0),
        training=TrainingConfig(**(defaults | training)),
    )


def run(tmp_path, config, name="model", **kwargs):
    """The run's Progress."""
    return train(TOY, tmp_path / name, config, dev=TOY, echo=lambda *_: None, progress_bar=False, **kwargs).progress


def test_masked_cross_entropy_ignores_padding():
    logits = np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]], "float32"))
    target = np.array([[0, 2]], "int32")
    full = float(masked_cross_entropy(target, logits, np.array([[True, True]])))
    first_only = float(masked_cross_entropy(target, logits, np.array([[True, False]])))
    assert first_only == pytest.approx(-np.log(0.5), rel=1e-5)
    assert full == pytest.approx(-(np.log(0.5) + np.log(0.8)) / 2, rel=1e-5)


def test_label_smoothing_mixes_in_the_mean_negative_log_probability_over_the_vocabulary():
    probabilities = np.array([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]], "float32")
    logits = np.log(probabilities) + 3.0  # unnormalised: the loss normalises
    target = np.array([[0, 2]], "int32")
    smoothed = float(masked_cross_entropy(target, logits, np.array([[True, True]]), label_smoothing=0.1))
    per_token = [0.9 * -np.log(p[t]) + 0.1 * -np.log(p).mean() for p, t in zip(probabilities[0], target[0])]
    assert smoothed == pytest.approx(np.mean(per_token), rel=1e-5)


@pytest.mark.parametrize("clip_norm", [None, 1.0])
def test_the_fused_adam_update_is_keras_adam(clip_norm):
    """ReplicaSummedAdam's one-op update (TensorFlow's ResourceApplyAdam) moves weights and slots as Keras' Adam
    does, step after step, clipped or not; an embedding's sparse gradient is applied as its dense sum."""
    import keras
    import tensorflow as tf

    from translator.training.step import ReplicaSummedAdam

    rng = np.random.default_rng(0)
    start = [rng.normal(size=(30, 7)).astype("float32"), rng.normal(size=(12, 4)).astype("float32")]
    runs = []
    for optimizer in (ReplicaSummedAdam(learning_rate=0.01, global_clipnorm=clip_norm),
                      keras.optimizers.Adam(learning_rate=0.01, global_clipnorm=clip_norm)):
        weights = [keras.Variable(value) for value in start]
        optimizer.build(weights)
        step = tf.function(lambda dense, rows: optimizer.apply(
            [dense, tf.IndexedSlices(tf.gather(dense[:12, :4], rows), rows, tf.constant([12, 4]))], weights))
        for seed in range(8):
            dense = tf.constant(np.random.default_rng(seed).normal(size=(30, 7)).astype("float32"))
            step(dense, tf.constant([3, 5, 7]))  # distinct rows: Keras' sparse Adam is then the dense one
        runs.append([v.numpy() for v in weights + list(optimizer.variables)])
    for fused, keras_own in zip(*runs):
        np.testing.assert_allclose(fused, keras_own, rtol=1e-5, atol=1e-6)
    assert not np.allclose(runs[0][0], start[0])  # it moved


def test_the_warm_up_is_at_most_half_the_first_epoch():
    config = TrainingConfig(warmup_steps=200)
    assert warmup_steps(config, steps_per_epoch=4) == 2 and warmup_steps(config, steps_per_epoch=1) == 1
    assert warmup_steps(config, steps_per_epoch=1800) == 200
    assert learning_rate(config, 1, 1.0, steps_per_epoch=4) == pytest.approx(config.learning_rate)


def test_no_warmup_starts_at_the_full_learning_rate():
    config = TrainingConfig(warmup_steps=0, learning_rate=0.01)
    assert warmup_steps(config, steps_per_epoch=4) == 0
    assert learning_rate(config, 0, 1.0, steps_per_epoch=4) == pytest.approx(0.01, rel=1e-3)  # no ramp: decay only
    assert learning_rate(TrainingConfig(warmup_steps=5, learning_rate=0.01), 0, 1.0) == pytest.approx(0.002, rel=1e-3)


@pytest.mark.slow
def test_a_small_corpus_learns_with_the_default_options(tmp_path):
    """54 pairs at batch 16, 30 epochs (120 steps), every other option at its default: with a fixed 200-step
    warm-up the learning rate never got going and every translation was empty."""
    config = RunConfig(data=CorpusFormat(reverse=True), training=TrainingConfig(batch_size=16, epochs=30, patience=30))
    train(TOY, tmp_path / "model", config, dev=TOY, echo=lambda *_: None, progress_bar=False)
    pairs = read_corpus(TOY, CorpusFormat(reverse=True)).pairs
    outputs = [t.text for t in Translator.load(tmp_path / "model").translate(list(pairs.source), SearchConfig(greedy=True))]
    assert sum(bool(o) for o in outputs) == len(outputs)
    assert sum(o == t for o, t in zip(outputs, pairs.target)) >= 5  # it has begun to learn the pairs themselves


def test_scheduled_sampling_probability_decays():
    for schedule in ("linear", "exponential", "inverse-sigmoid"):
        config = TrainingConfig(teacher_forcing="scheduled", schedule=schedule, schedule_steps=100)
        p = [teacher_forcing_probability(config, step) for step in (0, 50, 100, 500)]
        assert p[0] > 0.9 and p == sorted(p, reverse=True) and p[-1] < 0.05
    assert teacher_forcing_probability(TrainingConfig(teacher_forcing="never"), 0) == 0.0
    assert teacher_forcing_probability(TrainingConfig(), 10) is None


@pytest.mark.slow
@pytest.mark.parametrize("decoder", ["init", "context", "feedback", "attention"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_every_decoder_and_cell_learns(tmp_path, decoder, cell):
    progress = run(tmp_path, toy_config(decoder, cell, units=16, epochs=4))
    losses = [row["dev_loss"] for row in progress.history]
    assert losses[-1] < 0.9 * losses[0], losses


@pytest.mark.slow
@pytest.mark.parametrize("decoder", ["feedback", "attention"])
def test_memorises_the_toy_corpus(tmp_path, decoder):
    run(tmp_path, toy_config(decoder, units=64, epochs=40))
    pairs = read_corpus(TOY).pairs
    outputs = Translator.load(tmp_path / "model").translate(list(pairs.source), SearchConfig(greedy=True))
    wrong = [(o.text, t) for o, t in zip(outputs, pairs.target) if o.text != t]
    assert wrong == []


@pytest.mark.slow
def test_scheduled_sampling_trains(tmp_path):
    progress = run(tmp_path, toy_config("feedback", teacher_forcing="scheduled", schedule_steps=10, epochs=4))
    assert progress.history[-1]["dev_loss"] < progress.history[0]["dev_loss"]


def _checkpoint_arrays(model_dir):
    with np.load(model_dir / "checkpoint" / "variables.npz") as arrays:
        return {k: arrays[k] for k in arrays.files}


@pytest.mark.slow
def test_resumed_run_ends_with_the_same_weights(tmp_path):
    config = toy_config("attention", epochs=2)
    straight_progress = run(tmp_path, config, "straight")
    stopped = run(tmp_path, config, "resumed", overrides={"max_steps": 3})
    assert stopped.step == 3 and stopped.stopped_because.startswith("max_steps")
    resumed = run(tmp_path, config, "resumed", resume=True, overrides={"max_steps": None})
    assert resumed.step == straight_progress.step
    straight, again = _checkpoint_arrays(tmp_path / "straight"), _checkpoint_arrays(tmp_path / "resumed")
    assert straight.keys() == again.keys()
    for name in straight:
        np.testing.assert_array_equal(straight[name], again[name], err_msg=name)
    # the epoch's training loss is summed across the stop: the same as the straight run's
    assert resumed.history[-1]["train_loss"] == pytest.approx(straight_progress.history[-1]["train_loss"], rel=1e-9)


def test_the_model_folder_holds_everything(tmp_path):
    run(tmp_path, toy_config("context", epochs=2, tune_search=True))
    folder = tmp_path / "model"
    for name in ("config.json", "source_tokenizer.json", "target_tokenizer.json", "model.weights.h5",
                 "history.csv", "summary.json", "checkpoint/variables.npz"):
        assert (folder / name).exists(), name
    saved = json.loads((folder / "config.json").read_text())
    assert saved["version"] and saved["model"]["decoder"] == "context"
    history = pd.read_csv(folder / "history.csv")
    assert {"train_loss", "dev_loss"} <= set(history.columns)
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert RunDir(folder).load_config() == toy_config("context", epochs=2, tune_search=True)
    assert list(folder.glob(".partial-*")) == [] and list(folder.glob(".old-*")) == []
    # it ends by choosing the search on dev: search.json holds the best-scoring beam setting of the grid it tried
    grid = pd.read_csv(folder / "search_scores.csv")
    assert len(grid) == 1 + 2 * 3 and set(grid["beam"]) == {1, 5, 8}
    beams = grid[grid["beam"] > 1]
    stored = RunDir(folder).load_search()
    assert beams["bleu"].max() == beams[(beams["beam"] == stored.beam_size)
                                        & (beams["length_penalty"] == stored.length_penalty)]["bleu"].iloc[0]


def test_existing_model_is_not_overwritten_without_force(tmp_path):
    run(tmp_path, toy_config("init", epochs=1))
    before = (tmp_path / "model" / "model.weights.h5").read_bytes()
    with pytest.raises(OptionError, match="already holds a model"):
        run(tmp_path, toy_config("init", epochs=1))
    assert (tmp_path / "model" / "model.weights.h5").read_bytes() == before


def test_nan_loss_rolls_back_then_stops_with_causes(tmp_path, monkeypatch):
    messages = []
    original = TrainStep.train

    def poisoned(self, batch, teacher_forcing=None):
        result = original(self, batch, teacher_forcing)
        return result._replace(loss=result.loss * float("nan"))

    monkeypatch.setattr(TrainStep, "train", poisoned)
    with pytest.raises(TranslatorError, match="learning rate") as error:
        train(TOY, tmp_path / "m", toy_config("init"), dev=TOY, echo=messages.append, progress_bar=False)
    assert "longest: line" in str(error.value)
    assert sum("rolled back" in m for m in messages) == 3


def test_one_pair_corpus_is_a_clear_error(tmp_path):
    corpus = tmp_path / "one.tsv"
    corpus.write_text("Hi.\tHola.\n")
    with pytest.raises(TranslatorError, match="one.tsv: cannot hold out a dev set"):
        train(corpus, tmp_path / "m", toy_config(), echo=lambda *_: None, progress_bar=False)
