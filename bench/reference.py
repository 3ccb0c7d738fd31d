#!/usr/bin/env python
"""The reference of issue #6, to run by hand beside bench/run.py: the TensorFlow
"NMT with attention" tutorial's model and loops, at its sizes, on the spa-eng split.

    python bench/reference.py [--steps 60] [--out bench/reference.json]

Re-typed from the tutorial (tensorflow.org/text/tutorials/nmt_with_attention),
not part of the package: word-level TextVectorization of 5,000 tokens per side
with its standardization, a bidirectional GRU encoder (summed), a GRU decoder
followed by one-head dot-product cross-attention, add and layer norm, and a
Dense output over the vocabulary; random batches of 64 padded to their longest
pair; Adam on the masked loss in a tf.function step. Its greedy `translate`
unrolls `max_length` = 50 steps in the graph (the early break works only in
eager mode), so its decoding speed does not depend on training: it is measured
on the untrained model. Prints JSON with the same keys as bench/results.json.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import click

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CORPORA = Path(os.environ.get("TRANSLATOR_CORPORA", REPO.parent / "shared" / "corpora"))
UNITS, VOCAB, BATCH, MAX_LENGTH = 256, 5000, 64, 50


def build(tf, keras, source_texts, target_texts):
    import tensorflow_text as tf_text

    def standardize(text):
        text = tf.strings.lower(tf_text.normalize_utf8(text, "NFKD"))
        text = tf.strings.regex_replace(text, "[^ a-z.?!,¿]", "")
        text = tf.strings.regex_replace(text, "[.?!,¿]", r" \0 ")
        return tf.strings.join(["[START]", tf.strings.strip(text), "[END]"], separator=" ")

    source_vectorizer = keras.layers.TextVectorization(standardize=standardize, max_tokens=VOCAB, ragged=True)
    target_vectorizer = keras.layers.TextVectorization(standardize=standardize, max_tokens=VOCAB, ragged=True)
    source_vectorizer.adapt(tf.data.Dataset.from_tensor_slices(source_texts).batch(1024))
    target_vectorizer.adapt(tf.data.Dataset.from_tensor_slices(target_texts).batch(1024))

    class Encoder(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.embedding = keras.layers.Embedding(VOCAB, UNITS, mask_zero=True)
            self.rnn = keras.layers.Bidirectional(keras.layers.GRU(UNITS, return_sequences=True), merge_mode="sum")

        def call(self, ids):
            return self.rnn(self.embedding(ids))

    class CrossAttention(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.mha = keras.layers.MultiHeadAttention(key_dim=UNITS, num_heads=1)
            self.norm = keras.layers.LayerNormalization()

        def call(self, x, context):
            return self.norm(x + self.mha(query=x, value=context))

    class Decoder(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.embedding = keras.layers.Embedding(VOCAB, UNITS, mask_zero=True)
            self.rnn = keras.layers.GRU(UNITS, return_sequences=True, return_state=True)
            self.attention = CrossAttention()
            self.output_layer = keras.layers.Dense(VOCAB)

        def call(self, context, ids, state=None):
            x, state = self.rnn(self.embedding(ids), initial_state=state)
            return self.output_layer(self.attention(x, context)), state

    return source_vectorizer, target_vectorizer, Encoder(), Decoder()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@click.command()
@click.option("--steps", default=60, show_default=True, help="Timed training steps, after 10 warm-up steps.")
@click.option("--out", type=click.Path(path_type=Path), default=REPO / "bench" / "reference.json", show_default=True)
def main(steps, out):
    from translator.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras
    import numpy as np
    import tensorflow as tf

    from translator.corpus import CorpusFormat, read_corpus
    from translator.evaluate import ReferenceSet

    pairs = read_corpus(CORPORA / "spa-eng" / "train.tsv", CorpusFormat(reverse=True)).pairs
    test = ReferenceSet.from_pairs(read_corpus(CORPORA / "spa-eng" / "test.tsv", CorpusFormat(reverse=True)).pairs)
    source_vectorizer, target_vectorizer, encoder, decoder = build(tf, keras, pairs.source.tolist(), pairs.target.tolist())
    optimizer = keras.optimizers.Adam()

    def to_batch(source, target):
        source_ids = source_vectorizer(source).to_tensor()
        target_ids = target_vectorizer(target)
        return source_ids, target_ids[:, :-1].to_tensor(), target_ids[:, 1:].to_tensor()

    batches = (tf.data.Dataset.from_tensor_slices((pairs.source.tolist(), pairs.target.tolist()))
               .shuffle(len(pairs), seed=1).batch(BATCH, drop_remainder=True).map(to_batch).prefetch(tf.data.AUTOTUNE))

    ids = tf.TensorSpec([None, None], tf.int64)

    @tf.function(input_signature=[ids, ids, ids])  # as Keras' fit: no retracing per batch shape
    def train_step(source, target_in, target_out):
        with tf.GradientTape() as tape:
            logits, _ = decoder(encoder(source), target_in)
            mask = tf.cast(target_out != 0, tf.float32)
            losses = keras.losses.sparse_categorical_crossentropy(target_out, logits, from_logits=True)
            loss = tf.reduce_sum(losses * mask) / tf.reduce_sum(mask)
        variables = encoder.trainable_variables + decoder.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return tf.reduce_sum(mask)

    seconds, tokens, positions = [], [], 0
    for step, (source, target_in, target_out) in enumerate(batches.take(10 + steps)):
        started = time.perf_counter()
        count = float(train_step(source, target_in, target_out))
        if step >= 10:
            seconds.append(time.perf_counter() - started)
            tokens.append(count)
            positions += int(tf.size(target_out))
    seconds, tokens = np.array(seconds), np.array(tokens)
    train_rss = peak_rss_mb()

    start_id = target_vectorizer.get_vocabulary().index("[START]")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def translate(texts):
        context = encoder(source_vectorizer(texts).to_tensor())
        batch = tf.shape(texts)[0]
        token, state, chosen = tf.fill([batch, 1], tf.cast(start_id, tf.int64)), None, []
        for _ in range(MAX_LENGTH):  # unrolled, as in the tutorial's exported translator
            logits, state = decoder(context, token, state)
            token = tf.argmax(logits[:, -1:, :], axis=-1)
            chosen.append(token)
        return tf.concat(chosen, axis=1)

    started = time.perf_counter()
    translate(tf.constant(test.sources[:BATCH]))
    first_trace = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, len(test.sources), BATCH):
        translate(tf.constant(test.sources[start : start + BATCH])).numpy()
    decode_seconds = time.perf_counter() - started
    calls = []
    for _ in range(25):
        started = time.perf_counter()
        translate(tf.constant(["¿Dónde está la biblioteca?"])).numpy()
        calls.append(time.perf_counter() - started)
    report = {
        "train_tokens_per_s": round(float(np.median(tokens / seconds)), 1),
        "train_pairs_per_s": round(float(np.median(BATCH / seconds)), 1),
        "train_median_step_s": round(float(np.median(seconds)), 4),
        "padding_fraction": round(float(1 - tokens.sum() / positions), 4),
        "train_peak_rss_mb": round(train_rss, 1),
        "greedy_first_trace_s": round(first_trace, 1),
        "greedy_sent_per_s": round(len(test.sources) / decode_seconds, 1),
        "greedy_latency_ms": round(1000 * float(np.median(calls[5:])), 2),
        "decode_peak_rss_mb": round(peak_rss_mb(), 1),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    out.write_text(json.dumps(report, indent=2))
    click.echo(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
