"""Small pure audio effects that turn one synthetic voice into many speakers and rooms.

Every function takes and returns a 1-D float32 signal; the random ones take a ``numpy.random.Generator``
so that a seed fixes their output. They are written for speed (numpy FFTs, torchaudio's resampler with
small integer ratios, a torch phase vocoder) because the corpus builder applies several to every
utterance; scipy.signal is avoided because importing it alone takes about a second.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np
import torch
import torchaudio.functional as AF

from ..audio import resample

N_FFT = 512
HOP = 128
_EPS = 1e-8
BAND_EDGE_HZ = 200.0          # width of the raised-cosine edge of a band filter
BANDS_HZ: dict[str, tuple[float | None, float | None]] = {
    "full": (None, None),
    "telephone": (300.0, 3400.0),
    "8khz": (None, 3800.0),     # what survives an 8 kHz recording
    "11khz": (None, 5400.0),    # an 11.025 kHz recording
}


def _f32(audio: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(audio, dtype=np.float32)


def speed_perturb(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (tempo, pitch and formants together, like sox ``speed``).

    The output has ``len(audio) / factor`` samples (to within one).
    """
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    ratio = Fraction(factor).limit_denominator(100)
    if ratio == 1:
        return _f32(audio)
    # Treat the signal as sampled at numerator Hz and resample it to denominator Hz.
    return resample(_f32(audio), ratio.numerator, ratio.denominator)


@lru_cache(maxsize=4)
def _window(n_fft: int) -> torch.Tensor:
    return torch.hann_window(n_fft)


def _stft(audio: np.ndarray) -> torch.Tensor:
    return torch.stft(torch.from_numpy(_f32(audio)), N_FFT, HOP, window=_window(N_FFT), return_complex=True)


def _istft(spec: torch.Tensor, length: int) -> np.ndarray:
    return _f32(torch.istft(spec, N_FFT, HOP, window=_window(N_FFT), length=length).numpy())


def time_stretch(audio: np.ndarray, rate: float) -> np.ndarray:
    """Change tempo by ``rate`` (>1 faster) keeping pitch, with a phase vocoder; ``len / rate`` samples."""
    if rate == 1.0:
        return _f32(audio)
    with torch.no_grad():
        spec = _stft(audio)
        advance = torch.linspace(0, math.pi * HOP, spec.shape[0])[:, None]
        stretched = AF.phase_vocoder(spec, rate, advance)
        return _istft(stretched, round(len(audio) / rate))


def pitch_shift(audio: np.ndarray, semitones: float, keep_formants: bool = True) -> np.ndarray:
    """Shift the pitch by ``semitones`` keeping the duration: stretch, then resample.

    Resampling moves the formants with the pitch; with ``keep_formants`` they are warped back, so
    only the pitch changes (use ``formant_warp`` or ``speed_perturb`` to move the formants).
    """
    if semitones == 0:
        return _f32(audio)
    factor = 2.0 ** (semitones / 12.0)
    shifted = _fit_length(speed_perturb(time_stretch(audio, 1.0 / factor), factor), len(audio))
    if keep_formants:
        shifted = formant_warp(shifted, 1.0 / factor)
    return _match_rms(shifted, audio)


def _fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    if len(audio) >= length:
        return audio[:length]
    return np.pad(audio, (0, length - len(audio)))


