"""Padded batches of speech-like test audio for the student tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

SAMPLE_RATE = 16_000


def speechlike(num_samples: int, seed: int = 0) -> np.ndarray:
    """Two amplitude-modulated tones plus noise at a speech-like level, float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_samples) / SAMPLE_RATE
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 5) * t)
    tones = np.sin(2 * np.pi * rng.uniform(120, 300) * t) + 0.3 * np.sin(2 * np.pi * rng.uniform(900, 2500) * t)
    return (0.2 * envelope * tones + 0.01 * rng.standard_normal(num_samples)).astype(np.float32)


def padded_batch(lengths: Sequence[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, max(lengths)) zero-padded waveforms and their (B,) lengths."""
    waveforms = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        waveforms[i, :n] = torch.from_numpy(speechlike(n, seed + i))
    return waveforms, torch.tensor(lengths, dtype=torch.long)
