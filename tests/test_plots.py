import matplotlib

matplotlib.use("Agg")
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
    table = pd.DataFrame({"T1": [0.5, 0.6], "T2": [0.4, 0.7], "average": [0.45, 0.65]}, index=["m1", "m2"])
    ax = plots.leaderboard_plot(table)
    assert len(ax.patches) == 4
    with pytest.raises(ValueError, match="average"):
        plots.leaderboard_plot(table.drop(columns="average"))
