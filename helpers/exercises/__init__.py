"""Checks for the exercises at the end of each notebook: one module per notebook.

Each ``check_*`` function runs the learner's answer on real inputs, prints what is right or what is
wrong (with a hint), and returns ``True`` or ``False``; it never raises on a wrong or missing answer,
so a notebook with unsolved exercises still runs top to bottom. Solutions live in ``solutions/``.
"""

from __future__ import annotations


def report(ok: bool, message: str) -> bool:
    """Print a one-line verdict for the learner and return ``ok``."""
    print(("✅ " if ok else "❌ ") + message)
    return ok


def _unwritten(*args): ...


def not_done(answer) -> bool:
    """True (and a friendly note) when the learner has not written an answer yet: the answer, or what the
    learner's function returned, is ``None`` or ``...``, or the answer is a function whose body is still the
    exercise cell's ``...`` (its bytecode is that of an empty function)."""
    code = getattr(answer, "__code__", None)
    if answer is None or answer is Ellipsis or (code is not None and code.co_code == _unwritten.__code__.co_code):
        print("⏳ Not answered yet: replace the `...` with your answer and run the cell again.")
        return True
    return False


def call(function, *args) -> tuple[object, str | None]:
    """Run the learner's ``function(*args)``: ``(result, None)`` when it returns, ``(None, "raised Type: message")``
    when it fails. The learner's code may fail in any way; a check reports how and never raises, so the notebook
    still runs top to bottom. To guard more than one call (or the reading of the result), pass a ``lambda``."""
    try:
        return function(*args), None
    except Exception as error:  # any failure of the learner's code is a verdict, not a crash
        return None, f"raised {type(error).__name__}: {error}"


def convert(answer, to, kind: str) -> tuple[object, str | None]:
    """``(to(answer), None)``, or ``(None, message)`` when the answer is not ``kind`` (a number, a tensor...): a
    check says what to return instead of crashing on an answer of the wrong type."""
    value, error = call(to, answer)
    if error is None:
        return value, None
    shown = repr(answer) if len(repr(answer)) <= 40 else repr(answer)[:37] + "..."
    return None, f"Return {kind}, not a {type(answer).__name__} ({shown})."
