"""One malloc arena for `translate` (malloc_arenas.py): threads that allocate share it. Counted by glibc's own
report (malloc_info), in a fresh interpreter each, as the limit holds for the rest of a process."""

import platform
import subprocess
import sys

import pytest

from conftest import REPO

COUNT_ARENAS = """
import ctypes, os, sys, tempfile, threading
from translator.startup.malloc_arenas import limit_malloc_arenas
if sys.argv[1] == "limited":
    limit_malloc_arenas()
libc = ctypes.CDLL(None)
libc.malloc.restype = libc.fopen.restype = ctypes.c_void_p
kept = []
threads = [threading.Thread(target=lambda: kept.append(libc.malloc(4096))) for _ in range(4)]
for thread in threads:
    thread.start()
    thread.join()  # one after another: a new thread's first malloc takes an arena of its own while any is allowed
report = os.path.join(tempfile.mkdtemp(), "malloc.xml")
stream = ctypes.c_void_p(libc.fopen(report.encode(), b"w"))
libc.malloc_info(0, stream)
libc.fclose(stream)
print(open(report).read().count("<heap nr="))
"""


def arenas(mode: str) -> int:
    result = subprocess.run([sys.executable, "-c", COUNT_ARENAS, mode], capture_output=True, text=True, cwd=REPO,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's")
def test_threads_share_one_arena_once_limited():
    assert arenas("unlimited") > 1  # what the limit changes: each thread took one
    assert arenas("limited") == 1
