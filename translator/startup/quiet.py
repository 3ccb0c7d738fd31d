"""Keep TensorFlow's start-up noise (CUDA probes, oneDNN notices, retracing
warnings) off the user's terminal. The C++ runtime writes straight to file
descriptor 2 while it loads, so that descriptor is pointed at /dev/null for
the duration of the import; Python-side loggers are turned down after."""

import contextlib
import logging
import os
import warnings


def import_tensorflow_quietly(runtime_only: bool = False) -> None:
    """Import TensorFlow with its noise kept off the terminal. `runtime_only`: see tensorflow_internals.py; the rest
    of TensorFlow, where a later read completes it, loads as quietly."""
    from translator.startup.tensorflow_internals import import_tensorflow, silence_loggers

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    with stderr_silenced():
        import_tensorflow(runtime_only, completing=stderr_silenced)
    silence_loggers()
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")


@contextlib.contextmanager
def stderr_silenced():
    """File descriptor 2 pointed at /dev/null meanwhile: what C++ libraries write as they load goes nowhere."""
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)


def load_tensorflow(runtime_only: bool = False, quiet: bool = True) -> None:
    """Import TensorFlow (see tensorflow_internals.py for `runtime_only`), with its noise kept off the terminal
    unless not `quiet`."""
    if quiet:
        import_tensorflow_quietly(runtime_only)
    else:
        from translator.startup.tensorflow_internals import import_tensorflow

        import_tensorflow(runtime_only)
