"""What a training run tells the outside, as callbacks the caller chooses: messages, a progress bar,
TensorBoard scalars. The loop calls every reporter's hooks and knows none of them."""

from __future__ import annotations

from pathlib import Path


class Reporter:
    """The hooks; each does nothing unless overridden."""

    def epoch_started(self, progress, epochs: int, steps_per_epoch: int) -> None:
        pass

    def step_done(self, progress, loss: float, gradient_norm: float) -> None:
        pass

    def epoch_ended(self, progress, epochs: int, record: dict, improved: bool) -> None:
        pass

    def message(self, progress, text: str) -> None:
        pass

    def run_ended(self, progress) -> None:
        pass


class Messages(Reporter):
    """One line per event through `echo`."""

    def __init__(self, echo=print):
        self.echo = echo

    def epoch_ended(self, progress, epochs, record, improved):
        cut = "" if record["complete"] else f" (partial: {progress.stopped_because or 'stopped'})"
        self.echo(f"epoch {record['epoch']}/{epochs}{cut}: "
                  f"dev loss {record['dev_loss']:.4f}{' (best, saved)' if improved else ''}, "
                  f"step {record['step']}, {record['minutes']:.1f} min")

    def message(self, progress, text):
        self.echo(text)


class ProgressBar(Reporter):
    """A tqdm bar per epoch, with the last loss; hidden where the output is not a terminal."""

    def __init__(self):
        self.bar = None

    def epoch_started(self, progress, epochs, steps_per_epoch):
        from tqdm.auto import tqdm

        self.close()
        self.bar = tqdm(total=steps_per_epoch, initial=progress.batch_in_epoch, desc=f"epoch {progress.epoch + 1}/{epochs}",
                        unit="batch", disable=None, leave=False, dynamic_ncols=True)

    def step_done(self, progress, loss, gradient_norm):
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{loss:.3f}")

    def epoch_ended(self, progress, epochs, record, improved):
        self.close()

    def message(self, progress, text):
        self.close()

    def run_ended(self, progress):
        self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class TensorBoard(Reporter):
    """train/gradient_norm (before clipping) every step, train/loss every `every` steps, dev/loss every epoch.
    The writer is made on first use: a run that fails before its first step leaves the log folder as it was."""

    def __init__(self, log_dir: Path, every: int = 50):
        self.log_dir, self.every, self._writer = Path(log_dir), every, None

    def scalar(self, name: str, value: float, step: int) -> None:
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir))
        with self._writer.as_default(step=step):
            tf.summary.scalar(name, value)

    def step_done(self, progress, loss, gradient_norm):
        self.scalar("train/gradient_norm", gradient_norm, progress.step)
        if progress.step % self.every == 0:
            self.scalar("train/loss", loss, progress.step)

    def epoch_ended(self, progress, epochs, record, improved):
        self.scalar("dev/loss", record["dev_loss"], progress.step)
