"""`train --init-from`: a new run that starts from a trained model's weights, with its sizes and vocabularies."""

import json

from conftest import REPO, TOY, run_cli

SMALL = REPO / "translator" / "pretrained" / "spa-eng-small"


def dev_loss(model_dir) -> float:
    return json.loads((model_dir / "summary.json").read_text())["best_dev_loss"]


def test_a_fine_tuned_run_starts_from_the_model_it_names(tmp_path):
    budget = ["--max-steps", "2", "--batch-size", "16", "--no-tune-search", "--no-carry-graph", "--reverse",
              "--dev", TOY]
    tuned = run_cli("train", TOY, "--model-dir", tmp_path / "tuned", "--init-from", "spa-eng-small", *budget)
    assert tuned.returncode == 0, tuned.stderr
    assert "starting from the weights of" in tuned.stdout and "learning rate 0.0005" in tuned.stdout
    for name in ("source_tokenizer.json", "target_tokenizer.json"):
        assert json.loads((tmp_path / "tuned" / name).read_text())["vocab"] == json.loads((SMALL / name).read_text())["vocab"]
    card = (tmp_path / "tuned" / "MODEL_CARD.md").read_text()
    assert "Fine-tuned from" in card and "spa-eng-small" in card and "Spanish (es) -> English (en)" in card
    saved = json.loads((tmp_path / "tuned" / "config.json").read_text())
    base = json.loads((SMALL / "config.json").read_text())["model"]
    assert {name: saved["model"][name] for name in base} == base
    fresh = run_cli("train", TOY, "--model-dir", tmp_path / "fresh", "--vocab-size", "200", *budget)
    assert fresh.returncode == 0, fresh.stderr
    assert dev_loss(tmp_path / "tuned") < dev_loss(tmp_path / "fresh") / 2  # two steps from random weights learn little


def test_sizes_given_with_init_from_and_resume_with_it_are_refused(tmp_path):
    sized = run_cli("train", TOY, "--model-dir", tmp_path / "m", "--init-from", "spa-eng-small", "--units", "64")
    assert sized.returncode == 2 and "--units" in sized.stderr and "spa-eng-small" in sized.stderr
    assert "Traceback" not in sized.stderr and not (tmp_path / "m").exists()
    both = run_cli("train", TOY, "--model-dir", tmp_path / "m", "--init-from", "spa-eng-small", "--resume")
    assert both.returncode == 2 and "--init-from" in both.stderr and "--resume" in both.stderr
    missing = run_cli("train", TOY, "--model-dir", tmp_path / "m", "--init-from", tmp_path / "nowhere")
    assert missing.returncode == 2 and "nowhere" in missing.stderr
