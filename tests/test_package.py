"""The package as a user installs it: the wheel built from this tree, installed into a fresh virtual environment,
and its `translator` command run from a folder outside the repository, with the models installed with it.

The environment sees the machine's own site-packages (`--system-site-packages`), so that installing the wheel
finds TensorFlow and the rest already there instead of downloading 2.4 GB. What that could hide, a package the
commands import that the wheel does not declare (TensorBoard, which TensorFlow stopped installing, was one),
every test here finds: the commands run with every package outside the closure of the wheel's declared
requirements made unimportable."""

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


# `translator ARGS` in the environment as a clean install would run it: a module whose distributions the wheel's
# requirements (followed through each distribution's own) do not reach cannot be imported, as if not installed,
# so an optional import falls back as it would there and an undeclared one fails
AS_IF_CLEAN = """
import sys
from importlib import metadata
from importlib.abc import MetaPathFinder
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

def closure(name):
    seen, todo = set(), [name]
    while todo:
        dist = canonicalize_name(todo.pop())
        if dist in seen:
            continue
        seen.add(dist)
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [r.name for r in map(Requirement, requires) if r.marker is None or r.marker.evaluate({"extra": ""})]
    return seen

DECLARED, OWNERS = closure("translator"), metadata.packages_distributions()

class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in OWNERS and top != "translator" and not DECLARED & {canonicalize_name(d) for d in OWNERS[top]}:
            raise ModuleNotFoundError(f"No module named {name!r} (not declared)", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
sys.argv = ["translator", *sys.argv[1:]]
from translator.cli import entry_point
entry_point()
"""


def as_if_clean(installed) -> list[str]:
    """The command line that runs `translator ...` as AS_IF_CLEAN has it."""
    return [str(installed["bin"] / "python"), "-c", AS_IF_CLEAN]


def run(installed, *args, timeout=300) -> subprocess.CompletedProcess:
    """`translator ARGS` in the environment, as a clean install would run it; it must succeed."""
    result = subprocess.run([*as_if_clean(installed), *map(str, args)], capture_output=True, text=True,
                            cwd=installed["cwd"], env=installed["env"], timeout=timeout)
    assert result.returncode == 0, f"translator {' '.join(map(str, args))}: {result.stderr[-3000:]}"
    return result


def test_the_package_is_imported_from_the_environment_not_the_repository(installed):
    where = subprocess.run([str(installed["bin"] / "python"), "-c", "import translator; print(translator.__file__)"],
                           capture_output=True, text=True, cwd=installed["cwd"], env=installed["env"], check=True)
    assert Path(where.stdout.strip()).is_relative_to(installed["bin"].parent)
    assert not Path(where.stdout.strip()).is_relative_to(REPO)


def test_the_installed_command_translates_with_the_installed_default_model(installed):
    result = subprocess.run([str(installed["bin"] / "translator"), "translate", "Hola.", "¿Dónde está la biblioteca?"],
                            capture_output=True, text=True, cwd=installed["cwd"], env=installed["env"], timeout=300)
    assert result.returncode == 0 and result.stdout.splitlines() == ["Hello!", "Where's the library?"], result.stderr
    assert run(installed, "translate", "--model-dir", "spa-eng-small", "Hace frío.").stdout.strip() == "It's cold."
    record = json.loads(run(installed, "translate", "Hola.", "--json", "--n-best", 2, "--plot-attention",
                            installed["cwd"] / "attention.png").stdout)
    assert len(record["n_best"]) == 2 and (installed["cwd"] / "attention.png").is_file()


def test_train_evaluate_and_inspect_a_model(installed):
    """A clean install's train, which ends by choosing its search and carrying its graph, its evaluate with
    entity fidelity, and its inspection: what TensorBoard's absence had broken."""
    model = installed["cwd"] / "toy-model"
    run(installed, "train", TOY, "--reverse", "--model-dir", model, "--max-steps", 5, "--batch-size", 8,
        "--units", 16, "--embedding-dim", 8, "--vocab-size", 200, "--tune-beam-sizes", 2)
    assert (model / "model.weights.h5").is_file() and (model / "logs").is_dir()
    scores = json.loads(run(installed, "evaluate", TOY, "--model-dir", model, "--fidelity", "--json").stdout)
    assert scores["sentences"] > 0 and "bleu" in scores
    gates = json.loads(run(installed, "inspect", "gates", "--model-dir", model, "--corpus", TOY, "--json").stdout)
    assert gates["table"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_health(installed):
    port = free_port()
    server = subprocess.Popen([*as_if_clean(installed), "serve", "--model-dir", "spa-eng-small", "--port", str(port)],
                              cwd=installed["cwd"], env=installed["env"],
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
