"""Corpora larger than memory: read in chunks, tokenized into a token cache on disk, batched window by window."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from conftest import TOY, run_cli
from translator.config import CorpusFormat, ModelConfig, RunConfig, TextConfig, TrainingConfig
from translator.data.corpus import count_lines, read_corpus, stream_corpus
from translator.errors import CorpusError
from translator.data.pipeline import encode_pairs, make_dataset, padding_fraction
from translator.data.text import END_ID, Tokenizer
from translator.training import train
from translator.data import token_cache
from translator.training.data import corpus_sample, prepare_data
from translator.data.token_cache import build_token_cache


def _pairs(n, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(30)]
    sources = [" ".join(rng.choice(words, rng.integers(1, 15))) for _ in range(n)]
    return pd.DataFrame({"source": sources, "target": [" ".join(reversed(s.split())) + " ." for s in sources]})


@pytest.fixture(scope="module")
def tokenizers():
    config = TextConfig(kind="word", vocab_size=100)
    pairs = _pairs(300)
    return Tokenizer.learn(pairs.source, config), Tokenizer.learn(pairs.target, config)


def test_a_corpus_streams_in_chunks_holding_the_pairs_read_corpus_reads(write):
    lines = [f"en {i}\tes {i}" for i in range(25)]
    path = write("c.tsv", "\n".join(lines[:10] + ["", "  "] + lines[10:]) + "\n")
    chunks = list(stream_corpus(path, CorpusFormat(reverse=True), chunk_pairs=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), read_corpus(path, CorpusFormat(reverse=True)).pairs)
    assert count_lines(path) == 27


def test_a_bad_line_in_a_streamed_corpus_is_named_with_every_one_counted(write):
    path = write("c.tsv", "a\tb\nno tab here\nc\td\nalso none\n")
    with pytest.raises(CorpusError, match=r"c.tsv line 2.*found 1 \(and 1 more\)"):
        list(stream_corpus(path, CorpusFormat(), chunk_pairs=1))


def _cache(tmp_path, tokenizers, pairs, **kwargs):
    chunks = (pairs.iloc[i : i + 100] for i in range(0, len(pairs), 100))
    return build_token_cache(tmp_path / "cache", chunks, len(pairs), *tokenizers, **({"max_length": 50,
                             "truncate": False, "seed": 3} | kwargs))


def test_an_epoch_of_a_token_cache_holds_every_pair_once_in_length_sorted_batches(tmp_path, tokenizers, monkeypatch):
    monkeypatch.setattr(token_cache, "WINDOW_PAIRS", 256)  # 1,000 pairs: 4 windows
    pairs = _pairs(1000)
    cache = _cache(tmp_path, tokenizers, pairs)
    assert (len(cache), cache.windows) == (1000, 4)
    encoded = encode_pairs(pairs, *tokenizers, max_length=50)
    expected = Counter(zip(map(tuple, encoded.source.to_list()), map(tuple, encoded.target.to_list())))
    seen = Counter()
    batches = list(cache.dataset(32, seed=1, epoch=0))
    for batch in batches:
        for source, target, mask in zip(batch["source"].numpy(), batch["target_out"].numpy(),
                                        batch["target_mask"].numpy()):
            seen[(tuple(source[1 : list(source).index(END_ID)]), tuple(target[mask][:-1]))] += 1
    assert seen == expected
    assert len(batches) == cache.batch_count(32)
    random_batches = padding_fraction(make_dataset(encoded, 32, seed=1, bucketing=False))
    assert padding_fraction(cache.dataset(32, seed=1)) < random_batches / 3  # sorted by length within windows


def test_an_epochs_batches_are_fixed_by_seed_and_epoch(tmp_path, tokenizers, monkeypatch):
    monkeypatch.setattr(token_cache, "WINDOW_PAIRS", 128)
    cache = _cache(tmp_path, tokenizers, _pairs(500))

    def sources(seed, epoch):
        return [b["source"].numpy().tobytes() for b in cache.dataset(16, seed=seed, epoch=epoch)]

    assert sources(1, 0) == sources(1, 0)
    assert sources(1, 0) != sources(1, 1)
    assert sorted(sources(1, 0)) != sorted(sources(1, 1))  # different batches, not only another order


def test_a_token_cache_counts_what_it_drops(tmp_path, tokenizers):
    pairs = pd.DataFrame({"source": ["w1 w2", "w1 " * 9, "w3"], "target": ["w2 w1 .", "w1 .", "w3 " * 9]})
    cache = _cache(tmp_path, tokenizers, pairs, max_length=5)
    assert (len(cache), cache.too_long) == (1, 2)
    assert "2 dropped for length" in cache.summary()


def test_the_vocabulary_sample_is_bounded(write):
    path = write("c.tsv", "".join(f"en {i}\tes {i}\n" for i in range(500)))
    config = RunConfig(training=TrainingConfig(vocab_sample=120))
    sample = corpus_sample(path, config, count_lines(path))
    assert len(sample) == 120 and sample["line"].is_unique and sample["line"].max() > 250


@pytest.mark.slow
def test_train_streams_a_corpus_learns_and_leaves_no_cache(tmp_path):
    model = tmp_path / "model"
    result = run_cli("train", str(TOY), "--model-dir", str(model), "--stream", "on", "--tokenizer", "word",
                     "--vocab-size", "200", "--units", "32", "--embedding-dim", "16", "--batch-size", "8",
                     "--learning-rate", "0.01", "--epochs", "15", "--dev", str(TOY), "--no-tune-search")
    assert result.returncode == 0, result.stderr
    assert "streamed: 1 window(s)" in result.stdout
    history = pd.read_csv(model / "history.csv")
    assert history["dev_loss"].iloc[-1] < 0.5 * history["dev_loss"].iloc[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # the token cache beside it is gone


def test_a_streamed_corpus_without_dev_holds_out_pairs_sharing_no_sentence_with_training(write, tmp_path):
    def word(i):
        return "".join(chr(ord("a") + int(d)) for d in str(i))

    lines = [f"en {word(i % 150)}\tes {word(i % 170)}\n" for i in range(600)]  # sentences recur
    path = write("c.tsv", "".join(lines))
    config = RunConfig(source_text=TextConfig(kind="word", vocab_size=400),
                       target_text=TextConfig(kind="word", vocab_size=400),
                       training=TrainingConfig(dev_size=0.1, vocab_sample=300))  # dev drawn from half the lines
    everything = read_corpus(path).pairs
    tokenizers = (Tokenizer.learn(everything.source, config.source_text),
                  Tokenizer.learn(everything.target, config.target_text))  # no unknown words: pairs compare by ids
    data = prepare_data(config, path, None, tokenizers, lambda *_: None, tmp_path / "cache")
    source_ids = data.train.read_window(0)
    train_sources = set(map(tuple, tf.RaggedTensor.from_row_lengths(*source_ids[:2]).to_list()))
    dev_sources = set(map(tuple, data.dev.source.to_list()))
    assert len(data.dev) > 0
    assert not train_sources & dev_sources
    assert len(data.train) + len(data.dev) < 600  # the pairs sharing a sentence with dev were left out


@pytest.mark.slow
def test_a_resumed_streamed_run_ends_with_the_same_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(token_cache, "WINDOW_PAIRS", 16)  # 54 pairs in 4 windows
    words = TextConfig(kind="word", vocab_size=200)
    config = RunConfig(source_text=words, target_text=words,
                       model=ModelConfig(units=16, embedding_dim=8, dropout=0.0),
                       training=TrainingConfig(batch_size=8, epochs=2, learning_rate=0.01, warmup_steps=5,
                                               checkpoint_every=5, stream="on", tune_search=False,
                                               carry_graph=False))

    def run(name, **kwargs):
        return train(TOY, tmp_path / name, config, dev=TOY, echo=lambda *_: None, progress_bar=False, **kwargs)

    straight = run("straight").progress
    assert run("resumed", overrides={"max_steps": 4}).progress.step == 4
    resumed = run("resumed", resume=True, overrides={"max_steps": None}).progress
    assert resumed.step == straight.step
    for name in ("straight", "resumed"):
        assert (tmp_path / name / "model.weights.h5").exists()
    with np.load(tmp_path / "straight" / "checkpoint" / "variables.npz") as a, \
            np.load(tmp_path / "resumed" / "checkpoint" / "variables.npz") as b:
        assert a.files == b.files
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_auto_streams_a_corpus_file_above_the_size_limit(write, monkeypatch):
    from translator.training import data

    path = write("c.tsv", "en\tes\n" * 1000)  # 6,000 bytes
    auto, on, off = (RunConfig(training=TrainingConfig(stream=s)) for s in ("auto", "on", "off"))
    assert not data.streams(auto, path) and data.streams(on, path) and not data.streams(off, path)
    monkeypatch.setattr(data, "STREAM_ABOVE_MB", 0.005)
    assert data.streams(auto, path) and not data.streams(off, path)
