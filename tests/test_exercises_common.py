import numpy as np
import pytest

from helpers.exercises import call, tour


def _fails(*args):
    raise ValueError("bad input")


def test_call_returns_the_result_or_how_the_function_failed():
    assert call(lambda a, b: a + b, 2, 3) == (5, None)
    assert call(_fails, 1) == (None, "raised ValueError: bad input")


def test_a_check_reports_a_failing_function_instead_of_raising(capsys):
    assert tour.check_cosine(_fails) is False
    assert capsys.readouterr().out == "❌ cosine(u, v) raised ValueError: bad input\n"


def _checks():
    import importlib
    import inspect
    import pkgutil

    import helpers.exercises

    for module in pkgutil.iter_modules(helpers.exercises.__path__):
        checks = importlib.import_module(f"helpers.exercises.{module.name}")
        for name, check in inspect.getmembers(checks, inspect.isfunction):
            if name.startswith("check_") and check.__module__ == checks.__name__:
                yield f"{module.name}.{name}", check


def _extra_arguments(name: str) -> tuple:
    if name == "word2vec.check_analogy":  # it also takes the word vectors to solve with
        from helpers.word_vectors import WordVectors

        words = [f"word{k}" for k in range(80)]
        return (WordVectors(words, np.random.default_rng(0).normal(size=(80, 8))),)
    return ()


WRONG_ANSWERS = {"returns a string": lambda *args, **kwargs: "oops", "raises": _fails, "is not a function": 42}


@pytest.mark.parametrize("answer", list(WRONG_ANSWERS))
@pytest.mark.parametrize(("name", "check"), list(_checks()), ids=[name for name, _ in _checks()])
def test_every_check_reports_a_wrong_answer_and_never_raises(name, check, answer, capsys):
    assert check(WRONG_ANSWERS[answer], *_extra_arguments(name)) is False
    assert "❌" in capsys.readouterr().out


def _unanswered_stub(*args):
    ...  # your code


@pytest.mark.parametrize("answer", [..., None, _unanswered_stub], ids=["ellipsis", "none", "function stub"])
@pytest.mark.parametrize(("name", "check"), list(_checks()), ids=[name for name, _ in _checks()])
def test_every_check_says_an_unwritten_answer_is_not_answered_yet(name, check, answer, capsys):
    assert check(answer, *_extra_arguments(name)) is False
    assert capsys.readouterr().out.startswith("⏳ Not answered yet")
