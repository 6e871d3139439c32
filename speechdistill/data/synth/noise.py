"""Noise made locally for the noisy test split and light training augmentation: no recordings needed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NOISE_KINDS = ("white", "pink", "brown", "hum", "babble")
_EPS = 1e-8


def _unit_rms(noise: np.ndarray) -> np.ndarray:
    return (noise / max(float(np.sqrt(np.mean(noise**2))), _EPS)).astype(np.float32)


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent: 0 white, 1 pink, 2 brown. Unit RMS, ``n`` samples."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.arange(spectrum.size, dtype=np.float64)
    freqs[0] = 1.0
    return _unit_rms(np.fft.irfft(spectrum / freqs ** (exponent / 2), n))


def hum(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum: 50 or 60 Hz with decaying harmonics and a little hiss. Unit RMS."""
    mains_hz = rng.choice((50.0, 60.0))
    t = np.arange(n) / sample_rate
    tone = sum(np.sin(2 * np.pi * mains_hz * k * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 8))
    return _unit_rms(tone + 0.05 * rng.standard_normal(n))


def babble(voices: Sequence[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """Several talkers at once: each voice is looped from a random offset to ``n`` samples and summed."""
    if not voices:
        raise ValueError("babble needs at least one voice")
    mix = np.zeros(n, np.float64)
    for voice in voices:
        looped = np.resize(_unit_rms(voice), n + voice.size)
        start = int(rng.integers(0, max(voice.size, 1)))
        mix += looped[start:start + n]
    return _unit_rms(mix)


def make_noise(kind: str, n: int, sample_rate: int, rng: np.random.Generator,
               voices: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Unit-RMS noise of ``kind`` (one of ``NOISE_KINDS``); 'babble' mixes ``voices``."""
    if kind == "babble":
        return babble(voices, n, rng)
    if kind == "hum":
        return hum(n, sample_rate, rng)
    exponents = {"white": 0.0, "pink": 1.0, "brown": 2.0}
    if kind not in exponents:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {', '.join(NOISE_KINDS)}")
    return coloured_noise(n, exponents[kind], rng)
