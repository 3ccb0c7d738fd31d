"""Every command against every kind of bad input that applies to it, run as a user runs it (a subprocess).

Each row of TABLE is a command line and what must happen: a failure is exit status 2 (or the documented
status) with exactly one line on stderr that names what is wrong and where, and no traceback; inputs that
must work (a BOM, CRLF line ends, a very long line, an empty file of sentences) exit 0 and print nothing on
stderr but warnings. Every row that touches a model folder gets its own copy (damaged as the row says),
and that copy and any folder the command was told to write into must be byte-for-byte unchanged after a
failure: nothing already saved is lost.

The rows are independent process starts, so the `outcomes` fixture runs them three at a time once per
session; each row is then a test of its own.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO, TOY

pytestmark = pytest.mark.slow  # each row or case runs whole commands

# what its rows test is the input, not the search that train tunes and carries at its end (5.5 s of a row's 16.7)
TINY = ("--units", "8", "--embedding-dim", "4", "--vocab-size", "100", "--epochs", "1", "--batch-size", "16",
        "--no-tune-search", "--no-carry-graph")
MODEL_FILES = ("config.json", "source_tokenizer.json", "target_tokenizer.json", "model.weights.h5")
CHECKPOINT_FILES = ("checkpoint/progress.json", "checkpoint/variables.npz")


def input_files(folder: Path) -> None:
    """The bad (and awkward but valid) inputs, by name."""
    toy = TOY.read_bytes()
    files = {
        "empty.tsv": b"",
        "binary.dat": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16,  # an image's first bytes, then all 256
        "not-utf8.tsv": b"Hola.\tHello.\nCaf\xe9 solo.\tBlack coffee.\n",
        "not-utf8.txt": b"Hola.\n\xff\xfe nada\nAdi\xc3\xb3s.\n",
        "columns.tsv": b"Hola.\tHello.\nno tab on this line\n",
        "bom-crlf.tsv": b"\xef\xbb\xbf" + toy.replace(b"\n", b"\r\n"),
        "bom-crlf.txt": b"\xef\xbb\xbfHola.\r\nAdi\xc3\xb3s.\r\n",
        "long-line.tsv": toy + b"a" * 100_000 + b"\tb\n",
        "long-line.txt": b"palabra " * 12_500 + b"\n",
        "bad.yaml": b"units: [64\nepochs: 2\n",
        "not-a-mapping.yaml": b"- units\n- 64\n",
        "unknown-option.yaml": b"unitz: 64\n",
        "test.tsv": b"Hola.\tHello.\n",
        "three.tsv": b"Go.\tVe.\nHi.\tHola.\nRun!\tCorre.\n",
        "all-bad.tsv": b"one\ttwo\tthree\tfour\nno tab\n",
        "alone.es": b"Hola.\n",
        "es-en.tsv": b"".join(b"\t".join(reversed(line.split(b"\t"))) + b"\n" for line in toy.splitlines()),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    (folder / "a-folder").mkdir()
    (folder / "splits").mkdir()
    (folder / "splits" / "train.tsv").write_bytes(b"kept\tas is\n")
    (folder / "export").mkdir()


@dataclass(frozen=True)
class Row:
    """One command line. Placeholders: {in} the inputs folder, {model} this row's copy of the toy model,
    {new} a path that does not exist yet."""

    id: str
    argv: tuple[str, ...]
    status: int = 2
    names: tuple[str, ...] = ()  # fragments the error line must hold (the culprit and where)
    damage: tuple[str, str] | None = None  # (file in the model copy, "missing" | "truncated")
    stdin: bytes | None = None
    stdout_lines: int | None = None  # for rows that must work: how many lines they print
    env: tuple[tuple[str, str], ...] = ()  # environment variables set for the command


def row(id, *argv, **expect) -> Row:
    return Row(id, tuple(argv), **expect)


def damaged(command: tuple[str, ...], files=MODEL_FILES, prefix="") -> list[Row]:
    """The command against the model copy with each file in turn missing, then cut to half its size."""
    return [row(f"{prefix}{name.replace('/', '-')}-{mode}", *command, damage=(name, mode), names=(Path(name).name if mode == "missing" else name,))
            for name in files for mode in ("missing", "truncated")]


TABLE = [
    # data check: 1 when it finds problems, 2 when it cannot read the corpus
    row("check-missing", "data", "check", "{in}/absent.tsv", names=("absent.tsv", "no such file")),
    row("check-folder", "data", "check", "{in}/a-folder", names=("a-folder", "folder")),
    row("check-empty", "data", "check", "{in}/empty.tsv", names=("empty.tsv", "no sentence pairs")),
    row("check-binary", "data", "check", "{in}/binary.dat", names=("binary.dat",)),
    row("check-not-utf8", "data", "check", "{in}/not-utf8.tsv", status=1, stdout_lines=None),
    row("check-columns", "data", "check", "{in}/columns.tsv", status=1),
    row("check-bom-crlf", "data", "check", "{in}/bom-crlf.tsv", "--reverse", status=0),
    row("check-long-line", "data", "check", "{in}/long-line.tsv", status=0),
    row("check-one-column-option", "data", "check", "{in}/test.tsv", "--source-column", "es", names=("--target-column",)),
    # data import
    row("import-missing", "data", "import", "{in}/absent.tsv", "--out", "{new}", names=("absent.tsv",)),
    row("import-folder", "data", "import", "{in}/a-folder", "--out", "{new}", names=("a-folder",)),
    row("import-empty", "data", "import", "{in}/empty.tsv", "--out", "{new}", names=("empty.tsv",)),
    row("import-binary", "data", "import", "{in}/binary.dat", "--out", "{new}", names=("binary.dat", "line 1")),
    row("import-not-utf8", "data", "import", "{in}/not-utf8.tsv", "--out", "{new}", names=("not-utf8.tsv", "line 2", "UTF-8")),
    row("import-columns", "data", "import", "{in}/columns.tsv", "--out", "{new}", names=("columns.tsv", "line 2", "fields")),
    row("import-bom-crlf", "data", "import", "{in}/bom-crlf.tsv", "--out", "{new}", "--test-size", "5", "--dev-size", "5", status=0),
    row("import-long-line", "data", "import", "{in}/long-line.tsv", "--out", "{new}", "--test-size", "5", "--dev-size", "5", status=0),
    row("import-out-is-a-file", "data", "import", TOY, "--out", "{in}/empty.tsv", names=("empty.tsv", "file")),
    row("import-out-holds-splits", "data", "import", TOY, "--out", "{in}/splits", names=("train.tsv", "--force")),
    row("import-bad-size", "data", "import", TOY, "--out", "{new}", "--test-size", "-3", names=("-3",)),
    row("import-too-few-pairs", "data", "import", "{in}/three.tsv", "--out", "{new}", names=("three.tsv", "3 pairs", "dev")),
    row("check-all-lines-bad", "data", "check", "{in}/all-bad.tsv", names=("all-bad.tsv", "all 2", "line 1")),
    # train
    row("train-missing", "train", "{in}/absent.tsv", "--model-dir", "{new}", names=("absent.tsv", "no such file")),
    row("train-tf-config-not-json", "train", "{in}/bom-crlf.tsv", "--model-dir", "{new}", *TINY,
        env=(("TF_CONFIG", "{cluster: workers}"),), names=("TF_CONFIG", "not valid JSON")),
    row("train-tf-config-without-task", "train", "{in}/bom-crlf.tsv", "--model-dir", "{new}", *TINY,
        env=(("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}}'),), names=("TF_CONFIG", "task")),
    row("train-folder", "train", "{in}/a-folder", "--model-dir", "{new}", names=("a-folder", "folder")),
    row("train-empty", "train", "{in}/empty.tsv", "--model-dir", "{new}", names=("empty.tsv",)),
    row("train-binary", "train", "{in}/binary.dat", "--model-dir", "{new}", names=("binary.dat", "line 1")),
    row("train-not-utf8", "train", "{in}/not-utf8.tsv", "--model-dir", "{new}", names=("not-utf8.tsv", "line 2")),
    row("train-columns", "train", "{in}/columns.tsv", "--model-dir", "{new}", names=("columns.tsv", "line 2")),
    row("train-dev-missing", "train", TOY, "--dev", "{in}/absent.tsv", "--model-dir", "{new}", names=("absent.tsv",)),
    row("train-bom-crlf", "train", "{in}/bom-crlf.tsv", "--reverse", "--model-dir", "{new}", *TINY, status=0),
    row("train-long-line", "train", "{in}/long-line.tsv", "--model-dir", "{new}", *TINY, status=0),
    row("train-units-0", "train", TOY, "--model-dir", "{new}", "--units", "0", names=("--units",)),
    row("train-devices-0", "train", TOY, "--model-dir", "{new}", "--devices", "0", names=("--devices", "0")),
    row("train-devices-too-many", "train", TOY, "--model-dir", "{new}", "--devices", "64", names=("--devices", "64")),
    row("train-dropout", "train", TOY, "--model-dir", "{new}", "--dropout", "1.5", names=("--dropout",)),
    row("train-units-not-a-number", "train", TOY, "--model-dir", "{new}", "--units", "many", names=("--units", "many")),
    row("train-tune-beam-1", "train", TOY, "--model-dir", "{new}", "--tune-beam-sizes", "1,5", names=("--tune-beam-sizes", "1,5")),
    row("train-tune-not-numbers", "train", TOY, "--model-dir", "{new}", "--tune-length-penalties", "0,high", names=("--tune-length-penalties", "0,high")),
    row("train-copy-without-attention", "train", TOY, "--model-dir", "{new}", "--decoder", "feedback", "--copy", names=("--copy", "--decoder")),
    row("compare-copy-with-other-decoders", "compare", TOY, "--out", "{new}", "--copy", "--decoders", "init,attention", names=("--copy", "--decoders")),
    row("train-unknown-decoder", "train", TOY, "--model-dir", "{new}", "--decoder", "transformer", names=("--decoder",)),
    row("train-unknown-merge", "train", TOY, "--model-dir", "{new}", "--merge", "average", names=("--merge", "average")),
    row("train-bad-yaml", "train", TOY, "--model-dir", "{new}", "--config", "{in}/bad.yaml", names=("bad.yaml", "line")),
    row("train-yaml-not-a-mapping", "train", TOY, "--model-dir", "{new}", "--config", "{in}/not-a-mapping.yaml", names=("not-a-mapping.yaml",)),
    row("train-yaml-unknown-option", "train", TOY, "--model-dir", "{new}", "--config", "{in}/unknown-option.yaml", names=("unitz",)),
    row("train-yaml-binary", "train", TOY, "--model-dir", "{new}", "--config", "{in}/binary.dat", names=("binary.dat",)),
    row("train-model-dir-is-a-file", "train", TOY, "--model-dir", "{in}/test.tsv", names=("test.tsv", "file")),
    row("train-over-a-model", "train", TOY, "--reverse", "--model-dir", "{model}", names=("--resume", "--force")),
    row("train-resume-other-corpus", "train", "{in}/bom-crlf.tsv", "--model-dir", "{model}", "--resume", names=("bom-crlf.tsv", "--force")),
    row("train-init-from-and-resume", "train", TOY, "--model-dir", "{model}", "--init-from", "{model}", "--resume", names=("--init-from", "--resume")),
    row("train-init-from-with-units", "train", TOY, "--model-dir", "{new}", "--init-from", "{model}", "--units", "64", names=("--units", "--init-from")),
    row("train-init-from-missing", "train", TOY, "--model-dir", "{new}", "--init-from", "{in}/absent", names=("absent",)),
    row("train-no-corpus", "train", "--model-dir", "{new}", names=("CORPUS", "--resume")),
    row("train-weight-zero", "train", f"{TOY}:0", "--model-dir", "{new}", names=("'0'", "above 0")),
    row("train-one-language-file", "train", "{in}/alone.es", "--model-dir", "{new}", names=("alone.es", "line 1")),
    row("train-resume-changed-units", "train", TOY, "--reverse", "--model-dir", "{model}", "--resume", "--units", "512", names=("--units 512",)),
    *damaged(("train", TOY, "--reverse", "--model-dir", "{model}", "--resume"), files=CHECKPOINT_FILES, prefix="train-resume-"),
    row("train-resume-config-truncated", "train", TOY, "--reverse", "--model-dir", "{model}", "--resume", damage=("config.json", "truncated"), names=("config.json",)),
    # translate
    row("translate-precision-unknown", "translate", "Hola.", "--model-dir", "{model}", "--precision", "fp8", names=("--precision", "fp8")),
    row("translate-input-missing", "translate", "--model-dir", "{model}", "--input", "{in}/absent.txt", names=("absent.txt", "no such file")),
    row("translate-input-folder", "translate", "--model-dir", "{model}", "--input", "{in}/a-folder", names=("a-folder", "folder")),
    row("translate-input-binary", "translate", "--model-dir", "{model}", "--input", "{in}/binary.dat", names=("binary.dat", "line 1", "UTF-8")),
    row("translate-input-not-utf8", "translate", "--model-dir", "{model}", "--input", "{in}/not-utf8.txt", names=("not-utf8.txt", "line 2", "UTF-8")),
    row("translate-stdin-not-utf8", "translate", "--model-dir", "{model}", "--input", "-", stdin=b"Hola.\n\xff\xfe\n", names=("standard input", "line 2", "UTF-8")),
    row("translate-skip-bad-lines", "translate", "--model-dir", "{model}", "--input", "{in}/not-utf8.txt", "--skip-bad-lines", status=0, stdout_lines=3),
    # the lines read before a bad one are all translated, though two batches are searched at a time (streams.py)
    row("translate-stdin-not-utf8-after-three-batches", "translate", "--model-dir", "{model}", "--input", "-",
        "--batch-size", "1", "--greedy", stdin="Hola.\nAdiós.\nGracias.\n".encode() + b"\xff\n",
        names=("standard input", "line 4", "UTF-8"), stdout_lines=3),
    row("translate-stdin-skip-bad-lines", "translate", "--model-dir", "{model}", "--input", "-", "--skip-bad-lines", "--greedy", stdin=b"\xff\nHola.\n", status=0, stdout_lines=2),
    row("translate-input-empty", "translate", "--model-dir", "{model}", "--input", "{in}/empty.tsv", status=0, stdout_lines=0),
    row("translate-bom-crlf", "translate", "--model-dir", "{model}", "--input", "{in}/bom-crlf.txt", status=0, stdout_lines=2),
    row("translate-long-line", "translate", "--model-dir", "{model}", "--input", "{in}/long-line.txt", "--greedy", status=0, stdout_lines=1),
    row("translate-empty-sentence", "translate", "--model-dir", "{model}", "", names=("sentence", "empty")),
    row("translate-blank-second-sentence", "translate", "--model-dir", "{model}", "Hola.", "  ",
        names=("sentence 2 of 2", "empty")),
    row("translate-nothing", "translate", "--model-dir", "{model}", names=("--input",)),
    row("translate-beam-0", "translate", "--model-dir", "{model}", "Hola.", "--beam-size", "0", names=("--beam-size",)),
    row("translate-n-best-above-beam", "translate", "--model-dir", "{model}", "Hola.", "--beam-size", "2", "--n-best", "3", names=("--n-best",)),
    row("translate-plot-not-png", "translate", "--model-dir", "{model}", "Hola.", "--plot-attention", "{in}/att.txt", names=("att.txt", ".png")),
    row("translate-output-into-a-folder", "translate", "--model-dir", "{model}", "Hola.", "--output", "{in}/a-folder", names=("a-folder", "folder")),
    row("translate-nothing-piped", "translate", "--model-dir", "{model}", stdin=b"", names=("standard input", "--input")),
    row("translate-plot-nowhere", "translate", "--model-dir", "{model}", "Hola.", "--plot-attention", "{in}/absent/att.png", names=("att.png", "folder")),
    row("translate-model-dir-missing", "translate", "--model-dir", "{in}/absent", "Hola.", names=("absent", "no such model folder")),
    row("translate-model-dir-is-a-file", "translate", "--model-dir", "{in}/test.tsv", "Hola.", names=("test.tsv",)),
    *damaged(("translate", "--model-dir", "{model}", "Hola."), prefix="translate-"),
    row("translate-search-json-truncated", "translate", "--model-dir", "{model}", "Hola.", damage=("search.json", "truncated"), names=("search.json",)),
    # evaluate
    row("evaluate-missing", "evaluate", "{in}/absent.tsv", "--model-dir", "{model}", names=("absent.tsv",)),
    row("evaluate-folder", "evaluate", "{in}/a-folder", "--model-dir", "{model}", names=("a-folder",)),
    row("evaluate-empty", "evaluate", "{in}/empty.tsv", "--model-dir", "{model}", names=("empty.tsv",)),
    row("evaluate-binary", "evaluate", "{in}/binary.dat", "--model-dir", "{model}", names=("binary.dat",)),
    row("evaluate-not-utf8", "evaluate", "{in}/not-utf8.tsv", "--model-dir", "{model}", names=("not-utf8.tsv", "line 2")),
    row("evaluate-columns", "evaluate", "{in}/columns.tsv", "--model-dir", "{model}", names=("columns.tsv", "line 2")),
    row("evaluate-bom-crlf", "evaluate", "{in}/bom-crlf.tsv", "--model-dir", "{model}", "--greedy", status=0),
    row("evaluate-reversed", "evaluate", "{in}/es-en.tsv", "--model-dir", "{model}", names=("es-en.tsv", "other way round", "--reverse")),
    row("evaluate-beam-0", "evaluate", "{in}/test.tsv", "--model-dir", "{model}", "--beam-size", "0", names=("--beam-size",)),
    row("evaluate-output-nowhere", "evaluate", "{in}/test.tsv", "--model-dir", "{model}", "--output", "{in}/absent/out.tsv", names=("out.tsv",)),
    *damaged(("evaluate", "{in}/test.tsv", "--model-dir", "{model}"), files=("config.json", "model.weights.h5"), prefix="evaluate-"),
    # compare
    row("compare-missing", "compare", "{in}/absent.tsv", "--out", "{new}", names=("absent.tsv",)),
    row("compare-empty", "compare", "{in}/empty.tsv", "--out", "{new}", names=("empty.tsv",)),
    row("compare-not-utf8", "compare", "{in}/not-utf8.tsv", "--out", "{new}", names=("not-utf8.tsv", "line 2")),
    row("compare-unknown-decoder", "compare", TOY, "--out", "{new}", "--decoders", "init,transformer", names=("--decoders", "transformer")),
    row("compare-bad-seeds", "compare", TOY, "--out", "{new}", "--seeds", "1,x", names=("1,x",)),
    row("compare-bad-yaml", "compare", TOY, "--out", "{new}", "--config", "{in}/bad.yaml", names=("bad.yaml",)),
    # export
    row("export-out-exists", "export", "--model-dir", "{model}", "--out", "{in}/export", names=("export", "already exists")),
    *damaged(("export", "--model-dir", "{model}", "--out", "{new}"), files=("target_tokenizer.json", "model.weights.h5"), prefix="export-"),
    # shrink
    row("shrink-missing", "shrink", "--model-dir", "{in}/absent", names=("absent",)),
    *damaged(("shrink", "--model-dir", "{model}"), files=("config.json", "model.weights.h5"), prefix="shrink-"),
    # carry-graph
    row("carry-graph-missing", "carry-graph", "--model-dir", "{in}/absent", names=("absent",)),
    *damaged(("carry-graph", "--model-dir", "{model}"), files=("config.json", "model.weights.h5"),
             prefix="carry-graph-"),
    # serve: everything is checked before the port opens
    row("serve-model-dir-missing", "serve", "--model-dir", "{in}/absent", names=("absent", "no such model folder")),
    *damaged(("serve", "--model-dir", "{model}"), files=("config.json", "model.weights.h5"), prefix="serve-"),
    row("serve-bad-languages", "serve", "--model-dir", "es={model}", names=("SRC-TGT",)),
    row("serve-bad-port", "serve", "--model-dir", "{model}", "--port", "70000", names=("--port",)),
    row("serve-max-batch-0", "serve", "--model-dir", "{model}", "--max-batch", "0", names=("--max-batch",)),
    row("serve-xla-max-batch-negative", "serve", "--model-dir", "{model}", "--xla-max-batch", "-1",
        names=("--xla-max-batch",)),
    # the command line itself
    row("unknown-command", "translat", "Hola.", names=("translat",)),
    row("unknown-option", "translate", "--beam", "5", "Hola.", names=("--beam",)),
]


def folder_hash(path: Path) -> str | None:
    """A digest of every file's name and bytes under `path` (None when there is nothing there)."""
    if not path.exists():
        return None
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode() + file.read_bytes())
    return digest.hexdigest()


