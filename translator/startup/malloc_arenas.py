"""One malloc arena for a process that translates and ends.

glibc's malloc gives each thread that allocates an arena of its own, up to eight per core, and keeps what it
frees there for that thread. TensorFlow runs a session's graph on a pool of threads, and each kept an arena;
one arena for all lowers the peak memory of `translate` and costs no time, since the threads rarely allocate at
once (docs/performance.md).
"""

import ctypes

M_ARENA_MAX = -8  # mallopt's parameter, from glibc's malloc.h


def limit_malloc_arenas(count: int = 1) -> None:
    """At most `count` arenas from now on: call it before the threads start. A C library other than glibc has no
    mallopt, and nothing changes."""
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, count)
    except (OSError, AttributeError):
        return
