"""What changes with the step: the learning rate and the probability of teacher forcing."""

from __future__ import annotations

import math

from translator.config import TrainingConfig


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
    if steps_per_epoch is None or config.warmup_steps == 0:
        return config.warmup_steps
    return max(1, min(config.warmup_steps, steps_per_epoch // 2))


def learning_rate(config: TrainingConfig, step: int, scale: float, steps_per_epoch: int | None = None) -> float:
    """Linear warm-up (none for 0 steps), then halving every `decay_steps`; `scale` is lowered after a NaN."""
    warmup = warmup_steps(config, steps_per_epoch)
    decay = 0.5 ** (max(0, step - warmup) / config.decay_steps)
    ramp = min(1.0, (step + 1) / warmup) if warmup else 1.0
    return config.learning_rate * scale * ramp * decay
