from helpers.exercises import sbert


def test_solutions_pass(load_solution):
    solution = load_solution("03_sentence_bert")
    assert sbert.check_mean_pooling(solution.mean_pooling)
    assert sbert.check_adjacent_pairs(solution.adjacent_pairs)
    assert sbert.check_search_cost(solution.search_cost)


def test_wrong_and_missing_answers_fail(capsys):
    assert not sbert.check_mean_pooling(lambda hidden, mask: hidden.mean(1))
    assert "averages the padding" in capsys.readouterr().out
    assert not sbert.check_adjacent_pairs(lambda document: [])
    assert not sbert.check_search_cost((1_000_000, 1_001_000))
    assert not sbert.check_search_cost(...)
    assert "Not answered yet" in capsys.readouterr().out
