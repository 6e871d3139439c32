"""Small raw-waveform wav2vec2-style CTC students (20 ms frames), for init-from-teacher experiments.

A plain Hugging Face ``Wav2Vec2ForCTC`` built from :class:`Wav2Vec2StudentConfig` with a slim conv front
end (the stock 512-channel one alone is ~4M parameters), stable layer norm and an attention mask, like
the wav2vec2 teacher the package trains, so that :func:`init_from_teacher` finds matching tensors.
Waveforms are normalised per utterance inside :meth:`Wav2Vec2Student.forward`, as the teacher's
feature extractor does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn
from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

from .. import SAMPLE_RATE_HZ
from ..features import normalize_waveforms
from .base import StudentOutput, frame_mask, resolve_layers, zero_padding


@dataclass(frozen=True)
class Wav2Vec2StudentConfig:
    """Everything that defines a wav2vec2-style student (saved as its config.json)."""

    vocab_size: int = 32
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 512
    conv_dim: tuple[int, ...] = (32, 64, 64, 64, 64, 64, 64)
    conv_kernel: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    conv_stride: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)  # product 320 samples = 20 ms
    pos_conv_kernel: int = 32
    pos_conv_groups: int = 16
    dropout: float = 0.1
    mask_time_prob: float = 0.05  # wav2vec2's own SpecAugment on the latent frames, training only
    mask_time_length: int = 5

    def __post_init__(self) -> None:
        if not len(self.conv_dim) == len(self.conv_kernel) == len(self.conv_stride):
            raise ValueError("conv_dim, conv_kernel and conv_stride must have the same length")

    def to_hf(self) -> Wav2Vec2Config:
        """The equivalent ``Wav2Vec2Config`` (blank/pad id 0, layer-norm front end, stable layer norm)."""
        return Wav2Vec2Config(
            vocab_size=self.vocab_size, pad_token_id=0, hidden_size=self.hidden_size,
            num_hidden_layers=self.num_layers, num_attention_heads=self.num_heads,
            intermediate_size=self.intermediate_size, conv_dim=list(self.conv_dim),
            conv_kernel=list(self.conv_kernel), conv_stride=list(self.conv_stride),
            num_conv_pos_embeddings=self.pos_conv_kernel, num_conv_pos_embedding_groups=self.pos_conv_groups,
            feat_extract_norm="layer", do_stable_layer_norm=True, hidden_dropout=self.dropout,
            attention_dropout=self.dropout, activation_dropout=0.0, feat_proj_dropout=0.0, final_dropout=0.0,
            layerdrop=0.0, mask_time_prob=self.mask_time_prob, mask_time_length=self.mask_time_length,
            mask_feature_prob=0.0, ctc_loss_reduction="mean", ctc_zero_infinity=True)


# "3m" and "10m" share the width, heads, conv front end and positional conv of the package's default
# wav2vec2 teacher (speechdistill.teachers.train_wav2vec2), so init_from_teacher can fill every tensor.
_TEACHER_FRONT_END = dict(conv_dim=(64, 128, 128, 128, 128, 128, 128), pos_conv_kernel=64)
WAV2VEC2_PRESETS: dict[str, Wav2Vec2StudentConfig] = {
    "0.5m": Wav2Vec2StudentConfig(hidden_size=96, num_layers=4, num_heads=4, intermediate_size=384,
                                  conv_dim=(32, 48, 48, 48, 48, 48, 48), pos_conv_kernel=16),
    "1m": Wav2Vec2StudentConfig(hidden_size=128, num_layers=4, num_heads=4, intermediate_size=512),
    "3m": Wav2Vec2StudentConfig(hidden_size=256, num_layers=3, num_heads=4, intermediate_size=1024,
                                **_TEACHER_FRONT_END),
    "10m": Wav2Vec2StudentConfig(hidden_size=256, num_layers=12, num_heads=4, intermediate_size=1024,
                                 **_TEACHER_FRONT_END),
}


@contextmanager
def _eager_attention(model: Wav2Vec2ForCTC, wanted: bool) -> Iterator[None]:
    """Switch to eager attention while attention maps are wanted (SDPA kernels cannot return them)."""
    current = model.config._attn_implementation
    if not wanted or current == "eager":
        yield
        return
    model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.set_attn_implementation(current)


class Wav2Vec2Student(nn.Module):
    """A ``Wav2Vec2ForCTC`` (``.model``) that takes padded waveforms + lengths and returns :class:`StudentOutput`."""

    family = "wav2vec2"

    def __init__(self, config: Wav2Vec2StudentConfig):
        super().__init__()
        self.config = config
        self.model = Wav2Vec2ForCTC(config.to_hf())

    @property
    def num_layers(self) -> int:
        return self.config.num_layers

    @property
    def frame_period_ms(self) -> float:
        return math.prod(self.config.conv_stride) * 1000 / SAMPLE_RATE_HZ

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """Valid output frames for ``lengths`` samples (the conv front end's valid-convolution formula)."""
        return self.model._get_feat_extract_output_lengths(lengths).clamp(min=0).to(torch.long)

    def forward(self, waveforms: Tensor, lengths: Tensor, *, hidden_layers: Sequence[int] = (),
                attention_layers: Sequence[int] = ()) -> StudentOutput:
        """waveforms (B, S) float at 16 kHz, zero padded; lengths (B,) valid samples.

        hidden_layers: 0 = transformer input (conv features + positions), i = output of layer i as Hugging Face
        reports it (the residual stream; the CTC head reads the last one through a final LayerNorm), -1 = last;
        attention_layers: 1..num_layers.
        """
        hidden_wanted = resolve_layers(hidden_layers, self.num_layers)
        attn_wanted = resolve_layers(attention_layers, self.num_layers, first=1, what="attention layer")
        lengths = lengths.to(device=waveforms.device, dtype=torch.long)
        values = normalize_waveforms(waveforms.float(), lengths)
        mask = frame_mask(lengths, waveforms.shape[1]).long()
        with _eager_attention(self.model, bool(attn_wanted)):
            out = self.model(input_values=values, attention_mask=mask, output_hidden_states=bool(hidden_wanted),
                             output_attentions=bool(attn_wanted))
        frames = self.output_lengths(lengths)
        return StudentOutput(
            logits=out.logits, lengths=frames, frame_period_ms=self.frame_period_ms,
            hidden_states={i: zero_padding(out.hidden_states[i], frames) for i in hidden_wanted},
            attentions={i: out.attentions[i - 1] for i in attn_wanted})


def wav2vec2_ctc(size: str = "1m", *, vocab_size: int = 32, **overrides) -> Wav2Vec2Student:
    """A randomly initialised wav2vec2-style CTC student of a preset size ("0.5m", "1m", "3m", "10m").

    ``overrides`` replace :class:`Wav2Vec2StudentConfig` fields of the preset (unknown names are an error).
    """
    if size not in WAV2VEC2_PRESETS:
        raise ValueError(f"unknown wav2vec2 size {size!r}; expected one of {', '.join(WAV2VEC2_PRESETS)}")
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return Wav2Vec2Student(replace(WAV2VEC2_PRESETS[size], vocab_size=vocab_size, **overrides))
