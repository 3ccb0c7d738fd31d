"""Text processing with tensorflow-text: normalization, tokenization, detokenization.

Everything that touches a string runs as TensorFlow ops, so the same code
serves the tf.data pipeline, the in-graph translator and a SavedModel.

Punctuation is split from words, but reversibly: a punctuation piece that was
written against its neighbour carries a glue mark on that side
(``"¿Dónde está?"`` -> ``¿⁀ Dónde está ⁀?``), so detokenization restores
the original spacing exactly by deleting each mark with the space beside it.
Words never carry marks, so "Dónde" is the same token wherever it stands.
"""

from __future__ import annotations

import re
from dataclasses import asdict

import pandas as pd
import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as wordpiece_learner

from translator.config import MIN_VOCABULARY, TextConfig
from translator.errors import ModelDirError, OptionError

RESERVED_TOKENS = ["[PAD]", "[START]", "[END]", "[UNK]"]
PAD_ID, START_ID, END_ID, UNK_ID = range(4)
GLUE = "\u2040"  # ⁀ "character tie": marks a side of a punctuation piece that had no space
PUNCTUATION = r"[\p{P}\p{S}]"
TOKENIZER_KINDS = ("wordpiece", "word")
DIGITS = list("0123456789")
DIGIT = re.compile("[0-9]")
assert MIN_VOCABULARY == len(RESERVED_TOKENS) + 1, "config.MIN_VOCABULARY counts the reserved tokens"


def check_kind(config: TextConfig) -> None:
    if config.kind not in TOKENIZER_KINDS:
        raise OptionError(f"`kind`: unknown tokenizer '{config.kind}'; choose one of {', '.join(TOKENIZER_KINDS)}")


def normalize(texts: tf.Tensor, config: TextConfig) -> tf.Tensor:
    """Unicode-normalize, optionally lowercase and strip accents, collapse whitespace."""
    texts = tf_text.normalize_utf8(texts, "NFKD" if config.strip_accents else "NFC")
    if config.strip_accents:
        texts = tf.strings.regex_replace(texts, r"\p{Mn}", "")
    if config.lowercase:
        texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, GLUE, "")
    texts = tf.strings.regex_replace(texts, r"[\s\p{Z}\p{Cc}]+", " ")
    return tf.strings.strip(texts)


def split_pieces(texts: tf.Tensor) -> tf.RaggedTensor:
    """Normalized sentences [batch] -> words and glue-marked punctuation [batch, (pieces)]."""
    pieces, starts, ends = tf_text.regex_split_with_offsets(texts, rf" |{PUNCTUATION}", PUNCTUATION)
    is_punctuation = tf.strings.regex_full_match(pieces.flat_values, PUNCTUATION)
    position = tf.ragged.range(pieces.row_lengths()).flat_values
    is_last = tf.equal(position + 1, tf.gather(pieces.row_lengths(), pieces.value_rowids()))
    starts, ends = starts.flat_values, ends.flat_values
    previous_end = tf.concat([[-1], ends[:-1]], axis=0)
    next_start = tf.concat([starts[1:], [-1]], axis=0)
    glue_before = is_punctuation & (position > 0) & tf.equal(starts, previous_end)
    glue_after = is_punctuation & ~is_last & tf.equal(ends, next_start)
    marked = tf.strings.join(
        [tf.where(glue_before, GLUE, ""), pieces.flat_values, tf.where(glue_after, GLUE, "")]
    )
    return pieces.with_flat_values(marked)


def join_pieces(pieces: tf.RaggedTensor) -> tf.Tensor:
    """Inverse of `split_pieces` on subword tokens: [batch, (tokens)] -> [batch] sentences."""
    texts = tf.strings.reduce_join(pieces, axis=-1, separator=" ")
    texts = tf.strings.regex_replace(texts, r"^##| ##", "")
    return tf.strings.regex_replace(texts, f" ?{GLUE} ?", "")


