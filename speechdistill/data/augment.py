"""Training-time augmentation: speed perturbation, gain and additive noise on waveforms, SpecAugment on
features. Every random choice comes from a ``torch.Generator`` (or a seed), so runs are reproducible.

Waveforms are float tensors shaped (..., time); features are (batch, time, freq) with per-item lengths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torchaudio.functional as AF
from torch import Tensor, nn

from .. import SAMPLE_RATE_HZ

SPEED_FACTORS = (0.9, 1.0, 1.1)
RandomSource = torch.Generator | int | None  # a generator, a seed, or None for torch's global RNG


def make_generator(source: RandomSource) -> torch.Generator | None:
    """A CPU generator for a seed; a given generator (or None: the global RNG) is passed through."""
    if source is None or isinstance(source, torch.Generator):
        return source
    return torch.Generator().manual_seed(int(source))


def uniform(low: float, high: float, generator: torch.Generator | None = None) -> float:
    """One draw from U[low, high)."""
    return low + (high - low) * float(torch.rand((), generator=generator))


def change_speed(waveform: Tensor, factor: float, sample_rate: int = SAMPLE_RATE_HZ) -> Tensor:
    """Play (..., time) audio ``factor`` times as fast: the result has about time / factor samples.

    As in Kaldi's speed perturbation, tempo and pitch change together: the signal is treated as if it
    were sampled at ``factor * sample_rate`` and resampled to ``sample_rate``.
    """
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    if factor == 1.0:
        return waveform
    return AF.resample(waveform, round(sample_rate * factor), sample_rate)


def random_speed(waveform: Tensor, factors: Sequence[float] = SPEED_FACTORS, generator: RandomSource = None,
                 sample_rate: int = SAMPLE_RATE_HZ) -> Tensor:
    """:func:`change_speed` by a factor drawn uniformly from ``factors``."""
    index = int(torch.randint(len(factors), (), generator=make_generator(generator)))
    return change_speed(waveform, factors[index], sample_rate)


def apply_gain(waveform: Tensor, gain_db: float) -> Tensor:
    """Scale (..., time) audio by ``gain_db`` decibels of amplitude (no clipping)."""
    return waveform * 10.0 ** (gain_db / 20.0)


def add_noise(waveform: Tensor, noise: Tensor, snr_db: float | Tensor) -> Tensor:
    """Add ``noise`` scaled so that each row's signal-to-noise ratio is exactly ``snr_db``.

    waveform, noise: (..., time), same shape; snr_db: a float or a tensor broadcastable to (...).
    SNR = 10 log10(mean(waveform^2) / mean(scaled_noise^2)). All-zero noise adds nothing.
    """
    snr_db = torch.as_tensor(snr_db, dtype=waveform.dtype, device=waveform.device)
    signal_power = waveform.pow(2).mean(-1)
    noise_power = noise.pow(2).mean(-1)
    scale = torch.sqrt(signal_power / (noise_power.clamp_min(torch.finfo(waveform.dtype).tiny)
                                       * 10.0 ** (snr_db / 10.0)))
    return waveform + scale.unsqueeze(-1) * noise


def fit_noise(noise: Tensor, length: int, generator: RandomSource = None) -> Tensor:
    """A (length,) stretch of a 1-D ``noise`` recording: a random crop, or the recording repeated."""
    if noise.numel() == 0:
        raise ValueError("noise recording is empty")
    if noise.shape[-1] < length:
        noise = noise.repeat(-(-length // noise.shape[-1]))
    start = int(torch.randint(noise.shape[-1] - length + 1, (), generator=make_generator(generator)))
    return noise[start:start + length]


@dataclass(frozen=True)
class WaveAugment:
    """Random speed, gain and noise for one waveform.

    Called as ``augment(audio, rng)`` with a (time,) float32 array and a ``numpy.random.Generator``
    (what :class:`speechdistill.data.dataset.UtteranceDataset` passes), a torch.Generator or a seed;
    returns a new (time',) float32 array. ``noise`` recordings (1-D tensors) are mixed in when given,
    else white noise, with probability ``noise_prob`` at an SNR drawn from ``snr_db``.
    """

    speed_factors: tuple[float, ...] = SPEED_FACTORS
    gain_db: tuple[float, float] = (-6.0, 6.0)
    snr_db: tuple[float, float] = (10.0, 40.0)
    noise_prob: float = 0.5
    noise: tuple[Tensor, ...] = ()
    sample_rate: int = SAMPLE_RATE_HZ

    def __call__(self, audio: np.ndarray, rng: np.random.Generator | RandomSource) -> np.ndarray:
        if isinstance(rng, np.random.Generator):
            rng = int(rng.integers(2**63 - 1))
        generator = make_generator(rng)
        wave = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
        wave = random_speed(wave, self.speed_factors, generator, self.sample_rate)
        wave = apply_gain(wave, uniform(*self.gain_db, generator))
        if uniform(0.0, 1.0, generator) < self.noise_prob:
            wave = add_noise(wave, self._noise(wave.shape[-1], generator), uniform(*self.snr_db, generator))
        return wave.numpy()

    def _noise(self, length: int, generator: torch.Generator | None) -> Tensor:
        if not self.noise:
            return torch.randn(length, generator=generator)
        pick = int(torch.randint(len(self.noise), (), generator=generator))
        return fit_noise(self.noise[pick], length, generator)


class SpecAugment(nn.Module):
    """Frequency and time masks (Park et al., 2019) on padded (batch, time, freq) features.

    Masks are drawn with torchaudio's ``mask_along_axis_iid`` inside each item's first ``lengths[b]``
    frames only, so padding is never masked (and stays untouched), and a time mask never exceeds
    ``max_time_ratio`` of the item's own length. Active only in training mode.
    """

    def __init__(self, freq_masks: int = 2, freq_width: int = 27, time_masks: int = 2, time_width: int = 40,
                 max_time_ratio: float = 0.05, mask_value: float = 0.0):
        super().__init__()
        self.freq_masks, self.freq_width = freq_masks, freq_width
        self.time_masks, self.time_width = time_masks, time_width
        self.max_time_ratio, self.mask_value = max_time_ratio, mask_value

    def forward(self, features: Tensor, lengths: Tensor | None = None, generator: RandomSource = None) -> Tensor:
        """features (B, T, F), lengths (B,) valid frames (None: all T) -> masked copy (B, T, F)."""
        if not self.training:
            return features
        lengths = lengths.tolist() if lengths is not None else [features.shape[1]] * features.shape[0]
        # torchaudio draws from the global RNG: run it under a seed taken from ``generator``, then restore.
        seed = int(torch.randint(2**62, (), generator=make_generator(generator)))
        devices = [features.device] if features.is_cuda else []
        out = features.clone()
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            for b, length in enumerate(lengths):
                if length > 0:
                    out[b, :length] = self._mask_item(out[b:b + 1, :length])[0]
        return out

    def _mask_item(self, item: Tensor) -> Tensor:
        """item (1, T_valid, F) -> masked copy."""
        for _ in range(self.freq_masks):
            item = AF.mask_along_axis_iid(item, self.freq_width, self.mask_value, axis=2)
        for _ in range(self.time_masks):
            item = AF.mask_along_axis_iid(item, self.time_width, self.mask_value, axis=1, p=self.max_time_ratio)
        return item
