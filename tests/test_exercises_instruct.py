from helpers.exercises import instruct as exercises
from helpers.losses import info_nce


def test_solutions_pass(load_solution):
    solution = load_solution("09_instruction_tuned_embedder")
    assert exercises.check_format_query(solution.format_query)
    assert exercises.check_icl_query(solution.icl_query)
    assert exercises.check_info_nce(solution.info_nce)


def test_wrong_and_missing_answers_are_explained(capsys):
    assert not exercises.check_format_query(...)
    assert "Not answered yet" in capsys.readouterr().out
    assert not exercises.check_format_query(lambda task, text: f"Instruct: {task} Query: {text}")
    assert not exercises.check_icl_query(lambda task, text, examples: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not exercises.check_info_nce(lambda q, d, n, t: info_nce(q, d, temperature=t))
    assert "ignores the hard negatives" in capsys.readouterr().out
