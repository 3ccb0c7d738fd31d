#!/usr/bin/env python
"""Benchmark: training and decoding speed per decoder on this machine; prints a table, writes JSON.

    python bench/run.py [--quick] [--config tutorial|default] [--model-dir DIR]
                        [--precision float32,bfloat16] [--devices N] [--quality-minutes M | --quality-steps N]
                        [--quality-seeds 1,2]

Each measurement runs in a child process of its own, so that its peak
resident memory (ru_maxrss) is its own. See bench/README.md for what each
figure means.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import click

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CORPORA = Path(os.environ.get("TRANSLATOR_CORPORA", REPO.parent / "shared" / "corpora"))
CACHE = REPO / "bench" / "cache"
CONFIGS = {
    # The TensorFlow NMT tutorial's sizes, for a comparison at equal size. Its output layer reads a
    # 256-wide vector; here `readout` gives the attention decoder the same (see decoders.OutputLayer).
    "tutorial": {"embedding_dim": 256, "units": 256, "bidirectional": True, "cell": "gru", "vocab_size": 5000,
                 "batch_size": 64, "attention_readout": 256, "model_dir": "translator/pretrained/spa-eng-small"},
    "default": {"embedding_dim": 256, "units": 256, "bidirectional": True, "cell": "gru", "vocab_size": 8000,
                "batch_size": 64, "attention_readout": 0, "model_dir": "translator/pretrained/spa-eng"},
}
WARMUP_STEPS = 10
QUICK_TIMED_BATCHES = 150  # of an epoch's 1,803 at batch 64
LATENCY_SENTENCE = "Los perros ladran."  # the tutorial harness's
STREAMED_RSS_STEPS = 100


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tokenizers(sizes: dict, train_pairs):
    """WordPiece tokenizers of the configured size, learned once and cached in bench/cache."""
    from translator.config import TextConfig
    from translator.data.text import Tokenizer

    CACHE.mkdir(exist_ok=True)
    result = []
    for side in ("source", "target"):
        path = CACHE / f"{side}-{sizes['vocab_size']}.json"
        if not path.exists():
            learned = Tokenizer.learn(train_pairs[side], TextConfig(vocab_size=sizes["vocab_size"]))
            path.write_text(json.dumps(learned.to_json()), encoding="utf-8")
        result.append(Tokenizer.from_json(json.loads(path.read_text(encoding="utf-8"))))
    return result


def readout(sizes: dict, decoder: str) -> int:
    return sizes["attention_readout"] if decoder == "attention" else 0


def flops_per_target_token(sizes: dict, decoder: str, vocab: int, source_tokens: float, target_tokens: float) -> float:
    """Forward + backward (3x forward) multiply-adds x 2, per target token, counted from the layer sizes."""
    e, u, r = sizes["embedding_dim"], sizes["units"], readout(sizes, decoder)
    width = 2 * u if sizes["bidirectional"] else u
    gates = 3  # GRU
    per_source = (2 if sizes["bidirectional"] else 1) * 2 * (e + u) * gates * u
    step_input = {"init": 1, "context": width, "feedback": e + width, "attention": e + width}[decoder]
    per_target = 2 * (step_input + u) * gates * u
    if decoder == "attention":
        per_source += 2 * width * u  # keys, once
        per_target += 2 * u * u + source_tokens * (2 * u + 2 * width)  # query, energies, context
        per_target += 2 * (u + width) * r + 2 * r * vocab if r else 2 * (u + width) * vocab
    else:
        per_target += 2 * u * vocab + 2 * width * vocab / target_tokens  # the context's share, once per sentence
    forward = per_target + per_source * source_tokens / target_tokens
    return 3 * forward


def matmul_gflops(dtype: str = "float32") -> float:
    import tensorflow as tf

    a, b = tf.random.normal([64, 512], dtype=dtype), tf.random.normal([512, 1536], dtype=dtype)
    multiply = tf.function(lambda x, y: tf.matmul(x, y))
    multiply(a, b)
    repeats = 2000
    started = time.perf_counter()
    for _ in range(repeats):
        result = multiply(a, b)
    result.numpy()
    return 2 * 64 * 512 * 1536 * repeats / (time.perf_counter() - started) / 1e9


MATMUL_DTYPES = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}  # a policy's matmuls


def ceiling_pairs_per_s(row: dict) -> float:
    """The sentence pairs/s if every FLOP of a training step (`flops_per_token`) ran at the matmul probe's rate in
    the row's compute dtype (`matmul_gflops`): the bound the model's arithmetic sets at these sizes, where its
    matmuls run no faster than the probe's GRU-sized one."""
    return round(row["matmul_gflops"] * 1e9 / (row["flops_per_token"] * row["target_tokens_per_pair"]), 1)