def damage(model: Path, name: str, mode: str) -> None:
    path = model / name
    if mode == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def run_row(row: Row, inputs: Path, toy_model: Path, work: Path) -> dict:
    work.mkdir()
    model = work / "model"
    shutil.copytree(toy_model, model)
    (model / "search.json").write_text('{"beam_size": 3, "length_penalty": 0.2}')
    if row.damage:
        damage(model, *row.damage)
    argv = [str(a).format(**{"in": inputs, "model": model, "new": work / "new"}) for a in row.argv]
    watched = [model, inputs / "splits", inputs / "export"]
    before = [folder_hash(p) for p in watched]
    try:
        result = subprocess.run([sys.executable, str(REPO / "cli.py"), *argv], input=row.stdin, capture_output=True,
                                cwd=work, timeout=300, env=os.environ | dict(row.env),
                                **({"stdin": subprocess.DEVNULL} if row.stdin is None else {}))
    except subprocess.TimeoutExpired as timeout:  # e.g. a server that started instead of refusing: the row fails
        result = subprocess.CompletedProcess(argv, -1, timeout.stdout or b"", b"timed out after 300 s")
    return {"result": result, "unchanged": [folder_hash(p) for p in watched] == before, "argv": argv}


@pytest.fixture(scope="session")
def outcomes(toy_model, tmp_path_factory) -> dict:
    inputs = tmp_path_factory.mktemp("bad-inputs")
    input_files(inputs)
    rows = tmp_path_factory.mktemp("rows")
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {r.id: pool.submit(run_row, r, inputs, toy_model, rows / r.id) for r in TABLE}
        return {id: future.result() for id, future in futures.items()}


