"""The compiled maths of training: a model, its optimizer, one train step and the dev loss."""

from __future__ import annotations

from dataclasses import asdict

import keras
import tensorflow as tf
from keras import ops

from translator.config import ModelConfig, TrainingConfig
from translator.model import Seq2Seq

BATCH_SPEC = {
    "source": tf.TensorSpec([None, None], tf.int32),
    "target_in": tf.TensorSpec([None, None], tf.int32),
    "target_out": tf.TensorSpec([None, None], tf.int32),
    "source_mask": tf.TensorSpec([None, None], tf.bool),
    "target_mask": tf.TensorSpec([None, None], tf.bool),
}


def masked_cross_entropy(target_out, logits, mask, label_smoothing: float = 0.0):
    """Mean cross-entropy over real target tokens; padding never counts.

    target_out [batch, T] int, logits [batch, T, vocab], mask [batch, T] bool.
    """
    log_probs = ops.log_softmax(logits, axis=-1)
    nll = -ops.squeeze(ops.take_along_axis(log_probs, ops.expand_dims(target_out, -1), axis=-1), -1)
    if label_smoothing:
        nll = (1 - label_smoothing) * nll - label_smoothing * ops.mean(log_probs, axis=-1)
    weights = ops.cast(mask, nll.dtype)
    return ops.sum(nll * weights) / ops.maximum(ops.sum(weights), 1.0)


class TrainStep:
    """A seeded model and its Adam optimizer, with `train(batch, teacher_forcing)` compiled once."""

    def __init__(self, model_config: ModelConfig, training: TrainingConfig, source_vocab_size: int,
                 target_vocab_size: int):
        keras.utils.set_random_seed(training.seed)
        self.model = Seq2Seq(source_vocab_size, target_vocab_size, config=asdict(model_config),
                             seed=training.seed).build_with_dummy_batch()
        self.optimizer = keras.optimizers.Adam(learning_rate=training.learning_rate,
                                               global_clipnorm=training.clip_norm or None)
        self.optimizer.build(self.model.trainable_variables)
        self.scheduled = training.teacher_forcing != "always"
        self.label_smoothing = training.label_smoothing
        self._train = tf.function(self._train_step, input_signature=[BATCH_SPEC, tf.TensorSpec([], tf.float32)])
        self._dev = tf.function(self._dev_step, input_signature=[BATCH_SPEC])

    def train(self, batch, teacher_forcing: float | None = None) -> tf.Tensor:
        """One optimizer step on `batch`; returns the loss. teacher_forcing: the probability of feeding the
        true previous token (None: always; used only under scheduled or free-running training)."""
        return self._train(batch, tf.constant(1.0 if teacher_forcing is None else teacher_forcing, tf.float32))

    def set_learning_rate(self, value: float) -> None:
        self.optimizer.learning_rate.assign(value)

    def dev_loss(self, batches) -> float:
        """Token-weighted mean loss over `batches`, without dropout or sampling."""
        total = count = 0.0
        for batch in batches:
            loss, tokens = self._dev(batch)
            total, count = total + float(loss), count + float(tokens)
        return total / max(count, 1.0)

    def state(self) -> dict:
        """Every variable a resume needs, as arrays by name."""
        arrays = {f"model/{i}": v.numpy() for i, v in enumerate(self.model.variables)}
        return arrays | {f"optimizer/{i}": v.numpy() for i, v in enumerate(self.optimizer.variables)}

    def restore(self, arrays: dict) -> None:
        for i, v in enumerate(self.model.variables):
            v.assign(arrays[f"model/{i}"])
        for i, v in enumerate(self.optimizer.variables):
            v.assign(arrays[f"optimizer/{i}"])

    def _train_step(self, batch, teacher_forcing):
        with tf.GradientTape() as tape:
            logits = self.model(batch, training=True, teacher_forcing=teacher_forcing if self.scheduled else None)
            loss = masked_cross_entropy(batch["target_out"], logits, batch["target_mask"], self.label_smoothing)
        gradients = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply(gradients, self.model.trainable_variables)
        return loss

    def _dev_step(self, batch):
        tokens = tf.reduce_sum(tf.cast(batch["target_mask"], tf.float32))
        logits = self.model(batch, training=False)
        return masked_cross_entropy(batch["target_out"], logits, batch["target_mask"]) * tokens, tokens
