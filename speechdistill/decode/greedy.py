"""Greedy (best-path) CTC decoding, shared by teacher training, distillation and benchmarks."""

from __future__ import annotations

import torch

from ..text import Vocabulary


def greedy_ids(log_probs: torch.Tensor, lengths: torch.Tensor | None = None, blank_id: int = 0) -> list[list[int]]:
    """Best-path label ids per item: argmax per frame, repeats collapsed, blanks removed.

    log_probs: (batch, frames, vocab) scores (log-probs or logits); lengths: (batch,) valid frames.
    """
    best = log_probs.argmax(dim=-1).cpu()
    if lengths is None:
        lengths = torch.full((best.shape[0],), best.shape[1], dtype=torch.long)
    out = []
    for row, n in zip(best, lengths.tolist()):
        row = torch.unique_consecutive(row[: int(n)])
        out.append([int(i) for i in row if int(i) != blank_id])
    return out


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor | None, vocab: Vocabulary) -> list[str]:
    """Best-path transcripts for a batch of CTC outputs in ``vocab``'s labels."""
    return [vocab.decode(ids) for ids in greedy_ids(log_probs, lengths, vocab.blank_id)]
