"""Hidden-state distillation: projected student layers regress mapped teacher layers (DistilHuBERT-style).

The layer map (student layer -> teacher layer) and one learnable linear projection per mapped pair
(student dim -> teacher dim) belong to this loss, so its parameters must go to the optimiser with the
student's. Teacher states are resampled over time to the student's frame count per item (linear
interpolation over each item's real frames, ``align_corners=False``: for a 2x rate gap each student frame
is the mean of the two teacher frames it covers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..data.dataset import Batch
from ..students.base import StudentOutput
from .base import (
    ItemLoss,
    ItemwiseLoss,
    LossContext,
    Teachers,
    check_weight,
    frozen,
    lengths_mask,
    select_teacher,
)

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class FeatureConfig:
    """YAML ``losses.feature``.

    layers: student layer -> teacher layer (hidden-state indices: 0 = input to the first block, i = after block i).
    distance: ``l1_cosine`` = mean |s - t| - cosine_weight * log sigmoid(cos(s, t)) (DistilHuBERT), or ``mse``.
    student_dim / teacher_dim: projection sizes; null takes them from the build context (the loaded models).
    """

    layers: dict[int, int]
    weight: float = 1.0
    teacher: str | None = None
    distance: Literal["l1_cosine", "mse"] = "l1_cosine"
    cosine_weight: float = 1.0
    student_dim: int | None = None
    teacher_dim: int | None = None

    def __post_init__(self) -> None:
        check_weight("weight", self.weight)
        check_weight("cosine_weight", self.cosine_weight)
        if not self.layers:
            raise ValueError("layers: map at least one student layer to a teacher layer")
        # keys arrive as strings from command-line overrides
        object.__setattr__(self, "layers", {int(s): int(t) for s, t in self.layers.items()})


def l1_cosine(cosine_weight: float) -> Distance:
    """Per-frame mean |s - t| - cosine_weight * log sigmoid(cos(s, t)) over (B, T, D) -> (B, T)."""
    def distance(s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (s - t).abs().mean(-1) - cosine_weight * F.logsigmoid(F.cosine_similarity(s, t, dim=-1))
    return distance


def mse(cosine_weight: float) -> Distance:
    """Per-frame mean (s - t)**2 over (B, T, D) -> (B, T); ``cosine_weight`` is unused."""
    def distance(s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (s - t).pow(2).mean(-1)
    return distance


DISTANCES: dict[str, Callable[[float], Distance]] = {"l1_cosine": l1_cosine, "mse": mse}


def resample_time(x: torch.Tensor, lengths: torch.Tensor, target_lengths: torch.Tensor,
                  num_frames: int) -> torch.Tensor:
    """(B, T, D) -> (B, num_frames, D): each item's first ``lengths[i]`` frames linearly resampled to
    ``target_lengths[i]`` frames; the rest (and items with no frames on either side) are zero."""
    out = x.new_zeros(x.shape[0], num_frames, x.shape[-1])
    for i, (n_in, n_out) in enumerate(zip(lengths.tolist(), target_lengths.tolist())):
        n_out = min(n_out, num_frames)
        if n_in == 0 or n_out == 0:
            continue
        item = x[i, :n_in].T[None]  # (1, D, n_in): interpolate runs over the last axis
        out[i, :n_out] = F.interpolate(item, size=n_out, mode="linear", align_corners=False)[0].T
    return out


class FeatureLoss(ItemwiseLoss):
    """Distance between projected student and time-aligned teacher hidden states, per student frame.

    student.hidden_states[s]: (B, T, D_student); teacher.hidden_states[t]: (B, T_teacher, D_teacher).
    Per frame the distance is averaged over the mapped layers; the loss is the mean over real student
    frames (items whose teacher has no frames count none). Units: those of the distance (mean absolute
    difference plus nats for ``l1_cosine``, squared difference for ``mse``).
    """

    def __init__(self, config: FeatureConfig, student_dim: int, teacher_dim: int):
        super().__init__()
        self.config = config
        self.projections = nn.ModuleDict({str(s): nn.Linear(student_dim, teacher_dim) for s in config.layers})
        self.distance = DISTANCES[config.distance](config.cosine_weight)

    def item_losses(self, student: StudentOutput, teacher: Teachers | None, batch: Batch) -> ItemLoss:
        t_out = select_teacher(teacher, self.config.teacher)
        s_len = student.lengths.to(student.logits.device)
        t_len = t_out.lengths.to(s_len.device)
        num_frames = student.logits.shape[1]
        per_frame = 0.0
        for s_layer, t_layer in self.config.layers.items():
            s_hidden = _layer(student.hidden_states, s_layer, "student")[:, :num_frames]
            t_hidden = frozen(_layer(t_out.hidden_states, t_layer, "teacher")).to(s_hidden.device)
            target = resample_time(t_hidden, t_len, s_len, s_hidden.shape[1])
            per_frame = per_frame + self.distance(self.projections[str(s_layer)](s_hidden.float()), target)
        per_frame = per_frame / len(self.config.layers)
        valid = lengths_mask(s_len, per_frame.shape[1]) & (t_len > 0)[:, None]
        per_frame = torch.where(valid, per_frame, torch.zeros_like(per_frame))
        return ItemLoss(per_frame.sum(1), valid.sum(1).float())

    @classmethod
    def build(cls, config: FeatureConfig, context: LossContext) -> FeatureLoss:
        """The loss for a ``losses.feature`` section; projection sizes from the config, else the context."""
        student_dim = config.student_dim or context.student_dim
        teacher_dim = config.teacher_dim or _context_teacher_dim(context, config.teacher or context.teacher)
        if student_dim is None or teacher_dim is None:
            raise ValueError("feature loss: projection sizes unknown; set student_dim and teacher_dim in its "
                             "section or pass them in the LossContext")
        return cls(config, student_dim, teacher_dim)


def _layer(states: Mapping[int, torch.Tensor], layer: int, side: str) -> torch.Tensor:
    if layer not in states:
        raise KeyError(f"{side} hidden states lack layer {layer} (have {sorted(states)}); ask the {side} for it")
    return states[layer]


def _context_teacher_dim(context: LossContext, name: str | None) -> int | None:
    if name is not None:
        return context.teacher_dims.get(name)
    dims = list(context.teacher_dims.values())
    return dims[0] if len(dims) == 1 else None
