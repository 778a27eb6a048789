"""Solutions to the exercises of notebook 03 (Sentence-BERT)."""

from helpers.data import split_sentences


def mean_pooling(hidden, mask):
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1)


def adjacent_pairs(document):
    sentences = [s for s in split_sentences(document) if len(s.split()) >= 6]
    return list(zip(sentences, sentences[1:], strict=False))


search_cost = (1_000 * 1_000_000, 1_000 + 1_000_000)
