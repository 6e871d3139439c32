"""What every student returns, read by the losses (which never reach into models)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class StudentOutput:
    """One batch of student outputs; time axes padded to the longest item.

    logits: (B, T, V) un-normalised CTC scores over the student's character vocabulary (blank id 0).
    lengths: (B,) valid output frames per item (int64).
    frame_period_ms: time between output frames (40 for the 4x-subsampled Conformer on 10 ms fbank).
    hidden_states: layer index (0 = encoder input after subsampling, i = after block i) -> (B, T, D);
        only the layers asked for.
    attentions: layer index -> (B, heads, T, T) attention probabilities; only the layers asked for.
    """

    logits: torch.Tensor
    lengths: torch.Tensor
    frame_period_ms: float
    hidden_states: dict[int, torch.Tensor] = field(default_factory=dict)
    attentions: dict[int, torch.Tensor] = field(default_factory=dict)

    @property
    def log_probs(self) -> torch.Tensor:
        """(B, T, V) log-softmax of the logits, computed in float32."""
        return torch.log_softmax(self.logits.float(), dim=-1)

    @property
    def frame_mask(self) -> torch.Tensor:
        """(B, T) bool, True on real frames."""
        return torch.arange(self.logits.shape[1], device=self.lengths.device)[None, :] < self.lengths[:, None]
