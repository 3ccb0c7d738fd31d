"""The import graph keeps its direction: what translates never loads what trains, and what checks a command's
input before TensorFlow is imported does not import it. Each check runs in a fresh interpreter."""

import subprocess
import sys

from conftest import REPO

CHECK = """
import importlib, sys
for name in sys.argv[2:]:
    importlib.import_module(name)
loaded = [m for m in sys.argv[1].split(",") if m in sys.modules]
print(",".join(loaded))
"""


def loaded_after_importing(modules: list[str], forbidden: list[str]) -> list[str]:
    result = subprocess.run([sys.executable, "-c", CHECK, ",".join(forbidden), *modules], capture_output=True,
                            text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    return [m for m in result.stdout.strip().split(",") if m]


def test_inference_and_serving_never_import_training():
    inference = ["translator.decoding.inference", "translator.evaluation.evaluate", "translator.decoding.export", "translator.serve.app",
                 "translator.serve.routes", "translator.serve.run"]
    assert loaded_after_importing(inference, ["translator.training", "translator.comparison.compare"]) == []


def test_the_checks_before_tensorflow_do_not_import_it():
    early = ["translator.config", "translator.cli.options", "translator.model.folder", "translator.data.sentences", "translator.data.corpus", "translator.data.check",
             "translator.serve.models", "translator.startup.graph", "translator.startup.session"]
    assert loaded_after_importing(early, ["tensorflow", "keras"]) == []
