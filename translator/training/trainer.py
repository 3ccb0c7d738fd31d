"""The training loop's policy: epochs, budgets, early stopping, NaN roll-back, checkpoints that resume exactly.

The maths is `TrainStep`'s, the files are `RunDir`'s, what the user sees is
the reporters'; the loop decides only what happens next.
"""

from __future__ import annotations

import contextlib
import math
import shlex
import signal
import statistics
import threading
import time
from dataclasses import dataclass, field

import tensorflow as tf

from translator.config import RunConfig
from translator.errors import TrainingInterrupted, TranslatorError
from translator.model.folder import RunDir
from translator.training.data import Data
from translator.training.schedules import learning_rate, teacher_forcing_probability
from translator.training.step import TrainStep


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
    epoch_gradient_norms: list = field(default_factory=list)  # this epoch's, one a step, before clipping
    clipped_steps: int = 0  # steps of the whole run whose gradient norm was over `clip_norm`
    history: list = field(default_factory=list)
    stopped_because: str = ""


@contextlib.contextmanager
def ctrl_c_between_steps():
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


def clipped(gradient_norm: float, clip_norm: float) -> bool:
    """Whether the optimizer scaled this step's gradient down (`clip_norm` 0: clipping is off)."""
    return bool(clip_norm) and gradient_norm > clip_norm


def gradient_norm_summary(norms: list[float], clip_norm: float) -> dict:
    """An epoch's gradient norms (before clipping) in history.csv: median, maximum, share of steps clipped."""
    if not norms:
        return {"gradient_norm_median": math.nan, "gradient_norm_max": math.nan, "clipped_share": math.nan}
    clipped_steps = sum(clipped(norm, clip_norm) for norm in norms)
    return {"gradient_norm_median": statistics.median(norms), "gradient_norm_max": max(norms),
            "clipped_share": clipped_steps / len(norms)}


