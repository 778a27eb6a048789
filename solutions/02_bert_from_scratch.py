"""Solutions to the exercises of notebook 02 (BERT from scratch)."""

import torch


def attention(q, k, v, mask):
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    scores = scores.masked_fill(mask[:, None, None, :] == 0, float("-inf"))
    return scores.softmax(dim=-1) @ v


def parameter_count(config):
    hidden, inner = config.hidden_size, config.intermediate_size
    embeddings = (config.vocab_size + config.max_positions + config.type_vocab_size) * hidden + 2 * hidden
    attention = 4 * (hidden * hidden + hidden)
    feed_forward = hidden * inner + inner + inner * hidden + hidden
    norms = 2 * 2 * hidden
    return embeddings + config.num_layers * (attention + feed_forward + norms)


def choose_positions(special_mask, generator):
    return (torch.rand(special_mask.shape, generator=generator) < 0.15) & ~special_mask