def model_config(sizes: dict, decoder: str):
    from translator.config import ModelConfig

    model = {k: sizes[k] for k in ("embedding_dim", "units", "bidirectional", "cell")}
    return ModelConfig(decoder=decoder, readout=readout(sizes, decoder), **model)


def training_setup(config_name: str, decoder: str, precision_name: str = "float32", devices: str = "1",
                   measure_gradient_norm: bool = True):
    """(compiled train step, iterator over training batches, target tokenizer, sizes) at the configuration's sizes,
    on the spa-eng split."""
    from translator.config import RunConfig, TrainingConfig
    from translator.data.corpus import CorpusFormat, read_corpus
    from translator.data.pipeline import encode_pairs, make_dataset
    from translator.training import TrainStep
    from translator.training.distribution import strategy_for

    strategy = strategy_for(devices)

    sizes = CONFIGS[config_name]
    pairs = read_corpus(CORPORA / "spa-eng" / "train.tsv", CorpusFormat(reverse=True)).pairs
    source_tokenizer, target_tokenizer = tokenizers(sizes, pairs)
    encoded = encode_pairs(pairs, source_tokenizer, target_tokenizer, max_length=50)
    config = RunConfig(model=model_config(sizes, decoder),
                       training=TrainingConfig(batch_size=sizes["batch_size"], precision=precision_name))
    step = TrainStep(config.model, config.training, source_tokenizer.vocab_size, target_tokenizer.vocab_size, strategy,
                     measure_gradient_norm)
    return step, iter(make_dataset(encoded, sizes["batch_size"], seed=1)), target_tokenizer, sizes


def measure_training(config_name: str, decoder: str, timed_batches: int, precision_name: str, devices: str) -> dict:
    """Sentence pairs and subword tokens per second over an epoch: every batch of one (or its first
    `timed_batches`: the epoch's batches come in random order, so a prefix carries the epoch's mix of
    lengths) after WARMUP_STEPS, timed as a whole, input pipeline included, as training runs it."""
    import itertools

    import tensorflow as tf

    train_step, batches, target_tokenizer, sizes = training_setup(config_name, decoder, precision_name, devices)
    for batch in itertools.islice(batches, WARMUP_STEPS):
        train_step.train(batch)
    pairs = target_tokens = source_tokens = positions = steps = 0
    started = time.perf_counter()
    for batch in itertools.islice(batches, timed_batches or None):
        loss, _ = train_step.train(batch)
        steps += 1
        pairs += int(tf.shape(batch["target_mask"])[0])
        target_tokens += int(tf.reduce_sum(tf.cast(batch["target_mask"], tf.int32)))
        source_tokens += int(tf.reduce_sum(tf.cast(batch["source_mask"], tf.int32)))
        positions += int(tf.size(batch["target_mask"]))
    float(loss)  # the last step has finished
    seconds = time.perf_counter() - started
    tokens_per_s = target_tokens / seconds
    flops = flops_per_target_token(sizes, decoder, target_tokenizer.vocab_size, source_tokens / pairs,
                                   target_tokens / pairs)
    return {
        "precision": train_step.policy,
        "replicas": train_step.strategy.num_replicas_in_sync,
        "train_pairs_per_s": round(pairs / seconds, 1),
        "train_tokens_per_s": round(tokens_per_s, 1),
        "target_tokens_per_pair": round(target_tokens / pairs, 2),
        "train_steps_timed": steps,
        "padding_fraction": round(1 - target_tokens / positions, 4),
        "flops_per_token": round(flops),
        "achieved_gflops": round(flops * tokens_per_s / 1e9, 2),
        "train_peak_rss_mb": round(peak_rss_mb(), 1),
    }


