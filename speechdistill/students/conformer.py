"""Conformer-CTC students on 80-dim Kaldi fbank with 4x subsampling (40 ms output frames).

The model takes what sherpa-onnx feeds a zipformer-CTC model (raw log-mel fbank, padded, plus frame
lengths) through :meth:`ConformerCTC.encode`; :meth:`ConformerCTC.forward` computes those features
from waveforms first (:func:`speechdistill.features.kaldi_fbank`). Per-utterance mean/variance
normalisation of the features happens inside the model so that an exported graph does it too.

Subsampling: two 3x3 stride-2 Conv2d layers without padding (icefall's conformer Conv2dSubsampling),
so ``T' = ((T - 1) // 2 - 1) // 2`` (:func:`subsampled_lengths`); a 7-frame (70 ms) input gives 1 frame.

Streaming students (``streaming: true``, see :mod:`speechdistill.students.streaming`) differ in three places:
chunked self-attention, causal depthwise convolutions, and a fixed shift/scale with a learnt per-bin affine
instead of the per-utterance normalisation (which would need the whole utterance); their fbank is computed on
samples scaled to the int16 range, as sherpa-onnx feeds WeNet-CTC models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from ..data.augment import SpecAugment
from ..features import FbankConfig, kaldi_fbank
from .base import StudentOutput, frame_mask, resolve_layers, zero_padding
from .layers import ConformerBlock, RotaryEmbedding
from .streaming import FULL_CONTEXT, INT16_SCALE, FeatureAffine, chunk_attention_mask, sample_chunk_frames

SUBSAMPLING_FACTOR = 4
FEATURE_SHIFT_MS = 10.0
NORM_EPS = 1e-5  # added to the per-utterance feature variance


@dataclass(frozen=True)
class ConformerConfig:
    """Everything that defines a Conformer-CTC student (saved as its config.json)."""

    vocab_size: int = 32
    num_mel_bins: int = 80
    d_model: int = 96
    num_layers: int = 6
    num_heads: int = 4
    ff_mult: int = 4
    conv_kernel: int = 15
    subsampling_channels: int = 32
    dropout: float = 0.1
    spec_augment: bool = True  # SpecAugment on the normalised features, in training mode only
    # Streaming (chunked attention, causal convolutions; see speechdistill.students.streaming):
    streaming: bool = False
    chunk_frames: int = 16  # chunk in eval mode, in 40 ms output frames (16 = 640 ms); 0 = full context
    left_chunks: int = -1  # chunks of left context attention sees (-1: all)
    max_train_chunk_frames: int = 25  # training draws a chunk size in 1..this per batch (U2 dynamic chunks)
    full_context_prob: float = 0.5  # ... or full context with this probability

    def __post_init__(self) -> None:
        if not 0.0 <= self.full_context_prob <= 1.0 or self.max_train_chunk_frames < 1 or self.chunk_frames < 0:
            raise ValueError("streaming settings: need 0 <= full_context_prob <= 1, max_train_chunk_frames >= 1, "
                             "chunk_frames >= 0")
        if self.d_model % self.num_heads or (self.d_model // self.num_heads) % 2:
            raise ValueError(f"d_model {self.d_model} must split into {self.num_heads} heads of even size")
        if self.conv_kernel % 2 == 0:
            raise ValueError(f"conv_kernel must be odd, got {self.conv_kernel}")


# Nominal sizes (parameters, 32-label vocabulary): 1m is the demo student for ~8M teachers.
CONFORMER_PRESETS: dict[str, ConformerConfig] = {
    "0.5m": ConformerConfig(d_model=64, num_layers=5, num_heads=4, subsampling_channels=16),
    "1m": ConformerConfig(d_model=96, num_layers=4, num_heads=4, subsampling_channels=32),
    "3m": ConformerConfig(d_model=144, num_layers=6, num_heads=4, subsampling_channels=64),
    "10m": ConformerConfig(d_model=256, num_layers=6, num_heads=4, conv_kernel=31, subsampling_channels=128),
}


def subsampled_lengths(lengths: Tensor) -> Tensor:
    """Output frames for ``lengths`` input frames: ((T - 1) // 2 - 1) // 2, never below 0."""
    return (((lengths - 1) // 2 - 1) // 2).clamp(min=0)


def normalize_features(features: Tensor, lengths: Tensor) -> Tensor:
    """Per-utterance, per-bin zero mean / unit variance over the valid frames; padded frames become 0."""
    valid = frame_mask(lengths, features.shape[1])[..., None].to(features.dtype)
    count = lengths.clamp(min=1)[:, None, None].to(features.dtype)
    mean = (features * valid).sum(1, keepdim=True) / count
    centred = (features - mean) * valid
    var = centred.pow(2).sum(1, keepdim=True) / count
    return centred * torch.rsqrt(var + NORM_EPS)


class Conv2dSubsampling(nn.Module):
    """(B, T, F) features -> (B, T', d_model): two valid 3x3 stride-2 convolutions, then a Linear over channels x freq."""

    def __init__(self, num_bins: int, channels: int, d_model: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, channels, 3, stride=2), nn.ReLU(),
                                  nn.Conv2d(channels, channels, 3, stride=2), nn.ReLU())
        self.out = nn.Linear(channels * (((num_bins - 1) // 2 - 1) // 2), d_model)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x.unsqueeze(1))  # (B, C, T', F')
        return self.out(y.permute(0, 2, 1, 3).flatten(2))


class ConformerCTC(nn.Module):
    """Fbank -> per-utterance norm -> (SpecAugment) -> Conv2d subsampling -> Conformer blocks -> CTC head."""

    family = "conformer"
    frame_period_ms = FEATURE_SHIFT_MS * SUBSAMPLING_FACTOR

    def __init__(self, config: ConformerConfig):
        super().__init__()
        self.config = config
        self.fbank = FbankConfig(num_bins=config.num_mel_bins)
        # Streaming students normalise features without statistics over time; their fbank reads int16-range samples.
        self.feature_norm = FeatureAffine(config.num_mel_bins) if config.streaming else None
        self.sample_scale = INT16_SCALE if config.streaming else 1.0
        self.spec_augment = SpecAugment() if config.spec_augment else None
        self.subsampling = Conv2dSubsampling(config.num_mel_bins, config.subsampling_channels, config.d_model)
        self.input_dropout = nn.Dropout(config.dropout)
        self.rotary = RotaryEmbedding(config.d_model // config.num_heads)
        self.blocks = nn.ModuleList(ConformerBlock(config.d_model, config.num_heads, config.ff_mult,
                                                   config.conv_kernel, config.dropout, causal_conv=config.streaming)
                                    for _ in range(config.num_layers))
        self.head = nn.Linear(config.d_model, config.vocab_size)

    @property
    def num_layers(self) -> int:
        return len(self.blocks)

    def forward(self, waveforms: Tensor, lengths: Tensor, *, hidden_layers: Sequence[int] = (),
                attention_layers: Sequence[int] = (), chunk_frames: int | None = None) -> StudentOutput:
        """waveforms (B, S) float in [-1, 1] at 16 kHz, zero padded; lengths (B,) valid samples.

        hidden_layers: 0 = after subsampling, i = after block i, -1 = last; attention_layers: 1..num_layers.
        chunk_frames: streaming students only (see :meth:`encode`).
        """
        with torch.no_grad():
            features, feature_lengths = kaldi_fbank(waveforms.float() * self.sample_scale, lengths, self.fbank)
        return self.encode(features, feature_lengths, hidden_layers=hidden_layers, attention_layers=attention_layers,
                           chunk_frames=chunk_frames)

    def attention_chunk(self, chunk_frames: int | None) -> int:
        """The chunk size a forward pass uses: ``chunk_frames`` when given, else a dynamic draw in training and
        ``config.chunk_frames`` in eval mode; always FULL_CONTEXT (0) for a non-streaming student."""
        if not self.config.streaming:
            if chunk_frames:
                raise ValueError("chunk_frames needs a streaming student (config.streaming: true)")
            return FULL_CONTEXT
        if chunk_frames is not None:
            return chunk_frames
        if self.training:
            return sample_chunk_frames(self.config.max_train_chunk_frames, self.config.full_context_prob)
        return self.config.chunk_frames

    def encode(self, features: Tensor, feature_lengths: Tensor, *, hidden_layers: Sequence[int] = (),
               attention_layers: Sequence[int] = (), chunk_frames: int | None = None) -> StudentOutput:
        """features (B, T, num_mel_bins) raw log-mel (any padding value), feature_lengths (B,) -> StudentOutput.

        This is the graph to export: sherpa-onnx's zipformer-CTC runtime feeds exactly these two inputs.
        chunk_frames (streaming students): attention chunk in output frames, 0 = full context; None = the
        mode's default (:meth:`attention_chunk`). Left context is ``config.left_chunks``.
        """
        hidden_wanted = resolve_layers(hidden_layers, self.num_layers)
        attn_wanted = resolve_layers(attention_layers, self.num_layers, first=1, what="attention layer")
        chunk = self.attention_chunk(chunk_frames)
        if self.feature_norm is not None:
            x = self.feature_norm(features) * frame_mask(feature_lengths, features.shape[1])[..., None].to(features.dtype)
        else:
            x = normalize_features(features, feature_lengths)
        if self.spec_augment is not None and self.training:
            x = self.spec_augment(x, feature_lengths)
        x = self.subsampling(x)
        lengths = subsampled_lengths(feature_lengths).to(torch.long)
        # Every key row needs one real key, or an empty utterance's softmax would be NaN.
        key_mask = frame_mask(lengths.clamp(min=1), x.shape[1])
        attn_mask = None
        if chunk != FULL_CONTEXT:
            # Each frame may also see itself, so that rows of padded frames are never empty (NaN softmax).
            allowed = chunk_attention_mask(x.shape[1], chunk, self.config.left_chunks, x.device)
            attn_mask = (key_mask[:, None, None, :] & allowed) | torch.eye(x.shape[1], dtype=torch.bool,
                                                                         device=x.device)
        rotary = self.rotary(x)
        hidden = {0: x} if 0 in hidden_wanted else {}
        attentions = {}
        x = self.input_dropout(x)
        for index, block in enumerate(self.blocks, start=1):
            x, weights = block(x, key_mask, rotary, need_weights=index in attn_wanted, attn_mask=attn_mask)
            if weights is not None:
                attentions[index] = weights
            if index in hidden_wanted:
                hidden[index] = x
        return StudentOutput(logits=self.head(x), lengths=lengths, frame_period_ms=self.frame_period_ms,
                             hidden_states={i: zero_padding(hidden[i], lengths) for i in hidden_wanted},
                             attentions=attentions)

    def forward_chunk(self, features: Tensor, attn_cache: Tensor, conv_cache: Tensor,
                      cache_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One streaming chunk (eval mode, batch 1), the computation sherpa-onnx's online WeNet-CTC class runs.

        features (1, (C - 1) * 4 + 7, bins) raw fbank; attn_cache (num_blocks, heads, R, 2 * head_dim);
        conv_cache (num_blocks, 1, d_model, kernel - 1); cache_mask (1, 1, R + C) bool ->
        (1, C, V) log-probs and the two new caches (same shapes). See :mod:`speechdistill.students.streaming`.
        """
        if self.feature_norm is None:
            raise ValueError("forward_chunk needs a streaming student (config.streaming: true)")
        x = self.subsampling(self.feature_norm(features))
        attn_caches, conv_caches = [], []
        for index, block in enumerate(self.blocks):
            x, attn, conv = block.forward_chunk(x, attn_cache[index], conv_cache[index], cache_mask, self.rotary)
            attn_caches.append(attn)
            conv_caches.append(conv)
        return torch.log_softmax(self.head(x), dim=-1), torch.stack(attn_caches), torch.stack(conv_caches)


def conformer_ctc(size: str = "1m", *, vocab_size: int = 32, **overrides) -> ConformerCTC:
    """A randomly initialised Conformer-CTC student of a preset size ("0.5m", "1m", "3m", "10m").

    ``overrides`` replace :class:`ConformerConfig` fields of the preset (unknown names are an error).
    """
    if size not in CONFORMER_PRESETS:
        raise ValueError(f"unknown conformer size {size!r}; expected one of {', '.join(CONFORMER_PRESETS)}")
    return ConformerCTC(replace(CONFORMER_PRESETS[size], vocab_size=vocab_size, **overrides))
