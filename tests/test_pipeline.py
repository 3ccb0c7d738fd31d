import numpy as np
import pandas as pd
import pytest

from translator.data.pipeline import batch_members, encode_pairs, make_dataset, padding_fraction
from translator.data.text import END_ID, PAD_ID, START_ID, TextConfig, Tokenizer


def _pairs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(30)]
    sources = [" ".join(rng.choice(words, rng.integers(1, 15))) for _ in range(n)]
    targets = [" ".join(reversed(s.split())) + " ." for s in sources]
    return pd.DataFrame({"source": sources, "target": targets})


@pytest.fixture(scope="module")
def tokenizers():
    pairs = _pairs()
    config = TextConfig(kind="word", vocab_size=100)
    return Tokenizer.learn(pairs.source, config), Tokenizer.learn(pairs.target, config)


def test_long_pairs_are_dropped_and_counted(tokenizers):
    pairs = pd.DataFrame({"source": ["w1 w2", "w1 " * 9, "w3"], "target": ["w2 w1 .", "w1 .", "w3 " * 9]})
    encoded = encode_pairs(pairs, *tokenizers, max_length=5)
    assert (len(encoded), encoded.too_long) == (1, 2)
    assert "2 dropped for length" in encoded.summary()


def test_truncation_keeps_the_pair_and_cuts_it(tokenizers):
    pairs = pd.DataFrame({"source": ["w1 " * 9], "target": ["w2 w1 ."]})
    encoded = encode_pairs(pairs, *tokenizers, max_length=5, truncate=True)
    assert (len(encoded), encoded.too_long) == (1, 1)
    assert encoded.source.row_lengths().numpy().tolist() == [5]


def test_batches_hold_start_end_padding_and_masks(tokenizers):
    pairs = _pairs()
    encoded = encode_pairs(pairs, *tokenizers, max_length=50)
    seen = 0
    for batch in make_dataset(encoded, batch_size=16, seed=1):
        source, target_in, target_out = (batch[k].numpy() for k in ("source", "target_in", "target_out"))
        assert source.shape[0] == target_in.shape[0] <= 16
        assert target_in.shape == target_out.shape
        assert (source[:, 0] == START_ID).all() and (target_in[:, 0] == START_ID).all()
        lengths = batch["target_mask"].numpy().sum(1)
        assert (target_out[np.arange(len(lengths)), lengths - 1] == END_ID).all()
        # the decoder input is the output shifted right by one
        assert (target_in[:, 1:][batch["target_mask"].numpy()[:, 1:]] == target_out[:, :-1][batch["target_mask"].numpy()[:, 1:]]).all()
        assert ((source != PAD_ID) == batch["source_mask"].numpy()).all()
        assert ((target_out != PAD_ID) == batch["target_mask"].numpy()).all()
        seen += len(source)
    assert seen == len(pairs)


def _first_column(dataset):
    return [tuple(b["source"].numpy()[:, 1]) for b in dataset]


def test_order_depends_on_seed_and_epoch_only(tokenizers):
    encoded = encode_pairs(_pairs(), *tokenizers, max_length=50)
    first = _first_column(make_dataset(encoded, 16, seed=1, epoch=0))
    assert first == _first_column(make_dataset(encoded, 16, seed=1, epoch=0))
    assert first != _first_column(make_dataset(encoded, 16, seed=1, epoch=1))
    assert first != _first_column(make_dataset(encoded, 16, seed=2, epoch=0))


def test_bucketing_cuts_padding(tokenizers):
    encoded = encode_pairs(_pairs(2000, seed=1), *tokenizers, max_length=50)
    bucketed = padding_fraction(make_dataset(encoded, 32, seed=1))
    unbucketed = padding_fraction(make_dataset(encoded, 32, seed=1, bucketing=False))
    assert bucketed < unbucketed / 3


@pytest.mark.parametrize("bucketing", [True, False])
def test_an_epoch_holds_every_pair_once(bucketing):
    rng = np.random.default_rng(0)
    source_lengths, target_lengths = rng.integers(1, 20, 1000), rng.integers(1, 20, 1000)
    members = batch_members(source_lengths, target_lengths, 64, True, seed=1, epoch=0, bucketing=bucketing)
    assert sorted(members.flat_values.numpy().tolist()) == list(range(1000))
    assert max(members.row_lengths().numpy()) == 64


def test_bucketed_batches_share_their_target_length():
    rng = np.random.default_rng(0)
    source_lengths, target_lengths = rng.integers(1, 20, 5000), rng.integers(1, 10, 5000)
    members = batch_members(source_lengths, target_lengths, 64, True, seed=1, epoch=0, bucketing=True)
    spans = np.array([np.ptp(target_lengths[batch]) for batch in members.numpy()])
    # 9 target lengths, each far more common than a batch: only the 8 batches at a boundary mix two
    assert spans.max() == 1 and (spans > 0).sum() <= 8
