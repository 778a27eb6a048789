"""Solutions to the exercises of notebook 09."""

import torch
import torch.nn.functional as F


def format_query(task, text):
    return f"Instruct: {task}\nQuery: {text}"


def icl_query(task, text, examples):
    shots = [f"<instruct>{task}\n<query>{q}\n<response>{r}" for q, r in examples]
    return "\n\n".join([*shots, f"<instruct>{task}\n<query>{text}\n<response>"])


def info_nce(queries, docs, hard_negatives, temperature):
    candidates = F.normalize(torch.cat([docs, hard_negatives]), dim=-1)
    logits = F.normalize(queries, dim=-1) @ candidates.T / temperature
    return F.cross_entropy(logits, torch.arange(len(queries)))
