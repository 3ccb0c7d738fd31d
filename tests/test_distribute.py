"""Training on several devices and hosts with tf.distribute: a step computes the same thing on one device, on
two replicas, and on two worker processes; checkpoints of a replicated run resume exactly.

The replicas are logical CPU devices (the CPU split in two), which must be set
before TensorFlow starts, so those trainings run in processes of their own
(tests/distributed_run.py).
"""

import json
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, TOY
from translator.config import TrainingConfig
from translator.errors import OptionError

SCRIPT = REPO / "tests" / "distributed_run.py"
# The dev loss of one device and two replicas after 162 steps, same seed and global batch, agreed to 3e-7
# relative here: the sums over replicas add the same numbers in another order.
AGREEMENT = 1e-5


def train_in_process(spec: dict, env: dict | None = None, timeout: int = 400) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), json.dumps(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def results(process: subprocess.Popen, timeout: int = 400) -> dict:
    """{model_dir: {"best_dev_loss", "step"}} printed by the process."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, err[-3000:]
    return {row["model_dir"]: row for row in map(json.loads, out.splitlines())}


def checkpoint_arrays(model_dir) -> dict:
    with np.load(model_dir / "checkpoint" / "variables.npz") as arrays:
        return {name: arrays[name] for name in arrays.files}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The toy corpus eight times over: 27 steps an epoch at batch 16."""
    path = tmp_path_factory.mktemp("corpus") / "toy-x8.tsv"
    path.write_text(TOY.read_text(encoding="utf-8") * 8, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def one_and_two_replicas(corpus, tmp_path_factory):
    """One device; two replicas; two replicas stopped after 50 steps and resumed: 162 steps each."""
    folder = tmp_path_factory.mktemp("replicas")
    runs = [{"model_dir": str(folder / "one"), "devices": "1"},
            {"model_dir": str(folder / "two"), "devices": "2"},
            {"model_dir": str(folder / "resumed"), "devices": "2", "max_steps": 50},
            {"model_dir": str(folder / "resumed"), "devices": "2", "resume": True}]
    process = train_in_process({"logical_cpus": 2, "corpus": str(corpus), "dev": str(TOY), "runs": runs})
    return folder, results(process)


@pytest.mark.slow
def test_two_replicas_agree_with_one_device(one_and_two_replicas):
    folder, rows = one_and_two_replicas
    one, two = rows[str(folder / "one")], rows[str(folder / "two")]
    assert one["step"] == two["step"] == 162
    assert one["best_dev_loss"] < 1.0  # it learned: the agreement is not that of two untrained models
    assert two["best_dev_loss"] == pytest.approx(one["best_dev_loss"], rel=AGREEMENT)


@pytest.mark.slow
def test_a_two_replica_run_resumes_exactly(one_and_two_replicas):
    folder, rows = one_and_two_replicas
    assert rows[str(folder / "resumed")]["step"] == 162
    straight, resumed = checkpoint_arrays(folder / "two"), checkpoint_arrays(folder / "resumed")
    assert straight.keys() == resumed.keys()
    for name in straight:
        np.testing.assert_array_equal(straight[name], resumed[name], err_msg=name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_worker_processes_agree_with_one_process(corpus, tmp_path):
    """MultiWorkerMirroredStrategy over loopback (TF_CONFIG), each worker training on its slice of each batch;
    only the chief writes the model folder."""
    import os

    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    spec = {"logical_cpus": 1, "corpus": str(corpus), "dev": str(TOY), "epochs": 2,
            "runs": [{"model_dir": str(tmp_path / "workers"), "devices": "1", "max_minutes": 30}]}
    processes = [train_in_process(spec, env=os.environ | {"TF_CONFIG": json.dumps(
        {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})}) for index in range(2)]
    chief, other = [results(process, timeout=300) for process in processes]
    alone = results(train_in_process({**spec, "runs": [{"model_dir": str(tmp_path / "alone"), "devices": "1"}]}))
    run, single = chief[str(tmp_path / "workers")], alone[str(tmp_path / "alone")]
    assert run["step"] == single["step"] == 54
    assert run["best_dev_loss"] == pytest.approx(single["best_dev_loss"], rel=AGREEMENT)
    assert other[str(tmp_path / "workers")]["best_dev_loss"] == run["best_dev_loss"]
    assert (tmp_path / "workers" / "model.weights.h5").exists()


def test_devices_is_a_count_or_all():
    assert TrainingConfig(devices="ALL").devices == "all"
    assert TrainingConfig(devices=2).devices == "2"  # as a config file gives it
    for wrong in ("0", "two", "-1", ""):
        with pytest.raises(OptionError, match="`devices`"):
            TrainingConfig(devices=wrong)


def test_more_devices_than_there_are_is_refused():
    from translator.training.distribution import strategy_for

    with pytest.raises(OptionError, match="`devices` 64: TensorFlow sees"):
        strategy_for("64")

