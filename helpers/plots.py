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


def leaderboard_plot(table: pd.DataFrame, title: str = "Offline mini-MTEB", ax=None):
    """Grouped horizontal bars: one group per model, one bar per task, the average drawn as a dot."""
    if "average" not in table.columns:
        raise ValueError("Pass the output of helpers.evaluate.leaderboard(...) (it has an 'average' column).")
    tasks = [column for column in table.columns if column != "average"]
    ordered = table.sort_values("average")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.9 * len(ordered) + 1.5))
    height = 0.8 / len(tasks)
    rows = np.arange(len(ordered))
    for k, task in enumerate(tasks):
        ax.barh(rows + (k - (len(tasks) - 1) / 2) * height, ordered[task], height=height, label=task)
    ax.scatter(ordered["average"], rows, color="black", zorder=3, label="average")
    ax.set_yticks(rows, ordered.index)
    ax.set_xlabel("main score (higher is better)")
    ax.set_xlim(0, 1)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.figure.tight_layout()
    return ax
