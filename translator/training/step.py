"""The compiled maths of training: a model, its optimizer, one train step and the dev loss.

The step runs under a `tf.distribute` strategy (TensorFlow's default one on a
single device): each replica takes its slice of the batch, its loss is summed
over its tokens and divided by the whole batch's token count, and the
gradients are summed over replicas before the step clips them, so a step
is the same computation on one device or several.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import NamedTuple

import keras
import tensorflow as tf
from keras import ops

from translator.model import precision
from translator.config import ModelConfig, TrainingConfig
from translator.model.loss import token_nll
from translator.model.seq2seq import Seq2Seq
from translator.training.distribution import replica_slice

BATCH_SPEC = {
    "source": tf.TensorSpec([None, None], tf.int32),
    "target_in": tf.TensorSpec([None, None], tf.int32),
    "target_out": tf.TensorSpec([None, None], tf.int32),
    "source_mask": tf.TensorSpec([None, None], tf.bool),
    "target_mask": tf.TensorSpec([None, None], tf.bool),
}


def summed_cross_entropy(target_out, logits, mask, label_smoothing: float = 0.0):
    """Cross-entropy summed over real target tokens; padding never counts.

    target_out [batch, T] int, logits [batch, T, vocab], mask [batch, T] bool. `token_nll`'s gradient is
    softmax - one-hot, built from the kept log-softmax (picking log-probabilities out of a log-softmax with
    take_along_axis had a gradient that scattered into the whole [batch, T, vocab]). Label smoothing mixes in
    the mean over the vocabulary of -log p, which is logsumexp(logits) - mean(logits).
    """
    nll = token_nll(target_out, logits)
    if label_smoothing:
        uniform = ops.logsumexp(logits, axis=-1) - ops.mean(logits, axis=-1)
        nll = (1 - label_smoothing) * nll + label_smoothing * uniform
    return ops.sum(nll * ops.cast(mask, nll.dtype))


def masked_cross_entropy(target_out, logits, mask, label_smoothing: float = 0.0):
    """Mean cross-entropy over real target tokens."""
    tokens = ops.sum(ops.cast(mask, "float32"))
    return summed_cross_entropy(target_out, logits, mask, label_smoothing) / ops.maximum(tokens, 1.0)


class StepResult(NamedTuple):
    loss: float
    gradient_norm: float  # global norm of the whole batch's gradient before clipping (NaN where not measured)


class ReplicaSummedAdam(keras.optimizers.Adam):
    """Adam given gradients already summed over replicas and clipped (TrainStep._clipped), its update in one
    fused op (update_step).

    Keras would sum a replica's gradients with the others' inside `apply` (keras/src/backend/tensorflow/
    optimizer.py, `_backend_update_step`), after clipping that replica's share, so that clipping would depend
    on the number of replicas. The train step sums and clips first; this class skips Keras' second sum.
    """

    def _all_reduce_sum_gradients(self, grads_and_vars):
        return grads_and_vars

    def update_step(self, gradient, variable, learning_rate):
        """Keras' Adam update in TensorFlow's fused kernel, one op a variable: m += (g - m)(1 - b1),
        v += (g^2 - v)(1 - b2), var -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps), Keras' own formula
        (keras/src/optimizers/adam.py). Keras spells it as eleven element-wise ops, each a pass over the
        variable: a fifth of a training step's op time at the tutorial's sizes. Called by Keras per device
        with that device's variable (`distribution.extended.update`), where a mirrored slot's `handle` is
        the same device's copy."""
        if self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        return tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].value.handle, v=self._velocities[index].value.handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype),
            beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(tf.convert_to_tensor(gradient), dtype))


def make_optimizer(training: TrainingConfig, policy: str) -> keras.optimizers.Optimizer:
    optimizer = ReplicaSummedAdam(learning_rate=training.learning_rate)  # the train step clips (TrainStep._clipped)
    if policy == "mixed_float16":  # float16 gradients underflow without a loss scale
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


