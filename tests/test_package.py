"""The package as a user installs it: the wheel built from this tree, installed into a fresh virtual environment,
and its `translator` command run from a folder outside the repository, with the models installed with it.

The environment sees the machine's own site-packages (`--system-site-packages`), so that installing the wheel
finds TensorFlow and the rest already there instead of downloading 2.4 GB: this checks what the wheel holds (every
subpackage, the default models, the page, the command) and that its declared dependencies are met, not that
they resolve from an empty environment."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

import pytest

from conftest import REPO, TOY

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """{"bin": the environment's bin folder, "cwd": an empty folder outside the repository, "env": os.environ
    without a PYTHONPATH that could reach the repository}."""
    root = tmp_path_factory.mktemp("package")
    source, wheels = root / "source", root / "wheels"  # a copy: building writes build/ into the tree it builds
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "runs", "test-output",
                                                               "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
                    "-w", str(wheels), str(source)], check=True, cwd=root, timeout=600)
    environment = root / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(environment)
    wheel, = wheels.glob("translator-*.whl")
    subprocess.run([str(environment / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", str(wheel)], check=True, cwd=root, timeout=600)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"TRANSLATOR_CACHE": str(root / "cache")}
    (root / "work").mkdir()
    return {"bin": environment / "bin", "cwd": root / "work", "env": env}


def run(installed, *args, timeout=300) -> subprocess.CompletedProcess:
    result = subprocess.run([str(installed["bin"] / "translator"), *map(str, args)], capture_output=True, text=True,
                            cwd=installed["cwd"], env=installed["env"], timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result


def test_the_package_is_imported_from_the_environment_not_the_repository(installed):
    where = subprocess.run([str(installed["bin"] / "python"), "-c", "import translator; print(translator.__file__)"],
                           capture_output=True, text=True, cwd=installed["cwd"], env=installed["env"], check=True)
    assert Path(where.stdout.strip()).is_relative_to(installed["bin"].parent)
    assert not Path(where.stdout.strip()).is_relative_to(REPO)


def test_translate_with_the_installed_default_model(installed):
    assert run(installed, "translate", "Hola.", "¿Dónde está la biblioteca?").stdout.splitlines() == [
        "Hello.", "Where is the library?"]
    assert run(installed, "translate", "--model-dir", "spa-eng-small", "Hace frío.").stdout.strip() == "It's cold."


def test_train_evaluate_and_inspect_a_model(installed):
    model = installed["cwd"] / "toy-model"
    run(installed, "train", TOY, "--reverse", "--model-dir", model, "--max-steps", 5, "--batch-size", 8,
        "--units", 16, "--embedding-dim", 8, "--vocab-size", 200, "--no-tune-search", "--no-carry-graph")
    assert (model / "model.weights.h5").is_file()
    scores = json.loads(run(installed, "evaluate", TOY, "--model-dir", model, "--greedy", "--json").stdout)
    assert scores["sentences"] > 0 and "bleu" in scores
    gates = json.loads(run(installed, "inspect", "gates", "--model-dir", model, "--corpus", TOY, "--json").stdout)
    assert gates["table"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_health(installed):
    port = free_port()
    server = subprocess.Popen([str(installed["bin"] / "translator"), "serve", "--model-dir", "spa-eng-small",
                               "--port", str(port)], cwd=installed["cwd"], env=installed["env"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, health = time.monotonic() + 180, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                    health = json.loads(response.read())
                    if health.get("status") == "ok":
                        break
            except OSError:
                time.sleep(0.5)
        assert health is not None and health.get("status") == "ok", server.stderr.read() if server.poll() else health
    finally:
        server.terminate()
        server.wait(timeout=30)
