"""A test file the other way round from the model is caught, and `evaluate --reverse` reads it so."""

import json

from conftest import TOY, run_cli


def test_evaluate_refuses_a_reversed_test_file_and_reads_it_with_reverse(tmp_path):
    reversed_file = tmp_path / "es-en.tsv"
    reversed_file.write_text("".join("\t".join(reversed(line.split("\t"))) + "\n"
                                     for line in TOY.read_text(encoding="utf-8").splitlines()), encoding="utf-8")
    refused = run_cli("evaluate", reversed_file)
    assert refused.returncode == 2 and "other way round" in refused.stderr and "--reverse" in refused.stderr
    assert "Traceback" not in refused.stderr
    read = run_cli("evaluate", reversed_file, "--reverse", "--json", "--greedy")
    assert read.returncode == 0, read.stderr
    as_trained = run_cli("evaluate", TOY, "--json", "--greedy")
    assert json.loads(read.stdout)["bleu"] == json.loads(as_trained.stdout)["bleu"] > 30
