from helpers.exercises import synthetic as exercises


def test_solutions_pass(load_solution):
    solution = load_solution("08_synthetic_data")
    assert exercises.check_fusion(solution.fuse)
    assert exercises.check_extract_json(solution.extract)
    assert exercises.check_window(solution.window_ranks)


def test_wrong_and_missing_answers_are_explained(capsys):
    assert not exercises.check_fusion(...)
    assert "Not answered yet" in capsys.readouterr().out
    assert not exercises.check_fusion(lambda a, b: None)
    def stub(text):
        ...

    assert not exercises.check_extract_json(stub)
    assert "Not answered yet" in capsys.readouterr().out
    assert not exercises.check_extract_json(lambda text: {"a": "b"})
    assert "❌" in capsys.readouterr().out
    assert not exercises.check_extract_json(lambda text: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not exercises.check_window(lambda scores, low, high: list(range(low, high)))
    assert "71 items" in capsys.readouterr().out
