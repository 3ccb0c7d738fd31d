"""`train`: one training run into a model folder, new or resumed."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from translator.config import RunConfig, TrainingConfig
from translator.evaluation.evaluate import ReferenceSet
from translator.files import write_text_atomically
from translator.model.folder import CHECKPOINT, LOGS, SEARCH, SEARCH_SCORES, RunDir
from translator.evaluation.search_choice import choose_search
from translator.model.length_limit import LengthLimit
from translator.training.data import prepare_data, streams
from translator.training.distribution import strategy_for
from translator.training.reporting import Messages, ProgressBar, TensorBoard
from translator.training.trainer import Trainer


def default_reporters(run_dir: RunDir, echo=print, progress_bar: bool = True) -> list:
    # the bar first: it closes before a message is printed, so the two never share a terminal line
    return ([ProgressBar()] if progress_bar else []) + [Messages(echo), TensorBoard(run_dir / LOGS)]


def train(corpus: Path, model_dir: Path, config: RunConfig, dev: Path | None = None, resume: bool = False,
          force: bool = False, echo=print, progress_bar: bool = True, overrides: dict | None = None,
          requested: set[str] = frozenset(), tokenizers: tuple | None = None, reporters=None) -> Trainer:
    """Train a model into `model_dir`; with `resume`, continue the run saved there. Returns the Trainer: its
    `progress`, and its best model in memory (`translator()`).

    `overrides` (the budget: epochs, max_minutes, max_steps; and `devices`)
    replace the config's, also on resume, where every other option comes from
    the saved config; `requested` names the options the user gave, which a
    resume refuses when they differ from the saved run's. `tokenizers`
    (source, target) skips learning them. Nothing in the folder changes before
    the data, the tokenizers and (on resume) the checkpoint have been read.
    In a multi-worker run, only the chief writes `model_dir`; the other workers
    write to a temporary folder and print nothing.
    """
    strategy = strategy_for((overrides or {}).get("devices", config.training.devices))  # before any TF op
    saved_run, chief = RunDir(model_dir), strategy.extended.should_checkpoint  # False: a non-chief worker
    # the other workers may see the chief's first files: as if forced
    saved_run.check_for_training(config, resume, force or not chief, set(requested) - set(overrides or ()))
    if resume:
        config, tokenizers = saved_run.load_config(), saved_run.load_tokenizers()
    run_dir = saved_run if chief else worker_folder(saved_run if resume else None)
    if not chief:
        echo, reporters = (lambda *_: None), []
    if overrides:
        config = replace(config, training=replace(config.training, **overrides))
    with token_cache_folder(run_dir, streams(config, corpus)) as cache_folder:
        data = prepare_data(config, corpus, dev, tokenizers, echo, cache_folder)
        reporters = default_reporters(run_dir, echo, progress_bar) if reporters is None else reporters
        trainer = Trainer(config, data, run_dir, reporters, strategy)
        if resume:
            trainer.load_checkpoint()
            trainer.progress.stopped_because = ""
            echo(f"resuming at epoch {trainer.progress.epoch + 1}, step {trainer.progress.step}")
        else:
            run_dir.path.mkdir(parents=True, exist_ok=True)
            run_dir.remove_checkpoint()
            run_dir.save_tokenizers(data.source_tokenizer, data.target_tokenizer)
            run_dir.save_length_limit(LengthLimit.learn(*data.train.lengths()))
            run_dir.save_name_surrogates(data.name_surrogates)
            run_dir.save_number_surrogates(data.number_surrogates)
        run_dir.save_config(config)
        progress = trainer.run()
        echo(f"done ({progress.stopped_because}): best dev loss {progress.best_dev_loss:.4f}, "
             f"{progress.seconds / 60:.1f} min, model in {run_dir}")
        if chief and config.training.tune_search and run_dir.holds_model():
            tune_search(trainer.translator(), data.dev_pairs, config.training, run_dir, echo)
        if chief and config.training.carry_graph and run_dir.holds_model():
            carry_translate_graph(run_dir, echo)
    return trainer


def tune_search(translator, dev_pairs, training: TrainingConfig, run_dir: RunDir, echo) -> None:
    """Score the beam grid on dev and store the best setting in search.json (scores in search_scores.csv)."""
    echo("choosing the beam size and length penalty on dev ...")
    best, scores = choose_search(translator, ReferenceSet.from_pairs(dev_pairs), *training.search_grid())
    write_text_atomically(run_dir / SEARCH_SCORES, scores.to_csv(index=False))
    run_dir.save_search(*best)
    chosen = scores[(scores["beam"] == best[0]) & (scores["length_penalty"] == best[1])].iloc[0]
    echo(f"search: beam {best[0]}, length penalty {best[1]:g} (dev BLEU {chosen['bleu']:.2f}; greedy "
         f"{scores.iloc[0]['bleu']:.2f}), stored in {run_dir / SEARCH}")


def carry_translate_graph(run_dir: RunDir, echo) -> None:
    """Store the translate graph of the folder's search setting in it (startup/graph.py), as `translate` loads the
    model (float32), so that the model's first `translate` starts as fast as later ones. The model is whole
    without it: where writing it fails, a warning, and the cache serves."""
    import tensorflow as tf

    from translator.startup.graph import carry_graph
    from translator.decoding.inference import Translator

    translator = Translator.load(run_dir.path)
    search = translator.search_setting()
    try:
        folder = carry_graph(translator, run_dir, search)
    except (OSError, tf.errors.OpError) as error:
        print(f"warning: the translate graph was not stored in {run_dir} ({error}); translate builds it on first use",
              file=sys.stderr)
        return
    echo(f"translate graph for beam {search.beam_size}, length penalty {search.length_penalty:g} stored in {folder}")


@contextmanager
def token_cache_folder(run_dir: RunDir, needed: bool) -> Iterator[Path | None]:
    """Where a streamed corpus is tokenized (None when not `needed`): a scratch folder beside the model folder,
    on the disk that holds the model anyway, removed afterwards."""
    if not needed:
        yield None
        return
    parent = run_dir.path.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{run_dir.path.name}-token-cache-", dir=parent) as folder:
        yield Path(folder)


def worker_folder(resumed: RunDir | None) -> RunDir:
    """A non-chief worker's own scratch folder (holding a copy of the checkpoint it resumes from)."""
    folder = RunDir(tempfile.mkdtemp(prefix="translator-worker-"))
    if resumed is not None:
        shutil.copytree(resumed.checkpoint_folder(), folder / CHECKPOINT)
    return folder
