from helpers.exercises import call, tour


def _fails(*args):
    raise ValueError("bad input")


def test_call_returns_the_result_or_how_the_function_failed():
    assert call(lambda a, b: a + b, 2, 3) == (5, None)
    assert call(_fails, 1) == (None, "raised ValueError: bad input")


def test_a_check_reports_a_failing_function_instead_of_raising(capsys):
    assert tour.check_cosine(_fails) is False
    assert capsys.readouterr().out == "❌ cosine(u, v) raised ValueError: bad input\n"
