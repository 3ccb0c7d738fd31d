"""Keep TensorFlow's start-up noise (CUDA probes, oneDNN notices, retracing
warnings) off the user's terminal. The C++ runtime writes straight to file
descriptor 2 while it loads, so that descriptor is pointed at /dev/null for
the duration of the import; Python-side loggers are turned down after."""

import logging
import os
import warnings


def import_tensorflow_quietly() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (registers its ops; loads more C++)
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)
    tf.get_logger().setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")
