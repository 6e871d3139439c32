"""Conformer building blocks that can hand back their attention maps and export to ONNX with dynamic time.

Export-friendly by construction: masks and positions come from ``arange`` comparisons on the runtime
time axis, there is no ``.item()`` and no Python branching on tensor values (only on module settings
and on whether attention maps were asked for). Pointwise convolutions are ``nn.Linear`` so that
dynamic int8 quantisation of MatMul covers them; the depthwise convolution is a grouped ``Conv1d``.
Positions are rotary (RoPE): relative, parameter-free, and valid for any length.
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
        positions = torch.arange(x.shape[1], device=x.device, dtype=torch.float32)
        angles = positions[:, None] * self.inv_freq[None, :]
        angles = torch.cat([angles, angles], dim=-1)[None, None]
        return angles.cos().to(x.dtype), angles.sin().to(x.dtype)


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
        """x (B, T, D), key_mask (B, T) bool (True = real frame) -> (B, T, D) and (B, H, T, T) or None.

        Probabilities over padded keys are exactly 0; rows of padded queries are still distributions
        over the real keys (callers mask those frames afterwards).
        """
        batch, time, d_model = x.shape
        q, k, v = self.qkv(x).reshape(batch, time, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        mask = key_mask[:, None, None, :]
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
    """

    def __init__(self, d_model: int, kernel_size: int, dropout: float):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"conv kernel must be odd to keep the length, got {kernel_size}")
        self.norm = nn.LayerNorm(d_model)
        self.pointwise_in = nn.Linear(d_model, 2 * d_model)
        self.depthwise = nn.Conv1d(d_model, d_model, kernel_size, padding=kernel_size // 2, groups=d_model)
        self.depthwise_norm = nn.LayerNorm(d_model)
        self.pointwise_out = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, valid: Tensor) -> Tensor:
        """x (B, T, D), valid (B, T, 1) float (1 on real frames) -> (B, T, D)."""
        y = F.glu(self.pointwise_in(self.norm(x)), dim=-1) * valid  # padded frames must not reach the kernel
        y = self.depthwise(y.transpose(1, 2)).transpose(1, 2)
        return self.dropout(self.pointwise_out(F.silu(self.depthwise_norm(y))))


class ConformerBlock(nn.Module):
    """Macaron Conformer block (Gulati et al., 2020): half FF, self-attention, convolution, half FF, LayerNorm."""

    def __init__(self, d_model: int, num_heads: int, ff_mult: int, conv_kernel: int, dropout: float):
        super().__init__()
        self.ff1 = FeedForward(d_model, ff_mult, dropout)
        self.attn_norm = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, num_heads, dropout)
        self.attn_dropout = nn.Dropout(dropout)
        self.conv = ConvModule(d_model, conv_kernel, dropout)
        self.ff2 = FeedForward(d_model, ff_mult, dropout)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: Tensor, key_mask: Tensor, rotary: tuple[Tensor, Tensor],
                need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        """x (B, T, D), key_mask (B, T) bool -> (B, T, D) and the attention probabilities if asked for."""
        x = x + 0.5 * self.ff1(x)
        attended, weights = self.attn(self.attn_norm(x), key_mask, rotary, need_weights)
        x = x + self.attn_dropout(attended)
        x = x + self.conv(x, key_mask[..., None].to(x.dtype))
        x = x + 0.5 * self.ff2(x)
        return self.norm(x), weights
