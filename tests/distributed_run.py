"""Train the toy model under given devices in a fresh process, for the tests in test_distribute.py.

Logical CPU devices must be configured before TensorFlow runs anything, and
a multi-worker strategy must exist before that too, so each such training
needs a process of its own. Usage:

    python tests/distributed_run.py SPEC_JSON

SPEC_JSON: {"logical_cpus": 2, "corpus": path, "dev": path, "runs": [{"model_dir": path, "devices": "2",
            "max_steps": null, "max_minutes": null, "resume": false}, ...], "epochs": 6}; prints one JSON line per run:
            {"model_dir", "best_dev_loss", "step"}.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(spec: dict) -> None:
    from translator.config import CorpusFormat, ModelConfig, RunConfig, TrainingConfig
    from translator.training import train
    from translator.training.distribution import split_cpu

    split_cpu(spec["logical_cpus"])

    config = RunConfig(data=CorpusFormat(reverse=True), model=ModelConfig(units=32, embedding_dim=16, dropout=0.0),
                       training=TrainingConfig(batch_size=16, epochs=spec.get("epochs", 6), learning_rate=0.005,
                                               warmup_steps=10, patience=100, checkpoint_every=1000,
                                               tune_search=False, carry_graph=False))
    for run in spec["runs"]:
        trainer = train(spec["corpus"], run["model_dir"], config, dev=spec["dev"], resume=run.get("resume", False),
                        force=not run.get("resume", False), echo=lambda *_: None, progress_bar=False,
                        overrides={"devices": run["devices"], "max_steps": run.get("max_steps"),
                                   "max_minutes": run.get("max_minutes")})
        print(json.dumps({"model_dir": run["model_dir"], "best_dev_loss": trainer.progress.best_dev_loss,
                          "step": trainer.progress.step}), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
