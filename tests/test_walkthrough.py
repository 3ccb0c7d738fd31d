"""A newcomer's own-corpus workflow, start to finish, as one user runs it: import, check, train with a budget,
Ctrl-C, resume, evaluate, compare twice with a change, package, translate from the archive."""

import shlex
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, TOY, run_cli

pytestmark = pytest.mark.slow

TINY = ["--units", "16", "--embedding-dim", "8", "--tokenizer", "word", "--batch-size", "8", "--warmup-steps", "0"]


def test_own_corpus_from_import_to_a_packaged_model(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSLATOR_CACHE", str(tmp_path / "cache"))
    splits, model = tmp_path / "splits", tmp_path / "model"
    imported = run_cli("data", "import", TOY, "--reverse", "--out", splits, "--dev-size", "5", "--test-size", "5")
    assert imported.returncode == 0 and "Spanish (es) -> English (en)" in imported.stdout, imported.stderr
    checked = run_cli("data", "check", splits / "train.tsv")
    assert checked.returncode == 0 and "direction: Spanish (es) -> English (en)" in checked.stdout, checked.stdout

    command = [sys.executable, str(REPO / "cli.py"), "train", str(splits / "train.tsv"), "--dev", str(splits / "dev.tsv"),
               "--model-dir", str(model), "--max-minutes", "10", "--epochs", "200", *TINY]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (model / "model.weights.h5").exists():
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "translating Spanish (es) -> English (en)" in out
    resume = shlex.split(err.strip().splitlines()[-1].split("continue with: ")[1])
    resumed = run_cli(*resume[2:], "--epochs", "3")
    assert resumed.returncode == 0 and "resuming at" in resumed.stdout, resumed.stderr
    assert "dev: 5 pairs" in resumed.stdout  # the --dev file, remembered

    evaluated = run_cli("evaluate", splits / "test.tsv", "--model-dir", model)
    assert evaluated.returncode == 0 and "BLEU" in evaluated.stdout, evaluated.stderr

    grid = ["compare", splits / "train.tsv", "--dev", splits / "dev.tsv", "--out", tmp_path / "cmp", "--decoders",
            "init", "--epochs", "1", *TINY]
    assert run_cli(*grid).returncode == 0
    changed = run_cli(*grid, "--units", "24")
    assert changed.returncode == 2 and "--units 24" in changed.stderr
    assert run_cli(*grid, "--units", "24", "--force").returncode == 0

    archive = tmp_path / "mine.zip"
    assert run_cli("package", "--model-dir", model, "--out", archive).returncode == 0
    translated = run_cli("translate", "Estoy aquí.", "--model-dir", archive)
    assert translated.returncode == 0, translated.stderr
    assert translated.stdout == run_cli("translate", "Estoy aquí.", "--model-dir", model).stdout
    assert "MODEL_CARD.md" in __import__("zipfile").ZipFile(archive).namelist()
