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
    if sum(len(addresses) for role, addresses in cluster_in_tf_config().items() if role in ("chief", "worker")) > 1:
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


def cluster_in_tf_config() -> dict[str, list]:
    """TF_CONFIG's `cluster` ({role: [address, ...]}, empty where it is unset), refused in one line where TF_CONFIG
    is not what TensorFlow reads: a JSON object, its cluster an object of address lists, and with it a `task`
    ({"type": role, "index": n}) naming one of them."""
    text = os.environ.get("TF_CONFIG") or "{}"
    try:
        config = json.loads(text)
    except ValueError as error:
        raise OptionError(f"TF_CONFIG is not valid JSON ({error}): {text}") from None
    cluster = config.get("cluster", {}) if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not all(isinstance(addresses, list) for addresses in cluster.values()):
        raise OptionError('TF_CONFIG: expected {"cluster": {"worker": ["host:port", ...]}, "task": ...}, '
                          f"got {text}")
    task = config.get("task", {})
    names_a_task = isinstance(task, dict) and isinstance(task.get("type"), str) and isinstance(task.get("index"), int) \
        and 0 <= task["index"] < len(cluster.get(task["type"], []))
    if cluster and not names_a_task:
        raise OptionError(f'TF_CONFIG: "task" must name one task of the cluster, as {{"type": "worker", "index": 0}}; '
                          f"got {json.dumps(task)}")
    return cluster


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
