"""What every teacher returns (``TeacherOutput``) and the machinery all Hugging Face teachers share.

A teacher is frozen (no gradients, eval mode), runs under ``torch.inference_mode()`` and only asks its
model for hidden states or attention maps when a caller names the layers or asks for attentions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from ..data.audio import check_audio, resample
from ..decode.beam import Hypothesis

# Log-probability given to impossible labels (padded frames, student labels no teacher label maps to).
# Finite, so that KL terms like exp(t) * (t - s) stay 0 instead of NaN.
LOG_ZERO = -1.0e4

Waveforms = Sequence[np.ndarray] | Sequence[torch.Tensor] | torch.Tensor


@dataclass(frozen=True)
class TeacherOutput:
    """One batch of teacher outputs; every time axis is padded to the longest item, ``lengths`` tells the rest.

    lengths: (B,) valid frames per item (int64). frame_period_ms: time between frames.
    labels: the teacher's output labels (CTC characters, or Whisper's BPE tokens).
    log_probs: (B, T, V) float32 CTC log-probabilities (CTC teachers only); frames at or beyond
        ``lengths`` hold a certain blank (0 for the blank, ``LOG_ZERO`` elsewhere).
    hidden_states: layer index (0 = input embeddings, i = after layer i) -> (B, T, D), padded frames zeroed;
        only the layers asked for.
    attentions: one (B, heads, T, T) map per layer, only when asked for; rows/columns past ``lengths`` are padding.
    nbest: per item, distinct transcripts (normalised spoken form) best first, only when asked for.
    """

    lengths: torch.Tensor
    frame_period_ms: float
    labels: tuple[str, ...]
    log_probs: torch.Tensor | None = None
    hidden_states: dict[int, torch.Tensor] = field(default_factory=dict)
    attentions: tuple[torch.Tensor, ...] | None = None
    nbest: tuple[tuple[Hypothesis, ...], ...] | None = None

    @property
    def frame_mask(self) -> torch.Tensor:
        """(B, T) bool, True on real frames; T is the padded time axis of the outputs."""
        return frame_mask(self.lengths, self.num_frames)

    @property
    def num_frames(self) -> int:
        if self.log_probs is not None:
            return self.log_probs.shape[1]
        if self.hidden_states:
            return next(iter(self.hidden_states.values())).shape[1]
        return int(self.lengths.max()) if self.lengths.numel() else 0


def frame_mask(lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B, num_frames) bool mask, True where frame index < length."""
    return torch.arange(num_frames, device=lengths.device)[None, :] < lengths[:, None]


def mask_hidden(hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Zero the frames of (B, T, D) ``hidden`` at or beyond ``lengths``."""
    return hidden * frame_mask(lengths.to(hidden.device), hidden.shape[1])[..., None].to(hidden.dtype)


class Teacher(Protocol):
    """What distillation needs from a teacher; ``load_teacher`` returns one."""

    name: str
    labels: tuple[str, ...]

    @property
    def sample_rate(self) -> int: ...

    @property
    def frame_period_ms(self) -> float: ...

    @property
    def num_parameters(self) -> int: ...

    @property
    def num_layers(self) -> int: ...

    def __call__(self, waveforms: Waveforms, lengths: torch.Tensor | Sequence[int] | None = None, *,
                 sample_rate: int | None = None, hidden_layers: Sequence[int] = (), attentions: bool = False,
                 nbest: int | None = None) -> TeacherOutput: ...


class HFTeacher:
    """Shared parts of the Hugging Face teachers: freezing, input checks, layer selection, attention switch."""

    family = "?"

    def __init__(self, model: torch.nn.Module, processor, *, name: str, device: str | torch.device,
                 labels: tuple[str, ...], nbest: int = 0):
        self.model = model.to(device).eval().requires_grad_(False)
        self.processor = processor
        self.name = name
        self.device = torch.device(device)
        self.labels = labels
        self.default_nbest = nbest

    @property
    def sample_rate(self) -> int:
        """Input sample rate in Hz (the feature extractor's)."""
        return int(self.processor.feature_extractor.sampling_rate)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def num_layers(self) -> int:
        """Transformer layers whose outputs ``hidden_layers`` can name (1..num_layers; 0 = embeddings)."""
        raise NotImplementedError

    @property
    def frame_period_ms(self) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.name!r}, {self.num_parameters / 1e6:.1f}M params, "
                f"{self.num_layers} layers, {self.frame_period_ms:g} ms frames)")

    def prepare_audio(self, waveforms: Waveforms, lengths: torch.Tensor | Sequence[int] | None = None,
                      sample_rate: int | None = None) -> list[np.ndarray]:
        """Mono float32 signals at the teacher's rate from a list of 1-D arrays or a padded (B, S) tensor + lengths."""
        if isinstance(waveforms, torch.Tensor):
            if waveforms.ndim != 2:
                raise ValueError(f"a waveform tensor must be (batch, samples), got {tuple(waveforms.shape)}")
            n = [waveforms.shape[1]] * waveforms.shape[0] if lengths is None else [int(x) for x in lengths]
            waveforms = [w[:k] for w, k in zip(waveforms, n)]
        elif lengths is not None:
            raise ValueError("lengths go with a padded waveform tensor, not with a list of waveforms")
        rate = sample_rate or self.sample_rate
        out = []
        for i, w in enumerate(waveforms):
            audio = w.detach().float().cpu().numpy() if isinstance(w, torch.Tensor) else np.asarray(w, np.float32)
            if audio.ndim != 1:
                raise ValueError(f"waveform {i}: expected a 1-D mono signal, got shape {audio.shape}")
            out.append(check_audio(resample(audio, rate, self.sample_rate), f"waveform {i}", self.sample_rate))
        if not out:
            raise ValueError("no waveforms given")
        return out

    def resolve_layers(self, hidden_layers: Sequence[int]) -> tuple[int, ...]:
        """Non-negative, deduplicated layer indices; negative ones count from the last layer."""
        top = self.num_layers
        resolved = []
        for layer in hidden_layers:
            index = layer + top + 1 if layer < 0 else layer
            if not 0 <= index <= top:
                raise ValueError(f"hidden layer {layer} out of range: {self.name} has layers 0..{top} "
                                 "(0 = input embeddings, -1 = last)")
            if index not in resolved:
                resolved.append(index)
        return tuple(resolved)

    @contextmanager
    def attention_implementation(self, attentions: bool) -> Iterator[None]:
        """Switch to eager attention while attention maps are wanted (SDPA/flash kernels cannot return them)."""
        config = self.model.config
        current = config._attn_implementation
        if not attentions or current == "eager":
            yield
            return
        self.model.set_attn_implementation("eager")
        try:
            yield
        finally:
            self.model.set_attn_implementation(current)

    def select_hidden(self, hidden_states: Sequence[torch.Tensor] | None, layers: tuple[int, ...],
                      lengths: torch.Tensor, num_frames: int) -> dict[int, torch.Tensor]:
        """The asked-for layers, cut to ``num_frames`` and with padded frames zeroed."""
        if not layers:
            return {}
        return {i: mask_hidden(hidden_states[i][:, :num_frames], lengths) for i in layers}