def test_the_table_has_no_duplicate_rows():
    assert len({r.id for r in TABLE}) == len(TABLE)


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.id)
def test_row(row: Row, outcomes):
    outcome = outcomes[row.id]
    result = outcome["result"]
    stdout, stderr = result.stdout.decode("utf-8", "replace"), result.stderr.decode("utf-8", "replace")
    context = f"{' '.join(outcome['argv'])}\nexit {result.returncode}\nstderr: {stderr[-2000:]}"
    assert result.returncode == row.status, context
    assert "Traceback" not in stderr, context
    lines = stderr.strip().splitlines()
    if row.status == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), context
        for fragment in row.names:
            assert fragment in lines[0], context
        assert outcome["unchanged"], f"a saved file changed: {context}"
    else:
        assert all(line.startswith("warning: ") for line in lines), context
    if row.stdout_lines is not None:
        assert len(stdout.splitlines()) == row.stdout_lines, stdout


def test_a_bad_line_on_stdin_keeps_output_aligned(outcomes):
    """--skip-bad-lines: the undecodable first line becomes an empty translation, the second is translated."""
    result = outcomes["translate-stdin-skip-bad-lines"]["result"]
    out = result.stdout.decode("utf-8").split("\n")
    assert out[0] == "" and out[1].strip()
    assert b"standard input line 1" in result.stderr