class TrainStep:
    """A seeded model and its Adam optimizer, with `train(batch, teacher_forcing)` compiled once.

    strategy: where the replicas run (default: TensorFlow's current strategy, one device). The model and
    the optimizer's variables are made in its scope before the step is first traced (Keras 3.15.1 fails when an
    optimizer under MirroredStrategy creates its variables inside the traced step: keras-team/keras#23085).
    """

    def __init__(self, model_config: ModelConfig, training: TrainingConfig, source_vocab_size: int,
                 target_vocab_size: int, strategy: tf.distribute.Strategy | None = None,
                 measure_gradient_norm: bool = True):
        keras.utils.set_random_seed(training.seed)
        self.strategy = strategy or tf.distribute.get_strategy()
        self.policy = precision.resolve(training.precision)
        with self.strategy.scope(), precision.dtype_policy(self.policy):
            self.model = Seq2Seq(source_vocab_size, target_vocab_size, config=asdict(model_config),
                                 seed=training.seed).build_with_dummy_batch()
            self.optimizer = make_optimizer(training, self.policy)
            self.optimizer.build(self.model.trainable_variables)
        self.scheduled = training.teacher_forcing != "always"
        self.clip_norm = training.clip_norm
        self.label_smoothing = training.label_smoothing
        self.measure_gradient_norm = measure_gradient_norm  # off only to time what measuring it costs
        # no AutoGraph: the step's loops are tf.while_loops already (see inference.py)
        self._train = tf.function(self._train_step, input_signature=[BATCH_SPEC, tf.TensorSpec([], tf.float32)],
                                  autograph=False)
        self._dev = tf.function(self._dev_step, input_signature=[BATCH_SPEC], autograph=False)

    def train(self, batch, teacher_forcing: float | None = None) -> StepResult:
        """One optimizer step on `batch`; returns its loss and gradient norm. teacher_forcing: the probability of
        feeding the true previous token (None: always; used only under scheduled or free-running training)."""
        loss, norm = self._train(batch, tf.constant(1.0 if teacher_forcing is None else teacher_forcing, tf.float32))
        return StepResult(float(loss), float(norm) if self.measure_gradient_norm else math.nan)

    def any_worker(self, flag: bool) -> bool:
        """Whether `flag` holds on any worker of a multi-worker run (on one host: `flag`). Decisions taken from a
        worker's own clock go through this, so that all workers stop at the same step."""
        if not isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return flag
        votes = self.strategy.run(lambda: tf.constant(float(flag)))
        return bool(self.strategy.reduce(tf.distribute.ReduceOp.SUM, votes, axis=None) > 0)

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
        tokens = tf.maximum(tf.reduce_sum(tf.cast(batch["target_mask"], tf.float32)), 1.0)
        losses, norms = self.strategy.run(self._replica_step, args=(batch, teacher_forcing, tokens))
        # every replica holds the same summed gradient, hence the same norm
        return (self.strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None),
                self.strategy.reduce(tf.distribute.ReduceOp.MEAN, norms, axis=None))

    def _replica_step(self, batch, teacher_forcing, tokens):
        """One replica's share: its slice's loss over the whole batch's `tokens`, gradients summed over replicas."""
        share = replica_slice(batch)
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape, precision.weights_cast_once(self.model):
            loss = self._summed_loss(share, training=True, teacher_forcing=teacher_forcing) / tokens
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, variables)
        context = tf.distribute.get_replica_context()
        if context.num_replicas_in_sync > 1:
            gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
        norm, gradients = self._clipped(gradients)
        self.optimizer.apply(gradients, variables)
        return loss, norm

    def _clipped(self, gradients):
        """(the global norm of the whole batch's gradients, a loss scale divided out; the gradients scaled down to
        at most `clip_norm`), from one pass over them: Keras' own clipping (global_clipnorm) computed the norm a
        second time. A loss-scaled gradient is clipped at the scaled bound, which is Keras' unscale-then-clip."""
        if not (self.clip_norm or self.measure_gradient_norm):
            return tf.constant(0.0), gradients
        scale = 1.0
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            scale = tf.cast(self.optimizer.dynamic_scale, tf.float32)
        norm = tf.linalg.global_norm(gradients)
        if self.clip_norm:
            gradients, _ = tf.clip_by_global_norm(gradients, self.clip_norm * scale, use_norm=norm)
        return norm / scale, gradients

    def _dev_step(self, batch):
        tokens = tf.reduce_sum(tf.cast(batch["target_mask"], tf.float32))
        with precision.weights_cast_once(self.model):
            return self._summed_loss(batch, training=False), tokens

    def _summed_loss(self, batch, training: bool, teacher_forcing=None):
        """The batch's cross-entropy summed over its real target tokens (label smoothing in training only). A
        copying model fed the true tokens reads log P at the targets alone (Seq2Seq.target_log_probabilities)."""
        label_smoothing = self.label_smoothing if training else 0.0
        if self.model.config.copy and not (training and (self.scheduled or label_smoothing)):
            log_p = self.model.target_log_probabilities(batch, training=training)
            return -tf.reduce_sum(tf.where(batch["target_mask"], log_p, 0.0))
        logits = self.model(batch, training=training, teacher_forcing=teacher_forcing if self.scheduled else None)
        return summed_cross_entropy(batch["target_out"], logits, batch["target_mask"], label_smoothing)
