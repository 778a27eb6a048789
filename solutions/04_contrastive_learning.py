"""Solutions to the exercises of notebook 04 (contrastive learning)."""

import torch
import torch.nn.functional as F


def my_info_nce(queries, docs, temperature=0.05):
    """InfoNCE with in-batch negatives: cosine matrix / temperature, cross-entropy against the diagonal."""
    logits = F.normalize(queries, dim=-1) @ F.normalize(docs, dim=-1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(queries)))


def my_uniformity(x, t=2.0):
    """Wang & Isola's uniformity: log of the mean Gaussian potential over distinct pairs."""
    x = F.normalize(x, dim=-1)
    i, j = torch.triu_indices(len(x), len(x), offset=1)
    distance_squared = (x[i] - x[j]).pow(2).sum(-1)
    return distance_squared.mul(-t).exp().mean().log()


def my_mask(doc_ids):
    """True where column j holds the same document as row i's positive, j != i."""
    same = doc_ids[None, :] == doc_ids[:, None]
    return same & ~torch.eye(len(doc_ids), dtype=torch.bool)