def measure_norm_logging_cost(config_name: str, decoder: str, quick: bool) -> dict:
    """What training pays for the gradient norm before clipping, measured in-graph and written to TensorBoard
    every step: the same batches through a step without it and one with it, in alternating blocks."""
    import tempfile
    from types import SimpleNamespace

    from translator.training.reporting import TensorBoard

    plain, batches, _, _ = training_setup(config_name, decoder, measure_gradient_norm=False)
    measured, _, _, _ = training_setup(config_name, decoder)
    batches = [next(batches) for _ in range(10)]
    blocks = 3 if quick else 6
    seconds = {"without": 0.0, "with": 0.0}
    with tempfile.TemporaryDirectory() as logs:
        reporter = TensorBoard(Path(logs))

        def run(name, count):
            step = measured if name == "with" else plain
            started = time.perf_counter()
            for number, batch in enumerate(batches[:count]):
                loss, norm = step.train(batch)
                if name == "with":
                    reporter.step_done(SimpleNamespace(step=number + 1), loss, norm)
            return time.perf_counter() - started

        run("without", 3), run("with", 3)  # traces both
        for block in range(blocks):
            for name in (("without", "with") if block % 2 == 0 else ("with", "without")):
                seconds[name] += run(name, len(batches))
    return {"decoder": decoder, "steps": blocks * len(batches),
            "steps_per_s_without": round(blocks * len(batches) / seconds["without"], 2),
            "steps_per_s_with": round(blocks * len(batches) / seconds["with"], 2),
            "gradient_norm_logging_cost": round(1 - seconds["without"] / seconds["with"], 4)}


