"""Recipe-level waveform augmentation: a YAML section -> a ``WaveAugment`` with a local noise bank."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import SAMPLE_RATE_HZ
from .augment import WaveAugment
from .synth.noise import make_noise

NOISE_BANK_SECONDS = 10.0


@dataclass(frozen=True)
class WaveformAugmentConfig:
    """Training-time waveform augmentation. ``enabled: false`` turns all of it off.

    speed_factors change tempo and pitch (time alignment with cached teacher outputs breaks, so
    distillation from a cache keeps ``speed_factors: [1.0]``); noise is drawn from a bank of
    ``noise_kinds`` recordings made locally, mixed at an SNR (dB) drawn from ``snr_db``.
    """

    enabled: bool = True
    speed_factors: tuple[float, ...] = (0.9, 1.0, 1.1)
    gain_db: tuple[float, float] = (-6.0, 6.0)
    noise_prob: float = 0.4
    snr_db: tuple[float, float] = (5.0, 30.0)
    noise_kinds: tuple[str, ...] = ("white", "pink", "brown", "hum")

    def __post_init__(self) -> None:
        if not 0.0 <= self.noise_prob <= 1.0:
            raise ValueError(f"noise_prob must be in [0, 1], got {self.noise_prob}")
        if len(self.snr_db) != 2 or len(self.gain_db) != 2:
            raise ValueError("snr_db and gain_db are [low, high] pairs")
        if any(f <= 0 for f in self.speed_factors) or not self.speed_factors:
            raise ValueError(f"speed_factors must be positive, got {list(self.speed_factors)}")

    @property
    def stretches_time(self) -> bool:
        """True when the augmentation may change the audio's length (speed perturbation is on)."""
        return self.enabled and any(f != 1.0 for f in self.speed_factors)


def build_waveform_augment(config: WaveformAugmentConfig, seed: int = 0) -> WaveAugment | None:
    """The augmentation callable for ``UtteranceDataset``, or None when disabled."""
    if not config.enabled:
        return None
    rng = np.random.default_rng(seed)
    n = int(NOISE_BANK_SECONDS * SAMPLE_RATE_HZ)
    bank = tuple(torch.from_numpy(make_noise(kind, n, SAMPLE_RATE_HZ, rng).astype(np.float32))
                 for kind in config.noise_kinds)
    return WaveAugment(speed_factors=config.speed_factors, gain_db=config.gain_db, snr_db=config.snr_db,
                       noise_prob=config.noise_prob, noise=bank)
