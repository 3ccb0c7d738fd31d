"""matplotlib figures: attention heatmaps, learning curves, bar charts. Files only, no screen."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)


def plot_attention(source_tokens, output_tokens, weights, path: Path, title: str = "") -> Path:
    """Heatmap of weights [output, source]: which source token each output token looked at."""
    figure, axes = plt.subplots(figsize=(1 + 0.5 * len(source_tokens), 1 + 0.45 * len(output_tokens)))
    image = axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(source_tokens)), source_tokens, rotation=60, ha="right")
    axes.set_yticks(range(len(output_tokens)), output_tokens)
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    if title:
        axes.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.04)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return Path(path)
