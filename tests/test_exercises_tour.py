import numpy as np

from helpers.exercises import tour


def test_solutions_pass(load_solution):
    solution = load_solution("00_tour")
    assert tour.check_cosine(solution.cosine)
    assert tour.check_top_k(solution.top_k)
    assert tour.check_most_similar(solution.most_similar)
    assert tour.check_holm(solution.holm_adjust)


def test_wrong_and_missing_answers_are_explained(capsys):
    assert not tour.check_cosine(lambda u, v: float(u @ v))
    assert "Divide" in capsys.readouterr().out
    assert not tour.check_top_k(lambda q, c, k: np.argsort(c @ q)[:k])
    assert not tour.check_cosine(...)
    assert "Not answered yet" in capsys.readouterr().out
    assert not tour.check_top_k(lambda q, c, k: None)  # the notebook's unanswered stub returns None
    assert "Not answered yet" in capsys.readouterr().out
    assert not tour.check_most_similar(lambda q, c: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_holm_check_names_the_usual_mistakes(capsys):
    def bonferroni(p):
        return [min(1.0, x * len(p)) for x in p]

    def no_running_maximum(p):
        order = np.argsort(p)
        out = np.empty(len(p))
        out[order] = np.minimum(1, (len(p) - np.arange(len(p))) * np.asarray(p)[order])
        return out

    def sorted_output(p):
        return np.maximum.accumulate((len(p) - np.arange(len(p))) * np.sort(p))

    for wrong, hint in ((bonferroni, "Bonferroni"), (no_running_maximum, "running maximum"),
                        (sorted_output, "wrong order"), (lambda p: p, "expected")):
        assert not tour.check_holm(wrong)
        assert hint in capsys.readouterr().out