def measure_decoding(model_dir: Path | None, quick: bool, precision_name: str) -> dict:
    from translator.config import SearchConfig
    from translator.data.corpus import CorpusFormat, read_corpus
    from translator.evaluation.evaluate import ReferenceSet, translate_all
    from translator.decoding.inference import Translator

    started = time.perf_counter()  # TensorFlow is imported: what follows is what a `translate` adds to the import
    translator = Translator.load(model_dir, precision_name=precision_name)
    translator.translate(["Hola."], translator.search_setting())
    first_translation_s = time.perf_counter() - started
    test = ReferenceSet.from_pairs(read_corpus(CORPORA / "spa-eng" / "test.tsv", CorpusFormat(reverse=True)).pairs)
    sources = test.sources[:512] if quick else test.sources
    result = {"precision": translator.model.decoder.dtype_policy.name,
              "first_translation_s": round(first_translation_s, 2)}
    for name, search in (("greedy", SearchConfig(greedy=True)), ("beam5", SearchConfig(beam_size=5))):
        translate_all(translator, sources[:64], search)  # traces the graph
        _, seconds = translate_all(translator, sources, search)
        result[f"{name}_sent_per_s"] = round(len(sources) / seconds, 1)
        _, seconds = translate_all(translator, sources, search, streams=1)
        result[f"{name}_sent_per_s_one_stream"] = round(len(sources) / seconds, 1)
    measure_latency(translator, result, "")
    result["decode_sentences"] = len(sources)
    result["intra_op_threads"] = int(os.environ["TF_NUM_INTRAOP_THREADS"])
    result["decode_peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


def measure_serve_latency(model_dir: Path | None, precision_name: str) -> dict:
    """One sentence's latency as `serve` runs it: the search XLA-compiled, every core for each op."""
    from translator.decoding.inference import Translator

    result = {}
    measure_latency(Translator.load(model_dir, xla_max_batch=1, precision_name=precision_name), result, "_serve")
    return result


def measure_latency(translator, result: dict, suffix: str) -> None:
    """One short sentence, greedy and beam 5: the median of 20 calls after 5 warm-up calls, into `result`."""
    import numpy as np

    from translator.config import SearchConfig

    for name, search in (("greedy", SearchConfig(greedy=True)), ("beam5", SearchConfig(beam_size=5))):
        calls = []
        for _ in range(25):
            started = time.perf_counter()
            translator.translate([LATENCY_SENTENCE], search)
            calls.append(time.perf_counter() - started)
        result[f"{name}_latency{suffix}_ms"] = round(1000 * float(np.median(calls[5:])), 2)


def measure_quality(config_name: str, precision_name: str, minutes: float, steps: int = 0, seed: int = 1) -> dict:
    """Train the attention decoder at the configuration's sizes for `minutes` (or, with steps, exactly that many
    steps) on the spa-eng train split (dev for early stopping), then score greedy output on the test split by
    the benchmark protocol."""
    import tempfile

    from translator.config import CorpusFormat, RunConfig, SearchConfig, TextConfig, TrainingConfig
    from translator.data.corpus import read_corpus
    from translator.evaluation.evaluate import ReferenceSet, score, translate_all
    from translator.training import train

    sizes = CONFIGS[config_name]
    text = TextConfig(vocab_size=sizes["vocab_size"])
    config = RunConfig(data=CorpusFormat(reverse=True), source_text=text, target_text=text,
                       model=model_config(sizes, "attention"),
                       training=TrainingConfig(batch_size=sizes["batch_size"], epochs=100, seed=seed,
                                               max_minutes=None if steps else minutes, max_steps=steps or None,
                                               precision=precision_name, tune_search=False))
    with tempfile.TemporaryDirectory() as folder:
        trainer = train(CORPORA / "spa-eng" / "train.tsv", Path(folder) / "model", config,
                        dev=CORPORA / "spa-eng" / "dev.tsv", echo=lambda *_: None, progress_bar=False)
        test = ReferenceSet.from_pairs(read_corpus(CORPORA / "spa-eng" / "test.tsv", CorpusFormat(reverse=True)).pairs)
        hypotheses, _ = translate_all(trainer.translator(), test.sources, SearchConfig(greedy=True))
        scores = score(hypotheses, test)
    return {"precision": trainer.step.policy, "seed": seed, "minutes": None if steps else minutes,
            "steps": trainer.progress.step,
            "dev_loss": round(trainer.progress.best_dev_loss, 4), "test_bleu_greedy": round(scores["bleu"], 2),
            "test_chrf_greedy": round(scores["chrf"], 2)}


def repeated_corpus(path: Path, pairs: int, seed: int = 0) -> None:
    """`pairs` lines of the spa-eng training split, repeated in a new random order each time it runs out."""
    import numpy as np

    lines = (CORPORA / "spa-eng" / "train.tsv").read_text(encoding="utf-8").splitlines()
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as out:
        for start in range(0, pairs, len(lines)):
            order = rng.permutation(len(lines))[: pairs - start]
            out.write("".join(lines[i] + "\n" for i in order))


def measure_streamed_rss(config_name: str, sizes_in_pairs: list[int], steps: int) -> dict:
    """Peak resident memory of `train --stream on` (a child process each, `steps` steps, at the configuration's
    sizes) on corpora of each size, made by repeating the training split with shuffles."""
    import tempfile

    sizes = CONFIGS[config_name]
    peaks, seconds = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for pairs in sizes_in_pairs:
            corpus = Path(folder) / f"{pairs}.tsv"
            repeated_corpus(corpus, pairs)
            command = [sys.executable, str(REPO / "cli.py"), "train", str(corpus), "--reverse", "--dev",
                       str(CORPORA / "spa-eng" / "dev.tsv"), "--model-dir", str(Path(folder) / f"model-{pairs}"),
                       "--stream", "on", "--max-steps", str(steps), "--no-tune-search",
                       "--vocab-size", str(sizes["vocab_size"]), "--embedding-dim", str(sizes["embedding_dim"]),
                       "--units", str(sizes["units"]), "--batch-size", str(sizes["batch_size"])]
            log = Path(folder) / f"{pairs}.log"
            with open(log, "w") as errors:
                status, elapsed, peak = measured_process(command, stderr=errors)
            if status != 0:
                raise SystemExit(f"streamed training on {pairs:,} pairs failed:\n{log.read_text()[-3000:]}")
            seconds[str(pairs)], peaks[str(pairs)] = round(elapsed, 1), round(peak, 1)
            corpus.unlink()
    return {"streamed_train_peak_rss_mb": peaks, "streamed_train_seconds": seconds, "streamed_train_steps": steps,
            "streamed_rss_ratio": round(peaks[str(sizes_in_pairs[-1])] / peaks[str(sizes_in_pairs[0])], 3)}


# Runs a command and writes its exit status, wall seconds and peak resident KB to the file named first.
MEASURING_LAUNCHER = """
import os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {time.perf_counter() - started} {usage.ru_maxrss}")
"""


def measured_process(command: list, env: dict | None = None, stderr=subprocess.DEVNULL) -> tuple[int, float, float]:
    """(exit status, wall seconds, peak resident MB) of `command`, run as the child of a small launcher process.

    Not a child of this one: Linux carries a process's high-water mark of resident memory across its exec, and a
    child forked from this benchmark process (600+ MB with TensorFlow imported) starts with this one's, so
    ru_maxrss never read lower than it (`translate "Hola."` read 629 MB so, 563 MB run alone)."""
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".measured") as result:
        subprocess.run([sys.executable, "-c", MEASURING_LAUNCHER, result.name, *map(str, command)], cwd=REPO, env=env,
                       stdout=subprocess.DEVNULL, stderr=stderr, check=True)
        status, seconds, peak_kb = result.read().split()
    return int(status), float(seconds), float(peak_kb) / 1024


