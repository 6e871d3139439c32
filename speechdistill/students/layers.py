"""Conformer building blocks that can hand back their attention maps and export to ONNX with dynamic time.

Export-friendly by construction: masks and positions come from ``arange`` comparisons on the runtime
time axis, there is no ``.item()`` and no Python branching on tensor values (only on module settings
and on whether attention maps were asked for). Pointwise convolutions are ``nn.Linear`` so that
dynamic int8 quantisation of MatMul covers them; the depthwise convolution is a grouped ``Conv1d``.
Positions are rotary (RoPE): relative, parameter-free, and valid for any length.

Streaming (``causal=True`` convolutions, chunk masks from :mod:`speechdistill.students.streaming`): every
module also has ``forward_chunk``, which runs one chunk against caches of the past (unrotated keys and
values for attention, the last ``kernel - 1`` inputs of the depthwise convolution), the layout of WeNet's
``forward_chunk`` that sherpa-onnx's online WeNet-CTC model class feeds. Keys are cached before rotation and
rotated with their position inside [cache; chunk], so only relative positions matter, as in the full sequence.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class RotaryEmbedding(nn.Module):
    """cos/sin tables for rotary position embeddings over ``head_dim`` (even) channels."""

    def __init__(self, head_dim: int, base: float = 10_000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head dimension, got {head_dim}")
        inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (B, T, D) -> cos, sin each (1, 1, T, head_dim) in x's dtype."""
        return self.table(x.shape[1], x)

    def table(self, length: int, like: Tensor) -> tuple[Tensor, Tensor]:
        """cos, sin (1, 1, length, head_dim) for positions 0..length-1, in ``like``'s dtype and device."""
        positions = torch.arange(length, device=like.device, dtype=torch.float32)
        angles = positions[:, None] * self.inv_freq[None, :]
        angles = torch.cat([angles, angles], dim=-1)[None, None]
        return angles.cos().to(like.dtype), angles.sin().to(like.dtype)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate (B, H, T, head_dim) queries or keys by their positions."""
    first, second = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-second, first], dim=-1) * sin


class SelfAttention(nn.Module):
    """Multi-head self-attention with rotary positions and a key padding mask.

    Without attention maps it runs ``scaled_dot_product_attention`` (fused kernels on GPU); with them,
    the same arithmetic written out so the probabilities can be returned.
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by {num_heads} heads")
        self.num_heads, self.dropout = num_heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, key_mask: Tensor, rotary: tuple[Tensor, Tensor],
                need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        """x (B, T, D), key_mask (B, T) bool (True = real frame) or (B, 1, T, T) bool (query x key, e.g. a
        chunk mask) -> (B, T, D) and (B, H, T, T) or None.

        Probabilities over masked keys are exactly 0; rows of padded queries are still distributions
        over the allowed keys (callers mask those frames afterwards).
        """
        batch, time, d_model = x.shape
        q, k, v = self.qkv(x).reshape(batch, time, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        mask = key_mask[:, None, None, :] if key_mask.dim() == 2 else key_mask
        return self._attend(q, k, v, mask, need_weights)

    def forward_chunk(self, x: Tensor, cache: Tensor, cache_mask: Tensor,
                      rotary: RotaryEmbedding) -> tuple[Tensor, Tensor]:
        """One chunk against the cache: x (1, C, D), cache (H, R, 2 * head_dim) unrotated keys | values of the
        previous R frames, cache_mask (1, 1, R + C) bool (False on cache slots holding no frame yet)
        -> (1, C, D) and the new cache, the last R frames of [cache; chunk]."""
        batch, time, d_model = x.shape
        q, k, v = self.qkv(x).reshape(batch, time, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        cached_k, cached_v = cache[None].chunk(2, dim=-1)
        k, v = torch.cat([cached_k, k], dim=2), torch.cat([cached_v, v], dim=2)
        cache_frames = cache.shape[1]
        new_cache = torch.cat([k, v], dim=-1)[0, :, k.shape[2] - cache_frames:]
        cos, sin = rotary.table(k.shape[2], x)
        q = apply_rotary(q, cos[:, :, cache_frames:], sin[:, :, cache_frames:])
        k = apply_rotary(k, cos, sin)
        y, _ = self._attend(q, k, v, cache_mask[:, None], False)
        return y, new_cache

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor,
                need_weights: bool) -> tuple[Tensor, Tensor | None]:
        batch, _, time, _ = q.shape
        d_model = q.shape[1] * q.shape[3]
        dropout = self.dropout if self.training else 0.0
        if not need_weights:
            y, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout), None
        else:
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
            weights = scores.masked_fill(~mask, torch.finfo(scores.dtype).min).softmax(dim=-1)
            y = F.dropout(weights, dropout, self.training) @ v
        return self.out(y.transpose(1, 2).reshape(batch, time, d_model)), weights


