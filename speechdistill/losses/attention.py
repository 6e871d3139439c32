"""Attention-map distillation: KL between teacher and student self-attention distributions (TinyBERT/MiniLM style).

Layers are numbered from 1 on both sides: student ``attentions[i]`` is block i's map, teacher layer i is
``teacher.attentions[i - 1]`` (Hugging Face returns one map per layer, first layer first), matching the
hidden-state numbering where i = after block i.

Each item's teacher map is cut to its real frames (T_t x T_t), resampled to the student's real frames
(T_s x T_s) by adaptive average pooling over queries and keys, and each row renormalised to sum to 1. The
student map is cut to its real frames and renormalised the same way, so padded keys carry no probability
on either side (a teacher without a key padding mask, like Whisper's encoder over its 30 s window, spends
some mass on padding; cutting then renormalising removes it) and padded query rows are never read.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data.dataset import Batch
from ..students.base import StudentOutput
from .base import (
    ItemLoss,
    ItemwiseLoss,
    LossContext,
    Teachers,
    check_weight,
    frozen,
    graph_zero,
    select_teacher,
)


@dataclass(frozen=True)
class AttentionConfig:
    """YAML ``losses.attention``.

    layers: student layer -> teacher layer (both from 1). average_heads: compare head-averaged maps even
    when both sides have the same number of heads (they are always averaged when the counts differ).
    eps: floor for row sums and student probabilities (keeps log finite).
    """

    layers: dict[int, int]
    weight: float = 1.0
    teacher: str | None = None
    average_heads: bool = False
    eps: float = 1e-8

    def __post_init__(self) -> None:
        check_weight("weight", self.weight)
        if not self.layers:
            raise ValueError("layers: map at least one student layer to a teacher layer")
        object.__setattr__(self, "layers", {int(s): int(t) for s, t in self.layers.items()})


def resample_attention(att: torch.Tensor, size: int, eps: float) -> torch.Tensor:
    """(H, T, T) attention rows -> (H, size, size) by adaptive average pooling, rows renormalised to 1."""
    pooled = F.adaptive_avg_pool2d(att, (size, size)) if att.shape[-1] != size else att
    return pooled / pooled.sum(-1, keepdim=True).clamp_min(eps)


def attention_kl(p: torch.Tensor, q: torch.Tensor, eps: float) -> torch.Tensor:
    """(..., T, T) row distributions -> (..., T) KL(p || q) per query row in nats; p = 0 terms are 0."""
    return (torch.special.xlogy(p, p) - p * q.clamp_min(eps).log()).sum(-1)


class AttentionLoss(ItemwiseLoss):
    """KL(teacher || student) between attention rows, averaged over heads and mapped layers.

    student.attentions[s]: (B, H_s, T, T); teacher.attentions[t - 1]: (B, H_t, T_t, T_t). Heads are
    compared one to one when H_s == H_t (and ``average_heads`` is off), else both sides are head-averaged.
    Per item: sum over real student query rows of the row KL (mean over heads, then over layers); the loss
    is the mean over real student query rows in the batch. Units: nats per query frame.
    """

    def __init__(self, config: AttentionConfig):
        super().__init__()
        self.config = config

    def item_losses(self, student: StudentOutput, teacher: Teachers | None, batch: Batch) -> ItemLoss:
        t_out = select_teacher(teacher, self.config.teacher)
        if t_out.attentions is None:
            raise ValueError("attention loss: the teacher returned no attention maps; run it with attentions=True")
        s_len, t_len = student.lengths.tolist(), t_out.lengths.tolist()
        totals = [graph_zero(student) for _ in s_len]
        for s_layer, t_layer in self.config.layers.items():
            s_att, t_att = self._maps(student, t_out, s_layer, t_layer)
            for i, (ls, lt) in enumerate(zip(s_len, t_len)):
                if ls and lt:
                    totals[i] = totals[i] + self._item_kl(s_att[i], t_att[i], ls, lt) / len(self.config.layers)
        device = student.logits.device
        count = torch.tensor([float(ls if lt else 0) for ls, lt in zip(s_len, t_len)], device=device)
        return ItemLoss(torch.stack(totals), count)

    def _maps(self, student: StudentOutput, t_out, s_layer: int, t_layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        if s_layer not in student.attentions:
            raise KeyError(f"student attentions lack layer {s_layer} (have {sorted(student.attentions)})")
        if not 1 <= t_layer <= len(t_out.attentions):
            raise KeyError(f"teacher layer {t_layer} out of range: the teacher returned {len(t_out.attentions)} maps "
                           "(layers 1..N)")
        s_att = student.attentions[s_layer].float()
        return s_att, frozen(t_out.attentions[t_layer - 1]).to(s_att.device)

    def _item_kl(self, s_att: torch.Tensor, t_att: torch.Tensor, ls: int, lt: int) -> torch.Tensor:
        """Summed row KL for one item: s_att (H_s, T, T), t_att (H_t, T_t, T_t)."""
        eps = self.config.eps
        p = resample_attention(t_att[:, :lt, :lt], ls, eps)
        q = s_att[:, :ls, :ls]
        q = q / q.sum(-1, keepdim=True).clamp_min(eps)
        if self.config.average_heads or p.shape[0] != q.shape[0]:
            p, q = p.mean(0, keepdim=True), q.mean(0, keepdim=True)
        return attention_kl(p, q, eps).mean(0).sum()

    @classmethod
    def build(cls, config: AttentionConfig, context: LossContext) -> AttentionLoss:
        """The loss for a ``losses.attention`` section."""
        return cls(config)
