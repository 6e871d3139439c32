"""Hard-label CTC on the batch's transcripts (the supervised term of the mix)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data.dataset import Batch
from ..students.base import StudentOutput
from .base import ItemLoss, ItemwiseLoss, LossContext, Teachers, check_weight

BLANK_ID = 0


@dataclass(frozen=True)
class CTCConfig:
    """YAML ``losses.ctc``: ``weight`` multiplies the term inside the hard (alpha) side of the mix."""

    weight: float = 1.0

    def __post_init__(self) -> None:
        check_weight("weight", self.weight)


def ctc_per_item(log_probs: torch.Tensor, input_lengths: torch.Tensor, targets: torch.Tensor,
                 target_lengths: torch.Tensor) -> torch.Tensor:
    """(N,) CTC negative log-likelihood per sequence in nats per target label (length 0 counts as 1).

    log_probs: (N, T, V) log-probabilities, blank 0; input_lengths: (N,) frames; targets: (N, S) label ids
    (entries past ``target_lengths`` are ignored, so any padding value works). Impossible alignments
    (more labels than frames allow) give 0, as ``zero_infinity`` does. This is PyTorch's ``mean``
    normalisation without the batch mean, so per-item terms can be masked and weighted.
    """
    nll = F.ctc_loss(log_probs.transpose(0, 1), targets.clamp_min(0), input_lengths.long(), target_lengths.long(),
                     blank=BLANK_ID, reduction="none", zero_infinity=True)
    return nll / target_lengths.to(nll.dtype).clamp_min(1)


def pad_targets(sequences: Sequence[Sequence[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Label id lists -> (N, max(1, S)) int64 padded with 0, and (N,) lengths."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    out = torch.zeros(len(sequences), max(1, int(lengths.max()) if len(sequences) else 1), dtype=torch.long)
    for row, ids in enumerate(sequences):
        out[row, : len(ids)] = torch.tensor(list(ids), dtype=torch.long)
    return out.to(device), lengths.to(device)


class CTCLoss(ItemwiseLoss):
    """CTC on hard labels, averaged over labelled items only.

    student.logits: (B, T, V), blank 0; batch.labels: (B, L) padded with -100, batch.label_lengths: (B,),
    batch.labelled: (B,) bool. Returns nats per target label, averaged over labelled items; unlabelled items
    add nothing, and a batch with no labelled item gives 0 (with a graph to the student). The teacher is
    not read.
    """

    def __init__(self, config: CTCConfig | None = None):
        super().__init__()
        self.config = config or CTCConfig()

    def item_losses(self, student: StudentOutput, teacher: Teachers | None, batch: Batch) -> ItemLoss:
        labelled = batch.labelled.to(student.logits.device)
        per_item = ctc_per_item(student.log_probs, student.lengths, batch.labels.to(labelled.device),
                                batch.label_lengths.to(labelled.device))
        return ItemLoss(torch.where(labelled, per_item, torch.zeros_like(per_item)), labelled.float(),
                        {"labelled": float(labelled.sum())})

    @classmethod
    def build(cls, config: CTCConfig, context: LossContext) -> CTCLoss:
        """The loss for a ``losses.ctc`` section."""
        return cls(config)
