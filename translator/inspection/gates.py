"""The distribution of LSTM and GRU gate activations over real sentences (`cells.gate_activations`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf

from translator.inspection.unroll import run_decoder, run_encoder
from translator.training.step import BATCH_SPEC

SATURATED_LOW, SATURATED_HIGH = 0.05, 0.95
HISTOGRAM_BINS = 40


def gate_statistics(activations: dict[tuple[str, str], np.ndarray]) -> pd.DataFrame:
    """One row per (layer, gate) from its activations at real tokens (any shape): mean, and the shares below
    0.05 (closed), above 0.95 (open) and either (saturated)."""
    rows = []
    for (layer, gate), values in activations.items():
        values = np.asarray(values, dtype=np.float64).ravel()
        low, high = float(np.mean(values < SATURATED_LOW)), float(np.mean(values > SATURATED_HIGH))
        rows.append({"layer": layer, "gate": gate, "activations": values.size, "mean": float(values.mean()),
                     "below_0.05": low, "above_0.95": high, "saturated": low + high})
    return pd.DataFrame(rows)


def gate_histograms(activations: dict[tuple[str, str], np.ndarray]) -> pd.DataFrame:
    """The share of activations in each of 40 equal bins over [0, 1], one row per (layer, gate, bin)."""
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    rows = []
    for (layer, gate), values in activations.items():
        counts, _ = np.histogram(np.asarray(values).ravel(), bins=edges)
        share = counts / max(counts.sum(), 1)
        rows += [{"layer": layer, "gate": gate, "bin_start": edges[i], "bin_end": edges[i + 1], "share": share[i]}
                 for i in range(HISTOGRAM_BINS)]
    return pd.DataFrame(rows)


def gate_function(model):
    """A compiled function: one padded batch -> {layer: {gate: activations [steps, batch, units]}} for every
    recurrent layer of the encoder (each direction) and the decoder (teacher-forced along the reference)."""
    @tf.function(input_signature=[BATCH_SPEC], autograph=False)
    def gates(batch):
        encoded, encoder_gates = run_encoder(model.encoder, batch["source"], record_gates=True)
        prepared = model.decoder.prepare({**encoded, "source_ids": batch["source"]})
        run = run_decoder(model.decoder, batch["target_in"], prepared, record_gates=True)
        return {**encoder_gates, "decoder": run.gates}

    return gates


def collect_gates(model, batches) -> dict[tuple[str, str], np.ndarray]:
    """{(layer, gate): activations [real tokens x units]} over `batches`: padding left out (the encoder's
    source padding, the decoder's steps after the target's END)."""
    gates_of = gate_function(model)
    collected: dict[tuple[str, str], list] = {}
    for batch in batches:
        masks = {"source": batch["source_mask"].numpy().T, "target": batch["target_mask"].numpy().T}
        for layer, gates in gates_of(batch).items():
            real = masks["target" if layer == "decoder" else "source"]
            for gate, values in gates.items():
                collected.setdefault((layer, gate), []).append(values.numpy()[real])
    return {key: np.concatenate(parts) for key, parts in collected.items()}
