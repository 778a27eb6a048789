import matplotlib

matplotlib.use("Agg")
import io

import numpy as np
import pandas as pd
import pytest

from helpers import plots


def test_similarity_heatmap_draws_every_cell():
    ax = plots.similarity_heatmap(np.eye(3), ["a", "b", "c"])
    assert len(ax.texts) == 9


def test_similarity_heatmap_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="one label per row"):
        plots.similarity_heatmap(np.eye(3), ["a", "b"])


def test_leaderboard_plot_draws_one_bar_per_model_and_task():
    table = pd.DataFrame({"T1": [0.5, 0.6], "T2": [0.4, 0.7], "average": [0.45, 0.65], "average_low": [0.4, 0.6],
                          "average_high": [0.5, 0.7]}, index=["m1", "m2"])
    ax = plots.leaderboard_plot(table)
    assert len(ax.patches) == 4
    with pytest.raises(ValueError, match="scoreboard"):
        plots.leaderboard_plot(table.drop(columns="average_low"))


def test_comparison_plot_colours_measured_differences():
    comparison = pd.DataFrame({"difference": [0.1, -0.1, 0.0], "ci_low": [0.05, -0.2, -0.1],
                               "ci_high": [0.15, -0.01, 0.1]}, index=["T1", "T2", "average"])
    ax = plots.comparison_plot(comparison)
    colors = [tuple(c) for c in ax.collections[-1].get_facecolors()]
    assert len(colors) == 3 and len(set(colors)) == 3  # above 0, below 0, crossing 0
    ax.figure.savefig(io.BytesIO(), format="png")  # colours are only checked when the figure is drawn
    with pytest.raises(ValueError, match="compare"):
        plots.comparison_plot(comparison.drop(columns="ci_low"))
