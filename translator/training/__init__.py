"""Training: the compiled step (`step`), the loop's policy (`trainer`), what it reports (`reporting`),
the data of a run (`data`), the schedules, and `train`, which ties them to a model folder."""

from translator.training.data import Data, learn_tokenizers, prepare_data
from translator.training.run import train
from translator.training.schedules import learning_rate, teacher_forcing_probability, warmup_steps
from translator.training.step import TrainStep, masked_cross_entropy
from translator.training.trainer import Progress, Trainer

__all__ = ["Data", "Progress", "TrainStep", "Trainer", "learn_tokenizers", "learning_rate",
           "masked_cross_entropy", "prepare_data", "teacher_forcing_probability", "train",
           "warmup_steps"]
