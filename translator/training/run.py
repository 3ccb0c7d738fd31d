"""`train`: one training run into a model folder, new or resumed."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path

from translator.config import CorpusFormat, RunConfig, TrainingConfig
from translator.data.sources import CorpusSource, is_plain_file, write_mixture
from translator.errors import ModelDirError, OptionError
from translator.evaluation.evaluate import ReferenceSet
from translator.files import write_text_atomically
from translator.model.folder import CHECKPOINT, LOGS, SEARCH, SEARCH_SCORES, RunDir
from translator.evaluation.search_choice import choose_search
from translator.model.length_limit import LengthLimit
from translator.training.card import write_model_card
from translator.training.data import prepare_data, streams
from translator.training.distribution import strategy_for
from translator.training.reporting import Messages, ProgressBar, TensorBoard
from translator.training.trainer import Trainer

FINE_TUNING_RATE = 0.5


def default_reporters(run_dir: RunDir, echo=print, progress_bar: bool = True) -> list:
    # the bar first: it closes before a message is printed, so the two never share a terminal line
    return ([ProgressBar()] if progress_bar else []) + [Messages(echo), TensorBoard(run_dir / LOGS)]


def train(corpus: Path | list[CorpusSource], model_dir: Path, config: RunConfig, dev: Path | None = None, resume: bool = False,
          force: bool = False, echo=print, progress_bar: bool = True, overrides: dict | None = None,
          requested: set[str] = frozenset(), tokenizers: tuple | None = None, reporters=None,
          init_from: Path | None = None) -> Trainer:
    """Train a model into `model_dir` on `corpus` (a file, or the corpora of data/sources.py, which are mixed by
    their weights); with `resume`, continue the run saved there. Returns the Trainer: its
    `progress`, and its best model in memory (`translator()`).

    `overrides` (the budget: epochs, max_minutes, max_steps; and `devices`)
    replace the config's, also on resume, where every other option comes from
    the saved config; `requested` names the options the user gave, which a
    resume refuses when they differ from the saved run's. `tokenizers`
    (source, target) skips learning them. `init_from` (a model folder) fine-tunes: the new run starts from its
    weights, with its vocabularies and sizes (`fine_tuning`). Nothing in the folder changes before
    the data, the tokenizers and (on resume) the checkpoint have been read.
    In a multi-worker run, only the chief writes `model_dir`; the other workers
    write to a temporary folder and print nothing.
    """
    strategy = strategy_for((overrides or {}).get("devices", config.training.devices))  # before any TF op
    saved_run, chief = RunDir(model_dir), strategy.extended.should_checkpoint  # False: a non-chief worker
    # the other workers may see the chief's first files: as if forced
    saved_run.check_for_training(config, resume, force or not chief, set(requested) - set(overrides or ()))
    sources = as_sources(corpus)
    if resume:
        config, tokenizers = saved_run.load_config(), saved_run.load_tokenizers()
        sources, dev = remembered_data(saved_run, sources, dev)
    elif init_from is not None:
        config, tokenizers = fine_tuning(RunDir(init_from), config, requested)
    run_dir = saved_run if chief else worker_folder(saved_run if resume else None)
    if not chief:
        echo, reporters = (lambda *_: None), []
    if overrides:
        config = replace(config, training=replace(config.training, **overrides))
    with readable_corpora(run_dir, sources, dev, config, echo) as (corpus_file, dev_file, read_config), \
            token_cache_folder(run_dir, streams(config, corpus_file)) as cache_folder:
        data = prepare_data(read_config, corpus_file, dev_file, tokenizers, echo, cache_folder)
        data.init_from = None if init_from is None else str(init_from)
        if corpus_file != sources[0].paths[0]:  # a mixture: summary.json names what it was made of
            data.corpus = " ".join(source.spelled(run_dir.relative) for source in sources)
            data.dev_file = dev and str(dev)
        reporters = default_reporters(run_dir, echo, progress_bar) if reporters is None else reporters
        trainer = Trainer(config, data, run_dir, reporters, strategy)
        if resume:
            trainer.load_checkpoint()
            trainer.progress.stopped_because = ""
            echo(f"resuming at epoch {trainer.progress.epoch + 1}, step {trainer.progress.step}")
        else:
            if init_from is not None:
                RunDir(init_from).load_weights(trainer.model)
                echo(f"starting from the weights of {init_from} (learning rate {config.training.learning_rate:g})")
            run_dir.path.mkdir(parents=True, exist_ok=True)
            run_dir.remove_checkpoint()
            run_dir.save_tokenizers(data.source_tokenizer, data.target_tokenizer)
            run_dir.save_run([{"paths": source.paths, "weight": source.weight} for source in sources], dev)
            run_dir.save_length_limit(LengthLimit.learn(*data.train.lengths()))
            run_dir.save_name_surrogates(data.name_surrogates)
            run_dir.save_number_surrogates(data.number_surrogates)
        run_dir.save_config(config)
        progress = trainer.run()
        echo(f"done ({progress.stopped_because}): best dev loss {progress.best_dev_loss:.4f}, "
             f"{progress.seconds / 60:.1f} min, model in {run_dir}")
        search = dev_bleu = None
        if chief and config.training.tune_search and run_dir.holds_model():
            search, dev_bleu = tune_search(trainer.translator(), data.dev_pairs, config.training, run_dir, echo)
        if chief and run_dir.holds_model():
            write_model_card(run_dir, config, run_dir.load_summary() | {"history": progress.history}, search, dev_bleu)
        if chief and config.training.carry_graph and run_dir.holds_model():
            carry_translate_graph(run_dir, echo)
    return trainer


def as_sources(corpus) -> list[CorpusSource]:
    """A corpus file (or None: none given) as the list of corpora `train` takes."""
    if corpus is None or isinstance(corpus, list):
        return corpus or []
    return [CorpusSource((Path(corpus),))]


def remembered_data(run: RunDir, sources: list[CorpusSource], dev: Path | None):
    """(corpora, dev file) of the run saved in `run`. Corpora or a dev file given anyway must be the saved ones,
    or stand in for saved ones no longer where they were (the folder or the data moved)."""
    def key(corpora):
        return [(tuple(Path(p).resolve() for p in s.paths), s.weight) for s in corpora]

    try:
        saved = run.load_run()
    except ModelDirError:
        if not sources:
            raise
        return sources, dev  # a run from before run.json: the corpus as given
    saved_sources = [CorpusSource(tuple(c["paths"]), c["weight"]) for c in saved["corpora"]]
    gone = any(p is None for s in saved_sources for p in s.paths)
    if gone and not sources:
        raise OptionError(f"{run}: the run's corpus is no longer at {' '.join(saved['spelled'])}; give it again")
    if sources and not gone and key(sources) != key(saved_sources):
        raise OptionError(f"{run}: `resume` continues the run on {' '.join(s.spelled() for s in saved_sources)}, "
                          f"not {' '.join(s.spelled() for s in sources)}; give no corpus, or train a new model "
                          "with `force`")
    if dev is not None and saved["dev"] is not None and Path(dev).resolve() != saved["dev"]:
        raise OptionError(f"{run}: `resume` continues the run with `dev` {saved['dev']}, not {dev}; drop `dev`")
    if dev is None and saved["dev_given"] and saved["dev"] is None:
        raise OptionError(f"{run}: the run's `dev` file is no longer where it was; give it again with `dev`")
    return (sources if gone else saved_sources), (dev or saved["dev"])


def fine_tuning(base: RunDir, config: RunConfig, requested) -> tuple[RunConfig, tuple]:
    """(the config, tokenizers) of a run that starts from `base`'s weights: its model and text options (a size
    given anyway is refused, naming it), the given training options, and, unless given, a learning rate
    FINE_TUNING_RATE times the base run's (a model's weights are far from a random start: a full rate undoes
    what it learned before it adapts)."""
    saved = base.load_config()
    fixed = {f.name for part in (saved.model, saved.source_text) for f in fields(part)} & set(requested)
    if fixed:
        raise OptionError(f"{', '.join(f'`{name}`' for name in sorted(fixed))}: `init_from` keeps the sizes and "
                          f"vocabularies of {base}; drop these options")
    training = config.training
    if "learning_rate" not in requested:
        training = replace(training, learning_rate=saved.training.learning_rate * FINE_TUNING_RATE)
    config = replace(config, source_text=saved.source_text, target_text=saved.target_text, model=saved.model,
                     training=training)
    return config, base.load_tokenizers()


def tune_search(translator, dev_pairs, training: TrainingConfig, run_dir: RunDir, echo) -> tuple[tuple, float]:
    """Score the beam grid on dev and store the best setting in search.json (scores in search_scores.csv).
    Returns ((beam, length penalty), its dev BLEU)."""
    echo("choosing the beam size and length penalty on dev ...")
    best, scores = choose_search(translator, ReferenceSet.from_pairs(dev_pairs), *training.search_grid())
    write_text_atomically(run_dir / SEARCH_SCORES, scores.to_csv(index=False))
    run_dir.save_search(*best)
    chosen = scores[(scores["beam"] == best[0]) & (scores["length_penalty"] == best[1])].iloc[0]
    echo(f"search: beam {best[0]}, length penalty {best[1]:g} (dev BLEU {chosen['bleu']:.2f}; greedy "
         f"{scores.iloc[0]['bleu']:.2f}), stored in {run_dir / SEARCH}")
    return best, float(chosen["bleu"])


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
def readable_corpora(run_dir: RunDir, sources: list[CorpusSource], dev: Path | None, config: RunConfig, echo):
    """(corpus file, dev file, the config to read them with): one plain corpus file as it is; several corpora,
    weights, a two-file corpus or a TMX memory as one mixture file (and the dev corpus as a plain file beside it)
    in a scratch folder beside the model folder, read as plain `source<TAB>target` lines."""
    if len(sources) == 1 and sources[0].weight == 1 and is_plain_file(sources[0]):
        yield sources[0].paths[0], dev, config
        return
    parent = run_dir.path.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{run_dir.path.name}-corpora-", dir=parent) as folder:
        mixture = Path(folder) / "train.tsv"
        pairs = write_mixture(sources, config.data, mixture, config.training.seed, echo)
        echo(f"{pairs:,} training pairs in the mixture")
        if dev is not None:
            write_mixture([CorpusSource((Path(dev),))], config.data, Path(folder) / "dev.tsv", 0, lambda *_: None)
            dev = Path(folder) / "dev.tsv"
        yield mixture, dev, replace(config, data=CorpusFormat(detokenize="off"))


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