def _warp_indices(n_bins: int, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    source = np.clip(np.arange(n_bins) / ratio, 0, n_bins - 1)
    low = np.minimum(source.astype(np.int64), n_bins - 2)
    return low, (source - low).astype(np.float32)


def formant_warp(audio: np.ndarray, ratio: float, lifter: int = 24) -> np.ndarray:
    """Scale the spectral envelope (formants) by ``ratio`` while keeping the pitch.

    A vocal-tract-length change: ``ratio`` > 1 sounds like a shorter tract (formants move up). The
    envelope is the cepstrally smoothed log magnitude of each STFT frame; each frame is multiplied by
    (warped envelope / envelope), so harmonics and phase stay where they were.
    """
    if ratio == 1.0:
        return _f32(audio)
    with torch.no_grad():
        spec = _stft(audio).numpy().T                     # (frames, bins)
    log_mag = np.log(np.abs(spec) + _EPS)
    cepstrum = np.fft.irfft(log_mag, axis=1)
    cepstrum[:, lifter:-lifter] = 0.0
    envelope = np.fft.rfft(cepstrum, axis=1).real[:, : spec.shape[1]]
    low, frac = _warp_indices(spec.shape[1], ratio)
    warped = envelope[:, low] * (1 - frac) + envelope[:, low + 1] * frac
    gain = np.exp(np.clip(warped - envelope, -3.0, 3.0))   # at most ~26 dB either way
    out = _istft(torch.from_numpy((spec * gain).T.astype(np.complex64)), len(audio))
    return _match_rms(out, audio)


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0


def _match_rms(audio: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return _f32(audio * (_rms(reference) / max(_rms(audio), _EPS)))


def room_impulse_response(sample_rate: int, rt60_s: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic RIR: a direct path, a 1-8 ms gap, then exponentially decaying noise.

    The tail decays by 60 dB in ``rt60_s``; ``drr_db`` is the direct-to-reverberant energy ratio.
    """
    length = max(int(sample_rate * min(1.2 * rt60_s, 1.5)), 2)
    t = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * np.exp(-6.9078 * t / rt60_s)
    tail[: int(sample_rate * rng.uniform(0.001, 0.008)) + 1] = 0.0
    tail *= math.sqrt(10 ** (-drr_db / 10) / max(float(np.sum(tail**2)), _EPS))
    tail[0] = 1.0
    return _f32(tail)


def reverberate(audio: np.ndarray, sample_rate: int, rt60_s: float, drr_db: float,
                rng: np.random.Generator) -> np.ndarray:
    """Convolve with a synthetic room (see ``room_impulse_response``); same length and RMS as the input."""
    if rt60_s <= 0:
        return _f32(audio)
    rir = room_impulse_response(sample_rate, rt60_s, drr_db, rng)
    size = 1 << (len(audio) + len(rir) - 2).bit_length()
    wet = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(rir, size), size)[: len(audio)]
    return _match_rms(wet, audio)


def _raised_cosine_step(x: np.ndarray, width: float) -> np.ndarray:
    """0 for x <= -width/2, 1 for x >= width/2, a half cosine between."""
    return 0.5 + 0.5 * np.sin(np.pi * np.clip(x / width, -0.5, 0.5))


def band_limit(audio: np.ndarray, sample_rate: int, band: str) -> np.ndarray:
    """Keep only a channel's band: 'telephone' (300-3400 Hz), '8khz', '11khz'; 'full' is a no-op.

    A zero-phase FFT mask with raised-cosine edges ``BAND_EDGE_HZ`` wide; the RMS is kept.
    """
    if band not in BANDS_HZ:
        raise ValueError(f"unknown band {band!r}; expected one of {', '.join(BANDS_HZ)}")
    low, high = BANDS_HZ[band]
    if band == "full" or audio.size == 0:
        return _f32(audio)
    freqs = np.fft.rfftfreq(len(audio), 1.0 / sample_rate)
    mask = np.ones_like(freqs)
    if high is not None:
        mask *= _raised_cosine_step(high - freqs, BAND_EDGE_HZ)
    if low is not None:
        mask *= _raised_cosine_step(freqs - low, BAND_EDGE_HZ)
    return _match_rms(np.fft.irfft(np.fft.rfft(audio) * mask, len(audio)), audio)


def add_noise(audio: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add ``noise`` (tiled or cut to length) scaled to ``snr_db`` below the signal's power."""
    if noise.size == 0:
        raise ValueError("noise is empty")
    noise = np.resize(noise, audio.shape)
    scale = _rms(audio) / max(_rms(noise), _EPS) * 10 ** (-snr_db / 20)
    return _f32(audio + scale * noise)


def set_level(audio: np.ndarray, rms_dbfs: float, peak: float = 0.99) -> np.ndarray:
    """Scale to ``rms_dbfs`` RMS (dB re full scale), then lower it further if a sample would exceed ``peak``."""
    scaled = audio * (10 ** (rms_dbfs / 20) / max(_rms(audio), _EPS))
    top = float(np.max(np.abs(scaled))) if scaled.size else 0.0
    return _f32(scaled * (peak / top) if top > peak else scaled)


def pad_silence(audio: np.ndarray, sample_rate: int, lead_s: float, tail_s: float) -> np.ndarray:
    """Add ``lead_s`` seconds of silence before and ``tail_s`` after."""
    return _f32(np.pad(audio, (int(lead_s * sample_rate), int(tail_s * sample_rate))))