def learn_vocabulary(sentences, config: TextConfig) -> list[str]:
    """The vocabulary for `config`, learned from an iterable of training sentences."""
    check_kind(config)
    pieces = split_pieces(normalize(tf.constant(list(sentences), tf.string), config))
    counts = pd.Series(pieces.flat_values.numpy()).str.decode("utf-8").value_counts()
    if config.kind == "word":
        return RESERVED_TOKENS + list(counts.index[: config.vocab_size - len(RESERVED_TOKENS)])
    vocab = wordpiece_learner.learn(
        list(counts.items()),
        vocab_size=config.vocab_size,
        reserved_tokens=RESERVED_TOKENS,
        lower_thresh=1,
        max_unique_chars=2000,
        num_iterations=2,  # 32 s instead of 67 s with the default 4 on spa-eng, same size
    )
    return single_digits(vocab) if config.split_digits else vocab


def single_digits(vocab: list[str]) -> list[str]:
    """The vocabulary without a subword that holds a digit beside another character, and with every digit on its
    own, word-initial and continuing (SentencePiece's `split_digits`): WordPiece's longest match then spells
    "1945" as 1 ##9 ##4 ##5 and "3rd" as 3 ##rd, and detokenization joins them back."""
    kept = [t for t in vocab if not (DIGIT.search(t) and len(t.removeprefix("##")) > 1)]
    return kept + [d for d in DIGITS + ["##" + d for d in DIGITS] if d not in kept]


class Tokenizer(tf.Module):
    """Sentences <-> token ids for one language; a `tf.Module`, so it exports with a SavedModel."""

    def __init__(self, vocab: list[str], config: TextConfig):
        super().__init__(name=None)
        if vocab[: len(RESERVED_TOKENS)] != RESERVED_TOKENS:
            raise ModelDirError(f"a vocabulary must start with {', '.join(RESERVED_TOKENS)}")
        self.config = config
        self.vocab = list(vocab)
        self._tokens = tf.constant(self.vocab)
        if config.kind == "wordpiece":
            self._wordpiece = tf_text.FastWordpieceTokenizer(
                self.vocab, token_out_type=tf.int32, unknown_token="[UNK]", no_pretokenization=True
            )
        else:
            self._words = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(self._tokens, tf.range(len(self.vocab), dtype=tf.int32)),
                default_value=UNK_ID,
            )

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @classmethod
    def learn(cls, sentences, config: TextConfig) -> "Tokenizer":
        return cls(learn_vocabulary(sentences, config), config)

    def tokenize(self, texts) -> tf.RaggedTensor:
        """Sentences [batch] -> token ids [batch, (tokens)], int32, no start/end tokens."""
        pieces = split_pieces(normalize(texts, self.config))
        if self.config.kind == "word":
            return pieces.with_flat_values(self._words.lookup(pieces.flat_values))
        return self._wordpiece.tokenize(pieces).merge_dims(-2, -1)

    def detokenize(self, ids) -> tf.Tensor:
        """Token ids [batch, tokens] (padded or ragged) -> sentences [batch].

        Stops at the first end token; padding and start tokens are dropped.
        """
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_tensor(PAD_ID)
        ids = tf.cast(ids, tf.int32)
        before_end = tf.equal(tf.cumsum(tf.cast(tf.equal(ids, END_ID), tf.int32), axis=-1), 0)
        keep = before_end & tf.not_equal(ids, PAD_ID) & tf.not_equal(ids, START_ID)
        return join_pieces(tf.ragged.boolean_mask(tf.gather(self._tokens, ids), keep))

    def to_json(self) -> dict:
        return {"config": asdict(self.config), "vocab": self.vocab}

    @classmethod
    def from_json(cls, saved: dict) -> "Tokenizer":
        """The tokenizer `to_json` described; KeyError, TypeError or OptionError where it is damaged."""
        config = TextConfig(**{"split_digits": False, **saved["config"]})  # older tokenizers predate the option
        check_kind(config)
        return cls(saved["vocab"], config)
