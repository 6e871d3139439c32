"""Optimiser and learning-rate schedule: AdamW with linear warm-up then cosine decay."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def build_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW; biases and norm weights (1-D parameters) are not decayed.

    A parameter carrying an ``lr_scale`` attribute (e.g. pretrained layers being fine-tuned under a new head)
    learns at ``lr * lr_scale``; the schedule scales every group alike.
    """
    groups: dict[tuple[bool, float], list[torch.nn.Parameter]] = {}
    for param in model.parameters():
        if param.requires_grad:
            groups.setdefault((param.ndim >= 2, float(getattr(param, "lr_scale", 1.0))), []).append(param)
    ordered = sorted(groups.items(), key=lambda item: (-item[0][1], not item[0][0]))
    param_groups = [{"params": params, "weight_decay": weight_decay if decayed else 0.0, "lr": lr * scale}
                    for (decayed, scale), params in ordered]
    return torch.optim.AdamW(param_groups, lr=lr, betas=(0.9, 0.98), eps=1e-8)


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_updates: int, total_updates: int,
                  final_lr_fraction: float = 0.05,
                  time_fraction: Callable[[], float] | None = None) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_updates``, cosine decay to ``final_lr_fraction`` at ``total_updates``.

    ``time_fraction`` (a time-boxed run): the share of the time box used so far, in [0, 1]; the decay then
    follows whichever of updates and time is further along, so the schedule ends by the end of the box."""

    def factor(update: int) -> float:
        if update < warmup_updates:
            return (update + 1) / max(1, warmup_updates)
        progress = min(1.0, (update - warmup_updates) / max(1, total_updates - warmup_updates))
        if time_fraction is not None:
            progress = max(progress, min(1.0, time_fraction()))
        return final_lr_fraction + (1 - final_lr_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
