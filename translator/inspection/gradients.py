"""Gradients through time: how strongly the loss at the last target step reaches each earlier state.

Back-propagation through time multiplies one Jacobian per step, so in a
simple RNN the gradient reaching a state k steps back shrinks (or grows)
roughly geometrically with k; gates give LSTM and GRU an additive path.
For each sentence this measures ||dL_last / ds_t|| for every decoder state
s_t and every state h_j of the encoder's top layer, by distance k:

  decoder: k = steps before the last target step (k = 0: the state that predicts it);
  encoder: k = steps before the end of its direction (the last token forwards, the first backwards);
           both directions' gradients at equal k are taken together (root of the summed squares).

A state is all of a cell's state tensors ([h], or [h, c] for an LSTM).

A sentence's norms scale with how wrong its last prediction is (a confident
model's gradient there is near 0), so sentences differ by orders of
magnitude; the theory's quantity is the ratio to the last state's norm, the
product of the step Jacobians. So besides the mean and spread of the norm,
`relative` is the geometric mean over sentences of norm_k / norm_0, and the
decay per step is the slope of ln(norm) against k within sentences (each
sentence's own mean removed), fitted over the distances that at least a
quarter of the sentences reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import tensorflow as tf

from translator.model.loss import token_nll
from translator.inspection.unroll import directions, run_decoder, run_encoder, state_width
from translator.training.step import BATCH_SPEC

PARTS = ("decoder", "encoder")
FIT_MIN_SHARE = 0.25  # fit only over distances reached by this share of the sentences


@dataclass
class GradientReport:
    points: pd.DataFrame  # part, sentence, k, norm: one row per state of each sentence
    curves: pd.DataFrame  # part, k, sentences, mean, std, geometric_mean, p25, p75, relative
    decay: dict  # part -> slope of ln(norm) per step of k (negative: vanishing)

    def table(self) -> pd.DataFrame:
        """Distance k by rows, mean and spread of each part by columns."""
        wide = self.curves.pivot(index="k", columns="part", values=["mean", "std", "relative", "sentences"])
        columns = {}
        for part in PARTS:
            if ("mean", part) in wide:
                for statistic in ("mean", "std", "relative"):
                    columns[f"{part} {statistic}"] = wide[(statistic, part)]
        columns["sentences"] = wide["sentences"].max(axis=1).astype(int)
        return pd.DataFrame(columns)


def gradient_norm_function(model):
    """A compiled function: one padded batch -> {part: gradient norms [batch, steps]}; the encoder's per direction
    of its top layer ("encoder forward", "encoder backward"; "encoder" alone when one-directional)."""
    encoder, decoder = model.encoder, model.decoder
    top = directions(encoder.recurrent[-1])
    encoder_parts = ["encoder forward", "encoder backward"] if len(top) == 2 else ["encoder"]

    @tf.function(input_signature=[BATCH_SPEC], autograph=False)
    def norms(batch):
        source, target_in = batch["source"], batch["target_in"]
        size, source_steps, target_steps = tf.shape(source)[0], tf.shape(source)[1], tf.shape(target_in)[1]
        encoder_probes = [tf.zeros([source_steps, size, state_width(cell)]) for cell, _ in top]
        decoder_probe = tf.zeros([target_steps, size, state_width(decoder.rnn.cell)])
        with tf.GradientTape() as tape:
            tape.watch([*encoder_probes, decoder_probe])
            encoded, _ = run_encoder(encoder, source, encoder_probes)
            prepared = decoder.prepare({**encoded, "source_ids": source})
            run = run_decoder(decoder, target_in, prepared, decoder_probe)
            last = tf.reduce_sum(tf.cast(batch["target_mask"], tf.int32), axis=1) - 1
            at_last = tf.stack([last, tf.range(size)], axis=1)  # [step, sentence] of each sentence's last token
            contexts, weights = ((None if t is None else tf.gather_nd(t, at_last)) for t in (run.contexts, run.weights))
            inputs = decoder.recurrent_input(tf.gather(target_in, last, batch_dims=1), prepared)
            logits = tf.cast(decoder.predict(tf.gather_nd(run.outputs, at_last), contexts, weights, inputs, prepared),
                             tf.float32)
            labels = tf.gather(batch["target_out"], last, batch_dims=1)
            loss = tf.reduce_sum(token_nll(labels, logits))
        gradients = tape.gradient(loss, [*encoder_probes, decoder_probe])
        named = zip([*encoder_parts, "decoder"], gradients)
        return {part: tf.transpose(tf.norm(gradient, axis=-1)) for part, gradient in named}

    return norms


def points_by_distance(norms: dict, source_lengths, target_lengths, first_sentence: int = 0) -> pd.DataFrame:
    """Long table (part, sentence, k, norm) from one batch's norms [batch, steps] and real lengths [batch]."""
    frames = [_by_distance("decoder", norms["decoder"], target_lengths, backwards=False)]
    if "encoder" in norms:
        frames.append(_by_distance("encoder", norms["encoder"], source_lengths, backwards=False))
    else:  # bidirectional: the two directions' states at equal distance from their ends, together
        forward = _by_distance("encoder", norms["encoder forward"], source_lengths, backwards=False)
        backward = _by_distance("encoder", norms["encoder backward"], source_lengths, backwards=True)
        both = forward.merge(backward, on=["part", "sentence", "k"], suffixes=("_f", "_b"))
        frames.append(both.assign(norm=np.hypot(both["norm_f"], both["norm_b"]))[["part", "sentence", "k", "norm"]])
    points = pd.concat(frames, ignore_index=True)
    return points.assign(sentence=points["sentence"] + first_sentence)


