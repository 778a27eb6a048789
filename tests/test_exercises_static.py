import numpy as np

from helpers.exercises import static


def test_solutions_pass(load_solution):
    solution = load_solution("12_static_embeddings")
    assert static.check_sif_weights(solution.sif_weights)
    assert static.check_embed_bags(solution.embed_bags)


def test_wrong_and_missing_answers_are_explained(capsys):
    def ranks_from_one(n, coefficient):
        rank = np.arange(1, n + 1)
        return coefficient / (coefficient + (1 / rank) / (1 / rank).sum())

    assert not static.check_sif_weights(ranks_from_one)
    assert "start at 2" in capsys.readouterr().out
    assert not static.check_sif_weights(lambda n, coefficient: np.ones(n))
    assert "is off" in capsys.readouterr().out

    def means_only(ids, offsets, table):
        ends = [*offsets[1:], len(ids)]
        return np.stack([table[ids[start:end]].mean(0) for start, end in zip(offsets, ends, strict=True)])

    assert not static.check_embed_bags(means_only)
    assert "divide each by its length" in capsys.readouterr().out
    assert not static.check_embed_bags(lambda ids, offsets, table: table[ids[offsets[:-1]]])
    assert "last bag" in capsys.readouterr().out
    assert not static.check_embed_bags(lambda ids, offsets, table: None)  # the unanswered stub returns None
    assert "Not answered yet" in capsys.readouterr().out
