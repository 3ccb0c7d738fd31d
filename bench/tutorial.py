"""The benchmark's reference: the TensorFlow "NMT with attention" tutorial itself, run in the same benchmark.

`../shared/peers/make_tutorial.py` turns the tutorial notebook of a tensorflow/text git directory into a
runnable script with a measuring harness (its own code: TextVectorization, the bidirectional GRU encoder,
the GRU decoder with cross-attention, `fit()` with its settings, its dynamic `translate` export). This
module finds the git directory, makes the script in bench/cache/tutorial/, runs it for a fixed training
time on the spa-eng split and returns its results.json (see ../shared/peers/README.md for the keys).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("TRANSLATOR_PEERS", REPO.parent / "shared" / "peers"))
FOLDER = REPO / "bench" / "cache" / "tutorial"
CLONE_HINT = ("clone it (`git clone https://github.com/tensorflow/text ../tensorflow-text`) and pass "
              "--tutorial-git DIR or set TENSORFLOW_TEXT_GIT")


def git_dir_candidates(given: Path | None) -> list[Path]:
    """Where a tensorflow/text clone is looked for, in order: the option, $TENSORFLOW_TEXT_GIT, then beside
    the project and in ../shared/peers."""
    if given is not None:
        return [given]
    if os.environ.get("TENSORFLOW_TEXT_GIT"):
        return [Path(os.environ["TENSORFLOW_TEXT_GIT"])]
    return [base / name for base in (REPO.parent, PEERS) for name in ("tensorflow-text", "text")]


def find_git_dir(given: Path | None) -> Path:
    """The git directory of a tensorflow/text clone (a work tree's .git, or a bare or mirror clone)."""
    for candidate in git_dir_candidates(given):
        for git_dir in (candidate / ".git", candidate):
            if (git_dir / "HEAD").is_file() and (git_dir / "objects").is_dir():
                return git_dir
    looked = ", ".join(str(path) for path in git_dir_candidates(given))
    raise SystemExit(f"the tutorial reference needs a tensorflow/text clone; none at {looked}: {CLONE_HINT}")


def make_script(git_dir: Path) -> Path:
    """The runnable tutorial, made by the peers' generator from the clone's notebook."""
    generator = PEERS / "make_tutorial.py"
    if not generator.is_file():
        raise SystemExit(f"the tutorial generator is not at {generator} (set TRANSLATOR_PEERS to the peers folder)")
    FOLDER.mkdir(parents=True, exist_ok=True)
    script = FOLDER / "nmt_with_attention.py"
    made = subprocess.run([sys.executable, str(generator), str(git_dir), str(script)], capture_output=True, text=True)
    if made.returncode != 0:
        raise SystemExit(f"making the tutorial from {git_dir} failed: {made.stderr.strip().splitlines()[-1]}")
    return script


def run_tutorial(git_dir: Path | None, corpus: Path, train_seconds: float, test_limit: int = 0) -> dict:
    """Train the tutorial for `train_seconds` (its fit() loop, batches of 64) and measure it; results.json's
    dict: pairs_per_s, greedy_sent_per_s, latency_ms, bleu, peak_rss_mb, ..."""
    if importlib.util.find_spec("einops") is None:
        raise SystemExit("the tutorial imports einops: pip install einops (it is in requirements.txt)")
    script = make_script(find_git_dir(git_dir))
    out = FOLDER / "run"
    (out / "results.json").unlink(missing_ok=True)
    env = {**os.environ, "TUT_DATA": str(corpus), "TUT_BUDGET_S": str(train_seconds), "TUT_OUT": str(out),
           "TUT_TEST_LIMIT": str(test_limit)}
    with open(FOLDER / "run.log", "w") as log:
        ran = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if ran.returncode != 0 or not (out / "results.json").is_file():
        raise SystemExit(f"the tutorial failed (exit {ran.returncode}); its output is in {FOLDER / 'run.log'}")
    results = json.loads((out / "results.json").read_text())
    hypotheses = out / "hypotheses.txt"
    if hypotheses.is_file():
        results["runaway_hypotheses"] = runaway_count(hypotheses.read_text(encoding="utf-8").splitlines())
    return results


RUNAWAY_TOKENS = 100  # the test split's references are under 50 tokens; the tutorial's export stops at 500


def runaway_count(hypotheses: list[str]) -> int:
    """How many of the tutorial's outputs ran on past RUNAWAY_TOKENS (a phrase repeated to its 500-token limit).

    Its export stops a batch of 64 only when every sentence in it has ended, so each such output holds its
    batch for hundreds of steps: three of them halved its greedy sentences/s (941 against 1,864 in a run
    with none, 24 Nov 2026). How many there are is left to chance by 300 s of training, so this count says
    how far a run's greedy figure, and every decoding ratio against it, depends on it."""
    return sum(len(line.split()) > RUNAWAY_TOKENS for line in hypotheses)
