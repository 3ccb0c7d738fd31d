"""Which devices train: `devices` and TF_CONFIG resolved to a `tf.distribute` strategy.

Every replica receives the whole batch and trains on its own slice of it
(`replica_slice`), so one code path serves one device, several on a host
(MirroredStrategy) and several hosts (MultiWorkerMirroredStrategy, each worker
building the same batches from the same seed). A multi-worker strategy must
exist before TensorFlow runs its first op, so `train` makes it first.
"""

from __future__ import annotations

import functools
import json
import os

import tensorflow as tf

from translator.errors import OptionError


def strategy_for(devices: str) -> tf.distribute.Strategy:
    """"1": TensorFlow's default strategy (no replication); a count or "all": MirroredStrategy over that many
    GPUs, or CPU logical devices where there is no GPU; TF_CONFIG naming several tasks:
    MultiWorkerMirroredStrategy."""
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    if sum(len(cluster.get(role, [])) for role in ("chief", "worker")) > 1:
        return multi_worker_strategy()
    if devices == "1":
        return tf.distribute.get_strategy()
    kind = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    names = [device.name for device in tf.config.list_logical_devices(kind)]
    wanted = len(names) if devices == "all" else int(devices)
    if wanted > len(names):
        raise OptionError(f"`devices` {devices}: TensorFlow sees {len(names)} {kind} device(s) here"
                          + (" (one CPU device already uses every core)" if kind == "CPU" else ""))
    return mirrored_strategy(tuple(names[:wanted]))


# One strategy per process and device set: a second MirroredStrategy over the same devices mixes up the first
# one's collective ops ("Shape mismatch in the collective instance"), so a process training several models
# (compare) reuses it.
@functools.cache
def mirrored_strategy(names: tuple[str, ...]) -> tf.distribute.Strategy:
    return tf.distribute.OneDeviceStrategy(names[0]) if len(names) == 1 else tf.distribute.MirroredStrategy(names)


@functools.cache
def multi_worker_strategy() -> tf.distribute.Strategy:
    return tf.distribute.MultiWorkerMirroredStrategy()


def split_cpu(count: int) -> None:
    """Show TensorFlow `count` logical devices on the CPU (before it runs anything): replicas to test with on a
    machine without a GPU; not faster, as one CPU device already uses every core."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def replica_slice(batch: dict) -> dict:
    """This replica's share of a whole batch: rows replica_id, replica_id + n, ... (a strided slice keeps the
    shares of a length-sorted batch alike in length). Called inside `strategy.run`."""
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync
    if replicas == 1:
        return batch
    return {name: value[context.replica_id_in_sync_group::replicas] for name, value in batch.items()}