def timed_process(command: list, env: dict) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of one process that must succeed."""
    status, seconds, peak = measured_process(command, env)
    if status != 0:
        raise SystemExit(f"benchmark step {' '.join(map(str, command))} failed")
    return seconds, peak


def measure_cli_start(runs: int = 3) -> dict:
    """What a user waits for: `python cli.py translate "Hola."` with the default model against the bare
    `import tensorflow, tensorflow_text` alone, runs alternating; medians. Their difference is the time to the
    first translation after the import. The first run, with an empty cache of its own, is what a fresh clone's
    first command costs (from the graph the default model carries; building the cache where it carries none)."""
    import tempfile

    import numpy as np

    translate = [sys.executable, "cli.py", "translate", "Hola."]
    bare = [sys.executable, "-c", "import tensorflow, tensorflow_text"]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "TRANSLATOR_CACHE": cache}
        first_s, first_rss = timed_process(translate, env)
        timed = {"import": [], "translate": []}
        for _ in range(runs):
            timed["import"].append(timed_process(bare, env))
            timed["translate"].append(timed_process(translate, env))
    seconds = {name: float(np.median([t for t, _ in measured])) for name, measured in timed.items()}
    peaks = {name: max(rss for _, rss in measured) for name, measured in timed.items()}
    return {"import_s": round(seconds["import"], 2), "translate_s": round(seconds["translate"], 2),
            "first_translation_after_import_s": round(seconds["translate"] - seconds["import"], 2),
            "import_peak_rss_mb": round(peaks["import"], 1), "translate_peak_rss_mb": round(peaks["translate"], 1),
            "first_run_s": round(first_s, 2), "first_run_peak_rss_mb": round(first_rss, 1), "runs": runs}


class ResultsFile:
    """The JSON file the benchmark writes, written again after each measurement: a step that fails (a crash in
    one child process) leaves what the steps before it measured, and `failed` naming the step."""

    def __init__(self, path: Path, header: dict):
        self.path, self.figures = path, dict(header)
        self.path.write_text(json.dumps(self.figures, indent=2))

    def add(self, **figures) -> None:
        self.figures.update(figures)
        self.path.write_text(json.dumps(self.figures, indent=2))


def child(*args) -> dict:
    """Run one measurement in a fresh process; its last stdout line is JSON."""
    output = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=REPO)
    if output.returncode != 0:
        raise SystemExit(f"benchmark step {' '.join(args)} failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def with_reference_ratios(rows: list[dict], decoding: list[dict], reference: dict) -> None:
    """Add the ratios to the reference measured in the same run (> 1: faster than the reference)."""
    for row in rows:
        row["train_pairs_ratio_to_reference"] = round(row["train_pairs_per_s"] / reference["pairs_per_s"], 2)
        row["ceiling_ratio_to_reference"] = round(row["ceiling_pairs_per_s"] / reference["pairs_per_s"], 2)
    for result in decoding:
        result["greedy_ratio_to_reference"] = round(result["greedy_sent_per_s"] / reference["greedy_sent_per_s"], 2)
        result["beam5_ratio_to_reference_greedy"] = round(result["beam5_sent_per_s"] / reference["greedy_sent_per_s"], 2)
        for name in ("greedy", "beam5"):
            result[f"{name}_one_stream_ratio_to_reference_greedy"] = round(
                result[f"{name}_sent_per_s_one_stream"] / reference["greedy_sent_per_s"], 2)
        result["latency_ratio_to_reference"] = round(reference["latency_ms"] / result["beam5_latency_ms"], 2)
        result["serve_latency_ratio_to_reference"] = round(reference["latency_ms"] / result["beam5_latency_serve_ms"], 2)


def runaway_caveat(reference: dict) -> str:
    """A line for the table's reader where the tutorial's greedy figure was made slow by outputs run on to its
    limit (tutorial.runaway_count), else an empty string."""
    runaway = reference.get("runaway_hypotheses", 0)
    if not runaway:
        return ""
    return (f"read the decoding ratios with care: {runaway} of the tutorial's test outputs ran on to its 500-token "
            f"limit, each holding its batch of 64 for hundreds of steps, which slowed its greedy figure "
            f"({reference['greedy_sent_per_s']:,.0f} sentences/s) by chance; a run with none compares decoding fairly")


def reference_table(reference: dict, rows: list[dict], decoding: list[dict]):
    """Per-sentence figures side by side: the reference's and this project's, with the ratio."""
    import pandas as pd

    lines = [("training, sentence pairs/s", reference["pairs_per_s"], row["train_pairs_per_s"],
              row["train_pairs_ratio_to_reference"], f"{row['decoder']} ({row['precision']})",
              row["ceiling_ratio_to_reference"]) for row in rows]
    for result in decoding:
        policy = result["precision"]
        lines += [("greedy decoding, sentences/s", reference["greedy_sent_per_s"], result["greedy_sent_per_s"],
                   result["greedy_ratio_to_reference"], f"greedy ({policy})", ""),
                  ("beam 5 vs the reference's greedy, sentences/s", reference["greedy_sent_per_s"],
                   result["beam5_sent_per_s"], result["beam5_ratio_to_reference_greedy"], f"beam 5 ({policy})", ""),
                  ("the same, one batch at a time (greedy, beam 5)", reference["greedy_sent_per_s"],
                   f"{result['greedy_sent_per_s_one_stream']:,.0f}, {result['beam5_sent_per_s_one_stream']:,.0f}",
                   f"{result['greedy_one_stream_ratio_to_reference_greedy']}, "
                   f"{result['beam5_one_stream_ratio_to_reference_greedy']}", f"({policy})", ""),
                  ("one sentence, ms (ratio: reference / project)", reference["latency_ms"],
                   result["beam5_latency_ms"], result["latency_ratio_to_reference"], f"beam 5 ({policy})", ""),
                  ("one sentence as `serve` runs it (XLA), ms", reference["latency_ms"],
                   result["beam5_latency_serve_ms"], result["serve_latency_ratio_to_reference"],
                   f"beam 5 ({policy})", "")]
    table = pd.DataFrame(lines, columns=["figure", "reference", "project", "ratio", "project's",
                                         "ceiling (every FLOP at the matmul rate)"])
    return table.round({"reference": 1, "project": 1})


@click.command()
@click.option("--quick", is_flag=True,
              help=f"Time {QUICK_TIMED_BATCHES} batches of the training epoch, not all; decode 512 test sentences.")
@click.option("--config", "config_name", default="tutorial", show_default=True, type=click.Choice(list(CONFIGS)))
@click.option("--model-dir", type=click.Path(path_type=Path),
              help="A trained model for the decoding figures [default: the configuration's, translator/pretrained/spa-eng-small "
                   "for tutorial, translator/pretrained/spa-eng for default].")
@click.option("--decoders", help="Comma-separated decoders to time [default: every registered one].")
@click.option("--precision", "precisions", default="float32", show_default=True,
              help="Comma-separated precisions to time side by side (auto, float32, bfloat16, mixed_float16).")
@click.option("--devices", default="1", show_default=True,
              help="Replicas of the train step (GPUs; on a machine without one, the CPU split into logical devices).")
@click.option("--quality-minutes", type=float, default=0, show_default=True,
              help="Also train the attention decoder this long per precision and report dev loss and test BLEU.")
@click.option("--quality-steps", type=int, default=0, show_default=True,
              help="The same, for exactly this many steps per precision (equal steps, not equal time).")
@click.option("--quality-seeds", default="1", show_default=True, help="Comma-separated seeds of those trainings.")
@click.option("--reference", type=click.Choice(["none", "tutorial"]), default="none", show_default=True,
              help="Also run the TensorFlow NMT tutorial itself first (bench/tutorial.py) and report every speed as a "
                   "ratio to it.")
@click.option("--reference-seconds", type=float, default=300, show_default=True,
              help="The tutorial's training time (its throughput is the median step from step 201 on).")
@click.option("--tutorial-git", type=click.Path(path_type=Path),
              help="A tensorflow/text clone [default: $TENSORFLOW_TEXT_GIT, ../tensorflow-text, ../text, "
                   "../shared/peers/tensorflow-text or ../shared/peers/text].")
@click.option("--streamed-rss", default="", metavar="PAIRS,PAIRS",
              help="Also measure the peak memory of a streamed training (train --stream on, "
                   f"{STREAMED_RSS_STEPS} steps) on corpora of these sizes, e.g. 100000,2000000: memory should not "
                   "grow with the corpus.")
@click.option("--out", type=click.Path(path_type=Path), help="The JSON record [default: bench/results/DATE-run.json].")
@click.option("--phase", type=click.Choice(["train", "decode", "serve-latency", "matmul", "quality", "norm-cost"]),
              hidden=True)
@click.option("--decoder", hidden=True)
@click.option("--timed-batches", type=int, default=0, hidden=True)
def main(quick, config_name, model_dir, decoders, precisions, devices, quality_minutes, quality_steps, quality_seeds,
         reference, reference_seconds, tutorial_git, streamed_rss, out, phase, decoder, timed_batches):
    from translator.startup.quiet import import_tensorflow_quietly
    from translator.decoding.streams import share_cores

    if phase == "decode":
        share_cores()  # as `translate` and `evaluate` decode: two streams, each its share of the cores
    import_tensorflow_quietly()
    if phase == "train":
        import tensorflow as tf

        from translator.training.distribution import split_cpu

        if devices != "1" and not tf.config.list_physical_devices("GPU"):
            split_cpu(int(devices))  # replicas on a CPU-only machine
        print(json.dumps(measure_training(config_name, decoder, timed_batches, precisions, devices)))
        return
    if phase == "decode":
        print(json.dumps(measure_decoding(model_dir, quick, precisions)))
        return
    if phase == "serve-latency":
        print(json.dumps(measure_serve_latency(model_dir, precisions)))
        return
    if phase == "norm-cost":
        print(json.dumps(measure_norm_logging_cost(config_name, decoder, quick)))
        return
    if phase == "quality":
        print(json.dumps(measure_quality(config_name, precisions, quality_minutes, quality_steps, int(quality_seeds))))
        return
    if phase == "matmul":
        print(json.dumps({dtype: round(matmul_gflops(dtype), 1) for dtype in precisions.split(",")}))
        return
    import pandas as pd

    if not (CORPORA / "spa-eng" / "train.tsv").exists():
        raise SystemExit(f"the spa-eng corpus is not at {CORPORA} (set TRANSLATOR_CORPORA)")
    flags = ["--quick"] if quick else []
    model_dir = model_dir or REPO / CONFIGS[config_name]["model_dir"]
    out = out or REPO / "bench" / "results" / f"{time.strftime('%Y-%m-%d')}-run.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = ResultsFile(out, {"config": config_name, "sizes": CONFIGS[config_name], "quick": quick,
                               "machine": {"cpus": os.cpu_count()}, "date": time.strftime("%Y-%m-%d %H:%M")})
    try:
        reference_figures = {}
        if reference == "tutorial":
            from tutorial import run_tutorial

            click.echo(f"the reference: the TensorFlow tutorial, {reference_seconds:g} s of training ...", err=True)
            tutorial_figures = run_tutorial(tutorial_git, CORPORA / "spa-eng", reference_seconds, 512 if quick else 0)
            reference_figures = {"name": "tensorflow-nmt-tutorial", "train_seconds": reference_seconds,
                                 **tutorial_figures}
            click.echo(f"tutorial: {reference_figures['pairs_per_s']:,.0f} pairs/s, greedy "
                       f"{reference_figures['greedy_sent_per_s']:,.0f} sentences/s, "
                       f"{reference_figures.get('runaway_hypotheses', '?')} runaway outputs (over 100 tokens)",
                       err=True)
            report.add(reference=reference_figures)
        from translator.model.decoders import DECODERS

        precisions = precisions.split(",")
        # auto is one of float32 and bfloat16
        probed = ["float32", "bfloat16"] + (["float16"] if "mixed_float16" in precisions else [])
        matmul = child("--phase", "matmul", "--precision", ",".join(probed))
        report.add(matmul_gflops_by_dtype=matmul)
        rows = []
        batches = str(QUICK_TIMED_BATCHES if quick else 0)
        for name in decoders.split(",") if decoders else DECODERS:
            for precision_name in precisions:
                row = {"decoder": name, **child("--phase", "train", "--config", config_name, "--decoder", name,
                                                "--precision", precision_name, "--devices", devices,
                                                "--timed-batches", batches)}
                row["matmul_gflops"] = matmul[MATMUL_DTYPES[row["precision"]]]  # in the row's compute dtype
                row["utilization"] = round(row["achieved_gflops"] / row["matmul_gflops"], 3)
                row["ceiling_pairs_per_s"] = ceiling_pairs_per_s(row)
                rows.append(row)
                click.echo(f"{name} ({row['precision']}, {row['replicas']} replica(s)): "
                           f"{row['train_pairs_per_s']:,.0f} sentence pairs/s", err=True)
                report.add(decoders=rows)
        norm_cost = child("--phase", "norm-cost", "--config", config_name, "--decoder", rows[0]["decoder"], *flags)
        click.echo(f"gradient-norm logging: {100 * norm_cost['gradient_norm_logging_cost']:.1f} % of training time",
                   err=True)
        report.add(gradient_norm_logging=norm_cost)
        decoding = [{**child("--phase", "decode", "--model-dir", str(model_dir), "--precision", precision_name, *flags),
                     **child("--phase", "serve-latency", "--model-dir", str(model_dir), "--precision", precision_name)}
                    for precision_name in precisions] if model_dir.exists() else []
        if reference_figures:
            with_reference_ratios(rows, decoding, reference_figures)
        report.add(decode_model=str(model_dir) if decoding else None, decoding=decoding[0] if decoding else {},
                   decoding_by_precision=decoding, decoders=rows, reference=reference_figures)
        click.echo("translate \"Hola.\" from the command line ...", err=True)
        cli_start = measure_cli_start()
        report.add(cli_start=cli_start)
        quality = []
        for precision_name, seed in itertools.product(precisions if quality_minutes or quality_steps else (),
                                                      quality_seeds.split(",")):
            quality.append(child("--phase", "quality", "--config", config_name, "--precision", precision_name,
                                 "--quality-minutes", str(quality_minutes), "--quality-steps", str(quality_steps),
                                 "--quality-seeds", seed))
            click.echo(f"quality ({quality[-1]['precision']}, seed {seed}): BLEU {quality[-1]['test_bleu_greedy']}",
                       err=True)
            report.add(quality=quality)
        streamed = {}
        if streamed_rss:
            click.echo(f"streamed training on {streamed_rss} pairs ...", err=True)
            streamed = measure_streamed_rss(config_name, [int(n) for n in streamed_rss.split(",")], STREAMED_RSS_STEPS)
        report.add(quality=quality, streamed_training=streamed)
    except SystemExit as failure:  # a step that failed: what was measured before it stays in the file
        report.add(failed=str(failure).splitlines()[0])
        raise
    if reference_figures:
        click.echo("per sentence, against the TensorFlow tutorial run in this benchmark (ratio > 1: faster):")
        click.echo(reference_table(reference_figures, rows, decoding).to_string(index=False) + "\n")
        caveat = runaway_caveat(reference_figures)
        if caveat:
            click.echo(caveat + "\n")
    table = pd.DataFrame(rows).set_index(["decoder", "precision"])
    click.echo(f"training, {config_name} sizes {CONFIGS[config_name]} (tokens: target subword tokens):")
    click.echo(table.to_string())
    click.echo(f"\ngradient norm before clipping, measured and logged every step ({norm_cost['decoder']}, "
               f"{norm_cost['steps']} steps each way):")
    click.echo(pd.DataFrame([norm_cost]).drop(columns=["decoder", "steps"]).to_string(index=False))
    if decoding:
        click.echo(f"\ndecoding with {model_dir} ({decoding[0]['decode_sentences']} unique test sentences):")
        click.echo(pd.DataFrame(decoding).to_string(index=False))
    click.echo('\n`python cli.py translate "Hola."` (default model: the graph it carries) against the bare import of '
               f'tensorflow and tensorflow_text, medians of {cli_start["runs"]}:')
    click.echo(pd.DataFrame([cli_start]).drop(columns=["runs"]).to_string(index=False))
    if quality:
        budget = f"{quality_steps} steps" if quality_steps else f"{quality_minutes:g} minutes"
        click.echo(f"\nquality after {budget} of training (attention, greedy, test split):")
        click.echo(pd.DataFrame(quality).to_string(index=False))
    if streamed:
        click.echo(f"\npeak memory of a streamed training ({streamed['streamed_train_steps']} steps), by corpus size:")
        click.echo(pd.DataFrame({"pairs": list(streamed["streamed_train_peak_rss_mb"]),
                                 "peak RSS, MB": list(streamed["streamed_train_peak_rss_mb"].values()),
                                 "seconds": list(streamed["streamed_train_seconds"].values())}).to_string(index=False))
    click.echo(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
