"""The total loss: alpha * (hard terms) + (1 - alpha) * (distillation terms), with every term logged.

Unlabelled items: the hard term (CTC) already averages over labelled items only, so per item it is
skipped where there is no transcript. A batch with no labelled item has a hard term of exactly 0 and its
total is (1 - alpha) * sum_i w_i * KD_i, *not* renormalised to sum_i w_i * KD_i: the distillation terms
keep the same coefficient in every batch, so their gradient scale does not jump by 1 / (1 - alpha)
(10x at alpha = 0.9) whenever a batch happens to hold only unlabelled audio. Lower alpha (or raise the
KD weights) in the recipe if unlabelled data should count for more.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data.dataset import Batch
from ..students.base import StudentOutput
from .base import Teachers, WeightedSum


@dataclass(frozen=True)
class MixConfig:
    """YAML ``losses.mix``: ``alpha`` in [0, 1] is the share of the hard (labelled) terms."""

    alpha: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")


class MixLoss(nn.Module):
    """total = alpha * sum_h w_h * hard_h + (1 - alpha) * sum_k w_k * KD_k.

    hard / distill: weighted sums of terms (see ``WeightedSum``); their modules (and learnable projections)
    are sub-modules, so ``mix.parameters()`` must join the optimiser and ``mix.to(device)`` the student's.
    ``forward`` returns the total (scalar tensor) and a dict of floats for logging: every term's unweighted
    value by name (nested ones as ``multi_teacher/<teacher>/<loss>``, extra figures such as
    ``sequence_kd/kept``), the weighted sums ``hard`` and ``distill``, and ``total``.
    """

    def __init__(self, hard: WeightedSum, distill: WeightedSum, alpha: float):
        super().__init__()
        self.hard = hard
        self.distill = distill
        self.alpha = float(alpha)

    def forward(self, student: StudentOutput, teacher: Teachers | None,
                batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        hard = self.hard.evaluate(student, teacher, batch)
        distill = self.distill.evaluate(student, teacher, batch)
        total = self.alpha * hard.value + (1.0 - self.alpha) * distill.value
        terms = {**hard.stats, **distill.stats, "hard": float(hard.value.detach()),
                 "distill": float(distill.value.detach()), "total": float(total.detach())}
        return total, terms
