"""The benchmark's measurement of a whole command (bench/run.py `measured_process`): its peak memory is the
command's own, not that of the benchmark process it was started from; and its results file, which a failing step
leaves holding what was measured before it; and the line it prints where the tutorial's decoding was slowed by
outputs run on to its limit."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
from run import measured_process, runaway_caveat  # noqa: E402


def test_a_commands_peak_is_its_own_and_its_exit_status_comes_back():
    ballast = bytearray(400 * 2**20)  # this process holds 400 MB more than any small command
    ballast[::4096] = b"\1" * len(ballast[::4096])
    status, seconds, peak_mb = measured_process([sys.executable, "-c", "import sys; sys.exit(3)"])
    assert status == 3 and seconds > 0
    assert peak_mb < 100  # a bare interpreter: some 10 MB; a child of this process would read 400+
    grown = measured_process([sys.executable, "-c", "b = bytearray(200 * 2**20); b[::4096] = b'1' * (50 * 2**10)"])
    assert 200 < grown[2] < 300


@pytest.mark.slow
def test_a_failed_step_leaves_what_the_steps_before_it_measured(corpora, tmp_path):
    out = tmp_path / "results.json"
    run = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--decoders", "nosuch",
                          "--out", str(out)], capture_output=True, text=True, cwd=REPO, timeout=300,
                         env={**os.environ, "TRANSLATOR_CORPORA": str(corpora)})
    assert run.returncode != 0 and "benchmark step --phase train" in run.stderr
    written = json.loads(out.read_text())
    assert written["matmul_gflops_by_dtype"]["float32"] > 0  # measured before the failing step
    assert written["failed"].startswith("benchmark step --phase train --config tutorial --decoder nosuch")


def test_the_tutorial_s_runaway_outputs_are_named_beside_the_decoding_ratios():
    assert runaway_caveat({"runaway_hypotheses": 0, "greedy_sent_per_s": 1054.2}) == ""
    assert runaway_caveat({"greedy_sent_per_s": 1054.2}) == ""  # a reference run before the count existed
    caveat = runaway_caveat({"runaway_hypotheses": 2, "greedy_sent_per_s": 409.9})
    assert "2 of the tutorial's test outputs" in caveat and "410 sentences/s" in caveat
