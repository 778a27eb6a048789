"""Checks for the exercises of notebook 03 (Sentence-BERT); solutions in ``solutions/03_sentence_bert.py``."""

from __future__ import annotations

import torch

from helpers.exercises import call, convert, not_done, report


def check_mean_pooling(mean_pooling) -> bool:
    """``mean_pooling(hidden, mask)`` must average the real tokens only, on left- and right-padded rows."""
    if not_done(mean_pooling):
        return False
    from helpers.pooling import mean_pool

    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 5, 8, generator=generator)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 0, 1, 1, 1]])
    answer, error = call(mean_pooling, hidden, mask)
    if error:
        return report(False, f"mean_pooling {error}")
    if not_done(answer):
        return False
    answer, problem = convert(answer, torch.as_tensor, "a tensor")
    if problem:
        return report(False, problem)
    if answer.shape != (3, 8):
        return report(False, f"Expected shape (3, 8), one vector per text; got {tuple(answer.shape)}.")
    if torch.allclose(answer, mean_pool(hidden, mask), atol=1e-5):
        return report(True, "Right, padding excluded on either side.")
    if torch.allclose(answer, hidden.mean(1), atol=1e-5):
        return report(False, "That averages the padding too: weight each token by the mask, divide by mask.sum().")
    return report(False, "Not equal to the mask-aware mean: sum(hidden * mask) / sum(mask) over the tokens axis.")


def check_adjacent_pairs(adjacent_pairs) -> bool:
    """``adjacent_pairs(document)`` must equal :func:`helpers.sbert.adjacent_sentence_pairs` on real documents."""
    if not_done(adjacent_pairs):
        return False
    from helpers.data import training_background
    from helpers.sbert import adjacent_sentence_pairs

    documents = training_background()[:5]
    answers, error = call(lambda: [adjacent_pairs(document) for document in documents])
    if error:
        return report(False, f"adjacent_pairs {error}")
    if not_done(answers[0]):
        return False
    for document, answer in zip(documents, answers, strict=True):
        expected = adjacent_sentence_pairs([document])
        answer = [tuple(pair) for pair in answer]
        if answer != expected:
            return report(False, f"A document gives {len(expected)} pairs, you return {len(answer)}; drop the "
                                 "sentences under 6 words first, then pair each with the next one kept.")
    return report(True, f"Right: {sum(len(adjacent_sentence_pairs([d])) for d in documents)} pairs from 5 documents.")


def check_search_cost(search_cost) -> bool:
    """``(cross, bi)`` forward passes for 1,000 queries against 1,000,000 documents."""
    if not_done(search_cost):
        return False
    try:  # not the learner's code but the shape of their answer, which gets its own hint
        cross, bi = search_cost
    except (TypeError, ValueError):
        return report(False, "Give a pair: (cross-encoder passes, bi-encoder passes).")
    if cross != 1_000 * 1_000_000:
        return report(False, "A cross-encoder reads every (query, document) pair once: queries times documents.")
    if bi != 1_000 + 1_000_000:
        return report(False, "A bi-encoder encodes each text once: queries plus documents.")
    return report(True, f"Right: {cross:,} against {bi:,}, about {cross // bi:,} times fewer for the bi-encoder.")
