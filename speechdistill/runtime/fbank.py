"""Kaldi log-mel filterbanks in numpy: the on-device twin of :func:`speechdistill.features.kaldi_fbank`.

The same arithmetic as kaldi-native-fbank configured the way sherpa-onnx configures it (see the
options in :class:`FbankOptions`, whose defaults equal ``speechdistill.features.FbankConfig``), for
one waveform at a time and without torch, so that a bundle runs where only numpy and onnxruntime exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

LOG_FLOOR = float(np.finfo(np.float32).eps)  # Kaldi/knf floor on mel energies before the log
SHERPA_PADDING_VALUE = -23.025850929940457  # log(1e-10): what sherpa-onnx pads batched features with


@dataclass(frozen=True)
class FbankOptions:
    """Kaldi filterbank options; the defaults are sherpa-onnx's for its offline transducer/CTC models (a bundle's
    marker stores them; ``speechdistill.features.FbankConfig`` is this class)."""

    sample_rate_hz: int = 16_000
    num_bins: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    low_freq_hz: float = 20.0
    high_freq_hz: float = -400.0  # <= 0: offset from Nyquist
    preemphasis: float = 0.97
    remove_dc_offset: bool = True
    snip_edges: bool = False
    dither: float = 0.0

    @property
    def window_samples(self) -> int:
        return int(self.sample_rate_hz * self.frame_length_ms / 1000)

    @property
    def shift_samples(self) -> int:
        return int(self.sample_rate_hz * self.frame_shift_ms / 1000)

    @property
    def fft_size(self) -> int:
        return 1 << (self.window_samples - 1).bit_length()


def _mel(freq: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(freq, np.float64) / 700.0)


@lru_cache(maxsize=8)
def mel_matrix(options: FbankOptions) -> np.ndarray:
    """(fft_size // 2 + 1, num_bins) float32 Kaldi triangular mel weights (the Nyquist row is zero)."""
    nyquist = 0.5 * options.sample_rate_hz
    high = options.high_freq_hz if options.high_freq_hz > 0 else nyquist + options.high_freq_hz
    mel_low, mel_high = _mel(options.low_freq_hz), _mel(high)
    delta = (mel_high - mel_low) / (options.num_bins + 1)
    bins = np.arange(options.num_bins)[:, None]
    left, centre, right = mel_low + bins * delta, mel_low + (bins + 1) * delta, mel_low + (bins + 2) * delta
    half = options.fft_size // 2
    mel = _mel(np.arange(half) * options.sample_rate_hz / options.fft_size)[None, :]
    weights = np.where(mel <= centre, (mel - left) / (centre - left), (right - mel) / (right - centre))
    weights = np.where((mel > left) & (mel < right), weights, 0.0)
    return np.concatenate([weights.T, np.zeros((1, options.num_bins))]).astype(np.float32)


@lru_cache(maxsize=8)
def povey_window(size: int) -> np.ndarray:
    """Kaldi's povey window (Hann to the power 0.85) of ``size`` samples, float64."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / (size - 1))) ** 0.85


def num_frames(num_samples: int, options: FbankOptions = FbankOptions()) -> int:
    """Frames Kaldi makes from ``num_samples`` (see ``speechdistill.features.num_frames``)."""
    shift, window = options.shift_samples, options.window_samples
    if options.snip_edges:
        return 1 + (num_samples - window) // shift if num_samples >= window else 0
    return (num_samples + shift // 2) // shift


def fbank(waveform: np.ndarray, options: FbankOptions = FbankOptions()) -> np.ndarray:
    """(T, num_bins) float32 log-mel features of one mono waveform with samples in [-1, 1]."""
    signal = np.asarray(waveform, np.float32).reshape(-1)
    frames = num_frames(len(signal), options)
    if frames == 0:
        return np.zeros((0, options.num_bins), np.float32)
    window, shift = options.window_samples, options.shift_samples
    first = 0 if options.snip_edges else shift // 2 - window // 2
    index = first + np.arange(frames)[:, None] * shift + np.arange(window)[None, :]
    # Kaldi's repeated mirror at both edges (s < 0 -> -s - 1, s >= S -> 2S - 1 - s) folded into one period.
    index = index % (2 * len(signal))
    index = np.where(index >= len(signal), 2 * len(signal) - 1 - index, index)
    return window_fbank(signal[index], options)


def window_fbank(x: np.ndarray, options: FbankOptions = FbankOptions()) -> np.ndarray:
    """(N, num_bins) log-mel features of N windows (N, window_samples) already cut from the signal
    (:class:`speechdistill.runtime.streaming.OnlineFbank` cuts them as audio arrives)."""
    window = options.window_samples
    if options.dither:
        x = x + options.dither * np.random.default_rng().standard_normal(x.shape).astype(np.float32)
    if options.remove_dc_offset:
        x = x - x.mean(axis=1, keepdims=True)
    if options.preemphasis:
        x = np.concatenate([x[:, :1] * (1 - options.preemphasis), x[:, 1:] - options.preemphasis * x[:, :-1]], axis=1)
    x = x * povey_window(window)
    power = np.abs(np.fft.rfft(x, n=options.fft_size, axis=1)) ** 2
    mel = power.astype(np.float32) @ mel_matrix(options)
    return np.log(np.maximum(mel, LOG_FLOOR)).astype(np.float32)
