"""matplotlib figures: attention heatmaps, learning curves, bar charts. Files only, no screen."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)


def use_distinct_colors(axes, lines: int) -> None:
    """Beyond matplotlib's 10 default colors, lines would share one: take them from tab20 instead."""
    if lines > 10:
        axes.set_prop_cycle(color=[plt.get_cmap("tab20")(i % 20) for i in range(lines)])


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


def plot_gradient_curves(curves_by_label: dict, path: Path, band: bool = False, relative: bool = False) -> Path:
    """Gradient norm against distance k (log scale), a panel per part (decoder, encoder), a line per label.

    curves: part, k, geometric_mean, p25, p75, relative (gradients.summarize):
    the geometric mean over sentences with `band` shading the 25-75 % range;
    with `relative`, each sentence's norm over its own at k = 0 (geometric
    mean), so that models of different scales compare by their decay.
    """
    parts = [p for p in ("decoder", "encoder") if any((c["part"] == p).any() for c in curves_by_label.values())]
    figure, axes = plt.subplots(1, len(parts), figsize=(5.5 * len(parts), 4), squeeze=False)
    for panel, part in zip(axes[0], parts):
        use_distinct_colors(panel, len(curves_by_label))
        for label, curves in curves_by_label.items():
            curve = curves[curves["part"] == part].sort_values("k")
            line, = panel.plot(curve["k"], curve["relative" if relative else "geometric_mean"], marker=".",
                               label=label)
            if band:
                panel.fill_between(curve["k"], curve["p25"], curve["p75"], alpha=0.2, color=line.get_color(),
                                   label="25-75 % of sentences")
        panel.set_yscale("log")
        panel.set_title(f"{part} states", fontsize=10)
        panel.set_xlabel("k: steps back from the last " + ("target step" if part == "decoder" else "encoder step"))
        panel.set_ylabel("gradient norm, " + ("relative to k = 0" if relative else "geometric mean"))
        panel.legend(fontsize=7)
    figure.suptitle("gradient of the last target step's loss through time", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)


def plot_gate_histograms(histograms, path: Path) -> Path:
    """A histogram per (layer, gate): rows are layers, columns gates; the saturated ends shaded."""
    layers, gates = list(dict.fromkeys(histograms["layer"])), list(dict.fromkeys(histograms["gate"]))
    figure, axes = plt.subplots(len(layers), len(gates), figsize=(3.2 * len(gates), 2.2 * len(layers)),
                                squeeze=False, sharex=True)
    for row, layer in enumerate(layers):
        for column, gate in enumerate(gates):
            panel = axes[row][column]
            bins = histograms[(histograms["layer"] == layer) & (histograms["gate"] == gate)]
            panel.bar(bins["bin_start"], bins["share"], width=bins["bin_end"] - bins["bin_start"], align="edge")
            panel.axvspan(0, 0.05, color="grey", alpha=0.15)
            panel.axvspan(0.95, 1, color="grey", alpha=0.15)
            panel.set_title(f"{layer}: {gate}", fontsize=9)
            if row == len(layers) - 1:
                panel.set_xlabel("activation")
    figure.suptitle("gate activations over real tokens (shaded: saturated, < 0.05 or > 0.95)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)


def plot_alignment_statistics(steps, words, path: Path) -> Path:
    """Two histograms: the coverage each source word received (under- and over-translation marked) and the
    normalized entropy of each output step's attention."""
    from translator.inspection.alignment import OVER_COVERAGE, UNDER_COVERAGE

    figure, (coverage, entropy) = plt.subplots(1, 2, figsize=(11, 4))
    coverage.hist(words["coverage"], bins=40)
    coverage.axvline(UNDER_COVERAGE, color="red", linestyle="--", label=f"under-translated (< {UNDER_COVERAGE:g})")
    coverage.axvline(OVER_COVERAGE, color="purple", linestyle="--", label=f"over-translated (> {OVER_COVERAGE:g})")
    coverage.set_xlabel("coverage: attention a source word received over all output steps")
    coverage.set_ylabel("source words")
    coverage.legend(fontsize=8)
    entropy.hist(steps["normalized_entropy"], bins=40, range=(0, 1))
    entropy.set_xlabel("entropy of a step's attention / ln(source tokens)  (0: one token, 1: spread evenly)")
    entropy.set_ylabel("output steps")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)
