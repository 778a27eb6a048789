"""Plots the course uses in more than one notebook."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def similarity_heatmap(matrix: np.ndarray, labels: list[str], title: str = "Cosine similarity", ax=None):
    """A labelled heatmap of a square similarity matrix, values printed in the cells."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or len(labels) != matrix.shape[0]:
        raise ValueError(f"Need a square matrix and one label per row; got {matrix.shape} and {len(labels)} labels.")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * len(labels) + 3, 0.9 * len(labels) + 1.5))
    image = ax.imshow(matrix, cmap="viridis", vmin=min(0.0, matrix.min()), vmax=1.0)
    short = [label if len(label) <= 40 else label[:37] + "..." for label in labels]
    ax.set_xticks(range(len(labels)), short, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), short)
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="white" if value < 0.6 else "black", fontsize=8)
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, fraction=0.046)
    ax.figure.tight_layout()
    return ax


def leaderboard_plot(table: pd.DataFrame, title: str = "Offline mini-MTEB (test split)", ax=None):
    """Grouped horizontal bars: one group per model, one bar per task, the average drawn as a dot with its
    95% interval. ``table`` is :func:`helpers.evaluate.scoreboard`'s output."""
    if not {"average", "average_low", "average_high"} <= set(table.columns):
        raise ValueError("Pass the output of helpers.evaluate.scoreboard(...) (it has the average and its interval).")
    tasks = [column for column in table.columns if not column.startswith("average")]
    ordered = table.sort_values("average")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 1.2 * len(ordered) + 1.5))
    height = 0.8 / len(tasks)
    rows = np.arange(len(ordered))
    for k, task in enumerate(tasks):
        ax.barh(rows + (k - (len(tasks) - 1) / 2) * height, ordered[task], height=height, label=task, alpha=0.8)
    errors = [ordered["average"] - ordered["average_low"], ordered["average_high"] - ordered["average"]]
    ax.errorbar(ordered["average"], rows, xerr=errors, fmt="o", color="black", capsize=4, zorder=3,
                label="average (95% CI)")
    ax.set_yticks(rows, ordered.index)
    ax.set_xlabel("main score (higher is better)")
    ax.set_xlim(0, 1)
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    ax.figure.tight_layout()
    return ax


def comparison_plot(comparison: pd.DataFrame, title: str | None = None, ax=None):
    """The differences of :func:`helpers.evaluate.compare` with their 95% paired intervals, one row per task
    and the average last: an interval that does not cross 0 is a measured difference."""
    if not {"difference", "ci_low", "ci_high"} <= set(comparison.columns):
        raise ValueError("Pass the output of helpers.evaluate.compare(a, b).")
    frame = comparison.iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.4 * len(frame) + 1.5))
    rows = np.arange(len(frame))
    colors = ["tab:green" if low > 0 else "tab:red" if high < 0 else "gray"
              for low, high in zip(frame["ci_low"], frame["ci_high"], strict=True)]
    for row, (difference, low, high, color) in enumerate(zip(frame["difference"], frame["ci_low"], frame["ci_high"],
                                                              colors, strict=True)):
        # one call per row: errorbar takes a single colour
        ax.errorbar(difference, row, xerr=[[difference - low], [high - difference]], fmt="none", ecolor=color,
                    capsize=4)
    ax.scatter(frame["difference"], rows, color=colors, zorder=3)
    ax.axvline(0, color="black", linewidth=1)
    ax.set_yticks(rows, list(frame.index))
    a, b = comparison.attrs.get("model_a", "A"), comparison.attrs.get("model_b", "B")
    ax.set_xlabel(f"{a}  minus  {b}  (95% paired bootstrap interval)")
    ax.set_title(title or f"{a} vs {b}")
    ax.figure.tight_layout()
    return ax
