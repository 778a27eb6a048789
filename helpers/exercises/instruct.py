"""Checks for the exercises of notebook 09 (an instruction-tuned LLM embedder)."""

from __future__ import annotations

import torch

from helpers import instruct
from helpers.exercises import call, convert, not_done, report
from helpers.losses import info_nce


def check_format_query(format_query) -> bool:
    """``format_query(task, text)`` must write E5-mistral's ``Instruct: {task}\\nQuery: {text}``."""
    if not_done(format_query):
        return False
    for task, text in [("Retrieve news about floods", "Queensland rain"), ("Classify the sentiment", "Great film!")]:
        got, error = call(format_query, task, text)
        if error:
            return report(False, f"format_query {error}")
        if not_done(got):
            return False
        expected = instruct.format_query(task, text)
        if got != expected:
            return report(False, f"Got {got!r}, expected {expected!r}: mind the newline and the spaces.")
    return report(True, "That is E5-mistral's query format; documents stay plain.")


def check_icl_query(icl_query) -> bool:
    """``icl_query(task, text, examples)`` must write BGE-EN-ICL's query with in-context examples."""
    if not_done(icl_query):
        return False
    cases = [("Find news", "floods", []), ("Find news", "floods", [("rain", "It rained.")]),
             ("Find news", "fires", [("rain", "It rained."), ("snow", "It snowed.")])]
    for task, text, examples in cases:
        got, error = call(icl_query, task, text, examples)
        if error:
            return report(False, f"icl_query {error}")
        if not_done(got):
            return False
        expected = instruct.icl_query(task, text, examples)
        if got != expected:
            return report(False, f"With {len(examples)} example(s) got {got!r}, expected {expected!r}.")
    return report(True, "Your queries carry their examples the way BGE-EN-ICL writes them.")


def check_info_nce(loss_function) -> bool:
    """``loss_function(queries, docs, hard_negatives, temperature)`` must equal InfoNCE with hard negatives."""
    if not_done(loss_function):
        return False
    torch.manual_seed(0)
    queries, docs, negatives = torch.randn(6, 16), torch.randn(6, 16), torch.randn(6, 16)
    expected = info_nce(queries, docs, temperature=0.05, hard_negatives=negatives)
    got, error = call(loss_function, queries, docs, negatives, 0.05)
    if error:
        return report(False, f"loss_function {error}")
    if not_done(got):
        return False
    got, problem = convert(got, lambda value: torch.as_tensor(value).float(), "a tensor (the loss)")
    if problem:
        return report(False, problem)
    without = info_nce(queries, docs, temperature=0.05)
    if torch.allclose(got, without, atol=1e-5):
        return report(False, "That ignores the hard negatives: add them as extra columns of candidates.")
    if not torch.allclose(got, expected, atol=1e-5):
        return report(False, f"Got {got.item():.4f}, expected {expected.item():.4f}: cosine similarities of "
                             "normalised vectors over [docs; hard negatives], divided by the temperature, "
                             "cross-entropy with target i for query i.")
    return report(True, "InfoNCE with in-batch and hard negatives: the loss every model in this notebook trains on.")
