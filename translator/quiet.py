"""Keep TensorFlow's start-up noise (CUDA probes, oneDNN notices, retracing
warnings) off the user's terminal. The C++ runtime writes straight to file
descriptor 2 while it loads, so that descriptor is pointed at /dev/null for
the duration of the import; Python-side loggers are turned down after."""

import contextlib
import importlib.util
import logging
import os
import warnings

LEGACY_KERAS_ENV = "TF_USE_LEGACY_KERAS"


def import_tensorflow_quietly(defer_keras: bool = False) -> None:
    """Import TensorFlow with its noise kept off the terminal. `defer_keras`: see `keras_deferred`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with keras_deferred() if defer_keras else contextlib.nullcontext():
            import tensorflow as tf
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)
    tf.get_logger().setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")


@contextlib.contextmanager
def keras_deferred():
    """Import TensorFlow inside this without it importing Keras, for a process that may need no Keras at all
    (`translate` from a cached graph). TensorFlow 2.21's own `__init__` imports Keras 3 whole (its optimizers,
    hence every layer, pandas and matplotlib): measured here, 1.0 s of the 2.5 s import and 95 MB of its 625 MB
    resident. It skips that when told to use the legacy `tf_keras` package and finds none installed; `import
    keras` afterwards (the full Translator) is Keras 3 as ever, only `tf.keras` stays unusable, which this
    package never reads. Where `tf_keras` is installed, or the variable is set already, nothing changes."""
    if LEGACY_KERAS_ENV in os.environ or importlib.util.find_spec("tf_keras") is not None:
        yield
        return
    os.environ[LEGACY_KERAS_ENV] = "1"
    try:
        yield
    finally:
        del os.environ[LEGACY_KERAS_ENV]
