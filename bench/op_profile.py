#!/usr/bin/env python
"""Where the time goes: the TensorFlow profiler around training steps or greedy decoding,
summed by op type into a table.

    python bench/op_profile.py train --decoder attention [--config tutorial] [--steps 20] [--precision bfloat16]
    python bench/op_profile.py decode [--model-dir DIR] [--sentences 512] [--beam-size 1]

The trace (an .xplane.pb, readable by TensorBoard's profile plugin) stays in
bench/cache/profile/; the table sums the duration of every op the executor ran
by its type (MatMul, Tanh, TensorListPushBack, ...), so the shares add up to
the time spent inside ops; `wall_s` is the time the profiled section took.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CACHE, CORPORA, CONFIGS, REPO, training_setup  # noqa: E402

PROFILE_DIR = CACHE / "profile"


def op_table(log_dir: Path, top: int):
    """Op time and op count by op type from the newest trace in log_dir: (pandas DataFrame, total op seconds)."""
    import pandas as pd
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(sorted(log_dir.rglob("*.xplane.pb"))[-1].read_bytes())
    seconds, counts = {}, {}
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                op_type = name.rsplit(":", 1)[-1].strip()
                if ":" not in name or "::" in name or op_type.startswith("__") or op_type in WRAPPERS:
                    continue  # not an op: executor bookkeeping, function calls
                seconds[op_type] = seconds.get(op_type, 0) + event.duration_ps / 1e12
                counts[op_type] = counts.get(op_type, 0) + 1
    table = pd.DataFrame({"seconds": seconds, "ops_run": counts}).sort_values("seconds", ascending=False)
    table["share"] = table["seconds"] / table["seconds"].sum()
    total = float(table["seconds"].sum())
    return table.head(top).round(3), total, int(table["ops_run"].sum())


WRAPPERS = {"Run", "Process", "PartitionedCall", "StatefulPartitionedCall", "While", "StatelessWhile"}


def profiled(section, log_dir: Path):
    import tensorflow as tf

    shutil.rmtree(log_dir, ignore_errors=True)
    tf.profiler.experimental.start(str(log_dir))
    started = time.perf_counter()
    section()
    wall = time.perf_counter() - started
    tf.profiler.experimental.stop()
    return wall


@click.group()
def main():
    from translator.startup.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()


@main.command()
@click.option("--decoder", default="attention", show_default=True)
@click.option("--config", "config_name", default="tutorial", show_default=True, type=click.Choice(list(CONFIGS)))
@click.option("--steps", default=20, show_default=True)
@click.option("--top", default=15, show_default=True)
@click.option("--precision", default="float32", show_default=True,
              type=click.Choice(["float32", "bfloat16", "mixed_float16", "auto"]))
def train(decoder, config_name, steps, top, precision):
    train_step, batches, _, _ = training_setup(config_name, decoder, precision)
    for _ in range(10):
        train_step.train(next(batches))
    timed = [next(batches) for _ in range(steps)]

    def section():
        for batch in timed:
            train_step.train(batch)

    wall = profiled(section, PROFILE_DIR / f"train-{decoder}")
    report(op_table(PROFILE_DIR / f"train-{decoder}", top), wall,
           f"{steps} training steps, {decoder}, {config_name} sizes, {precision}")


@main.command()
@click.option("--model-dir", type=click.Path(path_type=Path), default=REPO / CONFIGS["tutorial"]["model_dir"], show_default=True)
@click.option("--sentences", default=512, show_default=True)
@click.option("--beam-size", default=1, show_default=True)
@click.option("--top", default=15, show_default=True)
def decode(model_dir, sentences, beam_size, top):
    from translator.data.corpus import CorpusFormat, read_corpus
    from translator.evaluation.evaluate import ReferenceSet, translate_all
    from translator.config import SearchConfig
    from translator.decoding.inference import Translator

    translator = Translator.load(model_dir)
    sources = ReferenceSet.from_pairs(read_corpus(CORPORA / "spa-eng" / "test.tsv", CorpusFormat(reverse=True)).pairs).sources
    search = SearchConfig(beam_size=beam_size, greedy=beam_size == 1)
    translate_all(translator, sources[:64], search)
    wall = profiled(lambda: translate_all(translator, sources[:sentences], search), PROFILE_DIR / "decode")
    report(op_table(PROFILE_DIR / "decode", top), wall, f"{sentences} test sentences, beam {beam_size}, {model_dir}")


def report(table_and_totals, wall: float, what: str):
    table, op_seconds, ops_run = table_and_totals
    click.echo(f"{what}: wall_s {wall:.2f}; inside ops {op_seconds:.2f} s over both cores; {ops_run:,} ops run, "
               f"{1e6 * wall / ops_run:.1f} us of wall time per op")
    click.echo(table.to_string())


if __name__ == "__main__":
    main()
