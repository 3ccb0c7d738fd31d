"""Training: a compiled train step, dev loss, early stopping, checkpoints that resume exactly.

The model folder holds:
  config.json                 every option (RunConfig) and the package version
  source_tokenizer.json, target_tokenizer.json
  model.weights.h5            the best weights by dev loss
  history.csv                 one row per epoch
  summary.json                what the run did
  checkpoint/                 everything a resume needs (weights, optimizer, RNG states,
                              step, position in the epoch, early-stopping counters)
  logs/                       TensorBoard scalars
Every file is written beside its final name and renamed into place, so a kill
at any moment leaves the last good version whole.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import signal
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from keras import ops

from translator.config import RunConfig, TrainingConfig
from translator.corpus import read_corpus, split_corpus
from translator.errors import OptionError, TrainingInterrupted, TranslatorError
from translator.files import write_text_atomically
from translator.folder import WEIGHTS
from translator.model import Seq2Seq
from translator.pipeline import EncodedPairs, encode_pairs, make_dataset
from translator.text import Tokenizer

MIN_TRAINING_PAIRS = 2


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


def teacher_forcing_probability(config: TrainingConfig, step: int) -> float | None:
    """The probability of feeding the true previous token at `step`; None means always."""
    if config.teacher_forcing == "always":
        return None
    if config.teacher_forcing == "never":
        return 0.0
    s = config.schedule_steps
    if config.schedule == "linear":
        return max(0.0, 1.0 - step / s)
    if config.schedule == "exponential":
        return 0.5 ** (step / s)
    return 1.0 / (1.0 + math.exp(min(50.0, 10.0 * (step - s) / s)))  # inverse sigmoid, 0.5 at s


def warmup_steps(config: TrainingConfig, steps_per_epoch: int | None = None) -> int:
    """The warm-up, at most half of the first epoch: on a corpus of 60 pairs at batch 16 (4 steps an epoch), the
    200 default steps kept the learning rate low for 50 epochs and every translation came out empty."""
    if steps_per_epoch is None:
        return config.warmup_steps
    return max(1, min(config.warmup_steps, steps_per_epoch // 2))


def learning_rate(config: TrainingConfig, step: int, scale: float, steps_per_epoch: int | None = None) -> float:
    """Linear warm-up, then halving every `decay_steps`; `scale` is lowered after a NaN."""
    warmup = warmup_steps(config, steps_per_epoch)
    decay = 0.5 ** (max(0, step - warmup) / config.decay_steps)
    return config.learning_rate * scale * min(1.0, (step + 1) / warmup) * decay


@dataclass
class Progress:
    """Where a run stands; saved in every checkpoint."""

    epoch: int = 0
    batch_in_epoch: int = 0
    step: int = 0
    best_dev_loss: float = math.inf
    bad_epochs: int = 0
    nan_recoveries: int = 0
    lr_scale: float = 1.0
    seconds: float = 0.0
    tokens: int = 0
    epoch_loss: float = 0.0  # this epoch's training loss summed over its target tokens so far
    epoch_tokens: int = 0
    history: list = field(default_factory=list)
    stopped_because: str = ""


@dataclass
class Data:
    train: EncodedPairs
    dev: EncodedPairs
    source_tokenizer: Tokenizer
    target_tokenizer: Tokenizer
    longest_line: str


def prepare_data(config: RunConfig, corpus: Path, dev: Path | None, model_dir: Path, resume: bool, echo) -> Data:
    """Read and split the corpus, learn (or reload) the tokenizers, encode both splits."""
    train_pairs = read_corpus(corpus, config.data)
    echo(train_pairs.summary())
    if dev is not None:
        dev_pairs = read_corpus(dev, config.data).pairs
        train = train_pairs.pairs
    else:
        splits = split_corpus(train_pairs.pairs, dev_size=config.training.dev_size, test_size=0, seed=config.training.seed)
        train, dev_pairs = splits["train"], splits["dev"]
        if len(dev_pairs) == 0:
            raise TranslatorError(
                f"{train_pairs.name}: cannot hold out a dev set sharing no sentence with training "
                f"({len(train_pairs.pairs)} pair(s)); give a bigger corpus or --dev FILE"
            )
    if len(train) < MIN_TRAINING_PAIRS:
        raise TranslatorError(
            f"{train_pairs.name}: {len(train)} training pair(s) after holding out a dev set; "
            f"training needs at least {MIN_TRAINING_PAIRS} (give a bigger corpus, or --dev FILE)"
        )
    if resume:
        source_tokenizer = Tokenizer.load(model_dir / "source_tokenizer.json")
        target_tokenizer = Tokenizer.load(model_dir / "target_tokenizer.json")
    else:
        echo("learning vocabularies ...")
        source_tokenizer = Tokenizer.learn(train["source"], config.source_text)
        target_tokenizer = Tokenizer.learn(train["target"], config.target_text)
    t = config.training
    encoded_train = encode_pairs(train, source_tokenizer, target_tokenizer, t.max_length, t.truncate)
    encoded_dev = encode_pairs(dev_pairs, source_tokenizer, target_tokenizer, t.max_length, t.truncate)
    if len(encoded_train) == 0 or len(encoded_dev) == 0:
        raise TranslatorError(f"{train_pairs.name}: no pair fits --max-length {t.max_length} in the train or dev split")
    echo(f"train: {encoded_train.summary()}; dev: {encoded_dev.summary()}; "
         f"vocabularies: {source_tokenizer.vocab_size:,} source, {target_tokenizer.vocab_size:,} target")
    longest = train.loc[(train["source"].str.len() + train["target"].str.len()).idxmax()]
    return Data(encoded_train, encoded_dev, source_tokenizer, target_tokenizer,
                f"line {longest['line']} ({len(longest['source']) + len(longest['target'])} characters)")


@contextlib.contextmanager
def _ctrl_c_between_steps():
    """Turn the first Ctrl-C into a flag the loop checks after each step (-> KeyboardInterrupt there).

    A KeyboardInterrupt raised by Python's own handler lands wherever the main
    thread is, often inside TensorFlow's C++ calls (building a dataset
    iterator, tracing), which can swallow it: training then ran on. A second
    Ctrl-C interrupts at once.
    """
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested  # signals reach only the main thread; nothing to install
        return

    def request_stop(_signum, _frame):
        requested.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, request_stop)
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)


class Trainer:
    """Runs one training; knows the model only through its call and variables."""

    def __init__(self, config: RunConfig, data: Data, model_dir: Path, echo=print, progress_bar=True):
        self.config, self.data, self.model_dir, self.echo = config, data, Path(model_dir), echo
        self.progress_bar = progress_bar
        self._interrupted = threading.Event()  # set by the first Ctrl-C during `run`
        t = config.training
        keras.utils.set_random_seed(t.seed)
        self.model = Seq2Seq(data.source_tokenizer.vocab_size, data.target_tokenizer.vocab_size,
                             config=asdict(config.model), seed=t.seed).build_with_dummy_batch()
        self.optimizer = keras.optimizers.Adam(learning_rate=t.learning_rate,
                                               global_clipnorm=t.clip_norm or None)
        self.optimizer.build(self.model.trainable_variables)
        self.progress = Progress()
        self.steps_per_epoch = math.ceil(len(data.train) / t.batch_size)
        self._train_step = self._compile_train_step()
        self._dev_step = tf.function(self._dev_loss, reduce_retracing=True)
        self._writer = None

    def current_learning_rate(self) -> float:
        p = self.progress
        return learning_rate(self.config.training, p.step, p.lr_scale, self.steps_per_epoch)

    @property
    def writer(self):
        """The TensorBoard writer, made on first use: a run that fails before its first step leaves logs/ as it was."""
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.model_dir / "logs"))
        return self._writer

    # --- compiled steps ---------------------------------------------------------------
    def _compile_train_step(self):
        smoothing = self.config.training.label_smoothing
        scheduled = self.config.training.teacher_forcing != "always"
        batch_spec = {
            "source": tf.TensorSpec([None, None], tf.int32),
            "target_in": tf.TensorSpec([None, None], tf.int32),
            "target_out": tf.TensorSpec([None, None], tf.int32),
            "source_mask": tf.TensorSpec([None, None], tf.bool),
            "target_mask": tf.TensorSpec([None, None], tf.bool),
        }

        @tf.function(input_signature=[batch_spec, tf.TensorSpec([], tf.float32)])
        def train_step(batch, teacher_forcing):
            with tf.GradientTape() as tape:
                logits = self.model(batch, training=True, teacher_forcing=teacher_forcing if scheduled else None)
                loss = masked_cross_entropy(batch["target_out"], logits, batch["target_mask"], smoothing)
            gradients = tape.gradient(loss, self.model.trainable_variables)
            self.optimizer.apply(gradients, self.model.trainable_variables)
            return loss

        return train_step

    def _dev_loss(self, batch):
        logits = self.model(batch, training=False)
        mask = batch["target_mask"]
        return masked_cross_entropy(batch["target_out"], logits, mask) * tf.reduce_sum(tf.cast(mask, tf.float32)), tf.reduce_sum(tf.cast(mask, tf.float32))

    def dev_loss(self) -> float:
        total = count = 0.0
        for batch in make_dataset(self.data.dev, self.config.training.batch_size, shuffle=False):
            loss, tokens = self._dev_step(batch)
            total, count = total + float(loss), count + float(tokens)
        return total / max(count, 1.0)

    # --- the loop -------------------------------------------------------------------------
    def run(self) -> Progress:
        t, p = self.config.training, self.progress
        started = time.monotonic() - p.seconds
        if not (self.model_dir / "checkpoint").exists():
            self.save_checkpoint()  # a NaN in the first steps rolls back to the initial weights
        try:
            with _ctrl_c_between_steps() as self._interrupted:
                while p.epoch < t.epochs and not p.stopped_because:
                    outcome = self._run_epoch(started)
                    if outcome != "rolled back":
                        self._evaluate(started, completed=outcome == "completed")
        except KeyboardInterrupt:
            p.seconds = time.monotonic() - started
            self.save_checkpoint()
            self.write_summary()
            raise TrainingInterrupted(
                f"interrupted at step {p.step}; checkpoint saved in {self.model_dir}, "
                f"continue with: python cli.py train ... --model-dir {self.model_dir} --resume"
            ) from None
        p.stopped_because = p.stopped_because or f"{t.epochs} epochs done"
        p.seconds = time.monotonic() - started
        self.save_checkpoint()
        self.write_summary()
        return p

    def _run_epoch(self, started: float) -> str:
        """Train on the rest of the current epoch -> "completed", "budget spent" or "rolled back"."""
        t, p = self.config.training, self.progress
        batches = make_dataset(self.data.train, t.batch_size, seed=t.seed, epoch=p.epoch)
        batches = batches.skip(p.batch_in_epoch)
        bar = _progress_bar(self.progress_bar, p.epoch, t.epochs, self.steps_per_epoch, p.batch_in_epoch)
        for batch in batches:
            self.optimizer.learning_rate.assign(self.current_learning_rate())
            teacher = teacher_forcing_probability(t, p.step)
            loss = float(self._train_step(batch, tf.constant(1.0 if teacher is None else teacher, tf.float32)))
            if not math.isfinite(loss):
                bar.close()
                self._recover_from_nan(loss)
                return "rolled back"  # the run goes on from the checkpoint's position
            p.step += 1
            p.batch_in_epoch += 1
            tokens = int(tf.reduce_sum(tf.cast(batch["target_mask"], tf.int32)))
            p.tokens += tokens
            p.epoch_loss, p.epoch_tokens = p.epoch_loss + loss * tokens, p.epoch_tokens + tokens
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
            if p.step % 50 == 0:
                with self.writer.as_default(step=p.step):
                    tf.summary.scalar("train/loss", loss)
            if p.step % t.checkpoint_every == 0:
                p.seconds = time.monotonic() - started
                self.save_checkpoint()
            if self._budget_spent(started):
                bar.close()
                return "budget spent"
            if self._interrupted.is_set():
                bar.close()
                raise KeyboardInterrupt
        bar.close()
        return "completed"

    def _budget_spent(self, started: float) -> bool:
        t, p = self.config.training, self.progress
        if t.max_steps is not None and p.step >= t.max_steps:
            p.stopped_because = f"--max-steps {t.max_steps} reached"
        elif t.max_minutes is not None and time.monotonic() - started >= 60 * t.max_minutes:
            p.stopped_because = f"--max-minutes {t.max_minutes:g} reached"
        return bool(p.stopped_because)

    def _evaluate(self, started: float, completed: bool):
        """Dev loss at the end of an epoch, or where a budget stopped one: keep the best weights."""
        t, p = self.config.training, self.progress
        dev = self.dev_loss()
        p.seconds = time.monotonic() - started
        improved = dev < p.best_dev_loss
        train_loss = p.epoch_loss / p.epoch_tokens if p.epoch_tokens else math.nan
        p.history.append({"epoch": p.epoch + 1, "complete": completed, "step": p.step,
                          "train_loss": train_loss, "dev_loss": dev,
                          "minutes": p.seconds / 60,
                          "learning_rate": self.current_learning_rate(),
                          "target_tokens_per_s": p.tokens / max(p.seconds, 1e-9)})
        with self.writer.as_default(step=p.step):
            tf.summary.scalar("dev/loss", dev)
        self.echo(f"epoch {p.epoch + 1}/{t.epochs}{'' if completed else ' (stopped early)'}: dev loss {dev:.4f}"
                  f"{' (best, saved)' if improved else ''}, step {p.step}, {p.seconds / 60:.1f} min")
        if improved:
            p.best_dev_loss, p.bad_epochs = dev, 0
            self.save_weights()
        elif completed:  # a budget's partial epoch must not change when a resumed run stops early
            p.bad_epochs += 1
            if p.bad_epochs >= t.patience:
                p.stopped_because = f"early stop: no dev improvement for {t.patience} epochs"
        if completed:
            p.epoch += 1
            p.batch_in_epoch = p.epoch_tokens = 0
            p.epoch_loss = 0.0
        self.save_checkpoint()

    def _recover_from_nan(self, loss: float):
        p = self.progress
        if p.nan_recoveries >= self.config.training.max_nan_recoveries:
            raise TranslatorError(
                f"the loss became {loss} {p.nan_recoveries + 1} times, even after rolling back and lowering "
                f"the learning rate to {self.current_learning_rate():.2g}; likely causes: "
                f"the learning rate (--learning-rate {self.config.training.learning_rate:g}), no gradient clipping "
                f"(--clip-norm {self.config.training.clip_norm:g}), or an enormous pair (longest: {self.data.longest_line})"
            )
        recoveries, scale = p.nan_recoveries + 1, p.lr_scale / 2
        self.load_checkpoint()
        p = self.progress
        p.nan_recoveries, p.lr_scale = recoveries, scale
        self.echo(f"loss became {loss} at step {p.step}: rolled back to the last checkpoint, learning rate halved")

    # --- saving ---------------------------------------------------------------------------
    def save_weights(self):
        partial = self.model_dir / "partial.weights.h5"
        self.model.save_weights(partial)
        partial.replace(self.model_dir / WEIGHTS)

    def save_checkpoint(self):
        """Write checkpoint/ atomically: build checkpoint.partial/, then swap it in."""
        final, partial, old = (self.model_dir / n for n in ("checkpoint", "checkpoint.partial", "checkpoint.old"))
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        arrays = {f"model/{i}": v.numpy() for i, v in enumerate(self.model.variables)}
        arrays |= {f"optimizer/{i}": v.numpy() for i, v in enumerate(self.optimizer.variables)}
        np.savez(partial / "variables.npz", **arrays)
        (partial / "progress.json").write_text(json.dumps(vars(self.progress)), encoding="utf-8")
        if final.exists():
            final.replace(old)
        partial.replace(final)
        shutil.rmtree(old, ignore_errors=True)

    def load_checkpoint(self):
        folder = self.model_dir / "checkpoint"
        if not folder.exists() and (self.model_dir / "checkpoint.old").exists():
            folder = self.model_dir / "checkpoint.old"  # killed between the two renames
        path = folder / "progress.json"
        try:
            progress = Progress(**json.loads(path.read_text(encoding="utf-8")))
            path = folder / "variables.npz"
            arrays = np.load(path)
            for i, v in enumerate(self.model.variables):
                v.assign(arrays[f"model/{i}"])
            for i, v in enumerate(self.optimizer.variables):
                v.assign(arrays[f"optimizer/{i}"])
        except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as error:  # a truncated .npz is a bad zip
            problem = "missing" if isinstance(error, FileNotFoundError) else f"damaged ({error})"
            raise TranslatorError(f"{path}: {problem}; cannot resume from this checkpoint") from None
        self.progress = progress

    def write_summary(self):
        p = self.progress
        write_text_atomically(self.model_dir / "history.csv", pd.DataFrame(p.history).to_csv(index=False))
        summary = {
            "epochs": p.epoch, "steps": p.step, "best_dev_loss": p.best_dev_loss, "minutes": p.seconds / 60,
            "stopped_because": p.stopped_because, "nan_recoveries": p.nan_recoveries,
            "train_pairs": len(self.data.train), "dev_pairs": len(self.data.dev),
            "parameters": int(self.model.count_params()),
            "target_tokens_per_s": p.tokens / max(p.seconds, 1e-9),
        }
        write_text_atomically(self.model_dir / "summary.json", json.dumps(summary, indent=2))


def _progress_bar(enabled: bool, epoch: int, epochs: int, total: int, done: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                disable=None if enabled else True, leave=False, dynamic_ncols=True)


def train(corpus: Path, model_dir: Path, config: RunConfig, dev: Path | None = None, resume: bool = False,
          force: bool = False, echo=print, progress_bar: bool = True, budget: dict | None = None,
          requested: set[str] = frozenset()) -> Progress:
    """Train a model into `model_dir`; with `resume`, continue the run saved there.

    `budget` (epochs, max_minutes, max_steps) overrides the config's, also on
    resume, where every other option comes from the saved config; `requested`
    names the options the user gave, which a resume refuses when they differ
    from the saved run's. Nothing in the folder changes before the data, the
    tokenizers and (on resume) the checkpoint have been read.
    """
    model_dir = Path(model_dir)
    if resume:
        if not (model_dir / "checkpoint").exists() and not (model_dir / "checkpoint.old").exists():
            raise OptionError(f"{model_dir}: no checkpoint to resume from")
        saved = RunConfig.load(model_dir / "config.json")
        refuse_changed_options(saved, config, set(requested) - set(budget or ()), model_dir)
        config = saved
    elif (model_dir / "config.json").exists() and not force:
        raise OptionError(f"{model_dir} already holds a model; use --resume to continue it, "
                          "--force to train a new one over it, or another --model-dir")
    if budget:
        config = replace(config, training=replace(config.training, **budget))
    data = prepare_data(config, corpus, dev, model_dir, resume, echo)
    trainer = Trainer(config, data, model_dir, echo, progress_bar)
    if resume:
        trainer.load_checkpoint()
        trainer.progress.stopped_because = ""
        echo(f"resuming at epoch {trainer.progress.epoch + 1}, step {trainer.progress.step}")
    else:
        model_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(model_dir / "checkpoint", ignore_errors=True)
        data.source_tokenizer.save(model_dir / "source_tokenizer.json")
        data.target_tokenizer.save(model_dir / "target_tokenizer.json")
    config.save(model_dir / "config.json")
    progress = trainer.run()
    echo(f"done ({progress.stopped_because}): best dev loss {progress.best_dev_loss:.4f}, "
         f"{progress.seconds / 60:.1f} min, model in {model_dir}")
    return progress


def refuse_changed_options(saved: RunConfig, requested_config: RunConfig, requested: set[str], model_dir: Path):
    """A resume continues the saved run as configured: an option given with another value is an error."""
    saved_values, requested_values = saved.flat(), requested_config.flat()
    changed = [f"--{name.replace('_', '-')} {requested_values[name]} (saved: {saved_values[name]})"
               for name in sorted(requested) if name in saved_values and requested_values[name] != saved_values[name]]
    if changed:
        raise OptionError(f"{model_dir}: --resume continues the saved run, but these options differ from it: "
                          f"{', '.join(changed)}; drop them, or train a new model with --force")
