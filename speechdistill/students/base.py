"""What every student returns, read by the losses (which never reach into models)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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


class Student(Protocol):
    """What training and distillation need from a student; every factory in this package builds one."""

    family: str
    config: Any  # the factory's frozen config dataclass, saved as config.json

    @property
    def frame_period_ms(self) -> float: ...

    @property
    def num_layers(self) -> int: ...

    def __call__(self, waveforms: torch.Tensor, lengths: torch.Tensor, *, hidden_layers: Sequence[int] = (),
                 attention_layers: Sequence[int] = ()) -> StudentOutput: ...


def resolve_layers(layers: Sequence[int], top: int, first: int = 0, what: str = "hidden layer") -> tuple[int, ...]:
    """Deduplicated indices in ``first..top``; negative ones count from the end (-1 = ``top``)."""
    resolved: list[int] = []
    for layer in layers:
        index = layer + top + 1 if layer < 0 else layer
        if not first <= index <= top:
            raise ValueError(f"{what} {layer} out of range: this student has {what}s {first}..{top} (-1 = last)")
        if index not in resolved:
            resolved.append(index)
    return tuple(resolved)


def frame_mask(lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B, num_frames) bool, True where frame index < length; built from arange so exported time axes stay dynamic."""
    return torch.arange(num_frames, device=lengths.device)[None, :] < lengths[:, None]


def zero_padding(hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, D) ``hidden`` with frames at or beyond ``lengths`` set to 0."""
    return hidden * frame_mask(lengths, hidden.shape[1])[..., None].to(hidden.dtype)
