"""The CLI as a user runs it: a subprocess, its exit status and what it prints."""

import json
import shlex
import subprocess
import sys
import zipfile

import pytest

from conftest import REPO, TOY, run_cli



run = run_cli


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_lists_every_command():
    result = run("--help")
    assert result.returncode == 0
    for command in ("data", "train", "translate", "evaluate", "compare", "export"):
        assert f"\n  {command} " in result.stdout


def test_data_check_reports_as_json_without_tensorflow_noise():
    result = run("data", "check", TOY, "--reverse", "--json", "--against", TOY)
    assert result.returncode == 1, result.stderr  # it overlaps itself: a problem found
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert report["pairs"] == 54
    assert report["overlap"][0]["shared_pairs"] == 54


def test_data_check_lists_bad_lines_and_exits_1(tmp_path):
    corpus = tmp_path / "c.tsv"
    corpus.write_bytes(b"Hi.\tHola.\nno tab\nOk.\t\n")
    result = run("data", "check", corpus)
    assert result.returncode == 1
    assert "line 2: expected 2 tab-separated fields" in result.stdout
    assert "line 3: empty target sentence" in result.stdout


@pytest.mark.parametrize(
    "content, fragments",
    [
        (b"Hi.\tHola.\nno tab here\n", ["line 2", "expected 2 tab-separated fields"]),
        (b"Hi.\tHola.\nCaf\xe9.\tCaf\xe9.\n", ["line 2", "undecodable byte 0xe9"]),
        (b"Hi.\tHola.\nYes.\t\n", ["line 2", "empty target"]),
    ],
)
def test_corrupted_corpus_gives_one_line_and_exit_2(tmp_path, content, fragments):
    corpus = tmp_path / "bad.tsv"
    corpus.write_bytes(content)
    result = run("data", "import", corpus, "--out", tmp_path / "splits")
    assert_one_line_error(result, str(corpus), *fragments)
    assert not (tmp_path / "splits").exists()


def test_zip_with_escaping_member_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("spa.txt", "Hi.\tHola.\n")
        z.writestr("../evil.txt", "x\ty\n")
    assert_one_line_error(run("data", "check", archive), str(archive), "../evil.txt")


def test_import_writes_disjoint_splits_and_never_overwrites(tmp_path):
    out = tmp_path / "splits"
    result = run("data", "import", TOY, "--out", out, "--seed", "3", "--dev-size", "5", "--test-size", "5")
    assert result.returncode == 0, result.stderr
    splits = {n: (out / f"{n}.tsv").read_text().splitlines() for n in ("train", "dev", "test")}
    assert sum(map(len, splits.values())) == 54
    sources = {n: {line.split("\t")[0] for line in lines} for n, lines in splits.items()}
    assert not (sources["train"] & sources["test"]) and not (sources["dev"] & sources["test"])
    before = (out / "train.tsv").read_bytes()
    assert_one_line_error(run("data", "import", TOY, "--out", out), "already exist")
    assert (out / "train.tsv").read_bytes() == before


def test_wrong_option_is_one_line():
    assert_one_line_error(run("data", "import", TOY, "--bogus"), "--bogus")


@pytest.mark.parametrize("option, value", [("--readout", "-3"), ("--units", "0"), ("--dropout", "1.5"), ("--batch-size", "0")])
def test_impossible_sizes_are_one_line_and_nothing_is_written(tmp_path, option, value):
    model = tmp_path / "model"
    assert_one_line_error(run("train", TOY, "--reverse", "--model-dir", model, option, value), option)
    assert not model.exists()


def test_missing_corpus_names_the_file(tmp_path):
    assert_one_line_error(run("data", "check", tmp_path / "absent.tsv"), "absent.tsv", "no such file")


def test_debug_shows_the_traceback(tmp_path):
    result = run("--debug", "data", "check", tmp_path / "absent.tsv")
    assert result.returncode == 2
    assert "Traceback" in result.stderr


