"""The benchmark's measurement of a whole command (bench/run.py `measured_process`): its peak memory is the
command's own, not that of the benchmark process it was started from."""

import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
from run import measured_process  # noqa: E402


def test_a_commands_peak_is_its_own_and_its_exit_status_comes_back():
    ballast = bytearray(400 * 2**20)  # this process holds 400 MB more than any small command
    ballast[::4096] = b"\1" * len(ballast[::4096])
    status, seconds, peak_mb = measured_process([sys.executable, "-c", "import sys; sys.exit(3)"])
    assert status == 3 and seconds > 0
    assert peak_mb < 100  # a bare interpreter: some 10 MB; a child of this process would read 400+
    grown = measured_process([sys.executable, "-c", "b = bytearray(200 * 2**20); b[::4096] = b'1' * (50 * 2**10)"])
    assert 200 < grown[2] < 300
