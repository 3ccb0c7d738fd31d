import pytest
import tensorflow as tf

from translator.data.corpus import CorpusFormat, read_corpus
from translator.errors import ModelDirError, OptionError
from translator.model.folder import SOURCE_TOKENIZER, RunDir
from translator.data.text import (
    END_ID,
    GLUE,
    PAD_ID,
    RESERVED_TOKENS,
    START_ID,
    UNK_ID,
    TextConfig,
    Tokenizer,
    normalize,
    split_pieces,
)

SENTENCES = [
    "¿Dónde está la biblioteca?",
    "I'm here... \"really\"!",
    "Tom's 3.5 kg (about 8 lbs) costs $20.",
    "¡Qué día!",
    "Ella dijo: «no».",
]


def text(tensor):
    return [s.decode("utf-8") for s in tensor.numpy()]


def test_nfc_keeps_accents_and_case():
    decomposed = "Esta\u0301 bien"  # "Está" written with a combining accent
    assert text(normalize(tf.constant([decomposed, "  a \t b\u00a0c  "]), TextConfig())) == ["Está bien", "a b c"]


def test_accent_stripping_and_lowercasing_are_options():
    config = TextConfig(strip_accents=True, lowercase=True)
    assert text(normalize(tf.constant(["¿Dónde ESTÁ?"]), config)) == ["¿donde esta?"]


def test_punctuation_is_split_and_marked_where_it_was_attached():
    pieces = split_pieces(tf.constant(["¿Dónde está?", "I'm ok , fine"]))
    g = GLUE
    assert [[p.decode() for p in row] for row in pieces.to_list()] == [
        [f"¿{g}", "Dónde", "está", f"{g}?"],
        ["I", f"{g}'{g}", "m", "ok", ",", "fine"],
    ]


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer.learn(SENTENCES * 3, TextConfig(vocab_size=200))


def test_reserved_ids_come_first(tokenizer):
    assert tokenizer.vocab[:4] == RESERVED_TOKENS
    assert (PAD_ID, START_ID, END_ID, UNK_ID) == (0, 1, 2, 3)


def test_round_trip_restores_words_and_punctuation_spacing(tokenizer):
    ids = tokenizer.tokenize(tf.constant(SENTENCES))
    assert text(tokenizer.detokenize(ids)) == SENTENCES


def test_subwords_reach_unseen_words_and_unknown_characters_become_unk(tokenizer):
    ids = tokenizer.tokenize(tf.constant(["biblioteca está", "日本"])).to_list()
    assert UNK_ID not in ids[0]
    assert ids[1] == [UNK_ID]


def test_detokenize_stops_at_end_and_drops_padding(tokenizer):
    ids = tokenizer.tokenize(tf.constant(["¡Qué día!"])).to_tensor()
    row = tf.concat([[[START_ID]], ids, [[END_ID]], ids, [[PAD_ID, PAD_ID]]], axis=1)
    assert text(tokenizer.detokenize(row)) == ["¡Qué día!"]


def test_word_level_tokenizer_caps_vocabulary_and_round_trips():
    words = Tokenizer.learn(SENTENCES, TextConfig(kind="word", vocab_size=10))
    assert words.vocab_size == 10
    ids = words.tokenize(tf.constant(["la biblioteca"])).to_list()[0]
    assert UNK_ID in ids  # not among the 6 most frequent pieces
    full = Tokenizer.learn(SENTENCES, TextConfig(kind="word", vocab_size=1000))
    assert text(full.detokenize(full.tokenize(tf.constant(SENTENCES)))) == SENTENCES


def test_saved_tokenizer_reloads_to_the_same_ids(tokenizer, tmp_path):
    RunDir(tmp_path).save_tokenizers(tokenizer, tokenizer)
    again, _ = RunDir(tmp_path).load_tokenizers()
    batch = tf.constant(SENTENCES + ["palabras nuevas"])
    assert again.tokenize(batch).to_list() == tokenizer.tokenize(batch).to_list()
    assert again.config == tokenizer.config


def test_damaged_tokenizer_file_is_a_model_dir_error(tmp_path):
    (tmp_path / SOURCE_TOKENIZER).write_text("{not json")
    with pytest.raises(ModelDirError, match="damaged tokenizer"):
        RunDir(tmp_path).load_tokenizers()
    with pytest.raises(ModelDirError, match="missing"):
        RunDir(tmp_path / "absent").load_tokenizers()


def test_bad_config_is_an_option_error():
    with pytest.raises(OptionError, match="bpe"):  # the tokenizer kinds are text.py's: checked where it is used
        Tokenizer.learn(["una frase"], TextConfig(kind="bpe"))
    with pytest.raises(OptionError):
        TextConfig(vocab_size=3)


@pytest.mark.slow
@pytest.mark.parametrize("side", ["source", "target"])
def test_round_trip_on_every_training_sentence(corpora, side):
    """detokenize(tokenize(s)) == normalize(s) on the whole spa-eng training split.

    No exception is expected: the vocabulary holds every character of the
    training side, and glue marks make punctuation spacing reversible.
    """
    sentences = read_corpus(corpora / "spa-eng" / "train.tsv", CorpusFormat(reverse=True)).pairs[side].tolist()
    tokenizer = Tokenizer.learn(sentences, TextConfig(vocab_size=4000))
    batch = tf.constant(sentences)
    expected = normalize(batch, tokenizer.config).numpy()
    restored = tokenizer.detokenize(tokenizer.tokenize(batch)).numpy()
    mismatches = [(e.decode(), r.decode()) for e, r in zip(expected, restored) if e != r]
    assert mismatches == []


NUMBERS = ["Nací en 1987 y vivo en el 3er piso.", "Cuesta 250 dólares, o 19,99 euros.", "Llama al 555 0192."]


def test_split_digits_spells_every_number_digit_by_digit_and_round_trips():
    tokenizer = Tokenizer.learn(NUMBERS * 30 + SENTENCES, TextConfig(vocab_size=150))
    assert not [t for t in tokenizer.vocab if any(c.isdigit() for c in t) and len(t.removeprefix("##")) > 1]
    unseen = ["Nací en 2046 y vivo en el 7788.", "Cuesta 31,05 dólares."]
    ids = tokenizer.tokenize(tf.constant(unseen))
    pieces = [[tokenizer.vocab[i] for i in row] for row in ids.to_list()]
    assert pieces[0][2:6] == ["2", "##0", "##4", "##6"]
    assert UNK_ID not in ids.flat_values.numpy()
    assert text(tokenizer.detokenize(ids)) == unseen  # numbers never seen come back unchanged


def test_without_split_digits_the_vocabulary_keeps_numbers_whole():
    tokenizer = Tokenizer.learn(NUMBERS * 30, TextConfig(vocab_size=150, split_digits=False))
    assert [t for t in tokenizer.vocab if sum(c.isdigit() for c in t) > 1]


def test_a_tokenizer_saved_before_split_digits_reads_as_keeping_numbers_whole(tokenizer):
    saved = tokenizer.to_json()
    del saved["config"]["split_digits"]
    assert Tokenizer.from_json(saved).config.split_digits is False