class Trainer:
    """Runs one training into `run_dir`; keeps the best weights by dev loss in memory as well."""

    def __init__(self, config: RunConfig, data: Data, run_dir: RunDir, reporters=(), strategy=None):
        self.config, self.data, self.run_dir, self.reporters = config, data, RunDir(run_dir), list(reporters)
        self.step = TrainStep(config.model, config.training, data.source_tokenizer.vocab_size,
                              data.target_tokenizer.vocab_size, strategy)
        self.model = self.step.model
        self.progress = Progress()
        self.best_weights = None  # the model's weights at the best dev loss of this process, if any
        self.steps_per_epoch = data.train.batch_count(config.training.batch_size)
        self._interrupted = threading.Event()  # set by the first Ctrl-C during `run`

    def report(self, hook: str, *args) -> None:
        for reporter in self.reporters:
            getattr(reporter, hook)(self.progress, *args)

    def current_learning_rate(self) -> float:
        p = self.progress
        return learning_rate(self.config.training, p.step, p.lr_scale, self.steps_per_epoch)

    # --- the loop -------------------------------------------------------------------------
    def run(self) -> Progress:
        t, p = self.config.training, self.progress
        started = time.monotonic() - p.seconds
        if self.run_dir.checkpoint_folder() is None:
            self.save_checkpoint()  # a NaN in the first steps rolls back to the initial weights
        elif p.step:
            self._budget_spent(started)  # a resumed run whose budget is spent takes no further step
        try:
            with ctrl_c_between_steps() as self._interrupted:
                while p.epoch < t.epochs and not p.stopped_because:
                    outcome = self._run_epoch(started)
                    if outcome != "rolled back":
                        self._evaluate(started, completed=outcome == "completed")
        except KeyboardInterrupt:
            self._finish(started)
            raise TrainingInterrupted(
                f"interrupted at step {p.step}; checkpoint saved in {self.run_dir}; continue with: "
                f"translator train `model_dir` {shlex.quote(str(self.run_dir))} `resume`"
            ) from None
        finally:
            self.report("run_ended")
        p.stopped_because = p.stopped_because or f"{t.epochs} epochs done"
        self._finish(started)
        return p

    def _finish(self, started: float) -> None:
        self.progress.seconds = time.monotonic() - started
        self.save_checkpoint()
        self.write_records()

    def _run_epoch(self, started: float) -> str:
        """Train on the rest of the current epoch -> "completed", "budget spent" or "rolled back"."""
        t, p = self.config.training, self.progress
        batches = self.data.train.dataset(t.batch_size, seed=t.seed, epoch=p.epoch).skip(p.batch_in_epoch)
        self.report("epoch_started", t.epochs, self.steps_per_epoch)
        for batch in batches:
            self.step.set_learning_rate(self.current_learning_rate())
            loss, gradient_norm = self.step.train(batch, teacher_forcing_probability(t, p.step))
            if not math.isfinite(loss):
                self._recover_from_nan(loss)
                return "rolled back"  # the run goes on from the checkpoint's position
            tokens = int(tf.reduce_sum(tf.cast(batch["target_mask"], tf.int32)))
            p.step, p.batch_in_epoch, p.tokens = p.step + 1, p.batch_in_epoch + 1, p.tokens + tokens
            p.epoch_loss, p.epoch_tokens = p.epoch_loss + loss * tokens, p.epoch_tokens + tokens
            p.epoch_gradient_norms.append(gradient_norm)
            p.clipped_steps += clipped(gradient_norm, t.clip_norm)
            self.report("step_done", loss, gradient_norm)
            if p.step % t.checkpoint_every == 0:
                p.seconds = time.monotonic() - started
                self.save_checkpoint()
            if self._budget_spent(started):
                return "budget spent"
            if self._interrupted.is_set():
                raise KeyboardInterrupt
        return "completed"

    def _budget_spent(self, started: float) -> bool:
        t, p = self.config.training, self.progress
        if t.max_steps is not None and p.step >= t.max_steps:
            p.stopped_because = f"max_steps {t.max_steps} reached"
        elif t.max_minutes is not None and self.step.any_worker(time.monotonic() - started >= 60 * t.max_minutes):
            p.stopped_because = f"max_minutes {t.max_minutes:g} reached"
        return bool(p.stopped_because)

    def _evaluate(self, started: float, completed: bool):
        """Dev loss at the end of an epoch, or where a budget stopped one: keep the best weights."""
        t, p = self.config.training, self.progress
        dev = self.step.dev_loss(self.data.dev.dataset(t.batch_size, shuffle=False))
        p.seconds = time.monotonic() - started
        improved = dev < p.best_dev_loss
        record = {"epoch": p.epoch + 1, "complete": completed, "step": p.step,
                  "train_loss": p.epoch_loss / p.epoch_tokens if p.epoch_tokens else math.nan, "dev_loss": dev,
                  "minutes": p.seconds / 60, "learning_rate": self.current_learning_rate(),
                  "target_tokens_per_s": p.tokens / max(p.seconds, 1e-9),
                  **gradient_norm_summary(p.epoch_gradient_norms, t.clip_norm)}
        p.history.append(record)
        self.report("epoch_ended", t.epochs, record, improved)
        if improved:
            p.best_dev_loss, p.bad_epochs = dev, 0
            self.best_weights = self.model.get_weights()
            self.run_dir.save_weights(self.model)
        elif completed:  # a budget's partial epoch must not change when a resumed run stops early
            p.bad_epochs += 1
            if p.bad_epochs >= t.patience:
                p.stopped_because = f"early stop: no dev improvement for {t.patience} epochs"
        if completed:
            p.epoch += 1
            p.batch_in_epoch = p.epoch_tokens = 0
            p.epoch_loss, p.epoch_gradient_norms = 0.0, []
        self.save_checkpoint()

    def _recover_from_nan(self, loss: float):
        p, t = self.progress, self.config.training
        if p.nan_recoveries >= t.max_nan_recoveries:
            raise TranslatorError(
                f"the loss became {loss} {p.nan_recoveries + 1} times, even after rolling back and lowering "
                f"the learning rate to {self.current_learning_rate():.2g}; likely causes: "
                f"the learning rate (`learning_rate` {t.learning_rate:g}), no gradient clipping "
                f"(`clip_norm` {t.clip_norm:g}), or an enormous pair (longest: {self.data.longest_line})"
            )
        recoveries, scale = p.nan_recoveries + 1, p.lr_scale / 2
        self.load_checkpoint()
        self.progress.nan_recoveries, self.progress.lr_scale = recoveries, scale
        self.report("message", f"loss became {loss} at step {self.progress.step}: rolled back to the last checkpoint, "
                               "learning rate halved")

    # --- the folder -------------------------------------------------------------------------
    def save_checkpoint(self):
        self.run_dir.save_checkpoint(self.step.state(), vars(self.progress))

    def load_checkpoint(self):
        arrays, progress = self.run_dir.load_checkpoint()
        try:
            self.step.restore(arrays)
            self.progress = Progress(**progress)
        except (KeyError, ValueError, TypeError) as error:  # another model's checkpoint, or edited by hand
            raise TranslatorError(f"{self.run_dir.checkpoint_folder()}: damaged ({error}); "
                                  "cannot resume from this checkpoint") from None

    def write_records(self):
        p = self.progress
        self.run_dir.save_history(p.history)
        self.run_dir.save_summary({
            "epochs": p.epoch, "steps": p.step, "best_dev_loss": p.best_dev_loss, "minutes": p.seconds / 60,
            "stopped_because": p.stopped_because, "nan_recoveries": p.nan_recoveries,
            "train_pairs": len(self.data.train), "dev_pairs": len(self.data.dev),
            "parameters": self.parameters,
            "target_tokens_per_s": p.tokens / max(p.seconds, 1e-9),
            "clipped_steps": p.clipped_steps, "clip_rate": p.clipped_steps / max(p.step, 1),
            "corpus": self.run_dir.relative(self.data.corpus), "dev_file": self.run_dir.relative(self.data.dev_file),
            "source_language": self.data.languages[0], "target_language": self.data.languages[1],
            **({"init_from": self.data.init_from} if self.data.init_from else {}),
        })

    @property
    def parameters(self) -> int:
        return int(self.model.count_params())

    def translator(self):
        """A Translator over the best model, with this run's config and tokenizers."""
        from translator.decoding.inference import Translator

        return Translator(self.best_model(), self.config, self.data.source_tokenizer, self.data.target_tokenizer,
                          self.run_dir.path)

    def best_model(self):
        """The model holding the best weights by dev loss (read from the folder only after a resume that
        found no improvement in this process)."""
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        else:
            self.run_dir.load_weights(self.model)
        return self.model
