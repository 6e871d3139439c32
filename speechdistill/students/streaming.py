"""Chunked attention for streaming Conformer students: masks, dynamic chunk sizes, and chunk-by-chunk decoding.

A streaming student (``ConformerConfig.streaming``) sees the utterance in chunks of ``C`` output frames
(40 ms each: 16 = 640 ms): a frame attends to every frame of its own chunk and of up to ``left_chunks``
chunks before it (-1: all of them), never to a later chunk; its depthwise convolutions are causal. Trained
U2-style (Zhang et al., 2020): each training batch draws one chunk size, sometimes full context, so one
model serves several latencies and its full-context mode can teach its streaming mode.

Two ways to run the same model, equal up to float rounding (``tests/students/test_streaming.py``):

- masked full sequence: :meth:`ConformerCTC.encode` with a chunk mask (:func:`chunk_attention_mask`);
- chunk by chunk with caches: :func:`init_state` then :func:`stream_chunk` per chunk of
  :func:`chunk_input_frames` fbank frames shifted by ``C * 4``, the loop sherpa-onnx's online WeNet-CTC
  model class runs (its cache and mask layout; see ``speechdistill.export.streaming``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

SUBSAMPLING_RIGHT_CONTEXT = 6  # fbank frames past the first one that one subsampled frame reads (7-frame field)
SUBSAMPLING = 4
INT16_SCALE = 32768.0  # sherpa-onnx feeds WeNet-CTC models fbank of samples scaled to int16 range
FULL_CONTEXT = 0  # chunk size meaning "the whole utterance is one chunk"
# A rough global normalisation of int16-range log-mel (speech frames lie around 0..20, digital silence at
# log(eps) = -15.9); the learnt per-bin affine of FeatureAffine refines it.
FEATURE_SHIFT = 8.0
FEATURE_SCALE = 0.125


class FeatureAffine(nn.Module):
    """Streaming students' feature normalisation: a fixed rough shift/scale, then a learnt per-bin affine.

    Causal (no statistics over time, unlike per-utterance normalisation) and, unlike a per-frame norm, it keeps
    loudness, so silence and noise stay distinguishable from speech.
    """

    def __init__(self, num_bins: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_bins))
        self.bias = nn.Parameter(torch.zeros(num_bins))

    def forward(self, features: Tensor) -> Tensor:
        return (features - FEATURE_SHIFT) * FEATURE_SCALE * self.weight + self.bias


def chunk_attention_mask(num_frames: int, chunk_frames: int, left_chunks: int = -1,
                         device: torch.device | None = None) -> Tensor:
    """(T, T) bool, True where query frame i may attend to key frame j.

    j's chunk is i's chunk or one of the ``left_chunks`` before it (-1: any earlier chunk);
    ``chunk_frames`` <= 0 allows everything (full context).
    """
    index = torch.arange(num_frames, device=device)
    if chunk_frames <= 0:
        return torch.ones(num_frames, num_frames, dtype=torch.bool, device=device)
    chunk = index // chunk_frames
    allowed = chunk[None, :] <= chunk[:, None]
    if left_chunks >= 0:
        allowed &= chunk[None, :] >= chunk[:, None] - left_chunks
    return allowed


def sample_chunk_frames(max_chunk_frames: int, full_context_prob: float,
                        generator: torch.Generator | None = None) -> int:
    """One training batch's chunk size: FULL_CONTEXT with ``full_context_prob``, else uniform in 1..max."""
    draw = torch.rand((), generator=generator).item()
    if draw < full_context_prob:
        return FULL_CONTEXT
    return int(torch.randint(1, max_chunk_frames + 1, (), generator=generator).item())


def chunk_input_frames(chunk_frames: int) -> int:
    """Fbank frames one chunk of ``chunk_frames`` output frames reads: (C - 1) * 4 + 6 + 1 (67 for C = 16)."""
    return (chunk_frames - 1) * SUBSAMPLING + SUBSAMPLING_RIGHT_CONTEXT + 1


@dataclass(frozen=True)
class StreamState:
    """Caches between chunks, in sherpa-onnx's WeNet-CTC layout.

    attn_cache: (num_blocks, heads, left_chunks * C, 2 * head_dim) unrotated keys | values of past frames.
    conv_cache: (num_blocks, 1, d_model, kernel - 1) past depthwise-convolution inputs.
    offset: output frames seen so far plus the cache size (sherpa-onnx starts it at the cache size).
    """

    attn_cache: Tensor
    conv_cache: Tensor
    offset: int

    def cache_mask(self, chunk_frames: int) -> Tensor:
        """(1, 1, R + C) bool: the cache slots that hold real frames, then the chunk (sherpa-onnx's attn_mask)."""
        cache_frames = self.attn_cache.shape[2]
        mask = torch.ones(1, 1, cache_frames + chunk_frames, dtype=torch.bool)
        seen = self.offset - cache_frames  # frames processed before this chunk
        if seen < cache_frames:
            mask[..., : cache_frames - seen] = False
        return mask


def init_state(model, chunk_frames: int, left_chunks: int) -> StreamState:
    """Zero caches for ``model`` (a streaming ConformerCTC) at ``left_chunks`` chunks of ``chunk_frames``."""
    config = model.config
    cache_frames = chunk_frames * left_chunks
    head_dim = config.d_model // config.num_heads
    return StreamState(torch.zeros(config.num_layers, config.num_heads, cache_frames, 2 * head_dim),
                       torch.zeros(config.num_layers, 1, config.d_model, config.conv_kernel - 1), cache_frames)


@torch.no_grad()
def stream_chunk(model, features: Tensor, state: StreamState) -> tuple[Tensor, StreamState]:
    """One chunk: features (1, chunk_input_frames(C), bins) raw fbank -> (1, C, V) log-probs and the next state."""
    chunk_frames = (features.shape[1] - SUBSAMPLING_RIGHT_CONTEXT - 1) // SUBSAMPLING + 1
    log_probs, attn_cache, conv_cache = model.forward_chunk(features, state.attn_cache, state.conv_cache,
                                                            state.cache_mask(chunk_frames))
    return log_probs, StreamState(attn_cache, conv_cache, state.offset + log_probs.shape[1])


def stream_features(model, features: Tensor, chunk_frames: int, left_chunks: int) -> Tensor:
    """(N, V) log-probs of one utterance's raw fbank (T, bins) decoded chunk by chunk with caches.

    Only whole chunks run (as in sherpa-onnx): callers pad the features (or the audio) to cover the tail.
    """
    state = init_state(model, chunk_frames, left_chunks)
    window, shift = chunk_input_frames(chunk_frames), chunk_frames * SUBSAMPLING
    outputs = []
    start = 0
    while start + window <= features.shape[0]:
        log_probs, state = stream_chunk(model, features[None, start:start + window], state)
        outputs.append(log_probs[0])
        start += shift
    return torch.cat(outputs) if outputs else features.new_zeros(0, model.config.vocab_size)