class FeedForward(nn.Module):
    """Pre-norm position-wise feed-forward with SiLU (Swish)."""

    def __init__(self, d_model: int, mult: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, mult * d_model), nn.SiLU(),
                                 nn.Dropout(dropout), nn.Linear(mult * d_model, d_model), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConvModule(nn.Module):
    """Conformer convolution module: pointwise (Linear) -> GLU -> depthwise Conv1d -> LayerNorm -> SiLU -> pointwise.

    LayerNorm instead of the paper's BatchNorm: no batch statistics, so padding never leaks into real frames.
    causal: the depthwise kernel sees the current and the ``kernel_size - 1`` previous frames only (streaming).
    """

    def __init__(self, d_model: int, kernel_size: int, dropout: float, causal: bool = False):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"conv kernel must be odd to keep the length, got {kernel_size}")
        self.causal = causal
        self.norm = nn.LayerNorm(d_model)
        self.pointwise_in = nn.Linear(d_model, 2 * d_model)
        self.depthwise = nn.Conv1d(d_model, d_model, kernel_size, padding=0 if causal else kernel_size // 2,
                                   groups=d_model)
        self.depthwise_norm = nn.LayerNorm(d_model)
        self.pointwise_out = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, valid: Tensor) -> Tensor:
        """x (B, T, D), valid (B, T, 1) float (1 on real frames) -> (B, T, D)."""
        y = F.glu(self.pointwise_in(self.norm(x)), dim=-1) * valid  # padded frames must not reach the kernel
        y = y.transpose(1, 2)
        if self.causal:
            y = F.pad(y, (self.depthwise.kernel_size[0] - 1, 0))
        return self._out(self.depthwise(y).transpose(1, 2))

    def forward_chunk(self, x: Tensor, cache: Tensor) -> tuple[Tensor, Tensor]:
        """x (1, C, D), cache (1, D, kernel - 1) the previous depthwise inputs -> (1, C, D) and the new cache."""
        y = torch.cat([cache, F.glu(self.pointwise_in(self.norm(x)), dim=-1).transpose(1, 2)], dim=2)
        new_cache = y[:, :, y.shape[2] - cache.shape[2]:]
        return self._out(self.depthwise(y).transpose(1, 2)), new_cache

    def _out(self, y: Tensor) -> Tensor:
        return self.dropout(self.pointwise_out(F.silu(self.depthwise_norm(y))))


class ConformerBlock(nn.Module):
    """Macaron Conformer block (Gulati et al., 2020): half FF, self-attention, convolution, half FF, LayerNorm."""

    def __init__(self, d_model: int, num_heads: int, ff_mult: int, conv_kernel: int, dropout: float,
                 causal_conv: bool = False):
        super().__init__()
        self.ff1 = FeedForward(d_model, ff_mult, dropout)
        self.attn_norm = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, num_heads, dropout)
        self.attn_dropout = nn.Dropout(dropout)
        self.conv = ConvModule(d_model, conv_kernel, dropout, causal=causal_conv)
        self.ff2 = FeedForward(d_model, ff_mult, dropout)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: Tensor, key_mask: Tensor, rotary: tuple[Tensor, Tensor],
                need_weights: bool = False, attn_mask: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """x (B, T, D), key_mask (B, T) bool -> (B, T, D) and the attention probabilities if asked for.

        attn_mask: (B, 1, T, T) bool query x key mask (chunked attention) used instead of ``key_mask`` for
        attention; ``key_mask`` still marks the real frames for the convolution.
        """
        x = x + 0.5 * self.ff1(x)
        mask = key_mask if attn_mask is None else attn_mask
        attended, weights = self.attn(self.attn_norm(x), mask, rotary, need_weights)
        x = x + self.attn_dropout(attended)
        x = x + self.conv(x, key_mask[..., None].to(x.dtype))
        x = x + 0.5 * self.ff2(x)
        return self.norm(x), weights

    def forward_chunk(self, x: Tensor, attn_cache: Tensor, conv_cache: Tensor, cache_mask: Tensor,
                      rotary: RotaryEmbedding) -> tuple[Tensor, Tensor, Tensor]:
        """One chunk (1, C, D) through the block with its caches (see the attention and convolution modules)."""
        x = x + 0.5 * self.ff1(x)
        attended, attn_cache = self.attn.forward_chunk(self.attn_norm(x), attn_cache, cache_mask, rotary)
        x = x + attended
        convolved, conv_cache = self.conv.forward_chunk(x, conv_cache)
        x = x + convolved
        x = x + 0.5 * self.ff2(x)
        return self.norm(x), attn_cache, conv_cache