def test_real_corpus_check_against_test_split_reports_no_overlap(corpora):
    result = run(
        "data", "check", corpora / "spa-eng" / "train.tsv", "--reverse", "--json",
        "--against", corpora / "spa-eng" / "test.tsv",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["pairs"] == 115_340
    overlap = report["overlap"][0]
    assert overlap["shared_source_sentences"] == overlap["shared_target_sentences"] == overlap["shared_pairs"] == 0


TINY = ["--units", "16", "--embedding-dim", "8", "--tokenizer", "word", "--batch-size", "8", "--no-tune-search",
        "--no-carry-graph"]


@pytest.mark.slow
def test_train_from_a_config_file_then_translate_every_way(tmp_path):
    options = tmp_path / "options.yaml"
    options.write_text("decoder: feedback\nepochs: 5\nlearning-rate: 0.01\nreverse: true\n")
    model = tmp_path / "model"
    result = run("train", TOY, "--model-dir", model, "--config", options, "--epochs", "2", *TINY)
    assert result.returncode == 0, result.stderr
    assert "epoch 2/2" in result.stdout and "epoch 3/" not in result.stdout  # the command line won
    saved = json.loads((model / "config.json").read_text())
    assert saved["model"]["decoder"] == "feedback" and saved["data"]["reverse"] is True
    assert not (model / "translate_graph").exists()  # --no-carry-graph (TINY)

    by_argument = run("translate", "Estoy aquí.", "Hace frío.", "--model-dir", model, "--greedy")
    assert by_argument.returncode == 0, by_argument.stderr
    first, second = by_argument.stdout.splitlines()
    inputs = tmp_path / "in.txt"
    inputs.write_text("Estoy aquí.\n\nHace frío.\n")  # a file's empty line stays an empty line
    from_file = run("translate", "--input", inputs, "--model-dir", model, "--greedy", "--batch-size", "2")
    from_stdin = run("translate", "--input", "-", "--model-dir", model, "--greedy", stdin=inputs.read_text())
    assert from_file.stdout == from_stdin.stdout == f"{first}\n\n{second}\n"
    as_json = run("translate", "Estoy aquí.", "--model-dir", model, "--json", "--n-best", "2")
    record = json.loads(as_json.stdout)
    assert record["source"] == "Estoy aquí." and len(record["n_best"]) == 2


def test_translate_without_a_model_is_one_line(tmp_path):
    assert_one_line_error(run("translate", "Hola", "--model-dir", tmp_path / "nowhere"), "nowhere", "no such model folder")


def test_one_pair_corpus_is_one_line(tmp_path):
    corpus = tmp_path / "one.tsv"
    corpus.write_text("Hi.\tHola.\n")
    assert_one_line_error(run("train", corpus, "--model-dir", tmp_path / "m", *TINY), "one.tsv")


def test_bad_config_file_names_the_line(tmp_path):
    options = tmp_path / "bad.yaml"
    options.write_text("epochs: 2\nunits: [\n")
    assert_one_line_error(run("train", TOY, "--model-dir", tmp_path / "m", "--config", options), "bad.yaml")


@pytest.mark.slow
def test_training_killed_mid_run_resumes_and_finishes(tmp_path):
    import signal
    import time

    model = tmp_path / "model"
    command = [sys.executable, str(REPO / "cli.py"), "train", str(TOY), "--model-dir", str(model), "--epochs", "30",
               "--checkpoint-every", "3", "--reverse", *TINY]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = model / "checkpoint" / "progress.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if progress.exists() and json.loads(progress.read_text())["step"] >= 6:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    step_at_kill = json.loads(progress.read_text())["step"]
    assert 6 <= step_at_kill
    resumed = run("train", TOY, "--model-dir", model, "--resume", "--epochs", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at" in resumed.stdout
    assert (model / "model.weights.h5").exists()
    assert json.loads(progress.read_text())["step"] >= step_at_kill


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    import signal
    import time

    model = tmp_path / "model"
    command = [sys.executable, str(REPO / "cli.py"), "train", str(TOY), "--model-dir", str(model), "--epochs", "50",
               "--checkpoint-every", "1000", "--reverse", *TINY]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (model / "model.weights.h5").exists():
        time.sleep(0.2)  # the first epoch has ended: training is under way
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert (model / "checkpoint" / "variables.npz").exists()
    command = stderr.strip().splitlines()[-1].split("continue with: ")[1]
    assert command == f"python cli.py train --model-dir {model} --resume"
    resumed = run(*shlex.split(command)[2:], "--epochs", "2")  # the exact command, a shorter budget given
    assert resumed.returncode == 0 and "resuming at" in resumed.stdout, resumed.stderr


def test_resume_needs_only_the_folder_and_keeps_the_corpus_dev_and_budget(tmp_path):
    model, dev = tmp_path / "model", tmp_path / "dev.tsv"
    dev.write_text("".join(TOY.read_text(encoding="utf-8").splitlines(keepends=True)[:10]), encoding="utf-8")
    first = run("train", TOY, "--model-dir", model, "--dev", dev, "--max-steps", "2", "--reverse", *TINY)
    assert first.returncode == 0, first.stderr
    assert "partial: max_steps 2 reached" in first.stdout
    spent = run("train", "--model-dir", model, "--resume")
    assert spent.returncode == 0 and "max_steps 2 reached" in spent.stdout, spent.stderr
    assert json.loads((model / "checkpoint" / "progress.json").read_text())["step"] == 2  # no step past the budget
    more = run("train", "--model-dir", model, "--resume", "--max-steps", "4")
    assert more.returncode == 0 and "dev: 10 pairs" in more.stdout, more.stderr  # the held-out --dev, not a split
    other = run("train", TOY, "--model-dir", model, "--resume", "--dev", TOY)
    assert other.returncode == 2 and "--dev" in other.stderr
    moved = tmp_path / "moved"
    model.rename(moved)
    assert run("train", "--model-dir", moved, "--resume", "--max-steps", "5").returncode == 0  # paths kept relative


def test_translate_json_with_attention_weights(toy_model, tmp_path):
    result = run("translate", "Estoy aquí.", "--model-dir", toy_model, "--json", "--attention", "--greedy",
                 "--plot-attention", tmp_path / "att.png")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.splitlines()[0])
    assert record["translation"] == "I am here."
    weights = record["attention"]["weights"]
    assert len(weights) == len(record["attention"]["output_tokens"])
    assert all(abs(sum(row) - 1) < 1e-3 for row in weights)
    assert (tmp_path / "att.png").stat().st_size > 0


def test_attention_options_refused_for_other_decoders(tmp_path):
    model = tmp_path / "model"
    trained = run("train", TOY, "--model-dir", model, "--decoder", "init", "--epochs", "1", "--reverse", *TINY)
    assert trained.returncode == 0, trained.stderr
    assert_one_line_error(run("translate", "Hola", "--model-dir", model, "--plot-attention", tmp_path / "a.png"),
                          "'init' decoder has no attention weights")


def test_translate_reads_piped_text_and_a_lone_dash_as_standard_input():
    assert run_cli("translate", stdin="Hola.\n¿Dónde está la biblioteca?\n").stdout == "Hello!\nWhere's the library?\n"
    assert run_cli("translate", "-", stdin="Hace frío.\n").stdout == "It's cold.\n"


def test_translate_output_writes_the_file_whole_and_prints_no_translation(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("kept until every line is written\n")
    result = run_cli("translate", "Hola.", "Hace frío.", "--output", out)
    assert result.returncode == 0 and result.stdout == "", result.stderr
    assert out.read_text(encoding="utf-8") == "Hello!\nIt's cold.\n" and str(out) in result.stderr
    refused = run_cli("translate", "Hola.", "--output", out, "--beam-size", "0")
    assert refused.returncode == 2 and out.read_text(encoding="utf-8") == "Hello!\nIt's cold.\n"


def test_a_long_input_shows_progress_on_a_terminal_only(tmp_path):
    import os
    import pty

    lines = tmp_path / "in.txt"
    lines.write_text("Hola.\nAdiós.\n" * 100, encoding="utf-8")
    command = [sys.executable, str(REPO / "cli.py"), "translate", "--input", str(lines), "--output",
               str(tmp_path / "out.txt"), "--greedy"]
    terminal, its_end = pty.openpty()
    process = subprocess.Popen(command, cwd=REPO, stderr=its_end, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    os.close(its_end)
    shown = b""
    while chunk := _read(terminal):
        shown += chunk
    assert process.wait() == 0
    assert b"/200" in shown and b"sentences/s" in shown  # a bar with the total, on the terminal
    piped = run("translate", "--input", lines, "--output", tmp_path / "again.txt", "--greedy")
    assert "sentences/s" not in piped.stderr  # not a terminal: no bar
    assert (tmp_path / "out.txt").read_text() == (tmp_path / "again.txt").read_text()


def _read(descriptor) -> bytes:
    import os

    try:
        return os.read(descriptor, 4096)
    except OSError:  # the other end closed
        return b""