def _by_distance(part: str, norms, lengths, backwards: bool) -> pd.DataFrame:
    """A direction's norms [batch, steps] at real positions t < length, keyed by k = t (backwards) or
    length - 1 - t."""
    norms, lengths = np.asarray(norms, np.float64), np.asarray(lengths)
    positions = np.arange(norms.shape[1])[None, :]
    real = positions < lengths[:, None]
    k = positions if backwards else lengths[:, None] - 1 - positions
    sentence = np.broadcast_to(np.arange(norms.shape[0])[:, None], norms.shape)
    return pd.DataFrame({"part": part, "sentence": sentence[real], "k": np.broadcast_to(k, norms.shape)[real],
                         "norm": norms[real]})


def summarize(points: pd.DataFrame) -> GradientReport:
    """Mean and spread of the norm by (part, k), the geometric mean of each sentence's norm relative to its own
    at k = 0, and each part's fitted decay per step."""
    last = points[points["k"] == 0].set_index(["part", "sentence"])["norm"].rename("last")
    points = points.join(last, on=["part", "sentence"])
    log_ratio = np.log(points["norm"].where(points["norm"] > 0) / points["last"].where(points["last"] > 0))
    log_norm = np.log(points["norm"].where(points["norm"] > 0))
    points = points.drop(columns="last")
    grouped = points.groupby(["part", "k"])["norm"]
    curves = pd.DataFrame({
        "sentences": grouped.size(), "mean": grouped.mean(), "std": grouped.std(ddof=0),
        "geometric_mean": np.exp(log_norm.groupby([points["part"], points["k"]]).mean()),
        "p25": grouped.quantile(0.25), "p75": grouped.quantile(0.75),
        "relative": np.exp(log_ratio.groupby([points["part"], points["k"]]).mean()),
    }).reset_index()
    decay = {part: fit_decay(points[points["part"] == part]) for part in points["part"].unique()}
    return GradientReport(points, curves, decay)


def fit_decay(points: pd.DataFrame) -> float:
    """Slope of ln(norm) against k within sentences (least squares after removing each sentence's mean k and
    mean ln(norm)), over the distances that at least a quarter of the sentences reach; NaN where fewer than two
    distances qualify."""
    sentences = points["sentence"].nunique()
    reached = points.groupby("k")["sentence"].nunique()
    distances = reached[reached >= max(2, math.ceil(FIT_MIN_SHARE * sentences))].index
    usable = points[points["k"].isin(distances) & (points["norm"] > 0)]
    if usable["k"].nunique() < 2:
        return math.nan
    log_norm = np.log(usable["norm"])
    k = usable["k"] - usable.groupby("sentence")["k"].transform("mean")
    log_norm = log_norm - log_norm.groupby(usable["sentence"]).transform("mean")
    spread = float((k * k).sum())
    return float((k * log_norm).sum() / spread) if spread > 0 else math.nan


def gradient_report(model, batches) -> GradientReport:
    """The gradient norms by distance over `batches` (padded batch dicts, as `make_dataset` makes them)."""
    norms_of = gradient_norm_function(model)
    frames, seen = [], 0
    for batch in batches:
        norms = {part: value.numpy() for part, value in norms_of(batch).items()}
        source_lengths = batch["source_mask"].numpy().sum(axis=1)
        target_lengths = batch["target_mask"].numpy().sum(axis=1)
        frames.append(points_by_distance(norms, source_lengths, target_lengths, seen))
        seen += len(source_lengths)
    return summarize(pd.concat(frames, ignore_index=True))
