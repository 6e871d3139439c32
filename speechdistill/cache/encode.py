"""How one utterance's teacher outputs are shrunk for the cache, and how log-probs are expanded again.

Top-k log-probs: per frame the k largest log-probabilities (fp16, best first) and their label ids
(int16), plus one "other" log-probability (fp16): the log of the summed probability of every label not
in the top k, computed in float32 before rounding. Decoding spreads the "other" mass *uniformly* over the
V - k labels not kept (each gets other - log(V - k); none can exceed the k-th kept value, so the argmax
is the kept best) and renormalises each frame with a log-softmax, so every frame sums to exactly 1 in
probability space despite fp16 rounding. Labels outside the top k lose their relative order: losses see
the top k exactly (up to fp16) and the rest as a flat floor carrying the right total mass.

Time pooling by k averages k consecutive real frames (a final partial window averages only its real
frames, so T frames become ceil(T / k)): hidden states directly, log-probs in probability space (as
``frame_kl`` pools a slower student's frames), attention maps over queries while summing over keys (rows
stay distributions).
"""

from __future__ import annotations

import math

import torch

from ..teachers.base import LOG_ZERO

INDEX_DTYPE = torch.int16
MAX_LABELS = torch.iinfo(INDEX_DTYPE).max + 1
FP16_MAX = torch.finfo(torch.float16).max


def to_fp16(x: torch.Tensor) -> torch.Tensor:
    """``x`` in fp16, saturating at +-65504 instead of overflowing to inf (large activation outliers)."""
    return x.float().clamp(-FP16_MAX, FP16_MAX).half()


def topk_encode(log_probs: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(T, V) log-probs -> values (T, k') fp16, label ids (T, k') int16, "other" (T,) fp16; k' = min(k, V).

    "other" is ``LOG_ZERO`` when nothing is left out (k >= V).
    """
    vocab = log_probs.shape[-1]
    if vocab > MAX_LABELS:
        raise ValueError(f"{vocab} labels do not fit int16 label ids (at most {MAX_LABELS})")
    log_probs = log_probs.float()
    values, ids = log_probs.topk(min(k, vocab), dim=-1)
    rest = log_probs.scatter(-1, ids, float("-inf")).logsumexp(-1)
    # fp16 holds LOG_ZERO exactly; -inf would turn into NaN in KL terms
    return to_fp16(values.clamp_min(LOG_ZERO)), ids.to(INDEX_DTYPE), to_fp16(rest.clamp_min(LOG_ZERO))


def topk_decode(values: torch.Tensor, ids: torch.Tensor, other: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(..., k) values, (..., k) ids, (...) other -> (..., vocab_size) float32 log-probs (rules: module docstring)."""
    k = values.shape[-1]
    left_out = vocab_size - k
    share = other.float() - math.log(left_out) if left_out > 0 else torch.full(other.shape, LOG_ZERO)
    dense = share.clamp_min(LOG_ZERO).to(values.device)[..., None].expand(*other.shape, vocab_size).clone()
    dense.scatter_(-1, ids.long(), values.float())
    return dense.log_softmax(-1).clamp_min(LOG_ZERO)


def window_counts(frames: int, k: int) -> torch.Tensor:
    """Real frames in each of the ceil(frames / k) windows of k frames."""
    windows = -(-frames // k)
    return (frames - torch.arange(windows) * k).clamp(max=k)


def pool_time(x: torch.Tensor, k: int, dim: int = 0, mean: bool = True) -> torch.Tensor:
    """Average (or, ``mean=False``, sum) windows of ``k`` frames along ``dim``; T -> ceil(T / k)."""
    if k == 1:
        return x
    x = x.movedim(dim, 0)
    frames = x.shape[0]
    windows = -(-frames // k)
    padded = x.new_zeros(windows * k, *x.shape[1:])
    padded[:frames] = x
    summed = padded.view(windows, k, *x.shape[1:]).sum(1)
    if mean:
        counts = window_counts(frames, k).to(x.device, x.dtype)
        summed = summed / counts.view(-1, *([1] * (x.ndim - 1)))
    return summed.movedim(0, dim)


def pool_log_probs(log_probs: torch.Tensor, k: int) -> torch.Tensor:
    """(T, V) log-probs -> (ceil(T / k), V), averaged in probability space."""
    if k == 1:
        return log_probs
    return pool_time(log_probs.float().exp(), k).log().clamp_min(LOG_ZERO)


def pool_attention(attention: torch.Tensor, k: int) -> torch.Tensor:
    """(H, T, T) attention rows -> (H, T', T'): keys summed per window, queries averaged; rows still sum to 1."""
    if k == 1:
        return attention
    return pool_time(pool_time(attention.float(), k, dim=-1, mean=False), k, dim=-2)


def orthogonal_projection(in_dim: int, out_dim: int, seed: int) -> torch.Tensor:
    """(in_dim, out_dim) float32 matrix with orthonormal columns, the same for a given (in_dim, out_dim, seed).

    Drawn as the Q of a QR decomposition of a Gaussian matrix (computed on the CPU in float64, so every
    device gets the same matrix). ``x @ Q`` keeps the part of x in a random out_dim-dimensional subspace:
    norms shrink by about sqrt(out_dim / in_dim) and angles are roughly kept (Johnson-Lindenstrauss).
    """
    if not 1 <= out_dim <= in_dim:
        raise ValueError(f"feature_dim must be between 1 and the teacher's hidden size {in_dim}, got {out_dim}")
    generator = torch.Generator().manual_seed(seed)
    gaussian = torch.randn(in_dim, out_dim, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    return (q * torch.sign(torch.diagonal(r))).float()  # sign fix: QR is unique only up to column signs
